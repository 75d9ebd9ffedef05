// Round-to-nearest kernels. Conventions (as ../shared/README.md):
//   sym:  scale = max|w| / (2^(b-1)-1), q = clamp(round(w/scale), -2^(b-1), 2^(b-1)-1)
//   asym: scale = (max(w,0) - min(w,0)) / (2^b-1), zero = round(-min(w,0)/scale),
//         q = clamp(round(w/scale) + zero, 0, 2^b-1), w_hat = (q - zero) * scale
// All in float32 (scale, w/scale, q*scale), rounding half to even. A group whose range
// is 0 gets scale 1 (w_hat = 0 exactly). Non-finite inputs: ignored for the range,
// passed through unchanged into w_hat (NaN stays NaN, +-Inf stays +-Inf), code of a NaN
// = the zero point, of +-Inf = the grid's end; error metrics cover finite elements only.
#include "quant/quantize.h"

#include "base/error.h"
#include "base/parallel.h"
#include "quant/rtn_kernel.h"
#include "quant/simd.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QL_HAVE_AVX2_KERNELS 1
#else
#define QL_HAVE_AVX2_KERNELS 0
#endif

namespace ql {
namespace {

using simd::kLanes;
using simd::vf;
using simd::vi;
using namespace rtn;

template <class VF = vf>
void quantGroup(const float* w, int64_t n, const GroupParams& g, int32_t* q, float* out,
                Sums& sums) {
    using VI = decltype(VF{} == VF{});
    constexpr int L = simd::lanes<VF>();
    const VF scale = simd::splat<VF>(g.scale), rlo = simd::splat<VF>(g.rlo),
             rhi = simd::splat<VF>(g.rhi);
    const VF zero = simd::splat<VF>(g.zero), z = simd::splat<VF>(0.0f);
    VF mx = z;
    VI nonFinite = VI{} + 0;
    Sums s;
    int64_t i = 0;
    // float lanes over blocks of kBlock elements, then into double: accurate and fast
    constexpr int64_t kBlock = 16 * L;
    for (int64_t blockEnd = std::min(n, kBlock); i + L <= n;
         blockEnd = std::min(n, blockEnd + kBlock)) {
        VF w2 = z, e2 = z, wh = z, h2 = z;
        for (; i + L <= blockEnd; i += L) {
            const VF x = simd::load<VF>(w + i);
            VF t = x / scale;
            t = t < rlo ? rlo : t;
            t = t > rhi ? rhi : t;
            VF r = simd::roundEven(t);
            r = t == t ? r : z;
            const VI fin = simd::finiteMask(x);
            const VF xf = fin ? x : z;
            const VF h = r * scale;
            simd::store(out + i, fin ? h : x);
            if (q) simd::storeInt(q + i, __builtin_convertvector(r + zero, VI));
            const VF hf = fin ? h : z, d = xf - hf;
            w2 += xf * xf, e2 += d * d, wh += xf * hf, h2 += hf * hf;
            const VF ad = d < z ? -d : d;
            mx = ad > mx ? ad : mx;
            nonFinite += fin + 1;  // fin is -1 (finite) or 0
        }
        s.w2 += simd::hsum(w2), s.e2 += simd::hsum(e2), s.wh += simd::hsum(wh);
        s.h2 += simd::hsum(h2);
    }
    s.maxAbs = simd::hmax(mx);
    for (int k = 0; k < L; ++k) s.nonFinite += uint64_t(nonFinite[k]);
    for (; i < n; ++i) {
        float r;
        const float x = w[i], h = quantScalar(x, g, r);
        out[i] = h;
        if (q) q[i] = int32_t(r + g.zero);
        if (!std::isfinite(x)) {
            ++s.nonFinite;
            continue;
        }
        const double d = double(x) - double(h);
        s.w2 += double(x) * x, s.e2 += d * d, s.wh += double(x) * h, s.h2 += double(h) * h;
        s.maxAbs = std::max(s.maxAbs, std::fabs(d));
    }
    sums.merge(s);
}

// Fills the grid (per row/group, or once for the tensor).
void fillGrid(const float* w, QuantGrid& g) {
    if (g.rows == 0) return;
    if (g.perTensor) {
        std::vector<float> mins(size_t(computeThreads()) + 1, 0.f), maxs(mins);
        parallelChunks(size_t(g.rows), 0, [&](int c, size_t b, size_t e) {
            float mn = 0, mx = 0;
            groupRange(w + b * g.cols, int64_t(e - b) * g.cols, mn, mx);
            mins[size_t(c)] = mn, maxs[size_t(c)] = mx;
        });
        const GroupParams p =
            makeParams(*std::min_element(mins.begin(), mins.end()),
                       *std::max_element(maxs.begin(), maxs.end()), g.bits, g.symmetric);
        g.scales[0] = p.scale;
        if (!g.symmetric) g.zeros[0] = p.zero;
        return;
    }
    const int64_t gpr = g.groupsPerRow();
    parallelChunks(size_t(g.rows), 0, [&](int, size_t b, size_t e) {
        for (size_t row = b; row < e; ++row)
            for (int64_t k = 0; k < gpr; ++k) {
                const int64_t c0 = k * g.groupSize, len = std::min(g.groupSize, g.cols - c0);
                float mn, mx;
                groupRange(w + int64_t(row) * g.cols + c0, len, mn, mx);
                const GroupParams p = makeParams(mn, mx, g.bits, g.symmetric);
                g.scales[row * size_t(gpr) + size_t(k)] = p.scale;
                if (!g.symmetric) g.zeros[row * size_t(gpr) + size_t(k)] = p.zero;
            }
    });
}

// Quantizes rows [b, e) with the grid's parameters; returns the error sums.
// q (optional) holds the codes from row qRow0 on; out (optional) the whole matrix's w_hat.
// Without out, w_hat goes to a scratch of one group: nothing weight-sized is allocated (a
// fresh weight-sized buffer costs a page fault per 4 KiB, ~10 us each on this project's VMs).
Sums quantizeRows(const float* w, const QuantGrid& g, size_t b, size_t e, int32_t* q, size_t qRow0,
                  float* out) {
    Sums sums;
    const int64_t gpr = g.perTensor ? 1 : g.groupsPerRow();
    const int64_t span = g.perTensor ? g.cols : g.groupSize;
    std::vector<float> scratch(out ? 0 : size_t(span));
    const size_t qBase = qRow0 * size_t(g.cols);
    for (size_t row = b; row < e; ++row)
        for (int64_t k = 0; k < gpr; ++k) {
            const int64_t c0 = k * span, len = std::min(span, g.cols - c0);
            const size_t off = row * size_t(g.cols) + size_t(c0);
            const GroupParams p = paramsAt(g, g.perTensor ? 0 : row * size_t(gpr) + size_t(k));
            quantGroup(w + off, len, p, q ? q + (off - qBase) : nullptr,
                       out ? out + off : scratch.data(), sums);
        }
    return sums;
}

// Fused grid + quantize + dequantize + error sums for rows [b, e).
template <class VF>
Sums rtnRows(const float* w, QuantGrid& g, float* dequant, size_t b, size_t e) {
    Sums sums;
    const int64_t cols = g.cols, gpr = g.groupsPerRow();
    for (size_t row = b; row < e; ++row) {
        const float* wr = w + row * size_t(cols);
        float* out = dequant + row * size_t(cols);
        if (g.perTensor) {
            quantGroup<VF>(wr, cols, paramsAt(g, 0), nullptr, out, sums);
            continue;
        }
        for (int64_t k = 0; k < gpr; ++k) {
            const int64_t c0 = k * g.groupSize;
            float mn, mx;
            groupRange<VF>(wr + c0, g.groupSize, mn, mx);
            const GroupParams p = makeParams(mn, mx, g.bits, g.symmetric);
            const size_t idx = row * size_t(gpr) + size_t(k);
            g.scales[idx] = p.scale;
            if (!g.symmetric) g.zeros[idx] = p.zero;
            quantGroup<VF>(wr + c0, g.groupSize, p, nullptr, out + c0, sums);
        }
    }
    return sums;
}

#if QL_HAVE_AVX2_KERNELS
// The same with 8 lanes, all inlined into one function compiled for AVX2 (same float
// operations, no FMA: results are bit-identical to the baseline path).
__attribute__((target("avx2"), flatten)) Sums rtnRowsAvx2(const float* w, QuantGrid& g,
                                                          float* dequant, size_t b, size_t e) {
    return rtnRows<simd::vf8>(w, g, dequant, b, e);
}
#endif

}  // namespace

namespace rtn {

void checkShape(int64_t rows, int64_t cols, const Recipe& recipe) {
    if (recipe.isCast())
        throw Error("recipe '" + recipe.toString() + "' is a cast, not an integer grid");
    if (recipe.bits < 2 || recipe.bits > 8)
        throw Error("unsupported bit width " + std::to_string(recipe.bits) + " (2..8)");
    if (rows < 0 || cols <= 0)
        throw Error("cannot quantize a matrix of shape [" + std::to_string(rows) + ", " +
                    std::to_string(cols) + "]");
    if (recipe.granularity == Granularity::Group &&
        (recipe.groupSize <= 0 || cols % recipe.groupSize != 0))
        throw Error("group size " + std::to_string(recipe.groupSize) + " does not divide the " +
                    std::to_string(cols) + " columns of the matrix");
}

QuantGrid emptyGrid(int64_t rows, int64_t cols, const Recipe& recipe) {
    QuantGrid g;
    g.bits = recipe.bits;
    g.symmetric = recipe.symmetric;
    g.rows = rows, g.cols = cols;
    g.perTensor = recipe.granularity == Granularity::Tensor;
    g.groupSize = recipe.granularity == Granularity::Group ? recipe.groupSize : cols;
    const size_t count = g.perTensor ? 1 : size_t(rows * g.groupsPerRow());
    g.scales.assign(count, 1.0f);
    if (!g.symmetric) g.zeros.assign(count, 0.0f);
    return g;
}

}  // namespace rtn

int QuantGrid::qmin() const {
    return symmetric ? -(1 << (bits - 1)) : 0;
}
int QuantGrid::qmax() const {
    return symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
}

float QuantGrid::scaleAt(int64_t row, int64_t col) const {
    return perTensor ? scales[0] : scales[size_t(row * groupsPerRow() + col / groupSize)];
}

float QuantGrid::zeroAt(int64_t row, int64_t col) const {
    if (symmetric) return 0.0f;
    return perTensor ? zeros[0] : zeros[size_t(row * groupsPerRow() + col / groupSize)];
}

QuantGrid computeGrid(const float* w, int64_t rows, int64_t cols, const Recipe& recipe) {
    checkShape(rows, cols, recipe);
    QuantGrid g = emptyGrid(rows, cols, recipe);
    fillGrid(w, g);
    return g;
}

void quantizeWithGrid(const float* w, const QuantGrid& grid, int32_t* q, float* dequant) {
    parallelChunks(size_t(grid.rows), 0,
                   [&](int, size_t b, size_t e) { quantizeRows(w, grid, b, e, q, 0, dequant); });
}

void quantizeRowsWithGrid(const float* w, const QuantGrid& grid, int64_t row0, int64_t count,
                          int32_t* q) {
    if (row0 < 0 || count < 0 || row0 + count > grid.rows)
        throw Error("rows [" + std::to_string(row0) + ", " + std::to_string(row0 + count) +
                    ") are outside the grid's " + std::to_string(grid.rows) + " rows");
    parallelChunks(size_t(count), 0, [&](int, size_t b, size_t e) {
        quantizeRows(w, grid, size_t(row0) + b, size_t(row0) + e, q, size_t(row0), nullptr);
    });
}

RtnResult quantizeRtn(const float* w, int64_t rows, int64_t cols, const Recipe& recipe) {
    checkShape(rows, cols, recipe);
    RtnResult res;
    res.grid = emptyGrid(rows, cols, recipe);
    res.dequant.resize(size_t(rows * cols));
    QuantGrid& g = res.grid;
    if (g.perTensor) fillGrid(w, g);
    const int threads = computeThreads();
    std::vector<Sums> partial(static_cast<size_t>(threads));
    parallelChunks(size_t(rows), threads, [&](int c, size_t b, size_t e) {
#if QL_HAVE_AVX2_KERNELS
        if (simd::wideKernels()) {
            partial[size_t(c)] = rtnRowsAvx2(w, g, res.dequant.data(), b, e);
            return;
        }
#endif
        partial[size_t(c)] = rtnRows<vf>(w, g, res.dequant.data(), b, e);
    });
    Sums total;
    for (const Sums& s : partial) total.merge(s);
    res.metrics = metricsFromSums(total, size_t(rows * cols));
    return res;
}

ErrorMetrics errorMetrics(const float* w, const float* w_hat, size_t n) {
    Sums s;
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(w[i])) {
            ++s.nonFinite;
            continue;
        }
        const double x = w[i], h = std::isfinite(w_hat[i]) ? double(w_hat[i]) : 0.0;
        const double d = std::isfinite(w_hat[i]) ? x - h : std::numeric_limits<double>::infinity();
        s.w2 += x * x, s.e2 += d * d, s.wh += x * h, s.h2 += h * h;
        s.maxAbs = std::max(s.maxAbs, std::fabs(d));
    }
    return metricsFromSums(s, n);
}

// ---- packing --------------------------------------------------------------------------
// bits > 4: one byte per code, the code's two's complement (int8 for sym, uint8 for asym).
// bits <= 4: two codes per byte, low nibble first, each stored as q - qmin (0..15).
// Scales as fp16 (round to nearest even); asym zeros at the weight's bit width, same layout.
namespace {

uint16_t toHalf(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
    if (absx >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: inf
    if (absx < 0x38800000u) {                                  // half subnormal or zero
        float a;
        std::memcpy(&a, &absx, 4);
        // a * 2^24 is the subnormal mantissa; nearbyint rounds half to even
        return uint16_t(sign | uint32_t(std::nearbyint(a * 16777216.0f)));
    }
    const uint32_t mant = absx & 0x1fffu;  // the 13 dropped bits
    uint32_t h = ((absx - 0x38000000u) >> 13);
    if (mant > 0x1000u || (mant == 0x1000u && (h & 1u))) ++h;
    return uint16_t(sign | h);
}

float fromHalf(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    float v;
    if (e == 0) {
        v = std::ldexp(float(m), -24);
        return sign ? -v : v;
    }
    const uint32_t bits =
        e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e + 112u) << 23) | (m << 13));
    std::memcpy(&v, &bits, 4);
    return v;
}

float bf16RoundTrip(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return f;  // NaN stays NaN
    x = (x + 0x7fffu + ((x >> 16) & 1u)) & 0xffff0000u;
    float v;
    std::memcpy(&v, &x, 4);
    return v;
}

std::vector<uint8_t> packCodes(const int32_t* q, size_t n, int bits, int qmin) {
    if (bits > 4) {
        std::vector<uint8_t> out(n);
        for (size_t i = 0; i < n; ++i) out[i] = uint8_t(q[i] & 0xff);
        return out;
    }
    std::vector<uint8_t> out((n + 1) / 2, 0);
    for (size_t i = 0; i < n; ++i) out[i / 2] |= uint8_t(((q[i] - qmin) & 0xf) << ((i & 1) * 4));
    return out;
}

std::vector<int32_t> unpackCodes(const uint8_t* p, size_t n, int bits, int qmin) {
    std::vector<int32_t> out(n);
    if (bits > 4) {
        for (size_t i = 0; i < n; ++i) out[i] = qmin < 0 ? int32_t(int8_t(p[i])) : int32_t(p[i]);
    } else {
        for (size_t i = 0; i < n; ++i) out[i] = int32_t((p[i / 2] >> ((i & 1) * 4)) & 0xf) + qmin;
    }
    return out;
}

}  // namespace

std::vector<uint8_t> packGridCodes(const int32_t* q, size_t n, const QuantGrid& grid) {
    for (size_t i = 0; i < n; ++i)
        if (q[i] < grid.qmin() || q[i] > grid.qmax())
            throw Error("code " + std::to_string(q[i]) + " at element " + std::to_string(i) +
                        " is outside the " + std::to_string(grid.bits) + "-bit grid");
    return packCodes(q, n, grid.bits, grid.qmin());
}

PackedTensor pack(const int32_t* q, const QuantGrid& grid) {
    PackedTensor p;
    p.grid = grid;
    p.data = packGridCodes(q, size_t(grid.rows * grid.cols), grid);
    p.scalesF16.resize(grid.scales.size());
    for (size_t i = 0; i < grid.scales.size(); ++i) p.scalesF16[i] = toHalf(grid.scales[i]);
    if (!grid.symmetric) {
        std::vector<int32_t> z(grid.zeros.begin(), grid.zeros.end());
        p.zerosPacked = packCodes(z.data(), z.size(), grid.bits, 0);
    }
    return p;
}

uint64_t packedBytes(const QuantGrid& grid) {
    const auto codeBytes = [&](uint64_t n) { return grid.bits > 4 ? n : (n + 1) / 2; };
    const uint64_t params = grid.scales.size();
    return codeBytes(uint64_t(grid.rows) * uint64_t(grid.cols)) + params * 2 +
           (grid.symmetric ? 0 : codeBytes(params));
}

std::vector<int32_t> unpackCodes(const PackedTensor& p) {
    return unpackCodes(p.data.data(), size_t(p.grid.rows * p.grid.cols), p.grid.bits,
                       p.grid.qmin());
}

// Dequantizes as stored: codes with the fp16 scales and the packed zeros.
std::vector<float> dequantize(const PackedTensor& p) {
    const QuantGrid& g = p.grid;
    const std::vector<int32_t> q = unpackCodes(p);
    std::vector<int32_t> zeros;
    if (!g.symmetric) zeros = unpackCodes(p.zerosPacked.data(), g.zeros.size(), g.bits, 0);
    std::vector<float> out(q.size());
    const int64_t gpr = g.groupsPerRow();
    for (int64_t r = 0; r < g.rows; ++r)
        for (int64_t c = 0; c < g.cols; ++c) {
            const size_t k = g.perTensor ? 0 : size_t(r * gpr + c / g.groupSize);
            const size_t i = size_t(r * g.cols + c);
            const int32_t z = g.symmetric ? 0 : zeros[k];
            out[i] = float(q[i] - z) * fromHalf(p.scalesF16[k]);
        }
    return out;
}

float fp16RoundTrip(float v) {
    return fromHalf(toHalf(v));
}
float bf16RoundTripValue(float v) {
    return bf16RoundTrip(v);
}

std::vector<float> castRoundTrip(const float* w, size_t n, QuantMethod castMethod) {
    if (castMethod != QuantMethod::Fp16 && castMethod != QuantMethod::Bf16)
        throw Error("castRoundTrip needs fp16 or bf16, got " + methodName(castMethod));
    std::vector<float> out(n);
    if (castMethod == QuantMethod::Fp16)
        for (size_t i = 0; i < n; ++i) out[i] = fromHalf(toHalf(w[i]));
    else
        for (size_t i = 0; i < n; ++i) out[i] = bf16RoundTrip(w[i]);
    return out;
}

}  // namespace ql
