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

}  // namespace ql
