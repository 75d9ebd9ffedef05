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
    // Windows (the first evaluation windows) whose float-model gradients give the Fisher
    // proxy, one backward pass each; 0 skips that proxy (UnitSensitivity::fisherError NaN).
    int fisherWindows = 4;
    // false: only the weight proxies (no pass beyond the measurement); the output, Fisher,
    // Hessian and kurtosis proxies are NaN and hessianWindows empty.
    bool proxies = true;
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
    // More proxies, w_hat again as the fully quantized model has it, summed over the unit's
    // layers (kurtosis: the largest of its layers'):
    // 10 log10(sum ||x W^T||^2 / sum ||x W^T - x W_hat^T||^2) on the evaluation windows (held
    // out: never calibration windows), x each layer's input in the fully quantized model, as
    // a run computes output SQNR.
    double outputSqnrDb = 0.0;
    // sum F (w - w_hat)^2, F = the mean over the Fisher windows of g^2, g the gradient of the
    // float model's mean next-token NLL of one window (empirical Fisher diagonal). NaN when
    // skipped (SensitivityConfig::fisherWindows = 0).
    double fisherError = 0.0;
    // tr((W - W_hat) H (W - W_hat)^T), H = X^T X / N from the float model's inputs X [N, in]
    // of the layer on the Hessian windows (SensitivityResult::hessianWindows).
    double hessianError = 0.0;
    // Pearson kurtosis E[(x - mean)^4] / var^2 of the values of the layer's input in the
    // float model on the Hessian windows (3 = Gaussian; outliers make it large).
    double inputKurtosis = 0.0;
    double seconds = 0.0;  // measuring the unit: quantizing its variant and scoring it
    // The unit's layers the recipe could not be applied to as asked (a group size that does
    // not divide the row: per-channel instead, as a run does), and the first one's reason.
    std::vector<std::string> fallbackLayers;
    std::string fallbackReason;
};

// Spearman correlation of one proxy with the measured dKL mean over the units. `negated`:
// the proxy is higher for less sensitive units (an SQNR), so -proxy is correlated; positive
// rho then always means "the proxy ranks the units as the measurement does".
struct ProxyCorrelation {
    std::string proxy;  // "weight_sqnr_db", ..., as the JSON field of UnitSensitivity
    std::string label;  // column header, "-weight SQNR" for a negated one
    bool negated = false;
    double spearman = 0.0;  // NaN when undefined (constant or skipped proxy, < 2 units)
};
std::vector<ProxyCorrelation> proxyCorrelations(const std::vector<UnitSensitivity>& units);

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
    // The proxies beyond the weight ones: "calibration" (when a calibration text is given)
    // or "evaluation", the windows of the Hessian-weighted error and the kurtosis.
    std::string hessianWindows;
    int fisherWindows = 0;  // windows of the Fisher proxy (0: skipped)
    // Their block passes, each over its window set (not in blockPasses): the fully quantized
    // model over the evaluation windows (one-in; leave-one-out reuses its reference pass),
    // the float model over the Hessian windows, and the Fisher backward (a recomputed
    // forward plus a backward per block, from the last block to the first selected one).
    int64_t proxyBlockPasses = 0;
    double proxySeconds = 0.0;
    std::vector<ProxyCorrelation> correlations;  // proxyCorrelations(units)
};

// Throws ql::Error (bad settings/input) or ql::Cancelled. Progress phase "sensitivity".
SensitivityResult measureSensitivity(const SensitivityConfig& config,
                                     const ProgressCallback& progress = {});

// Spearman rank correlation of x and y: Pearson correlation of their ranks, ties given
// their average rank. Pairs with a NaN are left out; NaN for different lengths, fewer than
// two pairs left, or a constant side.
double spearmanCorrelation(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace ql
