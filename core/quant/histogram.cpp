// Single-pass histograms. Each thread scans a contiguous chunk in blocks of kBlock floats:
//  1. one vector pass: bin index per element (no division: t = (x - lo) * bins/(hi - lo) in
//     float32, clamped to [0, bins-1]; x < lo -> "below" slot, x > hi -> "above" slot),
//     min/max, and the sums of (x - c)^k, k = 1..4, about c = the previous block's mean, in
//     float. Non-finite sums mean NaN/Inf (or overflow) in the block, which then takes the
//     exact scalar path in double;
//  2. scalar increments into 4 interleaved uint32 sub-histograms (no store-to-load stalls
//     when neighbours share a bin), flushed into uint64 counts.
// Block moments are merged in double with the pairwise formulas of Chan/Pebay, so mean,
// variance and kurtosis stay accurate for any data size. Outliers (|x - mean| > 6 std,
// evaluated in float32) need the final mean/std: the first pass keeps every block's min/max,
// and a second pass reads only the blocks whose extremes are beyond the threshold (for
// bell-shaped data a handful), so the count is exact at almost no cost.
#include "quant/histogram.h"

#include "base/error.h"
#include "base/parallel.h"
#include "quant/simd.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QL_HAVE_AVX2_KERNELS 1
#else
#define QL_HAVE_AVX2_KERNELS 0
#endif

namespace ql {

namespace simd {
namespace {
std::atomic<bool> gWideAllowed{true};
}
bool wideKernels() {
#if QL_HAVE_AVX2_KERNELS
    static const bool hasAvx2 = __builtin_cpu_supports("avx2");
    return hasAvx2 && gWideAllowed.load(std::memory_order_relaxed);
#else
    return false;
#endif
}
void setWideKernels(bool enabled) {
    gWideAllowed.store(enabled);
}
}  // namespace simd

namespace {

using simd::kLanes;
using simd::vf;
using simd::vi;

constexpr size_t kBlock = 256;

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

public:
    ChunkScanner(const Binner& b, Partial& out, float* blockMin, float* blockMax)
        : b_(b), out_(out), sub_(4 * size_t(b.bins + 2), 0), bmin_(blockMin), bmax_(blockMax) {}
    ~ChunkScanner() { flush(); }

    void scan(const float* p, size_t n) {
        size_t i = 0;
        for (; i + kBlock <= n; i += kBlock, ++block_) {
            if (!fastBlock(p + i)) scalarBlock(p + i, kBlock);
            if (++blocks_ == (1u << 20)) flush();  // uint32 sub-counts never overflow
        }
        if (i < n) scalarBlock(p + i, n - i);
    }

private:
    // Sums of d, d^2, d^3, d^4 with d = x - center, in float lanes.
    struct Sums4 {
        double r1 = 0, r2 = 0, r3 = 0, r4 = 0;
    };
    static Sums4 momentSums(const float* p, float c) {
        const VF center = simd::splat<VF>(c), z = simd::splat<VF>(0.0f);
        VF s1 = z, s2 = z, s3 = z, s4 = z;
        for (size_t i = 0; i < kBlock; i += L) {
            const VF d = simd::load<VF>(p + i) - center, d2 = d * d;
            s1 += d, s2 += d2, s3 += d2 * d, s4 += d2 * d2;
        }
        return {simd::hsum(s1), simd::hsum(s2), simd::hsum(s3), simd::hsum(s4)};
    }

    // One pass over the block: bin indices, min/max and moment sums about the previous
    // block's mean. NaN/Inf (or float overflow) make the sums non-finite: returns false.
    bool fastBlock(const float* p) {
        const VF z = simd::splat<VF>(0.0f);
        if (!started_) center_ = std::isfinite(p[0]) ? p[0] : 0.0f, started_ = true;
        const VF center = simd::splat<VF>(center_), loF = simd::splat<VF>(b_.loF);
        const VF hiF = simd::splat<VF>(b_.hiF), lo = simd::splat<VF>(b_.lo),
                 scale = simd::splat<VF>(b_.scale);
        const VF last = simd::splat<VF>(b_.lastBin);
        const VI below = VI{} + b_.bins, above = VI{} + (b_.bins + 1);
        VF s1 = z, s2 = z, s3 = z, s4 = z, mn = simd::load<VF>(p), mx = mn;
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
        Sums4 r{simd::hsum(s1), simd::hsum(s2), simd::hsum(s3), simd::hsum(s4)};
        if (!std::isfinite(r.r1) || !std::isfinite(r.r4)) return false;
        const double n = double(kBlock);
        double c = center_, dl = r.r1 / n;
        if (dl * dl > 16.0 * std::max(r.r2 / n - dl * dl, 0.0)) {
            // the center was far from this block's mean: recompute about the block mean
            c = double(float(c + dl));
            r = momentSums(p, float(c));
            if (!std::isfinite(r.r4)) return false;
            dl = r.r1 / n;
        }
        Moments m;  // moments about c -> central moments
        m.n = n, m.mean = c + dl;
        m.m2 = std::max(0.0, r.r2 - n * dl * dl);
        m.m3 = r.r3 - 3 * dl * r.r2 + 2 * n * dl * dl * dl;
        m.m4 = std::max(0.0, r.r4 - 4 * dl * r.r3 + 6 * dl * dl * r.r2 - 3 * n * dl * dl * dl * dl);
        m.min = simd::hmin(mn), m.max = simd::hmax(mx);
        bmin_[block_] = float(m.min), bmax_[block_] = float(m.max);
        out_.mom.merge(m);
        center_ = float(m.mean);
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
    float center_ = 0.0f;  // shift for the moment sums: the previous block's mean
    bool started_ = false;
    alignas(64) int32_t idx_[kBlock];
};

template <class VF>
void scanChunk(const Binner& b, Partial& out, float* bmin, float* bmax, const float* p, size_t n) {
    ChunkScanner<VF> scanner(b, out, bmin, bmax);
    scanner.scan(p, n);
}

#if QL_HAVE_AVX2_KERNELS
// The same kernel with 8 lanes, everything inlined into one function compiled for AVX2.
__attribute__((target("avx2"), flatten)) void scanChunkAvx2(const Binner& b, Partial& out,
                                                            float* bmin, float* bmax,
                                                            const float* p, size_t n) {
    scanChunk<simd::vf8>(b, out, bmin, bmax, p, n);
}
#endif

Partial scanAll(const float* data, size_t n, const Binner& binner, int threads,
                BlockRanges& ranges) {
    if (threads <= 0) threads = computeThreads();
    // chunks aligned to blocks so that only the last chunk has a scalar tail
    const size_t blocks = (n + kBlock - 1) / kBlock;
    ranges.min.resize(blocks);
    ranges.max.resize(blocks);
    std::vector<Partial> parts(size_t(std::max(1, threads)));
    for (auto& p : parts) p.counts.assign(size_t(binner.bins + 2), 0);
    parallelChunks(blocks, threads, [&](int c, size_t b, size_t e) {
        const float* p = data + b * kBlock;
        const size_t len = std::min(n, e * kBlock) - b * kBlock;
#if QL_HAVE_AVX2_KERNELS
        if (simd::wideKernels()) {
            scanChunkAvx2(binner, parts[size_t(c)], ranges.min.data() + b, ranges.max.data() + b, p,
                          len);
            return;
        }
#endif
        scanChunk<vf>(binner, parts[size_t(c)], ranges.min.data() + b, ranges.max.data() + b, p,
                      len);
    });
    for (size_t i = 1; i < parts.size(); ++i) parts[0].merge(parts[i]);
    return std::move(parts[0]);
}

// Whether [lo, hi] can hold a value with |x - m| > thr in float32 (monotonic rounding:
// the extremes decide). False for NaN bounds (no finite values).
bool mayHold(float lo, float hi, float m, float thr) {
    return std::fabs(hi - m) > thr || std::fabs(lo - m) > thr;
}

// Finite x with |x - mean| > threshold, in float32, reading only candidate blocks.
uint64_t countOutliers(const float* data, size_t n, double mean, double threshold, int threads,
                       const BlockRanges& ranges) {
    const float m = float(mean), thr = float(threshold);
    if (threads <= 0) threads = computeThreads();
    std::vector<uint64_t> counts(size_t(std::max(1, threads)), 0);
    parallelChunks(ranges.min.size(), threads, [&](int c, size_t b, size_t e) {
        uint64_t total = 0;
        for (size_t k = b; k < e; ++k) {
            if (!mayHold(ranges.min[k], ranges.max[k], m, thr)) continue;
            for (size_t i = k * kBlock; i < std::min(n, (k + 1) * kBlock); ++i)
                total += std::isfinite(data[i]) && std::fabs(data[i] - m) > thr;
        }
        counts[size_t(c)] = total;
    });
    uint64_t total = 0;
    for (uint64_t c : counts) total += c;
    return total;
}

void fillStats(const Partial& p, HistogramStats& s) {
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

void checkRange(double lo, double hi, int bins) {
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

}  // namespace

void RunningMoments::merge(const RunningMoments& b) {
    if (b.n == 0) return;
    if (n == 0) {
        *this = b;
        return;
    }
    const double na = n, nb = b.n, nn = na + nb, d = b.mean - mean, d2 = d * d;
    m4 += b.m4 + d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (nn * nn * nn) +
          6 * d2 * (na * na * b.m2 + nb * nb * m2) / (nn * nn) + 4 * d * (na * b.m3 - nb * m3) / nn;
    m3 += b.m3 + d2 * d * na * nb * (na - nb) / (nn * nn) + 3 * d * (na * b.m2 - nb * m2) / nn;
    m2 += b.m2 + d2 * na * nb / nn;
    mean += d * nb / nn;
    n = nn;
    min = std::min(min, b.min);
    max = std::max(max, b.max);
}

void RunningMoments::add(double x) {
    RunningMoments one;
    one.n = 1, one.mean = x, one.min = x, one.max = x;
    merge(one);
}

Histogram computeHistogram(const float* data, size_t n, double lo, double hi, int bins,
                           int threads) {
    checkRange(lo, hi, bins);
    const Binner binner(lo, hi, bins);
    BlockRanges ranges;
    const Partial p = scanAll(data, n, binner, threads, ranges);
    Histogram h;
    h.lo = lo, h.hi = hi;
    h.counts.assign(p.counts.begin(), p.counts.begin() + bins);
    fillStats(p, h.stats);
    if (h.stats.count > 0)
        h.stats.outliers = countOutliers(data, n, h.stats.mean, 6.0 * h.stats.std, threads, ranges);
    return h;
}

namespace {

// Finite min/max of [p, p + n); two accumulator pairs to hide the min/max latency.
template <class VF>
void rangeOf(const float* p, size_t n, float& lo, float& hi) {
    constexpr size_t L = size_t(simd::lanes<VF>());
    const float inf = std::numeric_limits<float>::infinity();
    const VF pinf = simd::splat<VF>(inf), ninf = simd::splat<VF>(-inf);
    VF mn0 = pinf, mn1 = pinf, mx0 = ninf, mx1 = ninf;
    size_t i = 0;
    for (; i + 2 * L <= n; i += 2 * L) {
        const VF x0 = simd::load<VF>(p + i), x1 = simd::load<VF>(p + i + L);
        const auto f0 = simd::finiteMask(x0), f1 = simd::finiteMask(x1);
        const VF l0 = f0 ? x0 : pinf, h0 = f0 ? x0 : ninf;
        const VF l1 = f1 ? x1 : pinf, h1 = f1 ? x1 : ninf;
        mn0 = l0 < mn0 ? l0 : mn0, mx0 = h0 > mx0 ? h0 : mx0;
        mn1 = l1 < mn1 ? l1 : mn1, mx1 = h1 > mx1 ? h1 : mx1;
    }
    lo = std::min(simd::hmin(mn0), simd::hmin(mn1));
    hi = std::max(simd::hmax(mx0), simd::hmax(mx1));
    for (; i < n; ++i)
        if (std::isfinite(p[i])) lo = std::min(lo, p[i]), hi = std::max(hi, p[i]);
}

#if QL_HAVE_AVX2_KERNELS
__attribute__((target("avx2"), flatten)) void rangeOfAvx2(const float* p, size_t n, float& lo,
                                                          float& hi) {
    rangeOf<simd::vf8>(p, n, lo, hi);
}
#endif

}  // namespace

Range finiteRange(const float* data, size_t n, int threads) {
    if (threads <= 0) threads = computeThreads();
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> mins(size_t(std::max(1, threads)), inf), maxs(mins.size(), -inf);
    parallelChunks(n, threads, [&](int c, size_t b, size_t e) {
#if QL_HAVE_AVX2_KERNELS
        if (simd::wideKernels()) {
            rangeOfAvx2(data + b, e - b, mins[size_t(c)], maxs[size_t(c)]);
            return;
        }
#endif
        rangeOf<vf>(data + b, e - b, mins[size_t(c)], maxs[size_t(c)]);
    });
    Range r;
    r.lo = *std::min_element(mins.begin(), mins.end());
    r.hi = *std::max_element(maxs.begin(), maxs.end());
    r.valid = r.lo <= r.hi;
    if (!r.valid) r.lo = r.hi = 0.0;
    return r;
}

Range unionRange(Range a, Range b) {
    if (!a.valid) return b;
    if (!b.valid) return a;
    return Range{std::min(a.lo, b.lo), std::max(a.hi, b.hi), true};
}

// No finite data: [-1, 1]. A single value v: v +- max(|v| * 1e-3, 1e-6).
Range binnableRange(Range r) {
    if (!r.valid) return Range{-1.0, 1.0, true};
    if (r.lo < r.hi) return r;
    const double w = std::max(std::fabs(r.lo) * 1e-3, 1e-6);
    return Range{r.lo - w, r.hi + w, true};
}

HistogramAccumulator::HistogramAccumulator(double lo, double hi, int bins) {
    checkRange(lo, hi, bins);
    h_.lo = lo, h_.hi = hi;
    h_.counts.assign(size_t(bins), 0);
}

// Counts and moments are exact for the concatenation of all pieces. Outliers are counted
// per piece against the mean/std of everything seen up to and including that piece, so
// they are approximate when the distribution drifts between pieces.
void HistogramAccumulator::add(const float* data, size_t n) {
    const Binner binner(h_.lo, h_.hi, h_.bins());
    BlockRanges ranges;
    const Partial p = scanAll(data, n, binner, 0, ranges);
    for (size_t i = 0; i < h_.counts.size(); ++i) h_.counts[i] += p.counts[i];
    Partial total;
    total.counts.assign(p.counts.size(), 0);
    total.counts[h_.counts.size()] = h_.stats.belowRange;
    total.counts[h_.counts.size() + 1] = h_.stats.aboveRange;
    total.mom = moments_;
    total.nan = h_.stats.nanCount, total.posInf = h_.stats.posInfCount;
    total.negInf = h_.stats.negInfCount;
    total.merge(p);
    moments_ = total.mom;
    const uint64_t outliers = h_.stats.outliers;
    fillStats(total, h_.stats);
    h_.stats.outliers = outliers;
    if (p.mom.n > 0)
        h_.stats.outliers += countOutliers(data, n, h_.stats.mean, 6.0 * h_.stats.std, 0, ranges);
}

Histogram HistogramAccumulator::result() const {
    return h_;
}

}  // namespace ql
