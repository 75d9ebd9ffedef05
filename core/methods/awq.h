// AWQ (Lin et al. 2023), core-private: activation-aware per-input-channel scales
// searched on a grid, like llm-awq / AutoAWQ `auto_scale` (without the clipping search).
#pragma once

#include "methods/method_common.h"

#include <ATen/ATen.h>

#include <vector>

namespace ql {

struct AwqResult {
    at::Tensor scales;                // s [in], normalized so that sqrt(max(s)·min(s)) = 1
    double alpha = 0.0;               // chosen exponent, s = s_x^alpha
    std::vector<GridQuant> layers;    // per weight: grid/codes of W·diag(s); dequant = effective
                                      // weight Q(W·diag(s))·diag(1/s)
    std::vector<double> lossByAlpha;  // summed output error energy for alpha = k / gridPoints
};

// weights: the linears sharing one input (q/k/v, gate/up, or one alone), each [out, in];
// stats: their calibration input; recipe: already resolved for `in` columns.
// s_x = mean |x| per input channel; for alpha in {0, 1/n, ..., (n-1)/n}:
// s = clamp(s_x^alpha, 1e-4) / sqrt(max·min), and the alpha minimising
// sum_l ||W_l X - W_hat_l X||^2 wins (alpha = 0 is plain RTN, so AWQ never loses to it on
// this objective).
AwqResult awqSearch(const std::vector<at::Tensor>& weights, const InputStats& stats,
                    const Recipe& recipe, int gridPoints);

}  // namespace ql
