// Private to core/quant (weight_analysis.cpp): pass 1 of the fused weights-only analysis —
// per group the range, then scale/zero (stored in the grid), then w_hat and the error in
// registers: double sums for SQNR/MSE/cosine/max error, finite min/max of w, w_hat, error.
// w_hat and the error use the same float operations as quantizeWithGrid (x / scale, clamp,
// round half to even, r * scale, x - w_hat), or x * (1/scale) where that gives the same codes.
#pragma once

#include "quant/histogram_scan.h"
#include "quant/rtn_kernel.h"
#include "quant/simd.h"
#include "quant/weight_analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace ql::wa {

using hist::Binner;
using hist::kBlock;
using hist::Partial;
using rtn::GroupParams;

constexpr float kInf = std::numeric_limits<float>::infinity();

// Whole rows, about 16 K values: small enough to stay in L1/L2 between the passes over it.
inline int64_t tileRowsFor(int64_t cols) {
    return std::max<int64_t>(1, 16384 / cols);
}

// A float matrix in memory (read in place) or a RowSource (converted tile by tile).
struct Source {
    const float* data = nullptr;
    const RowSource* rows = nullptr;
    int64_t cols = 0;
    const float* tile(int64_t r0, int64_t n, std::vector<float>& buf) const {
        if (data) return data + r0 * cols;
        buf.resize(size_t(n * cols));
        (*rows)(r0, n, buf.data());
        return buf.data();
    }
};

struct FiniteRange {
    float lo = kInf, hi = -kInf;
    void merge(const FiniteRange& o) { lo = std::min(lo, o.lo), hi = std::max(hi, o.hi); }
    Range range() const { return lo <= hi ? Range{lo, hi, true} : Range{}; }
};

struct Pass1Result {
    rtn::Sums sums;
    FiniteRange w, h, e;
    void merge(const Pass1Result& o) {
        sums.merge(o.sums);
        w.merge(o.w), h.merge(o.h), e.merge(o.e);
    }
};

// Codes r = round(clamp(x * (1/scale))) of a vector: the division's codes unless a clamped t
// lies within bound * 2^-21 of a half-integer (bound = the largest |code| + 1): the product and
// the quotient differ by at most 3 ulp of |t| <= bound. `worst` collects the largest distance
// of t from its code; exact(worst) says whether every code of a chunk is the division's.
template <class VF>
struct ReciprocalCodes {
    VF inv, rlo, rhi;
    float limit;
    // Whether 1/scale is a normal float (else the division path alone).
    static bool usable(const GroupParams& g) { return g.scale >= 0x1p-100f && g.scale <= 0x1p100f; }
    explicit ReciprocalCodes(const GroupParams& g)
        : inv(simd::splat<VF>(1.0f / g.scale)),
          rlo(simd::splat<VF>(g.rlo)),
          rhi(simd::splat<VF>(g.rhi)),
          limit(0.5f - (std::max(-g.rlo, g.rhi) + 1.0f) * 0x1p-21f) {}
    VF codes(VF x, VF& worst) const {
        const VF z = simd::splat<VF>(0.0f);
        VF t = x * inv;
        t = t < rlo ? rlo : t;
        t = t > rhi ? rhi : t;
        const VF r = simd::roundEven(t), d = t - r, ad = d < z ? -d : d;
        worst = ad > worst ? ad : worst;
        return r;
    }
    bool exact(VF worst) const { return simd::hmaxFast(worst) <= limit; }
};

template <class VF>
class Pass1Acc {
    static constexpr int L = simd::lanes<VF>();
    using VI = decltype(VF{} == VF{});
    using VD = typename simd::DoubleVec<L>::type;

public:
    // One group: w_hat, error, sums and ranges, nothing stored. Chunks of whole vectors take
    // the fast path when it can be exact; the rest (and the scalar tail) the exact one.
    void group(const float* w, int64_t n, const GroupParams& g) {
        const int64_t whole = n - n % L;
        int64_t i = 0;
        if (ReciprocalCodes<VF>::usable(g))
            for (; i < whole; i += kChunk) {
                const int64_t len = std::min<int64_t>(kChunk, whole - i);
                if (!fastChunk(w + i, len, g)) exactVectors(w + i, len, g);
            }
        exactVectors(w + i, whole - i, g);
        for (i = whole; i < n; ++i) scalar(w[i], g);
    }

    Pass1Result finish() {
        rtn::Sums& s = tail_.sums;
        for (int k = 0; k < L; ++k) {
            s.w2 += w2_[k], s.e2 += e2_[k], s.wh += wh_[k], s.h2 += h2_[k];
            s.maxAbs = std::max(s.maxAbs, mx_[k]);
            s.nonFinite += uint64_t(nonFinite_[k]);
        }
        s.maxAbs = std::max(s.maxAbs, fastMaxExact_);
        tail_.w.merge({simd::hmin(wlo_), simd::hmax(whi_)});
        tail_.h.merge({simd::hmin(hlo_), simd::hmax(hhi_)});
        tail_.e.merge({simd::hmin(elo_), simd::hmax(ehi_)});
        return tail_;
    }

private:
    // Values per float-lane partial sum before it is added to the double lanes: float sums
    // of 8 terms (AVX-512) keep the metrics within ~1e-7 of the double reference.
    static constexpr int64_t kChunk = 8 * L;

    // A chunk of whole vectors with the codes of x * (1/scale) (ReciprocalCodes): a chunk
    // where one may differ from the division's, or holding NaN/Inf, returns false untouched
    // and is redone exactly (about 1 chunk in 300 for 4 bits, 1 in 30 for 8). w_hat = r * scale
    // and the error x - w_hat are then the reference's bits.
    bool fastChunk(const float* w, int64_t len, const GroupParams& g) {
        const ReciprocalCodes<VF> codes(g);
        const VF scale = simd::splat<VF>(g.scale), z = simd::splat<VF>(0.0f);
        VF w2 = z, e2 = z, wh = z, h2 = z, amax = z, worst = z;
        VF xlo = simd::load<VF>(w), xhi = xlo, hlo = simd::splat<VF>(kInf), hhi = -hlo, elo = hlo,
           ehi = hhi;
        for (int64_t i = 0; i < len; i += L) {
            const VF x = simd::load<VF>(w + i), r = codes.codes(x, worst);
            const VF h = r * scale, e = x - h, ae = e < z ? -e : e;
            w2 += x * x, e2 += e * e, wh += x * h, h2 += h * h;
            amax = ae > amax ? ae : amax;
            xlo = x < xlo ? x : xlo, xhi = x > xhi ? x : xhi;
            hlo = h < hlo ? h : hlo, hhi = h > hhi ? h : hhi;
            elo = e < elo ? e : elo, ehi = e > ehi ? e : ehi;
        }
        // NaN/Inf (or x^2 beyond float) make the sum of squares non-finite
        if (!codes.exact(worst) || !std::isfinite(simd::hsumFast(w2))) return false;
        w2_ += __builtin_convertvector(w2, VD), e2_ += __builtin_convertvector(e2, VD);
        wh_ += __builtin_convertvector(wh, VD), h2_ += __builtin_convertvector(h2, VD);
        wlo_ = xlo < wlo_ ? xlo : wlo_, whi_ = xhi > whi_ ? xhi : whi_;
        hlo_ = hlo < hlo_ ? hlo : hlo_, hhi_ = hhi > hhi_ ? hhi : hhi_;
        elo_ = elo < elo_ ? elo : elo_, ehi_ = ehi > ehi_ ? ehi : ehi_;
        // The max error is the reference's |double(x) - double(w_hat)|, exact: the float
        // |x - w_hat| is its correctly rounded value, so the exact maximum is among the values
        // whose float error equals the largest float error seen (recomputed in double).
        const float m = simd::hmaxFast(amax);
        if (m > 0.0f && m >= fastMaxFloat_) exactMax(w, len, g, m);
        return true;
    }

    void exactMax(const float* w, int64_t len, const GroupParams& g, float m) {
        for (int64_t i = 0; i < len; ++i) {
            const float x = w[i];
            const float h =
                simd::roundEven(std::min(std::max(x / g.scale, g.rlo), g.rhi)) * g.scale;
            const float e = std::fabs(x - h);
            if (e < m) continue;
            if (e > fastMaxFloat_) fastMaxFloat_ = e;
            fastMaxExact_ = std::max(fastMaxExact_, std::fabs(double(x) - double(h)));
        }
    }

    void exactVectors(const float* w, int64_t n, const GroupParams& g) {
        const VF scale = simd::splat<VF>(g.scale), rlo = simd::splat<VF>(g.rlo),
                 rhi = simd::splat<VF>(g.rhi), z = simd::splat<VF>(0.0f);
        const VF pinf = simd::splat<VF>(kInf), ninf = simd::splat<VF>(-kInf);
        int64_t i = 0;
        for (; i + L <= n; i += L) {
            const VF x = simd::load<VF>(w + i);
            VF t = x / scale;
            t = t < rlo ? rlo : t;
            t = t > rhi ? rhi : t;
            VF r = simd::roundEven(t);
            r = t == t ? r : z;
            const VI fin = simd::finiteMask(x);
            const VF h = r * scale;
            const VF after = fin ? h : x;  // non-finite weights pass through
            const VF err = x - after;      // NaN where x is not finite
            const VF xl = fin ? x : pinf, xh = fin ? x : ninf;
            wlo_ = xl < wlo_ ? xl : wlo_, whi_ = xh > whi_ ? xh : whi_;
            const VF hl = fin ? h : pinf, hh = fin ? h : ninf;
            hlo_ = hl < hlo_ ? hl : hlo_, hhi_ = hh > hhi_ ? hh : hhi_;
            const VF el = fin ? err : pinf, eh = fin ? err : ninf;
            elo_ = el < elo_ ? el : elo_, ehi_ = eh > ehi_ ? eh : ehi_;
            const VD xd = __builtin_convertvector(fin ? x : z, VD);
            const VD hd = __builtin_convertvector(fin ? h : z, VD);
            const VD d = xd - hd, ad = d < VD{} ? -d : d;
            w2_ += xd * xd, e2_ += d * d, wh_ += xd * hd, h2_ += hd * hd;
            mx_ = ad > mx_ ? ad : mx_;
            nonFinite_ += fin + 1;  // fin is -1 (finite) or 0
        }
    }

    void scalar(float x, const GroupParams& g) {
        float r;
        const float after = rtn::quantScalar(x, g, r);
        if (!std::isfinite(x)) {
            ++tail_.sums.nonFinite;
            return;
        }
        const float err = x - after;
        tail_.w.merge({x, x}), tail_.h.merge({after, after}), tail_.e.merge({err, err});
        const double d = double(x) - double(after);
        rtn::Sums& s = tail_.sums;
        s.w2 += double(x) * x, s.e2 += d * d, s.wh += double(x) * after;
        s.h2 += double(after) * after;
        s.maxAbs = std::max(s.maxAbs, std::fabs(d));
    }

    VD w2_{}, e2_{}, wh_{}, h2_{}, mx_{};
    float fastMaxFloat_ = 0.0f;  // the largest float |error| of the fast chunks so far
    double fastMaxExact_ = 0.0;  // and the largest exact one among the values that reached it
    VI nonFinite_ = VI{} + 0;
    VF wlo_ = simd::splat<VF>(kInf), whi_ = simd::splat<VF>(-kInf);
    VF hlo_ = simd::splat<VF>(kInf), hhi_ = simd::splat<VF>(-kInf);
    VF elo_ = simd::splat<VF>(kInf), ehi_ = simd::splat<VF>(-kInf);
    Pass1Result tail_;
};

inline int64_t spanOf(const QuantGrid& g) {
    return g.perTensor ? g.cols : g.groupSize;
}
inline int64_t groupsOf(const QuantGrid& g) {
    return g.perTensor ? 1 : g.groupsPerRow();
}

// Pass 1 over rows [b, e): fills the grid's scales/zeros of these rows (unless per tensor).
template <class VF>
Pass1Result pass1Rows(const Source& src, QuantGrid& g, int64_t b, int64_t e) {
    Pass1Acc<VF> acc;
    std::vector<float> buf;
    const int64_t cols = g.cols, span = spanOf(g), groups = groupsOf(g), tile = tileRowsFor(cols);
    for (int64_t r0 = b; r0 < e; r0 += tile) {
        const int64_t n = std::min(tile, e - r0);
        const float* rows = src.tile(r0, n, buf);
        for (int64_t r = 0; r < n; ++r)
            for (int64_t k = 0; k < groups; ++k) {
                const float* p = rows + r * cols + k * span;
                if (g.perTensor) {
                    acc.group(p, span, rtn::paramsAt(g, 0));
                    continue;
                }
                float mn, mx;
                rtn::groupRange<VF>(p, span, mn, mx);
                const GroupParams prm = rtn::makeParams(mn, mx, g.bits, g.symmetric);
                const size_t idx = size_t((r0 + r) * groups + k);
                g.scales[idx] = prm.scale;
                if (!g.symmetric) g.zeros[idx] = prm.zero;
                acc.group(p, span, prm);
            }
    }
    return acc.finish();
}

}  // namespace ql::wa
