// A quantization run: model + recipe + calibration/evaluation settings -> RunResult,
// an immutable value holding every per-layer metric and histogram the workbench shows.
#pragma once

#include "base/progress.h"
#include "quant/compact_weights.h"
#include "quant/histogram.h"
#include "quant/recipe.h"
#include "run/layer_overrides.h"
#include "run/stored_weights.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ql {

struct LayerSelection {
    std::vector<std::string> include;  // name globs; empty = the seven decoder projections
    std::vector<std::string> exclude;  // name globs
    std::vector<std::string> kinds;    // e.g. {"q_proj","down_proj"}; empty = all
    int64_t minParameters = 0;
};

struct RunConfig {
    std::string modelDir;
    std::string recipe = "rtn:int8:channel:sym";  // Recipe text form
    LayerSelection layers;
    // Per-layer recipes (run/layer_overrides.h): the last matching pattern wins.
    std::vector<RecipeOverride> overrides;
    std::string calibrationText;  // file path; empty = no calibration (RTN only)
    int calibrationWindows = 16;
    int calibrationSeq = 256;
    std::string evaluationText;  // file path; empty = no perplexity
    int evalSeq = 0;             // 0 = min(2048, max positions)
    int evalMaxWindows = 0;      // 0 = all
    std::string evalProtocol = "gptq";
    bool captureActivations = true;
    bool captureGradients = true;
    int histogramBins = 128;
    int threads = 0;  // 0 = all cores
    // Non-empty: the quantized side is this checkpoint's weights (a GGUF file, tensors matched
    // by name) instead of a quantization of the model; `recipe` is then the checkpoint's own
    // (e.g. "q4_k_m" for a MOSTLY_Q4_K_M file) and every layer's type is the file's.
    std::string checkpoint;
    // Non-empty: GPTQ/AWQ after-weights are written to a private folder inside this one as
    // each layer is quantized, instead of staying in memory (run/stored_weights.h). Use a
    // folder on a disk, e.g. beside the run's destination.
    std::string spillFolder;
};

// Per-layer results. Histograms "before" and "after" share the same bins.
struct LayerResult {
    std::string name;  // "model.layers.0.self_attn.q_proj"
    int block = 0;
    std::string kind;  // "q_proj", ...
    int64_t rows = 0, cols = 0;
    std::string method;     // recipe actually applied, e.g. "rtn:int4:channel:sym"
    bool fallback = false;  // group size did not divide the row
    std::string fallbackReason;

    double weightSqnrDb = 0.0;
    double outputSqnrDb = 0.0;  // ||WX||^2 / ||(W - W_hat)X||^2 on calibration inputs; NaN if none
    // Recipes with an activation side: 10 log10(sum x^2 / sum (x - x_hat)^2) of the layer's
    // inputs in the quantized model, on the output SQNR's windows; NaN without one.
    double activationSqnrDb = std::numeric_limits<double>::quiet_NaN();
    // Per-tensor static activation side: the input values beyond which the layer's input
    // quantizer clamps, i.e. the ends of the grid of the calibrated range (sym: -2^(b-1) and
    // 2^(b-1)-1 times absmax / (2^(b-1)-1); asym: the grid of [min(lo,0), max(hi,0)] with its
    // rounded zero point). NaN when no range is fixed in advance: no activation side,
    // per-token (dynamic) or LLM.int8() inputs, or a SmoothQuant layer (its clamp is per
    // channel in x).
    double activationClipLo = std::numeric_limits<double>::quiet_NaN();
    double activationClipHi = std::numeric_limits<double>::quiet_NaN();
    // LLM.int8() (llm_int8), on the same windows: mean fraction of input columns computed in
    // fp16 per window, the columns most often decomposed (up to 16, most windows first) with
    // their window counts, the windows seen, and the output SQNR without the decomposition
    // (every column int8). NaN / empty for other methods.
    double outlierColumnFraction = std::numeric_limits<double>::quiet_NaN();
    std::vector<int64_t> outlierColumns, outlierColumnWindows;
    int64_t outlierWindows = 0;
    double outputSqnrPlainDb = std::numeric_limits<double>::quiet_NaN();
    double mse = 0.0;
    double maxAbsError = 0.0;
    double cosine = 0.0;

    uint64_t parameters = 0;
    uint64_t bytesFp = 0;  // in the source dtype
    uint64_t bytesQ = 0;   // packed weights + fp16 scales + packed zeros

    Histogram weightBefore, weightAfter, weightError;
    Histogram activationBefore, activationAfter;  // layer input, float vs quantized model
    Histogram outputBefore, outputAfter;          // layer output
    Histogram gradientBefore, gradientAfter;      // weight gradient
    double gradientNormBefore = 0.0, gradientNormAfter = 0.0;
    // Uniform random sample (reservoir, seeded) of up to 65,536 input activation values
    // of the float / quantized model, for re-binning a zoomed range from real values.
    std::vector<float> activationSampleBefore, activationSampleAfter;

    // Grid of row 0 / group 0 and of every row's first group, for drawing levels.
    std::vector<float> scales;  // [rows * groupsPerRow]
    std::vector<float> zeros;   // empty when symmetric
    int64_t groupSize = 0;      // columns per group (== cols for channel)
    bool perTensor = false;
    int bits = 0;
    bool symmetric = true;

    double seconds = 0.0;
    // Per input channel, for the per-channel ranges view; empty unless the run's quantizer
    // took calibration statistics (GPTQ, AWQ, SmoothQuant): absmax and mean |x| of the
    // layer's inputs over the fit calibration windows as the quantized model feeds it (the
    // statistics the method used), the absmax of each column of the checkpoint weight, and
    // SmoothQuant's scales s (inputs are quantized as x / s, weight columns as w · s).
    std::vector<float> channelInputAbsMax, channelInputMeanAbs, channelWeightAbsMax;
    std::vector<float> smoothScales;
    // Weights-only runs: values of the checkpoint weight that are NaN, infinite or beyond
    // 1.8e19 (see ql::findUnusableWeights); the layer's metrics are then not meaningful and
    // the run has a warning. (Model-path runs refuse such a model.)
    uint64_t unusableWeights = 0;
    int64_t firstUnusableRow = -1;
    // How rebinWeights() gets the dequantized weights back: "grid" (checkpoint weight
    // re-quantized with the stored grid, RTN), "cast" (fp16/bf16 round trip), "codebook"
    // (NF4/FP4 recomputed from the recipe in `method`; groupSize = block size) or
    // "stored" (GPTQ/AWQ: codes + grid, see quant/compact_weights.h, saved in the run folder
    // as weights/<layer>.qlw; runs saved before kept float32 copies, weights/<layer>.f32).
    std::string weightAfterSource;
};

struct PerplexitySummary {
    bool valid = false;
    double pplFp = 0.0, pplQ = 0.0;
    int64_t scoredTokens = 0;
    int windows = 0, seq = 0;
    std::string protocol;
    double klMean = 0.0, klP50 = 0.0, klP90 = 0.0, klP99 = 0.0, klMax = 0.0;
    double top1Agreement = 0.0;  // fraction 0..1
    double tokensPerSecond = 0.0;
};

struct MemorySummary {
    uint64_t parametersTotal = 0;
    uint64_t bytesFpTotal = 0;      // whole model in the source dtype
    uint64_t bytesQTotal = 0;       // quantized layers packed + everything else as source
    uint64_t bytesFpQuantized = 0;  // only the quantized layers
    uint64_t bytesQQuantized = 0;
    uint64_t peakRssBytes = 0;
};

struct PhaseTiming {
    std::string phase;
    double seconds = 0.0;
    // Peak RSS (VmHWM) at the phase's end: the process's peak so far, or with
    // QL_PHASE_PEAKS=1 the phase's own peak; 0 when not measured.
    uint64_t peakBytes = 0;
};

struct RunResult {
    std::string id;     // unique, e.g. "20261123-181500-rtn-int8-channel-sym"
    std::string label;  // short display name, e.g. "INT8 channel RTN"
    RunConfig config;
    std::string modelName;  // folder name
    std::string architecture;
    std::vector<LayerResult> layers;  // in model order
    PerplexitySummary perplexity;
    MemorySummary memory;
    std::vector<PhaseTiming> timings;
    double seconds = 0.0;
    bool hasActivations = false;
    bool hasGradients = false;
    std::string createdAt;  // ISO 8601
    std::vector<std::string> warnings;

    // What the run actually used (config records what was asked). Calibration: windows
    // cut from the text (< config.calibrationWindows when the text is short, with a
    // warning), of those the last ones held out from fitting to measure output SQNR, and
    // the tokens read (only the prefix the windows need is tokenized: the whole text's
    // count when it was too short, else at least windows x seq).
    int calibrationWindowsUsed = 0;
    int calibrationWindowsHeldOut = 0;
    int64_t calibrationTokens = 0;
    // Inputs of LayerResult::outputSqnrDb: "evaluation" (the first evaluation windows),
    // "calibration-heldout" (calibration windows not used to fit), "calibration" (the fit
    // windows themselves: too few to hold any out), "" (not measured).
    std::string outputSqnrSource;
    int outputSqnrWindows = 0;

    // Where the run lives on disk (set by loadRun; empty for a run not yet loaded), and
    // the after-weights of "stored" layers while the run is only in memory (compact:
    // codes and grid, decoded bit-exactly when re-binning; 8x smaller than float32 at INT4).
    std::string folder;
    std::shared_ptr<const StoredWeights> storedWeights;

    const LayerResult* layer(const std::string& name) const;
};

// run.label, recomputed from what happened: the recipe's label, with the granularity
// saying when layers fell back, e.g. "RTN INT4 g128 → channel ×35 sym" (every layer) or
// "RTN INT4 g128 → channel ×3 of 35 sym". The recipe text when it does not parse.
std::string runDisplayLabel(const RunResult& run);

// Human text for RunResult::outputSqnrSource, e.g. "held-out calibration windows (4)".
std::string outputSqnrSourceText(const RunResult& run);

enum class SqnrLevel { Critical, Warning, Fair, Good };  // <10, <20, <30, >=30 dB
SqnrLevel sqnrLevel(double db);

// Text -> token ids (no special tokens added) for the model in `modelDir`. By default
// runs use ql::Tokenizer::load(modelDir) (cached per folder); setRunTokenizer overrides
// it (e.g. tests), an empty function restores the default. installDefaultRunTokenizer()
// is kept for callers written against the earlier API; it restores the default.
using RunTokenizer =
    std::function<std::vector<int32_t>(const std::string& modelDir, const std::string& text)>;
void setRunTokenizer(RunTokenizer tokenizer);
void installDefaultRunTokenizer();

// Tokens of the text file at `path` ("calibration"/"evaluation" name it in errors). With
// neededTokens > 0 only a growing prefix of the file is read and encoded, until it gives
// that many tokens (a 50 MB text for one window costs one window); 0 = the whole file.
// Throws ql::Error for a file that is missing, not a regular file or empty.
using TextEncoder = std::function<std::vector<int32_t>(const std::string& text)>;
std::vector<int32_t> tokenizeTextFile(const std::string& path, size_t neededTokens,
                                      const TextEncoder& encode, const std::string& what);

// Refuses up front (ql::Error, one sentence) a perplexity evaluation of the model in
// `modelDir` with `batch` windows of `seq` tokens (0 = the default length) whose windows
// are longer than max_position_embeddings (checked first: it names the length that
// works), or that does not fit the available memory: float32 model + attention scores
// (seq^2 x heads) + activations + logits (QL_SKIP_MEMORY_CHECK=1 skips this part).
void checkEvalMemory(const std::string& modelDir, int seq, int batch);

// Runs everything. Throws ql::Error (bad settings/input) or ql::Cancelled.
RunResult runQuantization(const RunConfig& config, const ProgressCallback& progress = {});

// Re-bins a layer's weights on [lo, hi] from the real data (original weights from the
// checkpoint, dequantized weights recomputed by the run's grid). which: "before",
// "after" or "error".
Histogram rebinWeights(const RunResult& run, const std::string& layer, const std::string& which,
                       double lo, double hi, int bins);

// Persistence: run.json + histograms.bin (compact binary), crash-safe (see
// run/run_folder.h). saveRun never replaces anything but a QuantLens run folder (only run
// files inside, run.json format "quantlens-run"), and a run only with
// Overwrite::ExistingRun. checkRunDestination tells, before any computation, whether
// `folder` is free or holds a run (ask the user then); it throws ql::Error (one line
// naming the path) when saveRun would refuse: parent missing, not a folder or not
// writable; an existing file or a folder that is not a run. Both also finish or roll
// back an earlier interrupted save into `folder`, as loadRun does.
// loadRun throws ql::Error for a missing/corrupt run.
enum class RunDestination { New, ExistingRun };
enum class Overwrite { Never, ExistingRun };
RunDestination checkRunDestination(const std::string& folder);
void saveRun(const RunResult& run, const std::string& folder,
             Overwrite overwrite = Overwrite::Never);
RunResult loadRun(const std::string& folder);

// CSV exports (header row first).
std::string layersCsv(const RunResult& run);  // per-layer metrics + memory
std::string perplexityCsv(const std::vector<RunResult>& runs);
std::string memoryCsv(const RunResult& run);
std::string histogramCsv(const Histogram& before, const Histogram& after);
std::string compareCsv(const RunResult& a, const RunResult& b);  // side by side with deltas
// JSON summary as printed by `quantlens-cli quantize --json`.
std::string runSummaryJson(const RunResult& run);

}  // namespace ql
