// Fake quantization of a linear layer's input: the activation side of a recipe
// ("+aB[:token|tensor][:sym|asym]", quant/recipe.h). The quantized model's projections
// consume x_hat = dequant(quant(x)) instead of x, so perplexity, KL, activation
// histograms and output SQNR all see the activation error.
//
// Formulas are the weight grid's (../shared/README.md) applied to the input's rows:
//   sym:  scale = max|x| / (2^(b-1) - 1), q = clamp(round(x / scale), -2^(b-1), 2^(b-1) - 1)
//   asym: scale = (max(x,0) - min(x,0)) / (2^b - 1), zero = round(-min(x,0) / scale),
//         q = clamp(round(x / scale) + zero, 0, 2^b - 1), x_hat = (q - zero) * scale
// in float32, rounding half to even; a zero range gets scale 1 (x_hat = 0). Per token:
// max/min over each row of the last dimension (dynamic). Per tensor: one range fixed in
// advance (static, calibrated), values beyond it clamp.
// Under autograd the op is a straight-through estimator (gradient of the identity).
#pragma once

#include <ATen/ATen.h>

namespace ql {

// Dynamic per-token fake quantization of x [..., in].
at::Tensor fakeQuantPerToken(const at::Tensor& x, int bits, bool symmetric);

// Static fake quantization with the calibrated range [lo, hi] of the input (lo <= hi).
at::Tensor fakeQuantStatic(const at::Tensor& x, int bits, bool symmetric, float lo, float hi);

// LLM.int8()'s outlier columns of x [..., T, in] (windows of T tokens; a 2-D x is one
// window): true [..., 1, in] where |x| >= threshold in any token of the window.
at::Tensor outlierColumns(const at::Tensor& x, double threshold);

// The input LLM.int8() multiplies with its int8 weights (bitsandbytes' mixed-precision
// decomposition, inference layout): outlier columns (outlierColumns) as fp16 values, every
// other column int8 per token, absmax over that token's non-outlier columns (bnb zeroes
// the outlier columns before its row-wise quantization). The output is then
// x_hat @ W_int8^T = fp16 part @ W[:, outliers]^T + int8 part @ W[:, rest]^T, W the
// dequantized int8 weight (bnb keeps only int8 weights at inference and dequantizes the
// outlier columns of it). threshold 0: no decomposition (plain per-token int8).
at::Tensor llmInt8Input(const at::Tensor& x, double threshold);

}  // namespace ql
