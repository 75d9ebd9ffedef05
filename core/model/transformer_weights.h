// Private to core/model: the Transformer's weights beyond its linears, shared by
// transformer.cpp (the ATen forward) and transformer_step.cpp (the one-token decode step).
#pragma once

#include "model/transformer.h"

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ql {

constexpr int kProjPerBlock = 7;

struct Transformer::Weights {
    at::Tensor embed;   // [vocab, hidden]
    at::Tensor lmHead;  // [vocab, hidden] (same tensor as embed when tied)
    at::Tensor finalNorm;
    std::vector<at::Tensor> inputNorm, postNorm, qNorm, kNorm;
    at::Tensor invFreq;  // [headDim / 2] float32, as HF computes it
    int slidingWindow = 0;
    bool requiresGrad = false;
    std::string embedName, headName;
    // Streamed residency: the mapped checkpoint and which blocks are converted now.
    Residency residency = Residency::Resident;
    std::shared_ptr<const TensorStore> store;
    std::vector<bool> loaded;
    // Group kernels (setGroupKernel), [block * 2 + group]; empty entries: none.
    std::vector<Transformer::GroupKernel> groupKernels;
};

// cos and sin [T, D] of positions [first, first + T) (HF's rotary embedding), memoized per
// thread for few-token calls (transformer.cpp).
std::pair<at::Tensor, at::Tensor> ropeTables(const at::Tensor& invFreq, int64_t first, int64_t T);

// The cos and sin rows (D floats each) of one position, as ropeTables(invFreq, position, 1)
// gives them, for the one-token decode step: computed by ropeTables 64 positions at a time
// and kept per thread with the invFreq tensor they came from. A step's blocks all ask for
// the same position; per step, a miss of the one-position memo cost five small ATen ops
// (~55 µs of a 0.5B step, 0.7 %), now once every 64 steps. Valid until the thread's next
// call with another invFreq or a position outside the 64.
struct RopeRow {
    const float* cos;
    const float* sin;
};
RopeRow ropeRow(const at::Tensor& invFreq, int64_t position);

}  // namespace ql
