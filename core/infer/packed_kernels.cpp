// The inner loops of PackedLinear, written once over the vector width with GCC/Clang vector
// extensions (no intrinsics) and compiled three times: baseline (4 lanes), AVX2+FMA (8) and
// AVX-512F (16), each wide copy inlined whole into a target-attributed entry point.
//
// Built with -ffp-contract=fast (CMakeLists): the accumulations w * x + acc become FMAs in
// the wide paths. The dequantization (u - zero) * scale [/ divisor] has no multiply-add, so
// every path gives CompactWeights::decode's values bit for bit.
#include "infer/packed_kernels.h"
#include "infer/x86_target.h"

#include <algorithm>
#include <cstring>

#pragma GCC diagnostic ignored "-Wpsabi"  // inline, file-local vector types

namespace ql::infer::detail {

namespace {

template <int L>
struct Vec;
template <>
struct Vec<4> {
    typedef float f __attribute__((vector_size(16)));
    typedef uint8_t u8 __attribute__((vector_size(4)));
    typedef int8_t i8 __attribute__((vector_size(4)));
};
template <>
struct Vec<8> {
    typedef float f __attribute__((vector_size(32)));
    typedef uint8_t u8 __attribute__((vector_size(8)));
    typedef int8_t i8 __attribute__((vector_size(8)));
};
template <>
struct Vec<16> {
    typedef float f __attribute__((vector_size(64)));
    typedef uint8_t u8 __attribute__((vector_size(16)));
    typedef int8_t i8 __attribute__((vector_size(16)));
};

template <int L>
using VF = typename Vec<L>::f;

template <int L>
inline VF<L> loadF(const float* p) {
    VF<L> v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <int L>
inline void storeF(float* p, VF<L> v) {
    std::memcpy(p, &v, sizeof v);
}
template <int L>
inline VF<L> splat(float s) {
    return VF<L>{} + s;
}
template <int L>
inline float hsum(VF<L> v) {
    float s = 0.0f;
    for (int i = 0; i < L; ++i) s += v[i];
    return s;
}

// How each path turns code bytes into float vectors. GCC 12 scalarizes a byte -> float
// __builtin_convertvector, so the wide paths widen bytes with the zero/sign-extending loads
// (vpmovzxbd/vpmovsxbd) and convert int32 -> float as vectors; flatten inlines these into
// the target-attributed entry points below.
struct OpsBaseline {
    static constexpr int L = 4;
    // L consecutive INT8 codes.
    static VF<4> codes8(const uint8_t* p, bool signedCodes) {
        VF<4> v;
        for (int i = 0; i < 4; ++i) v[i] = signedCodes ? float(int8_t(p[i])) : float(p[i]);
        return v;
    }
    // The 32 codes u (0..15) of one INT4 block, in weight order.
    static void block4(const uint8_t* p, VF<4>* out) {
        for (int k = 0; k < 4; ++k)
            for (int i = 0; i < 4; ++i) {
                out[k][i] = float(p[k * 4 + i] & 15);
                out[k + 4][i] = float(p[k * 4 + i] >> 4);
            }
    }
};

#if QL_INFER_X86
typedef int32_t I8 __attribute__((vector_size(32)));
typedef int32_t I16 __attribute__((vector_size(64)));

struct OpsAvx2 {
    static constexpr int L = 8;
    __attribute__((target("avx2"))) static VF<8> widen(__m128i b, bool signedCodes) {
        const __m256i i = signedCodes ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
        return __builtin_convertvector(I8(i), VF<8>);
    }
    __attribute__((target("avx2"))) static VF<8> codes8(const uint8_t* p, bool signedCodes) {
        return widen(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), signedCodes);
    }
    // Each 8 bytes widened once to 8 int32 lanes; low nibbles by a mask, high ones by a shift
    // (the bytes are 0..255, so no mask after it).
    __attribute__((target("avx2"))) static void block4(const uint8_t* p, VF<8>* out) {
        const __m256i b0 =
            _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
        const __m256i b1 =
            _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)));
        const __m256i mask = _mm256_set1_epi32(15);
        out[0] = __builtin_convertvector(I8(_mm256_and_si256(b0, mask)), VF<8>);
        out[1] = __builtin_convertvector(I8(_mm256_and_si256(b1, mask)), VF<8>);
        out[2] = __builtin_convertvector(I8(_mm256_srli_epi32(b0, 4)), VF<8>);
        out[3] = __builtin_convertvector(I8(_mm256_srli_epi32(b1, 4)), VF<8>);
    }
};

struct OpsAvx512 {
    static constexpr int L = 16;
    // The zero-masked forms: GCC 12 warns (maybe-uninitialized) on the unmasked ones.
    __attribute__((target("avx512f"))) static VF<16> widen(__m128i b, bool signedCodes) {
        const __m512i i = signedCodes ? _mm512_maskz_cvtepi8_epi32(0xffff, b)
                                      : _mm512_maskz_cvtepu8_epi32(0xffff, b);
        return __builtin_convertvector(I16(i), VF<16>);
    }
    __attribute__((target("avx512f"))) static VF<16> codes8(const uint8_t* p, bool signedCodes) {
        return widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), signedCodes);
    }
    // The 16 bytes widened once to 16 int32 lanes; weights 0..15 are their low nibbles (a
    // mask), weights 16..31 their high ones (a shift).
    __attribute__((target("avx512f"))) static void block4(const uint8_t* p, VF<16>* out) {
        // (Vector-extension mask and shift: GCC 12 warns on the unmasked shift intrinsic.)
        const I16 b = I16(_mm512_maskz_cvtepu8_epi32(
            0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
        out[0] = __builtin_convertvector(b & 15, VF<16>);
        out[1] = __builtin_convertvector(b >> 4, VF<16>);
    }
};
#endif

// One INT8 row of the GEMV for T tokens: sum over groups of scale * (sum q x) - scale * zero *
// sum x. Two accumulators per token keep two FMA chains in flight.
template <class Ops, int T>
inline void gemvRow8(const PackedView& w, const float* x, const float* xsum, int64_t r, float* y,
                     int64_t ldy) {
    constexpr int L = Ops::L;
    const uint8_t* row = w.codes + r * w.rowBytes;
    const int64_t cols = w.cols, G = w.groupsPerRow;
    VF<L> acc[T][2] = {};
    float tail[T] = {}, corr[T] = {};
    for (int64_t g = 0; g < G; ++g) {
        const int64_t idx = r * G + g;
        const float s = w.scales[idx], sz = s * w.zeroAt(idx);
        for (int t = 0; t < T; ++t) corr[t] += sz * xsum[t * G + g];
        const VF<L> sv = splat<L>(s);
        const int64_t j0 = g * w.group, j1 = std::min(cols, j0 + w.group);
        int64_t j = j0;
        for (; j + 2 * L <= j1; j += 2 * L) {
            const VF<L> sw0 = Ops::codes8(row + j, w.signedCodes) * sv;
            const VF<L> sw1 = Ops::codes8(row + j + L, w.signedCodes) * sv;
            for (int t = 0; t < T; ++t) {
                acc[t][0] += sw0 * loadF<L>(x + t * cols + j);
                acc[t][1] += sw1 * loadF<L>(x + t * cols + j + L);
            }
        }
        for (; j + L <= j1; j += L) {
            const VF<L> sw = Ops::codes8(row + j, w.signedCodes) * sv;
            for (int t = 0; t < T; ++t) acc[t][0] += sw * loadF<L>(x + t * cols + j);
        }
        for (; j < j1; ++j) {
            const float q = w.signedCodes ? float(int8_t(row[j])) : float(row[j]);
            for (int t = 0; t < T; ++t) tail[t] += s * q * x[t * cols + j];
        }
    }
    for (int t = 0; t < T; ++t) y[t * ldy + r] = hsum<L>(acc[t][0] + acc[t][1]) + tail[t] - corr[t];
}

// The zero points' share of row r for T tokens, sum over groups of scale * zero * sum x, as
// vectors over the groups (a scalar loop per group costs as much as a g32 group's FMAs).
template <class Ops, int T>
inline void zeroTerms(const PackedView& w, const float* xsum, int64_t r, float* out) {
    constexpr int L = Ops::L;
    const int64_t G = w.groupsPerRow;
    const float* s = w.scales + r * G;
    const uint8_t* z = w.zeros ? w.zeros + r * G : nullptr;
    VF<L> acc[T] = {};
    int64_t g = 0;
    for (; g + L <= G; g += L) {
        const VF<L> sz = z ? loadF<L>(s + g) * Ops::codes8(z + g, false) : loadF<L>(s + g);
        for (int t = 0; t < T; ++t) acc[t] += sz * loadF<L>(xsum + t * G + g);
    }
    for (int t = 0; t < T; ++t) {
        float v = hsum<L>(acc[t]);
        for (int64_t k = g; k < G; ++k) v += s[k] * (z ? float(z[k]) : 1.0f) * xsum[t * G + k];
        out[t] = z ? v : v * w.symZero;
    }
}

// R INT4 rows [r, r + R) for T tokens in one pass, so that each x vector loaded serves R rows
// and R * T accumulator chains are in flight. Per group: sum(u x) of the unscaled codes (u in
// 0..15, exact in float), then one FMA with the group's scale; the zero point through the
// group's sum of x (w = (u - zero) * scale).
template <class Ops, int R, int T>
inline void gemvRows4(const PackedView& w, const float* x, const float* xsum, int64_t r, float* y,
                      int64_t ldy) {
    constexpr int L = Ops::L, K = 32 / L;
    const int64_t cols = w.cols, G = w.groupsPerRow;
    VF<L> acc[R][T] = {};
    for (int64_t g = 0; g < G; ++g) {
        const int64_t j0 = g * w.group, j1 = j0 + w.group;  // the group divides cols
        VF<L> part[R][T] = {};
        for (int64_t j = j0; j < j1; j += 32) {
            // Once per 64 code bytes, the same bytes of the next pass's rows: a pass reads R
            // short streams, which the hardware prefetcher alone does not keep ahead of (a
            // distance of at least 4 KiB measured no better). A prefetch past the last row
            // does not fault.
            if ((j & 127) == 0)
                for (int i = 0; i < R; ++i)
                    __builtin_prefetch(w.codes + (r + R + i) * w.rowBytes + j / 2);
            for (int i = 0; i < R; ++i) {
                VF<L> u[K];
                Ops::block4(w.codes + (r + i) * w.rowBytes + j / 2, u);
                for (int k = 0; k < K; ++k)
                    for (int t = 0; t < T; ++t)
                        part[i][t] += u[k] * loadF<L>(x + t * cols + j + k * L);
            }
        }
        for (int i = 0; i < R; ++i) {
            const VF<L> sv = splat<L>(w.scales[(r + i) * G + g]);
            for (int t = 0; t < T; ++t) acc[i][t] += sv * part[i][t];
        }
    }
    for (int i = 0; i < R; ++i) {
        float corr[T];
        zeroTerms<Ops, T>(w, xsum, r + i, corr);
        for (int t = 0; t < T; ++t) y[t * ldy + r + i] = hsum<L>(acc[i][t]) - corr[t];
    }
}

// Rows per INT4 pass by tokens: 4 for one token (decode), fewer when each row already has
// several token accumulators (the registers hold R * T * 2 vectors).
template <int T>
constexpr int kRows4 = T == 1 ? 4 : (T == 2 ? 2 : 1);

template <class Ops, int T>
inline void gemvRowsT(const PackedView& w, const float* x, const float* xsum, int64_t r0,
                      int64_t r1, float* y, int64_t ldy) {
    if (w.bits != 4) {
        for (int64_t r = r0; r < r1; ++r) gemvRow8<Ops, T>(w, x, xsum, r, y, ldy);
        return;
    }
    constexpr int R = kRows4<T>;
    int64_t r = r0;
    for (; r + R <= r1; r += R) gemvRows4<Ops, R, T>(w, x, xsum, r, y, ldy);
    for (; r < r1; ++r) gemvRows4<Ops, 1, T>(w, x, xsum, r, y, ldy);
}

template <class Ops>
inline void gemvRows(const PackedView& w, const float* x, const float* xsum, int tokens, int64_t r0,
                     int64_t r1, float* y, int64_t ldy) {
    switch (tokens) {
        case 1:
            return gemvRowsT<Ops, 1>(w, x, xsum, r0, r1, y, ldy);
        case 2:
            return gemvRowsT<Ops, 2>(w, x, xsum, r0, r1, y, ldy);
        case 3:
            return gemvRowsT<Ops, 3>(w, x, xsum, r0, r1, y, ldy);
        default:
            return gemvRowsT<Ops, 4>(w, x, xsum, r0, r1, y, ldy);
    }
}

// (u - zero) * scale, then / divisor: the same two float32 operations as decode.
template <class Ops>
inline void dequantRowsT(const PackedView& w, int64_t r0, int64_t r1, const float* divisor,
                         float* out) {
    constexpr int L = Ops::L;
    const int64_t cols = w.cols, G = w.groupsPerRow;
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w.codes + r * w.rowBytes;
        float* o = out + (r - r0) * cols;
        for (int64_t g = 0; g < G; ++g) {
            const int64_t idx = r * G + g;
            const float s = w.scales[idx], z = w.zeroAt(idx);
            const VF<L> sv = splat<L>(s), zv = splat<L>(z);
            const int64_t j0 = g * w.group, j1 = std::min(cols, j0 + w.group);
            int64_t j = j0;
            if (w.bits == 4) {
                for (; j < j1; j += 32) {
                    VF<L> wv[32 / L];
                    Ops::block4(row + j / 2, wv);
                    for (int k = 0; k < 32 / L; ++k) {
                        VF<L> v = (wv[k] - zv) * sv;
                        if (divisor) v = v / loadF<L>(divisor + j + k * L);
                        storeF<L>(o + j + k * L, v);
                    }
                }
                continue;
            }
            for (; j + L <= j1; j += L) {
                VF<L> v = (Ops::codes8(row + j, w.signedCodes) - zv) * sv;
                if (divisor) v = v / loadF<L>(divisor + j);
                storeF<L>(o + j, v);
            }
            for (; j < j1; ++j) {
                const float q = w.signedCodes ? float(int8_t(row[j])) : float(row[j]);
                float v = (q - z) * s;
                if (divisor) v = v / divisor[j];
                o[j] = v;
            }
        }
    }
}

}  // namespace

void gemvBaseline(const PackedView& w, const float* x, const float* xsum, int tokens, int64_t r0,
                  int64_t r1, float* y, int64_t ldy) {
    gemvRows<OpsBaseline>(w, x, xsum, tokens, r0, r1, y, ldy);
}
void dequantBaseline(const PackedView& w, int64_t r0, int64_t r1, const float* divisor,
                     float* out) {
    dequantRowsT<OpsBaseline>(w, r0, r1, divisor, out);
}

#if QL_INFER_X86
__attribute__((target("avx2,fma"), flatten)) void gemvAvx2(const PackedView& w, const float* x,
                                                           const float* xsum, int tokens,
                                                           int64_t r0, int64_t r1, float* y,
                                                           int64_t ldy) {
    gemvRows<OpsAvx2>(w, x, xsum, tokens, r0, r1, y, ldy);
}
__attribute__((target("avx2,fma"), flatten)) void dequantAvx2(const PackedView& w, int64_t r0,
                                                              int64_t r1, const float* divisor,
                                                              float* out) {
    dequantRowsT<OpsAvx2>(w, r0, r1, divisor, out);
}
__attribute__((target("avx512f,fma"), flatten)) void gemvAvx512(const PackedView& w, const float* x,
                                                                const float* xsum, int tokens,
                                                                int64_t r0, int64_t r1, float* y,
                                                                int64_t ldy) {
    gemvRows<OpsAvx512>(w, x, xsum, tokens, r0, r1, y, ldy);
}
__attribute__((target("avx512f,fma"), flatten)) void dequantAvx512(const PackedView& w, int64_t r0,
                                                                   int64_t r1, const float* divisor,
                                                                   float* out) {
    dequantRowsT<OpsAvx512>(w, r0, r1, divisor, out);
}
#else
// Other architectures: the baseline code under the wide names (never selected: cpuIsa()
// reports Baseline there).
void gemvAvx2(const PackedView& w, const float* x, const float* xsum, int tokens, int64_t r0,
              int64_t r1, float* y, int64_t ldy) {
    gemvRows<OpsBaseline>(w, x, xsum, tokens, r0, r1, y, ldy);
}
void dequantAvx2(const PackedView& w, int64_t r0, int64_t r1, const float* d, float* out) {
    dequantRowsT<OpsBaseline>(w, r0, r1, d, out);
}
void gemvAvx512(const PackedView& w, const float* x, const float* xsum, int tokens, int64_t r0,
                int64_t r1, float* y, int64_t ldy) {
    gemvRows<OpsBaseline>(w, x, xsum, tokens, r0, r1, y, ldy);
}
void dequantAvx512(const PackedView& w, int64_t r0, int64_t r1, const float* d, float* out) {
    dequantRowsT<OpsBaseline>(w, r0, r1, d, out);
}
#endif

}  // namespace ql::infer::detail
