// Private to core/quant (weight_analysis.cpp): the after-quantization histogram of an RTN
// recipe with at most 16 levels, from per-group level counts instead of per-weight binning.
// w_hat takes only 2^bits values in a group, (rlo + k) * scale, so pass 2 counts each
// weight's level k in registers (a 4-bit counter per level and vector lane), and each
// group adds its counts to the bins, moments and extremes of its <= 16 distinct values.
// The values are the same floats the per-weight path bins, through the same Binner
// arithmetic, so counts, min/max and outlier counts are equal; the moments are exact sums
// in double (the per-weight path sums float blocks), equal within float tolerance.
#pragma once

#include "quant/histogram_scan.h"
#include "quant/rtn_kernel.h"
#include "quant/simd.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace ql::levels {

constexpr int kMaxLevels = 16;

// Level counts of one group (uint32 while counting; stored per group as uint16).
struct GroupCounts {
    uint32_t n[kMaxLevels] = {};
};

// Unsigned 32-bit lanes as wide as an int vector: the counters wrap by design (a level's
// 4-bit field may carry into the next one only after 15 adds, which flush() prevents).
template <class VI>
struct UnsignedLanes;
template <>
struct UnsignedLanes<simd::vi> {
    typedef uint32_t type __attribute__((vector_size(16)));
};
template <>
struct UnsignedLanes<simd::vi8> {
    typedef uint32_t type __attribute__((vector_size(32)));
};
template <>
struct UnsignedLanes<simd::vi16> {
    typedef uint32_t type __attribute__((vector_size(64)));
};

// Per lane, 8 levels per 32-bit counter word (4 bits each): a word holds at most 15 adds,
// so flush() runs every 15 vectors. Lanes are summed byte-wise (<= 15 * 16 = 240 per byte).
template <class VF>
class LaneLevelCounter {
    using VI = decltype(VF{} == VF{});
    using VU = typename UnsignedLanes<VI>::type;

public:
    // r: codes (whole floats in [rlo, rlo + 15]), rlo: the group's lowest code.
    void add(VF r, VF rlo, GroupCounts& out) {
        const VI k = __builtin_convertvector(r - rlo, VI);
        const VI one = VI{} + 1, seven = VI{} + 7, eight = VI{} + 8;
        const VU bit = (VU)(one << ((k & seven) << 2));
        const VU low = (VU)(k < eight);
        lo_ += bit & low;
        hi_ += bit & ~low;
        if (++adds_ == 15) flush(out);
    }
    void flush(GroupCounts& out) {
        if (adds_ == 0) return;
        const VU mask = VU{} + 0x0F0F0F0Fu;
        addBytes(lo_ & mask, out, 0);
        addBytes((lo_ >> 4) & mask, out, 1);
        addBytes(hi_ & mask, out, 8);
        addBytes((hi_ >> 4) & mask, out, 9);
        lo_ = VU{}, hi_ = VU{}, adds_ = 0;
    }

private:
    static void addBytes(VU v, GroupCounts& out, int first) {
        uint32_t s = 0;
        for (int i = 0; i < simd::lanes<VF>(); ++i) s += v[i];
        for (int b = 0; b < 4; ++b) out.n[first + 2 * b] += (s >> (8 * b)) & 0xFFu;
    }
    VU lo_ = VU{}, hi_ = VU{};
    int adds_ = 0;
};

// Bins, moments and extremes of the level-counted groups of one chunk. Moments are sums of
// powers of (value - center) in double, the center being the first group's mean.
class LevelStats {
    using VF = simd::vf16;
    using VI = simd::vi16;
    using VD = simd::DoubleVec<16>::type;

public:
    explicit LevelStats(const hist::Binner& b) : b_(b) {}

    // The group's distinct values (rlo + k) * scale, as pass 2 computes w_hat = r * scale.
    // (16-lane vectors pass by reference: by value they change the ABI outside AVX-512.)
    static void values(const rtn::GroupParams& g, VF& h) {
        VF k;
        for (int i = 0; i < kMaxLevels; ++i) k[i] = float(i);
        h = (simd::splat<VF>(g.rlo) + k) * simd::splat<VF>(g.scale);
    }

    void add(const GroupCounts& c, const rtn::GroupParams& g, uint64_t* counts) {
        VF h;
        values(g, h);
        VI n, bin;
        std::memcpy(&n, c.n, sizeof n);
        binIndex(h, bin);
        int32_t idx[kMaxLevels];
        std::memcpy(idx, &bin, sizeof idx);
        for (int k = 0; k < kMaxLevels; ++k) counts[idx[k]] += c.n[k];
        if (!started_) center_ = groupMean(h, c), started_ = true;
        const VD hd = __builtin_convertvector(h, VD), cd = __builtin_convertvector(n, VD);
        const VD d = hd - center_, d2 = d * d, p2 = cd * d2;
        s0_ += cd, s1_ += cd * d, s2_ += p2, s3_ += p2 * d, s4_ += p2 * d2;
        const VF inf = simd::splat<VF>(std::numeric_limits<float>::infinity());
        const VF lo = n > 0 ? h : inf, hi = n > 0 ? h : -inf;
        min_ = lo < min_ ? lo : min_;
        max_ = hi > max_ ? hi : max_;
    }

    hist::Moments moments() const {
        hist::Moments m;
        const double n = sum(s0_);
        if (n == 0) return m;
        const double r1 = sum(s1_), r2 = sum(s2_), r3 = sum(s3_), r4 = sum(s4_), dl = r1 / n;
        m.n = n, m.mean = center_ + dl;
        m.m2 = std::max(0.0, r2 - n * dl * dl);
        m.m3 = r3 - 3 * dl * r2 + 2 * n * dl * dl * dl;
        m.m4 = std::max(0.0, r4 - 4 * dl * r3 + 6 * dl * dl * r2 - 3 * n * dl * dl * dl * dl);
        m.min = simd::hmin(min_), m.max = simd::hmax(max_);
        return m;
    }

private:
    // Binner::index for 16 values at once (the block scanner's vector arithmetic).
    void binIndex(const VF& x, VI& idx) const {
        const VF z = simd::splat<VF>(0.0f);
        VF t = (x - simd::splat<VF>(b_.lo)) * simd::splat<VF>(b_.scale);
        t = z < t ? t : z;
        const VF last = simd::splat<VF>(b_.lastBin);
        t = t > last ? last : t;
        idx = __builtin_convertvector(t, VI);
        idx = x < simd::splat<VF>(b_.loF) ? VI{} + b_.bins : idx;
        idx = x > simd::splat<VF>(b_.hiF) ? VI{} + (b_.bins + 1) : idx;
    }
    static double groupMean(const VF& h, const GroupCounts& c) {
        double s = 0, n = 0;
        for (int k = 0; k < kMaxLevels; ++k) s += double(c.n[k]) * h[k], n += c.n[k];
        return n > 0 ? s / n : 0.0;
    }
    static double sum(const VD& v) {
        double s = 0;
        for (int i = 0; i < kMaxLevels; ++i) s += v[i];
        return s;
    }

    const hist::Binner& b_;
    bool started_ = false;
    double center_ = 0;
    VD s0_{}, s1_{}, s2_{}, s3_{}, s4_{};
    VF min_ = simd::splat<VF>(std::numeric_limits<float>::infinity());
    VF max_ = simd::splat<VF>(-std::numeric_limits<float>::infinity());
};

// Values of a level-counted group with |v - mean| > thr, with countBeyond's float compares.
inline uint64_t outliers(const uint16_t* counts, const rtn::GroupParams& g, float mean, float thr) {
    simd::vf16 h;
    LevelStats::values(g, h);
    const simd::vf16 d = h - simd::splat<simd::vf16>(mean);
    const simd::vf16 a = d < simd::splat<simd::vf16>(0.0f) ? -d : d;
    const simd::vi16 beyond = a > simd::splat<simd::vf16>(thr);
    uint64_t n = 0;
    for (int k = 0; k < kMaxLevels; ++k) n += beyond[k] ? counts[k] : 0u;
    return n;
}

}  // namespace ql::levels
