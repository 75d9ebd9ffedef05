// Private to core/quant: the block scanner behind computeHistogram, shared with the fused
// weight-analysis kernels (weight_analysis.cpp), which feed it rows they produce on the fly.
// See histogram.cpp for how a block is scanned.
#pragma once

#include "base/error.h"
#include "quant/histogram.h"
#include "quant/simd.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace ql::hist {

inline constexpr size_t kBlock = 256;

using Moments = RunningMoments;

// Where a finite float goes: bins [0, bins), below = bins, above = bins + 1.
struct Binner {
    int bins = 0;
    float loF = 0, hiF = 0;   // smallest float >= lo, largest float <= hi: exact range tests
    float lo = 0, scale = 0;  // t = (x - lo) * scale
    float lastBin = 0;

    Binner(double l, double h, int b) : bins(b) {
        loF = float(l);
        if (double(loF) < l) loF = std::nextafter(loF, std::numeric_limits<float>::infinity());
        hiF = float(h);
        if (double(hiF) > h) hiF = std::nextafter(hiF, -std::numeric_limits<float>::infinity());
        lo = float(l);
        scale = float(double(b) / (h - l));
        lastBin = float(b - 1);
    }
    int index(float x) const {
        if (x < loF) return bins;
        if (x > hiF) return bins + 1;
        float t = (x - lo) * scale;
        t = 0.0f < t ? t : 0.0f;  // NaN-safe: never an index outside the counts
        t = t > lastBin ? lastBin : t;
        return int(t);
    }
};

struct Partial {
    std::vector<uint64_t> counts;  // bins + 2 (below, above)
    Moments mom;
    uint64_t nan = 0, posInf = 0, negInf = 0;
    void merge(const Partial& o) {
        for (size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
        mom.merge(o.mom);
        nan += o.nan, posInf += o.posInf, negInf += o.negInf;
    }
};

// Finite min/max of every block (NaN for a block without finite values): the outlier
// pass then reads only the few blocks whose extremes can be outliers.
struct BlockRanges {
    std::vector<float> min, max;
};

template <class VF>
class ChunkScanner {
    using VI = decltype(VF{} == VF{});
    static constexpr int L = simd::lanes<VF>();
    using VD = typename simd::DoubleVec<L>::type;

public:
    ChunkScanner(const Binner& b, Partial& out, float* blockMin, float* blockMax)
        : b_(b), out_(out), sub_(4 * size_t(b.bins + 2), 0), bmin_(blockMin), bmax_(blockMax) {}
    ~ChunkScanner() { flush(); }

    void scan(const float* p, size_t n) {
        size_t i = 0;
        for (; i + kBlock <= n; i += kBlock) block(p + i);
        if (i < n) tail(p + i, n - i);
    }
    // One full block of kBlock values.
    void block(const float* p) {
        if (!fastBlock(p)) scalarBlock(p, kBlock);
        ++block_;
        if (++blocks_ == (1u << 20)) flush();  // uint32 sub-counts never overflow
    }
    // The last, shorter block of a chunk (n < kBlock).
    void tail(const float* p, size_t n) { scalarBlock(p, n); }

private:
    // One pass over the block: bin indices, min/max and moment sums about the chunk's
    // center, in float. NaN/Inf (or float overflow) make a lane's sums non-finite: returns
    // false. The block's float sums go into double lanes without a horizontal fold; only a
    // block whose mean lies far from the center (16 variances) folds the sums into the
    // chunk's moments and moves the center to its mean, so the sums stay accurate for
    // drifting data while a stationary chunk pays one fold at its end.
    bool fastBlock(const float* p) {
        if (!started_) center_ = std::isfinite(p[0]) ? p[0] : 0.0f, started_ = true;
        VF s1, s2, s3, s4, mn, mx;
        sweepBlock(p, s1, s2, s3, s4, mn, mx);
        // x - x is 0 for finite sums, NaN otherwise
        if (!(simd::hsumFast((s1 - s1) + (s4 - s4)) == 0.0f)) return false;
        const float n = float(kBlock), dl = simd::hsumFast(s1) / n;
        if (dl * dl > 16.0f * std::max(simd::hsumFast(s2) / n - dl * dl, 0.0f)) {
            foldMoments();
            center_ = center_ + dl;
            momentSums(p, s1, s2, s3, s4);
            if (!(simd::hsumFast((s1 - s1) + (s4 - s4)) == 0.0f)) return false;
        }
        d1_ += __builtin_convertvector(s1, VD), d2_ += __builtin_convertvector(s2, VD);
        d3_ += __builtin_convertvector(s3, VD), d4_ += __builtin_convertvector(s4, VD);
        count_ += kBlock;
        const float lo = simd::hmin(mn), hi = simd::hmax(mx);
        bmin_[block_] = lo, bmax_[block_] = hi;
        min_ = std::min(min_, lo), max_ = std::max(max_, hi);
        const size_t stride = size_t(b_.bins + 2);
        uint32_t* h = sub_.data();
        for (size_t i = 0; i < kBlock; i += 4) {
            ++h[size_t(idx_[i])];
            ++h[stride + size_t(idx_[i + 1])];
            ++h[2 * stride + size_t(idx_[i + 2])];
            ++h[3 * stride + size_t(idx_[i + 3])];
        }
        return true;
    }

    void sweepBlock(const float* p, VF& s1, VF& s2, VF& s3, VF& s4, VF& mn, VF& mx) {
        const VF z = simd::splat<VF>(0.0f);
        const VF center = simd::splat<VF>(center_), loF = simd::splat<VF>(b_.loF);
        const VF hiF = simd::splat<VF>(b_.hiF), lo = simd::splat<VF>(b_.lo),
                 scale = simd::splat<VF>(b_.scale);
        const VF last = simd::splat<VF>(b_.lastBin);
        const VI below = VI{} + b_.bins, above = VI{} + (b_.bins + 1);
        s1 = z, s2 = z, s3 = z, s4 = z, mn = simd::load<VF>(p), mx = mn;
        for (size_t i = 0; i < kBlock; i += L) {
            const VF x = simd::load<VF>(p + i);
            VF t = (x - lo) * scale;
            t = z < t ? t : z;  // NaN-safe: never an index outside the counts
            t = t > last ? last : t;
            VI idx = __builtin_convertvector(t, VI);
            idx = x < loF ? below : idx;
            idx = x > hiF ? above : idx;
            simd::storeInt(idx_ + i, idx);
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
            const VF d = x - center, d2 = d * d;
            s1 += d, s2 += d2, s3 += d2 * d, s4 += d2 * d2;
        }
    }

    void momentSums(const float* p, VF& s1, VF& s2, VF& s3, VF& s4) const {
        const VF center = simd::splat<VF>(center_), z = simd::splat<VF>(0.0f);
        s1 = z, s2 = z, s3 = z, s4 = z;
        for (size_t i = 0; i < kBlock; i += L) {
            const VF d = simd::load<VF>(p + i) - center, d2 = d * d;
            s1 += d, s2 += d2, s3 += d2 * d, s4 += d2 * d2;
        }
    }

    // The double lanes' sums about center_ -> central moments, merged into the chunk's.
    void foldMoments() {
        if (count_ == 0) return;
        double r1 = 0, r2 = 0, r3 = 0, r4 = 0;
        for (int k = 0; k < L; ++k) r1 += d1_[k], r2 += d2_[k], r3 += d3_[k], r4 += d4_[k];
        const double n = double(count_), dl = r1 / n;
        Moments m;  // moments about the center -> central moments
        m.n = n, m.mean = double(center_) + dl;
        m.m2 = std::max(0.0, r2 - n * dl * dl);
        m.m3 = r3 - 3 * dl * r2 + 2 * n * dl * dl * dl;
        m.m4 = std::max(0.0, r4 - 4 * dl * r3 + 6 * dl * dl * r2 - 3 * n * dl * dl * dl * dl);
        m.min = min_, m.max = max_;
        out_.mom.merge(m);
        d1_ = d2_ = d3_ = d4_ = VD{};
        count_ = 0;
        min_ = std::numeric_limits<float>::infinity(), max_ = -min_;
    }

    // Exact per-element path for blocks with NaN/Inf, huge values, and the tail.
    void scalarBlock(const float* p, size_t n) {
        Moments m;
        for (size_t i = 0; i < n; ++i) {
            const float x = p[i];
            if (std::isnan(x)) {
                ++out_.nan;
            } else if (std::isinf(x)) {
                ++(x > 0 ? out_.posInf : out_.negInf);
            } else {
                m.add(double(x));
                ++out_.counts[size_t(b_.index(x))];
            }
        }
        const float none = std::numeric_limits<float>::quiet_NaN();
        bmin_[block_] = m.n > 0 ? float(m.min) : none,
        bmax_[block_] = m.n > 0 ? float(m.max) : none;
        out_.mom.merge(m);
    }

    void flush() {
        foldMoments();
        const size_t stride = size_t(b_.bins + 2);
        for (size_t k = 0; k < 4; ++k)
            for (size_t i = 0; i < stride; ++i) out_.counts[i] += sub_[k * stride + i];
        std::fill(sub_.begin(), sub_.end(), 0u);
        blocks_ = 0;
    }

    const Binner& b_;
    Partial& out_;
    std::vector<uint32_t> sub_;
    size_t blocks_ = 0;
    float* bmin_;
    float* bmax_;
    size_t block_ = 0;     // index of the current block within this chunk
    float center_ = 0.0f;  // shift for the moment sums: the first block's value or a far
                           // block's mean
    bool started_ = false;
    VD d1_{}, d2_{}, d3_{}, d4_{};  // sums of (x - center)^k of the fast blocks since a fold
    size_t count_ = 0;              // values in them
    float min_ = std::numeric_limits<float>::infinity(), max_ = -min_;
    alignas(64) int32_t idx_[kBlock];
};

// Whether [lo, hi] can hold a value with |x - m| > thr in float32 (monotonic rounding:
// the extremes decide). False for NaN bounds (no finite values).
inline bool mayHold(float lo, float hi, float m, float thr) {
    return std::fabs(hi - m) > thr || std::fabs(lo - m) > thr;
}

inline void fillStats(const Partial& p, HistogramStats& s) {
    const Moments& m = p.mom;
    s.count = uint64_t(m.n);
    s.nanCount = p.nan, s.posInfCount = p.posInf, s.negInfCount = p.negInf;
    const size_t bins = p.counts.size() - 2;
    s.belowRange = p.counts[bins], s.aboveRange = p.counts[bins + 1];
    if (m.n == 0) return;
    s.min = m.min, s.max = m.max, s.mean = m.mean;
    const double var = m.m2 / m.n;
    s.std = std::sqrt(var);
    s.kurtosis = var > 0 ? (m.m4 / m.n) / (var * var) - 3.0 : 0.0;
}

inline void checkRange(double lo, double hi, int bins) {
    if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi))
        throw Error("histogram range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                    "] is not a finite interval with lo < hi");
    if (bins <= 0 || bins > (1 << 24))
        throw Error("histogram bin count " + std::to_string(bins) + " is out of range");
    const double maxFloat = double(std::numeric_limits<float>::max());
    const float scale = float(double(bins) / (hi - lo));
    if (std::fabs(lo) > maxFloat || std::fabs(hi) > maxFloat || !(scale > 0.0f) ||
        !std::isfinite(scale))
        throw Error("histogram range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                    "] cannot be binned in float32 (too wide or too narrow)");
}

}  // namespace ql::hist
