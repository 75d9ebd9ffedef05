#include "methods/awq.h"

#include "base/error.h"

#include <limits>

namespace ql {
namespace {

constexpr int64_t kLossRows = 1024;

at::Tensor awqScales(const at::Tensor& meanAbs, double alpha) {
    at::Tensor s = meanAbs.pow(alpha).clamp_min(1e-4);
    return s / (s.max() * s.min()).sqrt();
}

// Q(W·diag(s)) with the effective weight Q(W·diag(s))·diag(1/s) as dequant.
GridQuant scaledQuantize(const at::Tensor& w, const at::Tensor& s, const Recipe& recipe) {
    GridQuant q = rtnQuantize(w * s.unsqueeze(0), recipe);
    q.dequant = q.dequant / s.unsqueeze(0);
    return q;
}

}  // namespace

AwqResult awqSearch(const std::vector<at::Tensor>& weights, const InputStats& stats,
                    const Recipe& recipe, int gridPoints) {
    at::NoGradGuard noGrad;
    if (stats.empty()) throw Error("AWQ needs calibration data");
    if (gridPoints < 1) throw Error("AWQ: the number of grid points must be at least 1");
    const at::Tensor meanAbs = stats.absSum / static_cast<double>(stats.rows);
    // The loss is evaluated gridPoints times per layer: on large layers, a strided
    // subsample of at most kLossRows rows (outputErrorEnergy then takes the cheaper of
    // that sample and the Gram matrix; tiny layers keep the exact Gram path).
    InputStats lossStats = stats;
    if (lossStats.sample.defined() && lossStats.sample.size(0) > kLossRows) {
        const int64_t n = lossStats.sample.size(0), step = (n + kLossRows - 1) / kLossRows;
        lossStats.sample = lossStats.sample.slice(0, 0, n, step);
    }

    AwqResult best;
    double bestLoss = std::numeric_limits<double>::infinity();
    for (int k = 0; k < gridPoints; ++k) {
        const double alpha = static_cast<double>(k) / gridPoints;
        const at::Tensor s = awqScales(meanAbs, alpha);
        AwqResult trial;
        double loss = 0.0;
        for (const at::Tensor& w : weights) {
            trial.layers.push_back(scaledQuantize(w, s, recipe));
            loss += outputErrorEnergy(w - trial.layers.back().dequant, lossStats);
        }
        best.lossByAlpha.push_back(loss);
        if (loss < bestLoss) {  // strict: ties keep the smaller alpha (alpha 0 = RTN)
            bestLoss = loss;
            best.scales = s;
            best.alpha = alpha;
            best.layers = std::move(trial.layers);
        }
    }
    if (!best.scales.defined()) throw Error("AWQ: the scale search produced no finite loss");
    return best;
}

}  // namespace ql
