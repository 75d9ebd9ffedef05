// Fused weights-only analysis of an RTN recipe. Each thread takes a contiguous run of rows
// and reads it in tiles of ~16 K values (converted by the source into a buffer that stays in
// cache), so the weight is read from memory twice and nothing weight-sized is written:
//  pass 1, per group: range -> scale/zero (stored in the grid), then w_hat and the error in
//    registers: double sums for SQNR/MSE/cosine/max error, finite min/max of w, w_hat, error;
//  pass 2, per row: w_hat and the error into two row buffers, then the row, w_hat and the
//    error through three histogram block scanners (quant/histogram_scan.h: vector bin
//    indices, private sub-histograms, block moments), the bin ranges now known from pass 1;
//  outliers: only blocks whose min/max reach 6 std from the mean are recomputed.
// w_hat and the error are computed with the same float operations as quantizeWithGrid and
// analyzeLayer (x / scale, clamp, round half to even, r * scale, x - w_hat), in every vector
// width, so ranges and bin counts equal theirs exactly.
#include "quant/weight_analysis.h"

#include "base/error.h"
#include "base/parallel.h"
#include "quant/histogram_scan.h"
#include "quant/rtn_kernel.h"
#include "quant/simd.h"
#include "quant/weight_levels.h"

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

using hist::Binner;
using hist::kBlock;
using hist::Partial;
using rtn::GroupParams;

constexpr float kInf = std::numeric_limits<float>::infinity();

// Whole rows, about 16 K values: small enough to stay in L1/L2 between the passes over it.
int64_t tileRowsFor(int64_t cols) {
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

int64_t spanOf(const QuantGrid& g) {
    return g.perTensor ? g.cols : g.groupSize;
}
int64_t groupsOf(const QuantGrid& g) {
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
bool levelCounted(const QuantGrid& g) {
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
