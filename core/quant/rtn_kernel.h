// Private to core/quant: the per-group pieces of round-to-nearest shared by quantize.cpp
// and the fused weight-analysis kernels (weight_analysis.cpp), so that both compute the
// same grid and the same w_hat bit for bit. Conventions: see quantize.cpp.
#pragma once

#include "quant/quantize.h"
#include "quant/simd.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace ql::rtn {

// ql::Error unless the recipe is an integer grid of 2..8 bits whose group divides cols.
void checkShape(int64_t rows, int64_t cols, const Recipe& recipe);
// A grid of the recipe's shape with scale 1 / zero 0 everywhere.
QuantGrid emptyGrid(int64_t rows, int64_t cols, const Recipe& recipe);

// Finite min(w,0) and max(w,0) of n values.
template <class VF = simd::vf>
inline void groupRange(const float* p, int64_t n, float& mn, float& mx) {
    VF vmn = simd::splat<VF>(0.0f), vmx = vmn;
    int64_t i = 0;
    for (; i + simd::lanes<VF>() <= n; i += simd::lanes<VF>()) {
        VF x = simd::load<VF>(p + i);
        x = simd::finiteMask(x) ? x : simd::splat<VF>(0.0f);
        vmn = x < vmn ? x : vmn;
        vmx = x > vmx ? x : vmx;
    }
    mn = simd::hmin(vmn);
    mx = simd::hmax(vmx);
    for (; i < n; ++i) {
        const float x = std::isfinite(p[i]) ? p[i] : 0.0f;
        mn = std::min(mn, x);
        mx = std::max(mx, x);
    }
}

// Clamp bounds in "r = q - zero" space, so that w_hat = r * scale exactly as (q-zero)*scale.
struct GroupParams {
    float scale = 1.0f, zero = 0.0f, rlo = 0.0f, rhi = 0.0f;
};

inline GroupParams makeParams(float mn, float mx, int bits, bool symmetric) {
    GroupParams g;
    if (symmetric) {
        const float qmax = float((1 << (bits - 1)) - 1);
        g.scale = std::max(mx, -mn) / qmax;
        g.rlo = -qmax - 1.0f;
        g.rhi = qmax;
    } else {
        const float qmax = float((1 << bits) - 1);
        // float32 like the reference; in double only when mx - mn overflows float
        g.scale = (mx - mn) / qmax;
        if (!std::isfinite(g.scale)) g.scale = float((double(mx) - double(mn)) / double(qmax));
        if (g.scale > 0.0f && std::isfinite(g.scale)) g.zero = std::nearbyint(-mn / g.scale);
        g.rlo = -g.zero;
        g.rhi = qmax - g.zero;
    }
    if (!(g.scale > 0.0f) || !std::isfinite(g.scale)) g.scale = 1.0f;  // zero range
    return g;
}

// Per-group error sums, float lanes inside a group, double across groups.
struct Sums {
    double w2 = 0, e2 = 0, wh = 0, h2 = 0, maxAbs = 0;
    uint64_t nonFinite = 0;
    void merge(const Sums& o) {
        w2 += o.w2, e2 += o.e2, wh += o.wh, h2 += o.h2, nonFinite += o.nonFinite;
        maxAbs = std::max(maxAbs, o.maxAbs);
    }
};

// + 0.0f turns a -0.0 (t in (-0.5, 0)) into +0.0, as the vector kernel's magic-number
// rounding does: every path gives the same bits, and the codes alone give them back
// (quant/compact_weights.h decodes (q - zero) * scale, which is never -0.0).
inline float roundScalar(float t) {
    return std::nearbyint(t) + 0.0f;
}

inline float quantScalar(float x, const GroupParams& g, float& r) {
    float t = x / g.scale;
    t = t < g.rlo ? g.rlo : t;
    t = t > g.rhi ? g.rhi : t;
    r = t == t ? roundScalar(t) : 0.0f;
    return std::isfinite(x) ? r * g.scale : x;
}

// Quantizes one group: codes (optional), w_hat, and accumulates error sums.

inline ErrorMetrics metricsFromSums(const Sums& s, size_t n) {
    ErrorMetrics m;
    const size_t finite = n - size_t(s.nonFinite);
    m.nonFinite = s.nonFinite;
    m.mse = finite ? s.e2 / double(finite) : 0.0;
    m.maxAbsError = s.maxAbs;
    m.sqnrDb = s.e2 > 0 ? 10.0 * std::log10(s.w2 / s.e2) : std::numeric_limits<double>::infinity();
    if (s.w2 > 0 && s.h2 > 0)
        m.cosine = s.wh / std::sqrt(s.w2 * s.h2);
    else
        m.cosine = (s.w2 == 0 && s.h2 == 0) ? 1.0 : 0.0;
    return m;
}

inline GroupParams paramsAt(const QuantGrid& grid, size_t index) {
    GroupParams p;
    p.scale = grid.scales[index];
    p.zero = grid.symmetric ? 0.0f : grid.zeros[index];
    p.rlo = float(grid.qmin()) - p.zero;
    p.rhi = float(grid.qmax()) - p.zero;
    return p;
}

}  // namespace ql::rtn
