// SmoothQuant (Xiao et al. 2023), core-private: per-input-channel smoothing that moves the
// quantization difficulty from the activations to the weights. For the linears sharing one
// input X (q/k/v, o, gate/up, down: the selected ones of the group),
//   s_j = max|X_j|^alpha / max_l,i |W_l[i, j]|^(1 - alpha)
// over the calibration inputs the layer sees in the quantized model (the fit windows, as
// GPTQ/AWQ statistics). Then X W^T = (X diag(1/s)) (W diag(s))^T: the weight quantized is
// W·diag(s), the activation X·diag(1/s).
//
// Where it is applied. A deployment folds 1/s into the preceding RMSNorm weight for q/k/v
// (input_layernorm) and gate/up (post_attention_layernorm), so the smoothed input costs
// nothing (foldSmoothing below does that, and the smoothed float model computes the
// original outputs: test_smoothquant); o_proj and down_proj have no norm before them and get
// an explicit scale, X·diag(1/s) computed before their activation quantizer. The run
// computes every layer in that explicit form: effective weight Q(W·diag(s))·diag(1/s) (as AWQ,
// LayerQuantization::awqScales = s) and input Q_a(X·diag(1/s))·diag(s), the same products as
// the folded model up to float rounding, which keeps the float state of the model untouched
// (both engines switch only linear weights) and works with GQA.
//
// Where SmoothQuant is silent: a channel never active in calibration (max|X_j| = 0) or
// with an all-zero weight column gets s_j = 1 (no migration); s is clamped to [1e-5, 1e5]
// as the reference implementation clamps its scales from below.
#pragma once

#include "methods/method_common.h"
#include "model/transformer.h"

#include <ATen/ATen.h>

#include <vector>

namespace ql {

// s [in] from the inputs' per-channel absmax [in] and the group's weights, each [out, in].
at::Tensor smoothScales(const at::Tensor& inputAbsMax, const std::vector<at::Tensor>& weights,
                        double alpha);

// Q(W·diag(s)) on the recipe's grid (RTN), with dequant = Q(W·diag(s))·diag(1/s).
GridQuant smoothQuantize(const at::Tensor& weight, const at::Tensor& s, const Recipe& recipe);

// The same for any weight method: `quantize` gets W·diag(s) and returns its GridQuant (codes
// and grid, if any, stay those of the smoothed weight); dequant comes back ·diag(1/s).
template <typename Quantize>
GridQuant smoothQuantizeWith(const at::Tensor& weight, const at::Tensor& s, Quantize&& quantize) {
    GridQuant q = quantize(weight.to(at::kFloat) * s.unsqueeze(0));
    q.dequant = q.dequant / s.unsqueeze(0);
    return q;
}

// The Hessian of the smoothed inputs X·diag(1/s) from that of X: S⁻¹ H S⁻¹, i.e.
// H'[i, j] = H[i, j] / (s_i s_j). GPTQ on W·diag(s) with H' solves the smoothed model's
// problem (its inputs are X/s).
at::Tensor smoothedHessian(const at::Tensor& hessian, const at::Tensor& s);

// x·diag(1/s) quantized by `quantize`, then ·diag(s): the activation side of a smoothed layer
// in the run's explicit form.
template <typename Quantize>
at::Tensor smoothedInput(const at::Tensor& x, const at::Tensor& s, Quantize&& quantize) {
    return quantize(x / s) * s;
}

// The deployment form of block `block`'s smoothing in float: 1/s folded into the norm before
// the group (q/k/v: input_layernorm, gate/up: post_attention_layernorm) and W·diag(s) into
// its linears. `scales` per group stage (0 q/k/v, 1 o, 2 gate/up, 3 down; undefined: none);
// stages 1 and 3 (no norm before them) are returned as the explicit input scales the
// caller applies (InputQuantizer x -> x / s), their weights scaled here.
void foldSmoothing(Transformer& net, int block, const std::vector<at::Tensor>& scales);

}  // namespace ql
