// Fused weights-only analysis of an RTN recipe. Each thread takes a contiguous run of rows
// and reads it in tiles of ~16 K values (converted by the source into a buffer that stays in
// cache), so the weight is read from memory twice and nothing weight-sized is written:
//  pass 1 (quant/weight_pass1.h): grid, error sums and the finite ranges of w, w_hat, error;
//  pass 2 (quant/weight_pass2.h): bins and moments of the three streams, the bin ranges now
//    known from pass 1;
//  outliers (here): only blocks whose min/max reach 6 std from the mean are recomputed.
// w_hat and the error are computed with the same float operations as quantizeWithGrid and
// analyzeLayer, in every vector width, so ranges and bin counts equal theirs exactly.
#include "quant/weight_analysis.h"

#include "base/error.h"
#include "base/parallel.h"
#include "quant/weight_pass2.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QL_HAVE_WIDE_KERNELS 1
#else
#define QL_HAVE_WIDE_KERNELS 0
#endif

namespace ql {
namespace {

using namespace wa;  // the passes (weight_pass1.h, weight_pass2.h)

#if QL_HAVE_WIDE_KERNELS
__attribute__((target("avx2"), flatten)) Pass1Result pass1Avx2(const Source& src, QuantGrid& g,
                                                               int64_t b, int64_t e) {
    return pass1Rows<simd::vf8>(src, g, b, e);
}
__attribute__((target("avx512f"), flatten)) Pass1Result pass1Avx512(const Source& src, QuantGrid& g,
                                                                    int64_t b, int64_t e) {
    return pass1Rows<simd::vf16>(src, g, b, e);
}
__attribute__((target("avx2"), flatten)) void pass2Avx2(const Source& src, const QuantGrid& g,
                                                        const Binner* binners, ChunkBins& out) {
    pass2Rows<simd::vf8>(src, g, binners, out);
}
__attribute__((target("avx512f"), flatten)) void pass2Avx512(const Source& src, const QuantGrid& g,
                                                             const Binner* binners,
                                                             ChunkBins& out) {
    pass2Rows<simd::vf16>(src, g, binners, out);
}
#endif

Pass1Result pass1(const Source& src, QuantGrid& g, int64_t b, int64_t e) {
#if QL_HAVE_WIDE_KERNELS
    switch (simd::kernelPath()) {
        case simd::KernelPath::Avx512:
            return pass1Avx512(src, g, b, e);
        case simd::KernelPath::Avx2:
            return pass1Avx2(src, g, b, e);
        default:
            break;
    }
#endif
    return pass1Rows<simd::vf>(src, g, b, e);
}

void pass2(const Source& src, const QuantGrid& g, const Binner* binners, ChunkBins& out) {
#if QL_HAVE_WIDE_KERNELS
    switch (simd::kernelPath()) {
        case simd::KernelPath::Avx512:
            return pass2Avx512(src, g, binners, out);
        case simd::KernelPath::Avx2:
            return pass2Avx2(src, g, binners, out);
        default:
            break;
    }
#endif
    pass2Rows<simd::vf>(src, g, binners, out);
}

// The per-tensor scale needs the whole weight's range first (as quantize.cpp's fillGrid).
void fillTensorScale(const Source& src, QuantGrid& g, int threads) {
    std::vector<float> mins(size_t(std::max(1, threads)), 0.0f), maxs(mins);
    parallelChunks(size_t(g.rows), threads, [&](int c, size_t b, size_t e) {
        std::vector<float> buf;
        float lo = 0, hi = 0;
        const int64_t tile = tileRowsFor(g.cols);
        for (int64_t r0 = int64_t(b); r0 < int64_t(e); r0 += tile) {
            const int64_t n = std::min(tile, int64_t(e) - r0);
            float mn, mx;
            rtn::groupRange(src.tile(r0, n, buf), n * g.cols, mn, mx);
            lo = std::min(lo, mn), hi = std::max(hi, mx);
        }
        mins[size_t(c)] = lo, maxs[size_t(c)] = hi;
    });
    const GroupParams p =
        rtn::makeParams(*std::min_element(mins.begin(), mins.end()),
                        *std::max_element(maxs.begin(), maxs.end()), g.bits, g.symmetric);
    g.scales[0] = p.scale;
    if (!g.symmetric) g.zeros[0] = p.zero;
}

// Finite values with |v - m| > thr among n (float32 compares, as computeHistogram).
template <class VF>
uint64_t countBeyond(const float* v, int64_t n, float m, float thr) {
    constexpr int L = simd::lanes<VF>();
    const VF vm = simd::splat<VF>(m), vt = simd::splat<VF>(thr), z = simd::splat<VF>(0.0f);
    const VF one = simd::splat<VF>(1.0f);
    VF acc = z;  // float counts: exact, n is a block (<= 256)
    int64_t j = 0;
    for (; j + L <= n; j += L) {
        const VF x = simd::load<VF>(v + j), d = x - vm;
        VF a = d < z ? -d : d;
        a = (x - x) == z ? a : z;  // NaN/Inf: never counted (thr >= 0)
        acc += a > vt ? one : z;
    }
    uint64_t count = uint64_t(simd::hsumFast(acc));
    for (; j < n; ++j) count += std::isfinite(v[j]) && std::fabs(v[j] - m) > thr;
    return count;
}

// After-stream outliers of a level-counted chunk: from the counts of the counted groups, by
// recomputing w_hat for the groups binned value by value.
template <class VF>
uint64_t levelOutliers(const Source& src, const QuantGrid& g, const ChunkBins& c, float mean,
                       float thr) {
    const int64_t groups = groupsOf(g), span = spanOf(g), first = c.rowBegin * groups;
    uint64_t n = 0;
    for (size_t i = 0; i * levels::kMaxLevels < c.levels.size(); ++i) {
        const int64_t id = first + int64_t(i);
        n += levels::outliers(c.levels.data() + i * levels::kMaxLevels,
                              rtn::paramsAt(g, g.perTensor ? 0 : size_t(id)), mean, thr);
    }
    std::vector<float> buf, after(static_cast<size_t>(span)), err(static_cast<size_t>(span));
    for (const int64_t id : c.fallback) {
        const float* x = src.tile(id / groups, 1, buf) + (id % groups) * span;
        afterAndError<VF>(x, span, rtn::paramsAt(g, g.perTensor ? 0 : size_t(id)), after.data(),
                          err.data());
        n += countBeyond<VF>(after.data(), span, mean, thr);
    }
    return n;
}

// Finite values with |v - mean| > threshold (float32, as computeHistogram) in the blocks of
// one chunk whose extremes can hold them. w_hat and the error are recomputed per run of
// elements that share a group, with the same kernel as pass 2 (the same bits). Rows are
// converted a tile at a time, each at most once, however many of its blocks are candidates.
template <class VF>
void countOutliersIn(const Source& src, const QuantGrid& g, const ChunkBins& c, const float* mean,
                     const float* thr, uint64_t* out) {
    std::vector<float> buf;
    float after[kBlock], err[kBlock];
    const int64_t cols = g.cols, span = spanOf(g), groups = groupsOf(g);
    const int64_t begin = c.rowBegin * cols, end = c.rowEnd * cols;
    const int64_t tileRows = tileRowsFor(cols);
    int64_t tileR0 = -1, tileN = 0;
    const float* tile = nullptr;
    for (size_t k = 0; k < c.bmin[0].size(); ++k) {
        bool hold[3];
        for (int s = 0; s < 3; ++s)
            hold[s] = hist::mayHold(c.bmin[s][k], c.bmax[s][k], mean[s], thr[s]);
        hold[kAfter] = hold[kAfter] && !c.levelCounts;  // counted below
        if (!hold[0] && !hold[1] && !hold[2]) continue;
        const int64_t i0 = begin + int64_t(k * kBlock), i1 = std::min(end, i0 + int64_t(kBlock));
        const int64_t r0 = i0 / cols, r1 = (i1 - 1) / cols;
        if (r0 < tileR0 || r1 >= tileR0 + tileN) {
            tileR0 = r0;
            tileN = std::min(std::max(tileRows, r1 - r0 + 1), c.rowEnd - r0);
            tile = src.tile(tileR0, tileN, buf);
        }
        for (int64_t i = i0; i < i1;) {
            const int64_t row = i / cols, group = (i % cols) / span;
            const int64_t len = std::min(i1, row * cols + (group + 1) * span) - i;
            const float* x = tile + (i - tileR0 * cols);
            const size_t idx = g.perTensor ? 0 : size_t(row * groups + group);
            if (hold[1] || hold[2]) afterAndError<VF>(x, len, rtn::paramsAt(g, idx), after, err);
            const float* values[3] = {x, after, err};
            for (int s = 0; s < 3; ++s)
                if (hold[s]) out[s] += countBeyond<VF>(values[s], len, mean[s], thr[s]);
            i += len;
        }
    }
    if (c.levelCounts) out[kAfter] += levelOutliers<VF>(src, g, c, mean[kAfter], thr[kAfter]);
}

#if QL_HAVE_WIDE_KERNELS
__attribute__((target("avx2"), flatten)) void countOutliersAvx2(const Source& src,
                                                                const QuantGrid& g,
                                                                const ChunkBins& c,
                                                                const float* mean, const float* thr,
                                                                uint64_t* out) {
    countOutliersIn<simd::vf8>(src, g, c, mean, thr, out);
}
__attribute__((target("avx512f"), flatten)) void countOutliersAvx512(
    const Source& src, const QuantGrid& g, const ChunkBins& c, const float* mean, const float* thr,
    uint64_t* out) {
    countOutliersIn<simd::vf16>(src, g, c, mean, thr, out);
}
#endif

void countOutliers(const Source& src, const QuantGrid& g, const ChunkBins& c, const float* mean,
                   const float* thr, uint64_t* out) {
#if QL_HAVE_WIDE_KERNELS
    switch (simd::kernelPath()) {
        case simd::KernelPath::Avx512:
            return countOutliersAvx512(src, g, c, mean, thr, out);
        case simd::KernelPath::Avx2:
            return countOutliersAvx2(src, g, c, mean, thr, out);
        default:
            break;
    }
#endif
    countOutliersIn<simd::vf>(src, g, c, mean, thr, out);
}

WeightAnalysis analyze(const Source& src, int64_t rows, int64_t cols, const Recipe& recipe,
                       int bins, int threads) {
    if (recipe.method != QuantMethod::Rtn)
        throw Error("the fused weight analysis takes RTN recipes, not '" + recipe.toString() + "'");
    rtn::checkShape(rows, cols, recipe);
    if (bins < 0) throw Error("histogram bin count " + std::to_string(bins) + " is negative");
    if (threads <= 0) threads = computeThreads();
    WeightAnalysis res;
    QuantGrid& g = res.grid;
    g = rtn::emptyGrid(rows, cols, recipe);
    if (g.perTensor && rows > 0) fillTensorScale(src, g, threads);

    std::vector<Pass1Result> p1(size_t(std::max(1, threads)));
    parallelChunks(size_t(rows), threads, [&](int c, size_t b, size_t e) {
        p1[size_t(c)] = pass1(src, g, int64_t(b), int64_t(e));
    });
    for (size_t i = 1; i < p1.size(); ++i) p1[0].merge(p1[i]);
    res.metrics = rtn::metricsFromSums(p1[0].sums, size_t(rows * cols));
    res.weightRange = p1[0].w.range();
    if (bins == 0) return res;  // metrics only

    const Range wr = binnableRange(unionRange(p1[0].w.range(), p1[0].h.range()));
    const Range er = binnableRange(p1[0].e.range());
    hist::checkRange(wr.lo, wr.hi, bins);
    hist::checkRange(er.lo, er.hi, bins);
    const Binner binners[3] = {Binner(wr.lo, wr.hi, bins), Binner(wr.lo, wr.hi, bins),
                               Binner(er.lo, er.hi, bins)};
    std::vector<ChunkBins> chunks(size_t(std::max(1, threads)));
    parallelChunks(size_t(rows), threads, [&](int c, size_t b, size_t e) {
        chunks[size_t(c)].rowBegin = int64_t(b), chunks[size_t(c)].rowEnd = int64_t(e);
        pass2(src, g, binners, chunks[size_t(c)]);
    });

    Histogram* hs[3] = {&res.before, &res.after, &res.error};
    Partial total[3];
    for (int s = 0; s < 3; ++s) {
        total[s].counts.assign(size_t(bins + 2), 0);
        for (const ChunkBins& c : chunks)
            if (!c.part[s].counts.empty()) total[s].merge(c.part[s]);
        const Range& r = s == kError ? er : wr;
        hs[s]->lo = r.lo, hs[s]->hi = r.hi;
        hs[s]->counts.assign(total[s].counts.begin(), total[s].counts.begin() + bins);
        hist::fillStats(total[s], hs[s]->stats);
    }
    float mean[3], thr[3];
    for (int s = 0; s < 3; ++s) {
        mean[s] = float(hs[s]->stats.mean), thr[s] = float(6.0 * hs[s]->stats.std);
        if (hs[s]->stats.count == 0) thr[s] = kInf;  // nothing finite: no outliers
    }
    std::vector<uint64_t> outliers(3 * chunks.size(), 0);
    parallelChunks(chunks.size(), threads, [&](int, size_t b, size_t e) {
        for (size_t c = b; c < e; ++c)
            if (chunks[c].rowEnd > chunks[c].rowBegin)
                countOutliers(src, g, chunks[c], mean, thr, outliers.data() + 3 * c);
    });
    for (size_t c = 0; c < chunks.size(); ++c)
        for (int s = 0; s < 3; ++s) hs[s]->stats.outliers += outliers[3 * c + size_t(s)];
    return res;
}

}  // namespace

WeightAnalysis analyzeRtnWeights(const RowSource& source, int64_t rows, int64_t cols,
                                 const Recipe& recipe, int bins, int threads) {
    Source src;
    src.rows = &source;
    src.cols = cols;
    return analyze(src, rows, cols, recipe, bins, threads);
}

WeightAnalysis analyzeRtnWeights(const float* w, int64_t rows, int64_t cols, const Recipe& recipe,
                                 int bins, int threads) {
    Source src;
    src.data = w;
    src.cols = cols;
    return analyze(src, rows, cols, recipe, bins, threads);
}

}  // namespace ql
