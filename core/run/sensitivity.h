// Measured sensitivity of a model to a recipe, unit by unit (issue 10): quantize one unit
// (a layer, a block's layers, or every layer of one kind) with everything else float
// ("one-in"), or everything but the unit ("leave-one-out"), and measure KL(P_float ||
// P_variant) and perplexity on evaluation windows, as a run with that layer selection
// measures them (run/run.h: same windows, same KL).
//
// Cost: the float model's hidden states at every block's input are computed once and kept;
// a variant whose first quantized layer is in block b starts from the float states at b's
// input and runs only blocks b..end (for one-in, the blocks downstream of the unit).
// blockPasses counts block forward passes over the whole window set, that float pass
// included. Plain C++ (no torch in this header).
#pragma once

#include "base/progress.h"
#include "run/run.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

enum class SensitivityUnit { Layer, Block, Kind };
enum class SensitivityMode { OneIn, LeaveOneOut };

// "layer" | "block" | "kind"; "one-in" | "leave-one-out". Throw ql::Error for other text.
SensitivityUnit parseSensitivityUnit(const std::string& text);
SensitivityMode parseSensitivityMode(const std::string& text);
std::string sensitivityUnitName(SensitivityUnit u);
std::string sensitivityModeName(SensitivityMode m);

struct SensitivityConfig {
    std::string modelDir;
    std::string recipe = "rtn:int4:g128:asym";  // no activation side
    LayerSelection layers;                      // the layers the units are made of
    SensitivityUnit unit = SensitivityUnit::Layer;
    SensitivityMode mode = SensitivityMode::OneIn;
    std::string evaluationText;  // required
    int evalSeq = 256;
    int evalWindows = 4;  // windows of evalSeq tokens from the start of the text
    std::string evalProtocol = "gptq";
    std::string calibrationText;  // required by GPTQ/AWQ (fit per variant, as a run would)
    int calibrationWindows = 16;
    int calibrationSeq = 256;
    int threads = 0;  // 0 = all cores
};

struct UnitSensitivity {
    std::string unit;                 // layer name, "block 3" or "down_proj"
    std::vector<std::string> layers;  // its layers, model order
    int firstBlock = 0;               // where the variant's recomputation starts
    // The variant (one-in: only the unit quantized; leave-one-out: all but the unit).
    double klMean = 0.0, klP99 = 0.0, pplQ = 0.0;
    // Its effect, positive = the unit hurts: one-in, variant minus float (KL 0); leave-one-
    // out, fully quantized minus variant (what keeping the unit in float saves).
    double deltaKlMean = 0.0, deltaKlP99 = 0.0, deltaPpl = 0.0;
    // Proxy: 10 log10(sum w^2 / sum (w - w_hat)^2) over the unit's layers, w_hat as the
    // fully quantized model has it.
    double weightSqnrDb = 0.0;
    double weightErrorSq = 0.0;  // proxy: sum (w - w_hat)^2 over the unit's layers
    uint64_t parameters = 0;
};

struct SensitivityResult {
    SensitivityConfig config;
    std::string recipe;                // canonical text
    PerplexitySummary fullyQuantized;  // every selected layer quantized (leave-one-out only)
    double pplFp = 0.0;
    int windows = 0, seq = 0;
    int64_t scoredTokens = 0;
    std::vector<UnitSensitivity> units;  // model order of their first layer
    int64_t blockPasses = 0;             // block forward passes over the window set
    int64_t blockPassesFull = 0;         // what recomputing every variant from block 0 costs
    double seconds = 0.0;
};

// Throws ql::Error (bad settings/input) or ql::Cancelled. Progress phase "sensitivity".
SensitivityResult measureSensitivity(const SensitivityConfig& config,
                                     const ProgressCallback& progress = {});

// Spearman rank correlation of x and y: Pearson correlation of their ranks, ties given
// their average rank. Pairs with a NaN are left out; NaN for different lengths, fewer than
// two pairs left, or a constant side.
double spearmanCorrelation(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace ql
