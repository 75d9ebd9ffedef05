// Activation fake quantization (see activation_quant.h).
#include "methods/activation_quant.h"

#include <algorithm>
#include <cmath>

namespace ql {

namespace {

// x_hat from x and per-row (or scalar) scale/zero tensors, the zero-range rows with scale 1.
at::Tensor dequantized(const at::Tensor& x, at::Tensor scale, const at::Tensor& zero, int qmin,
                       int qmax) {
    scale = at::where(scale > 0, scale, at::ones_like(scale));
    at::Tensor q = at::round(x / scale);
    if (zero.defined()) q = q + zero;
    q = q.clamp(qmin, qmax);
    if (zero.defined()) q = q - zero;
    return q * scale;
}

// The straight-through estimator under autograd: the value is x_hat exactly (x - x is 0
// exactly; x + (x_hat - x) would not be x_hat in float), the gradient x's.
at::Tensor straightThrough(const at::Tensor& x, const at::Tensor& xHat) {
    if (!x.requires_grad()) return xHat;
    return xHat + (x - x.detach());
}

at::Tensor fakeQuant(const at::Tensor& x, int bits, bool symmetric, const at::Tensor& lo,
                     const at::Tensor& hi) {
    const at::Tensor v = x.detach();
    if (symmetric) {
        const int qmax = (1 << (bits - 1)) - 1;
        const at::Tensor scale = at::maximum(lo.abs(), hi.abs()) / float(qmax);
        return straightThrough(x, dequantized(v, scale, {}, -qmax - 1, qmax));
    }
    const int levels = (1 << bits) - 1;
    const at::Tensor lo0 = at::clamp_max(lo, 0.0), hi0 = at::clamp_min(hi, 0.0);
    at::Tensor scale = (hi0 - lo0) / float(levels);
    scale = at::where(scale > 0, scale, at::ones_like(scale));
    const at::Tensor zero = at::round(-lo0 / scale);
    return straightThrough(x, dequantized(v, scale, zero, 0, levels));
}

}  // namespace

at::Tensor fakeQuantPerToken(const at::Tensor& x, int bits, bool symmetric) {
    const at::Tensor v = x.detach();
    if (symmetric) {
        const at::Tensor absmax = v.abs().amax(-1, /*keepdim=*/true);
        return fakeQuant(x, bits, true, absmax, absmax);
    }
    return fakeQuant(x, bits, false, v.amin(-1, true), v.amax(-1, true));
}

at::Tensor fakeQuantStatic(const at::Tensor& x, int bits, bool symmetric, float lo, float hi) {
    const auto opts = x.options().requires_grad(false);
    return fakeQuant(x, bits, symmetric, at::full({}, lo, opts), at::full({}, hi, opts));
}

at::Tensor outlierColumns(const at::Tensor& x, double threshold) {
    const at::Tensor v = x.detach();
    return v.abs().amax(v.dim() >= 2 ? -2 : -1, /*keepdim=*/true) >= threshold;
}

at::Tensor llmInt8Input(const at::Tensor& x, double threshold) {
    if (threshold <= 0.0) return fakeQuantPerToken(x, 8, true);
    const at::Tensor v = x.detach();
    const at::Tensor mask = outlierColumns(v, threshold);
    const at::Tensor rest = fakeQuantPerToken(v.masked_fill(mask, 0.0), 8, true);
    const at::Tensor fp16 = v.to(at::kHalf).to(at::kFloat);
    return straightThrough(x, at::where(mask, fp16, rest));
}

}  // namespace ql
