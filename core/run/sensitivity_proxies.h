// core/run private, torch-facing: the cheap proxies of measured sensitivity (sensitivity.h),
// per layer. Every function expects the model with every selected layer quantized
// (Linear::weight = w_hat, Linear::original = w) and leaves it so.
#pragma once

#include "run/stream_engine.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ql {

// The float model's hidden states at every block's input and at the end, per batch.
struct FloatStates {
    std::vector<StreamBatch> batches;
    std::vector<std::vector<at::Tensor>> input;  // [block][batch]
    std::vector<at::Tensor> final;               // [batch]
};

// Sums behind one layer's proxies.
struct LayerProxySums {
    // Output energies through the quantized model (its own inputs x): sum ||x W^T||^2 and
    // sum ||x W^T + b - y||^2, y the layer's actual output (as a run's output SQNR).
    double outSignal = 0.0, outNoise = 0.0;
    // Sum over tokens of ||(W - W_hat) x||^2 = tr((W - W_hat) X^T X (W - W_hat)^T), x the
    // float model's input of the layer.
    double hessian = 0.0;
    int64_t tokens = 0;
    // Sum over windows of sum g^2 (w - w_hat)^2, g the window's float-model gradient.
    double fisher = 0.0;
    int fisherWindows = 0;
    // Sums of x^1..x^4 of the float model's input values, and their count.
    double moments[4] = {0.0, 0.0, 0.0, 0.0};
    double count = 0.0;
};
using ProxySums = std::map<std::string, LayerProxySums>;  // the selected layers

// For a pass of the quantized model: adds every selected layer's output energies.
LinearObserver outputErrorObserver(ProxySums& sums);

// One pass of the float model over `windows` (each selected layer's output replaced by the
// float weight's, so every layer sees the float model's input): the Hessian-weighted error
// and the input moments. Returns the block passes made.
int64_t inputProxies(const Transformer& net, const Windows& windows, ProxySums& sums,
                     const ProgressReporter& rep);

// Fisher-weighted error from the float model's gradient of each of the first `count`
// windows of `fs` (its mean next-token NLL), back-propagated block by block from the
// cached float states down to the first block with a selected layer. Returns the block
// passes over that window set (each a recomputed forward plus a backward).
int64_t fisherProxies(Transformer& net, const FloatStates& fs, int count, ProxySums& sums,
                      const ProgressReporter& rep);

// Pearson kurtosis E[(x - mean)^4] / var^2 of the summed input values (3 for a Gaussian);
// NaN without values or with zero variance.
double inputKurtosis(const LayerProxySums& s);

}  // namespace ql
