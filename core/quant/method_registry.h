// The quantization methods, each one entry of one table (method_registry.cpp): its recipe
// grammar, what it needs (calibration), what it stores (packed bytes for a shape) and how the
// quantized weight of a finished run is reproduced for re-binning. Run, recipe and CLI code
// ask the entry instead of switching on QuantMethod; a new method is one entry plus its code.
// Torch-free.
#pragma once

#include "quant/recipe.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ql {

// How the after-weights of a layer are reproduced from the checkpoint weight (run.json
// "weight_after_source"): "grid" re-quantizes with the stored scales/zeros (RTN), "cast"
// recomputes the fp16/bf16 cast, "codebook" recomputes the 4-bit codebook quantization from
// the recipe (deterministic in the original weight: NF4/FP4), "stored" reads the run's
// weights/<layer>.qlw (GPTQ/AWQ, whose result depends on calibration).
enum class AfterSource { Grid, Cast, Codebook, Stored };
std::string afterSourceName(AfterSource s);
// Every name loadRun accepts, for the one-line error on a bad run.json.
const std::vector<std::string>& afterSourceNames();

// The recipe options a method takes, declared by its entry so that editors (the GUI's run
// panel) offer exactly those: a set of these bits in MethodSpec::options.
enum MethodOption : unsigned {
    kOptBits = 1u << 0,              // intB, 2..8
    kOptGranularity = 1u << 1,       // tensor, channel or gN
    kOptSymmetry = 1u << 2,          // sym or asym
    kOptBlockSize = 1u << 3,         // bN, a power of two kBlock4Min..kBlock4Max
    kOptDoubleQuant = 1u << 4,       // dq
    kOptComputeDtype = 1u << 5,      // fp32, fp16 or bf16
    kOptOutlierThreshold = 1u << 6,  // tT: LLM.int8() decomposition threshold
    kOptSmoothQuant = 1u << 7,       // "+sq[:ALPHA]" (SmoothQuant scales) may follow
};
inline constexpr unsigned kIntegerGridOptions = kOptBits | kOptGranularity | kOptSymmetry;
inline constexpr unsigned kCodebook4Options = kOptBlockSize | kOptDoubleQuant | kOptComputeDtype;
inline constexpr int kBlock4Min = 32, kBlock4Max = 4096;  // bitsandbytes' block sizes

// The recipe a layer whose rows hold `cols` values really gets, and why, when it differs from
// the one asked (llama.cpp formats whose block does not divide the row fall back to others).
struct ShapedRecipe {
    Recipe recipe;
    std::string fallbackReason;  // empty: the recipe as asked
};

// Where a layer sits in its model, for methods whose recipe depends on it (llama-quantize's
// mixes give attn_v / ffn_down of some layers more bits).
struct LayerPlace {
    std::string name;  // linear layer name, e.g. "model.layers.3.self_attn.v_proj"
    int64_t rows = 0;
    int64_t cols = 0;
    int blocks = 0;  // decoder layers of the model
    int gqa = 1;     // attention heads / KV heads
};

struct MethodSpec {
    QuantMethod id;
    const char* name;     // recipe word, e.g. "nf4"
    const char* grammar;  // one line for --help and errors, e.g. "nf4[:bN][:dq][:fp32|fp16|bf16]"
    bool needsCalibration;
    // The after-weights as reproduced (see AfterSource). Integer grids are "grid" for RTN;
    // analyzeLayer still falls back to "stored" when a grid does not reproduce the weight.
    AfterSource afterSource;
    double quantizeCost;  // relative progress weight of the quantize phase
    // Fills r from the parts after the method word (parts[0] is the method); throws ql::Error
    // naming the wrong part.
    void (*parse)(std::string_view spec, const std::vector<std::string>& parts, Recipe& r);
    std::string (*print)(const Recipe& r);  // canonical text form
    std::string (*label)(const Recipe& r);  // display label, e.g. "NF4 b64 dq"
    // Bytes of a rows x cols weight in the method's real packed layout (codes + constants).
    uint64_t (*bytesFor)(const Recipe& r, int64_t rows, int64_t cols);
    // For "cast"/"codebook" methods: the effective weight of w (n row-major values) computed
    // from w and the recipe alone. Null for grid/stored methods.
    std::vector<float> (*recompute)(const Recipe& r, const float* w, size_t n);
    unsigned options;  // MethodOption bits: the parts after the method word it accepts
    // For recomputed methods whose blocks must not cross rows: the recipe for rows of `cols`
    // values (see recipeForRowLength). Null: every row length takes the recipe as it is.
    ShapedRecipe (*forRowLength)(const Recipe& r, int64_t cols);
    // The method brings its own activation side (LLM.int8()): a recipe takes no "+aB" part.
    bool ownActivations;
    // Layer bytes from bytesFor even where codes exist (the real layout differs from the
    // integer grids' packing, e.g. fp32 row scales); always for recomputed methods.
    bool bytesFromLayout;
    // For methods that choose a recipe per layer (llama.cpp mixes): the recipe the layer at
    // `place` gets (always a single-type recipe). Null: recipeForRowLength.
    ShapedRecipe (*forLayer)(const Recipe& r, const LayerPlace& place);
};

const std::vector<MethodSpec>& methodRegistry();
const MethodSpec& methodSpec(QuantMethod m);
const MethodSpec* findMethod(std::string_view name);  // lower-case name; null if unknown
std::string knownMethodNames();                       // "rtn, gptq, ... or q6_k"
// The recipe applied to a layer with rows of `cols` values (the method's forRowLength, else r).
ShapedRecipe recipeForRowLength(const Recipe& r, int64_t cols);
// The recipe applied to the layer at `place` (the method's forLayer, else recipeForRowLength).
ShapedRecipe recipeForLayer(const Recipe& r, const LayerPlace& place);

}  // namespace ql
