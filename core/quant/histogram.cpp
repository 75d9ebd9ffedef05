// Single-pass histograms. Each thread scans a contiguous chunk in blocks of kBlock floats:
//  1. one vector pass: bin index per element (no division: t = (x - lo) * bins/(hi - lo) in
//     float32, clamped to [0, bins-1]; x < lo -> "below" slot, x > hi -> "above" slot),
//     min/max, and the sums of (x - c)^k, k = 1..4, about a center c, in float. Non-finite
//     sums mean NaN/Inf (or overflow) in the block, which then takes the exact scalar path
//     in double;
//  2. scalar increments into 4 interleaved uint32 sub-histograms (no store-to-load stalls
//     when neighbours share a bin), flushed into uint64 counts.
// The blocks' float sums are added into double lanes; c stays put until a block's mean lies
// more than 4 of its standard deviations away, when the sums so far become central moments
// and c moves to that mean. Moments are merged in double with the pairwise formulas of
// Chan/Pebay, so mean, variance and kurtosis stay accurate for any data size. Outliers
// (|x - mean| > 6 std, evaluated in float32) need the final mean/std: the first pass keeps
// every block's min/max, and a second pass reads only the blocks whose extremes are beyond
// the threshold (for bell-shaped data a handful), so the count is exact at almost no cost.
#include "quant/histogram.h"

#include "base/error.h"
#include "base/parallel.h"
#include "quant/histogram_scan.h"
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
std::atomic<int> gMaxPath{int(KernelPath::Avx512)};
}
KernelPath cpuKernelPath() {
#if QL_HAVE_AVX2_KERNELS
    static const KernelPath cpu =
        __builtin_cpu_supports("avx512f")
            ? KernelPath::Avx512
            : (__builtin_cpu_supports("avx2") ? KernelPath::Avx2 : KernelPath::Baseline);
    return cpu;
#else
    return KernelPath::Baseline;
#endif
}
KernelPath kernelPath() {
    return KernelPath(std::min(int(cpuKernelPath()), gMaxPath.load(std::memory_order_relaxed)));
}
void setMaxKernelPath(KernelPath p) {
    gMaxPath.store(int(p));
}
const char* kernelPathName(KernelPath p) {
    switch (p) {
        case KernelPath::Avx512:
            return "avx512";
        case KernelPath::Avx2:
            return "avx2";
        default:
            return "baseline";
    }
}
bool wideKernels() {
    return kernelPath() >= KernelPath::Avx2;
}
void setWideKernels(bool enabled) {
    setMaxKernelPath(enabled ? KernelPath::Avx512 : KernelPath::Baseline);
}
}  // namespace simd

namespace {

using simd::kLanes;
using simd::vf;
using simd::vi;

using namespace hist;

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
__attribute__((target("avx512f"), flatten)) void scanChunkAvx512(const Binner& b, Partial& out,
                                                                 float* bmin, float* bmax,
                                                                 const float* p, size_t n) {
    scanChunk<simd::vf16>(b, out, bmin, bmax, p, n);
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
        if (simd::kernelPath() == simd::KernelPath::Avx512) {
            scanChunkAvx512(binner, parts[size_t(c)], ranges.min.data() + b, ranges.max.data() + b,
                            p, len);
            return;
        }
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
__attribute__((target("avx512f"), flatten)) void rangeOfAvx512(const float* p, size_t n, float& lo,
                                                               float& hi) {
    rangeOf<simd::vf16>(p, n, lo, hi);
}
#endif

}  // namespace

Range finiteRange(const float* data, size_t n, int threads) {
    if (threads <= 0) threads = computeThreads();
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> mins(size_t(std::max(1, threads)), inf), maxs(mins.size(), -inf);
    parallelChunks(n, threads, [&](int c, size_t b, size_t e) {
#if QL_HAVE_AVX2_KERNELS
        if (simd::kernelPath() == simd::KernelPath::Avx512) {
            rangeOfAvx512(data + b, e - b, mins[size_t(c)], maxs[size_t(c)]);
            return;
        }
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
