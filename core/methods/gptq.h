// GPTQ (Frantar et al. 2022), core-private. Follows the reference implementation
// (IST-DASLab/gptq `GPTQ.fasterquant`, AutoGPTQ): Cholesky factor of the inverse
// Hessian, column-by-column quantization with error feedback and lazy block updates.
#pragma once

#include "base/progress.h"
#include "methods/method_common.h"

#include <ATen/ATen.h>

namespace ql {

struct GptqOptions {
    double dampening = 0.01;  // fraction of mean(diag H) added to the diagonal
    int blockSize = 128;      // columns per lazy batch update
    bool actOrder = false;    // columns in descending diag(H); with groups: static groups
};

// weight [rows, cols]; hessian [cols, cols] = 2 X^T X / n (any positive multiple
// works the same). `recipe` must already be resolved (see resolveRecipe).
// Grids: tensor/channel from the whole weight up front; groups (without act-order)
// from the partially updated weight when the loop reaches the group's first column,
// exactly like the reference `find_params(W[:, i1+i : i1+i+groupsize])`; with
// act-order, static groups from the original weight (AutoGPTQ `static_groups`), so
// codes and grid stay in the ordinary column order.
// Throws ql::Error if H cannot be factorized even with extra dampening.
GridQuant gptqQuantize(const at::Tensor& weight, const at::Tensor& hessian, const Recipe& recipe,
                       const GptqOptions& options, const ProgressReporter& progress);
// The same, consuming `hessian` (its storage is factorized in place): for a layer with
// 8960 inputs that is 0.3 GB instead of 1.6 GB of Hessian copies and factors at the peak.
GridQuant gptqQuantize(const at::Tensor& weight, at::Tensor&& hessian, const Recipe& recipe,
                       const GptqOptions& options, const ProgressReporter& progress);

}  // namespace ql
