// Private to core/quant (weight_analysis.cpp): pass 2 of the fused weights-only analysis —
// per row w_hat and the error into two row buffers, then the row, w_hat and the error through
// three histogram block scanners (quant/histogram_scan.h), the bin ranges known from pass 1;
// w_hat of <= 16 levels from per-group level counts (quant/weight_levels.h).
#pragma once

#include "quant/weight_levels.h"
#include "quant/weight_pass1.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ql::wa {

// Appends values of any length to a ChunkScanner in whole blocks (a row need not be a
// multiple of the block): the blocks are those of the chunk's element sequence.
template <class VF>
class StreamScanner {
public:
    StreamScanner(const Binner& b, Partial& out, float* bmin, float* bmax)
        : scanner_(b, out, bmin, bmax) {}
    void push(const float* p, size_t n) {
        if (fill_ > 0) {
            const size_t take = std::min(n, kBlock - fill_);
            std::memcpy(stage_ + fill_, p, take * sizeof(float));
            fill_ += take, p += take, n -= take;
            if (fill_ < kBlock) return;
            scanner_.block(stage_);
            fill_ = 0;
        }
        for (; n >= kBlock; p += kBlock, n -= kBlock) scanner_.block(p);
        if (n > 0) std::memcpy(stage_, p, n * sizeof(float)), fill_ = n;
    }
    void finish() {
        if (fill_ > 0) scanner_.tail(stage_, fill_);
        fill_ = 0;
    }

private:
    hist::ChunkScanner<VF> scanner_;
    size_t fill_ = 0;
    alignas(64) float stage_[kBlock];
};

// w_hat and the error of whole vectors with x * (1/scale), as Pass1Acc::fastChunk: false
// (the outputs to be overwritten) when a value sits too near a rounding tie or is not finite.
template <class VF>
bool fastAfterAndError(const float* w, int64_t n, const GroupParams& g, float* after, float* err) {
    constexpr int L = simd::lanes<VF>();
    const ReciprocalCodes<VF> codes(g);
    const VF scale = simd::splat<VF>(g.scale), z = simd::splat<VF>(0.0f);
    VF worst = z, fin = z;
    for (int64_t i = 0; i < n; i += L) {
        const VF x = simd::load<VF>(w + i), r = codes.codes(x, worst);
        fin += x - x;  // NaN once any x is NaN or Inf
        const VF h = r * scale;
        simd::store(after + i, h);
        simd::store(err + i, x - h);
    }
    return codes.exact(worst) && simd::hsumFast(fin) == 0.0f;
}

// w_hat (non-finite weights passed through) and the error x - w_hat of one group.
template <class VF>
void afterAndError(const float* w, int64_t n, const GroupParams& g, float* after, float* err) {
    constexpr int L = simd::lanes<VF>();
    const VF scale = simd::splat<VF>(g.scale), rlo = simd::splat<VF>(g.rlo),
             rhi = simd::splat<VF>(g.rhi), z = simd::splat<VF>(0.0f);
    int64_t i = 0;
    if (ReciprocalCodes<VF>::usable(g)) {
        const int64_t whole = n - n % L;
        while (i < whole) {
            const int64_t len = std::min<int64_t>(8 * L, whole - i);
            if (!fastAfterAndError<VF>(w + i, len, g, after + i, err + i)) break;
            i += len;
        }
    }
    for (; i + L <= n; i += L) {
        const VF x = simd::load<VF>(w + i);
        VF t = x / scale;
        t = t < rlo ? rlo : t;
        t = t > rhi ? rhi : t;
        VF r = simd::roundEven(t);
        r = t == t ? r : z;
        const VF a = simd::finiteMask(x) ? r * scale : x;
        simd::store(after + i, a);
        simd::store(err + i, x - a);
    }
    for (; i < n; ++i) {
        float r;
        after[i] = rtn::quantScalar(w[i], g, r);
        err[i] = w[i] - after[i];
    }
}

// Whether pass 2 bins w_hat from level counts (quant/weight_levels.h): at most 16 levels,
// groups long enough that a group's <= 16 bin updates cost less than binning each weight, and
// short enough for 16-bit counts.
inline bool levelCounted(const QuantGrid& g) {
    const int64_t span = spanOf(g);
    return g.bits <= 4 && span >= 64 && span <= 65535;
}

// The error x - w_hat of one group into err and the level counts of its w_hat, with the codes
// of afterAndError (x * (1/scale), the division where a chunk may round differently): false,
// with `out` untouched, when a value is not finite (the group is then binned value by value).
template <class VF>
bool countGroup(const float* w, int64_t n, const GroupParams& g, float* err,
                levels::GroupCounts& out) {
    constexpr int L = simd::lanes<VF>();
    const ReciprocalCodes<VF> codes(g);
    const VF scale = simd::splat<VF>(g.scale), rlo = simd::splat<VF>(g.rlo),
             rhi = simd::splat<VF>(g.rhi);
    levels::LaneLevelCounter<VF> counter;
    levels::GroupCounts c;
    VF fin = simd::splat<VF>(0.0f), r[8];
    const int64_t whole = n - n % L;
    for (int64_t i = 0; i < whole; i += 8 * L) {
        const int m = int(std::min<int64_t>(8, (whole - i) / L));
        VF worst = simd::splat<VF>(0.0f);
        for (int j = 0; j < m; ++j) {
            const VF x = simd::load<VF>(w + i + j * L);
            fin += x - x;  // NaN once any x is NaN or Inf
            r[j] = codes.codes(x, worst);
        }
        if (!codes.exact(worst))
            for (int j = 0; j < m; ++j) {
                VF t = simd::load<VF>(w + i + j * L) / scale;
                t = t < rlo ? rlo : t;
                t = t > rhi ? rhi : t;
                r[j] = simd::roundEven(t);
            }
        for (int j = 0; j < m; ++j) {
            simd::store(err + i + j * L, simd::load<VF>(w + i + j * L) - r[j] * scale);
            counter.add(r[j], rlo, c);
        }
    }
    if (!(simd::hsumFast(fin) == 0.0f)) return false;
    counter.flush(c);
    for (int64_t i = whole; i < n; ++i) {
        if (!std::isfinite(w[i])) return false;
        float r1;
        err[i] = w[i] - rtn::quantScalar(w[i], g, r1);
        ++c.n[int(r1 - g.rlo)];
    }
    out = c;
    return true;
}

enum Stream { kBefore = 0, kAfter = 1, kError = 2 };

// What pass 2 of one chunk of rows leaves: partial histograms and block extremes per stream.
struct ChunkBins {
    int64_t rowBegin = 0, rowEnd = 0;
    Partial part[3];
    std::vector<float> bmin[3], bmax[3];
    // levelCounted(grid): w_hat's level counts per group of the chunk (zero for the groups
    // binned value by value, listed in fallback as row * groups + group); the after
    // stream's block extremes then cover only those groups' values.
    bool levelCounts = false;
    std::vector<uint16_t> levels;
    std::vector<int64_t> fallback;
};

template <class VF>
void pass2Rows(const Source& src, const QuantGrid& g, const Binner* binners, ChunkBins& out) {
    const int64_t cols = g.cols, span = spanOf(g), groups = groupsOf(g), tile = tileRowsFor(cols);
    const size_t blocks = (size_t((out.rowEnd - out.rowBegin) * cols) + kBlock - 1) / kBlock;
    for (int s = 0; s < 3; ++s) {
        out.part[s].counts.assign(size_t(binners[s].bins + 2), 0);
        out.bmin[s].resize(blocks), out.bmax[s].resize(blocks);
    }
    out.levelCounts = levelCounted(g);
    if (out.levelCounts)
        out.levels.assign(size_t((out.rowEnd - out.rowBegin) * groups) * levels::kMaxLevels, 0);
    {
        StreamScanner<VF> before(binners[0], out.part[0], out.bmin[0].data(), out.bmax[0].data());
        StreamScanner<VF> after(binners[1], out.part[1], out.bmin[1].data(), out.bmax[1].data());
        StreamScanner<VF> error(binners[2], out.part[2], out.bmin[2].data(), out.bmax[2].data());
        std::vector<float> buf, hrow(static_cast<size_t>(cols)), erow(static_cast<size_t>(cols));
        levels::LevelStats levelStats(binners[1]);
        levels::GroupCounts counts;
        for (int64_t r0 = out.rowBegin; r0 < out.rowEnd; r0 += tile) {
            const int64_t n = std::min(tile, out.rowEnd - r0);
            const float* rows = src.tile(r0, n, buf);
            for (int64_t r = 0; r < n; ++r) {
                const float* row = rows + r * cols;
                for (int64_t k = 0; k < groups; ++k) {
                    const int64_t id = (r0 + r) * groups + k;
                    const GroupParams prm = rtn::paramsAt(g, g.perTensor ? 0 : size_t(id));
                    float* h = hrow.data() + k * span;
                    if (out.levelCounts && ReciprocalCodes<VF>::usable(prm) &&
                        countGroup<VF>(row + k * span, span, prm, erow.data() + k * span, counts)) {
                        levelStats.add(counts, prm, out.part[kAfter].counts.data());
                        uint16_t* dst = out.levels.data() +
                                        size_t(id - out.rowBegin * groups) * levels::kMaxLevels;
                        for (int v = 0; v < levels::kMaxLevels; ++v) dst[v] = uint16_t(counts.n[v]);
                        continue;
                    }
                    afterAndError<VF>(row + k * span, span, prm, h, erow.data() + k * span);
                    if (out.levelCounts) after.push(h, size_t(span)), out.fallback.push_back(id);
                }
                before.push(row, size_t(cols));
                if (!out.levelCounts) after.push(hrow.data(), size_t(cols));
                error.push(erow.data(), size_t(cols));
            }
        }
        before.finish(), after.finish(), error.finish();
        out.part[kAfter].mom.merge(levelStats.moments());
    }  // the scanners flush their sub-histograms here
}

}  // namespace ql::wa
