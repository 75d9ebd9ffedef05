// core-private (includes nothing from torch, but operates on a loaded Model):
// quantizes the selected linear layers of a model with a recipe, RTN, GPTQ or AWQ,
// block by block so that later blocks see the quantized outputs of earlier ones.
#pragma once

#include "base/progress.h"
#include "quant/quantize.h"
#include "quant/quantized_checkpoint.h"
#include "quant/recipe.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ql {

class Model;

struct LayerQuantization {
    std::string name;       // linear layer name, e.g. "model.layers.0.mlp.down_proj"
    Recipe applied;         // the recipe actually applied (after any fallback)
    bool fallback = false;  // e.g. group size does not divide the row -> per-channel
    std::string fallbackReason;
    QuantGrid grid;              // final grid (for AWQ: of the scaled weight, see awqScales)
    std::vector<int32_t> codes;  // row-major [rows, cols]; empty for casts (fp16/bf16)
    std::vector<float> dequant;  // row-major [rows, cols]: the effective weight now in the model
    // Per input channel s when the weight quantized was W·diag(s) (AWQ, SmoothQuant); else empty.
    std::vector<float> awqScales;
    // Per input channel absmax and mean |x| of the calibration inputs the method used
    // (recipes that need calibration: GPTQ, AWQ, SmoothQuant); else empty.
    std::vector<float> inputAbsMax, inputMeanAbs;
    double outputSqnrDb;  // ||W X||^2 / ||(W - W_hat) X||^2 over calibration inputs (NaN if none)
    double seconds = 0.0;
    // The weight is a quantized checkpoint's (dequant only): no grid or codes here, whatever
    // the type (`applied`) it is stored in.
    bool fromCheckpoint = false;
};

// Calibration tokens per forward call (windows are batched up to this many tokens): GPTQ /
// AWQ statistics are summed batch by batch in this order, by quantizeLayers and by the
// block-streamed engine alike. 2048 keeps a 1.5B block's MLP working set at 0.4 GB.
constexpr int64_t kCalibrationBatchTokens = 2048;

struct QuantizeLayersOptions {
    // Non-null: each layer's quantized weight is the checkpoint's (its type the layer's
    // recipe) instead of a quantization of the original, whatever the recipe.
    std::shared_ptr<const QuantizedCheckpoint> checkpoint;
    // Calibration windows (token ids, each of the same length). Required for GPTQ/AWQ;
    // optional for RTN/casts (then outputSqnrDb is NaN).
    std::vector<std::vector<int32_t>> calibration;
    // Called once per layer, right after its weight was set in the model, with its complete
    // result (codes, dequant, seconds, outputSqnrDb). It may consume the result (e.g. analyze
    // the layer and clear codes/dequant): then only one layer's codes and float copy exist at
    // a time instead of all layers' (for a 1.5B model, 10 GB less). Empty: not called.
    std::function<void(LayerQuantization&)> onLayer;
    // false: `dequant` stays empty and the effective weight exists once, as the model's
    // own tensor (Transformer::linear(name).weight), which onLayer reads instead — one
    // layer-sized float copy less at the peak (the block-streamed engine).
    bool dequantCopy = true;
    // Called with true before the calibration states advance past a quantized block and
    // with false after: the caller switches on the quantized model's input quantizer
    // (activation side of the recipe), so that later blocks fit to the inputs the quantized
    // model gives them, as the block-streamed engine's quantized stream. Statistics inside
    // a block are taken without it. Empty: nothing to switch.
    std::function<void(bool)> quantizedInputs;
};

// Replaces the selected layers' weights in `model` by their dequantized values
// (model.setLinearWeight) and returns one entry per layer, in model order. Layers are
// quantized from their original (as loaded) weights, so repeated calls don't compound.
//
// With calibration, blocks are processed in order and, inside a block, the groups of
// linears sharing an input (q/k/v, o, gate/up, down) one after another ("true
// sequential"): each group's inputs are captured with everything before it already
// quantized, and outputSqnrDb is measured on those inputs (the ones the layer sees in the
// quantized model), up to 4096 token rows per input. Only one block's activations are
// held at a time.
//
// AWQ: the scales are not folded into norms / preceding projections; each layer gets the
// mathematically equivalent effective weight Q(W·diag(s))·diag(1/s) (`dequant`), with
// `grid`/`codes` those of W·diag(s) and `awqScales` = s. This keeps restoreWeights()
// complete and works with GQA. The alpha search minimises the summed output error of the
// group's layers on their calibration inputs; no clipping search.
//
// GPTQ: see methods/gptq.h (reference `fasterquant`; act-order with groups uses static
// groups). RTN: the quant library's computeGrid/quantizeWithGrid. Casts: castRoundTrip.
// A group size that does not divide a layer's columns falls back to per-channel at the
// same bit width (fallback/fallbackReason/applied record it).
//
// Progress: phase "quantize", one report per layer with the layer name as message.
// Throws ql::Error (impossible settings, unknown layer, missing or malformed calibration
// for GPTQ/AWQ) or ql::Cancelled; on any exception after validation, every linear weight
// of the model is restored (model.restoreWeights()) before rethrowing.
std::vector<LayerQuantization> quantizeLayers(Model& model, const std::vector<std::string>& layers,
                                              const Recipe& recipe,
                                              const QuantizeLayersOptions& options,
                                              const ProgressReporter& progress);

}  // namespace ql
