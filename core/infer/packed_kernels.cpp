// The inner loops of PackedLinear, written once over the vector width with GCC/Clang vector
// extensions (no intrinsics) and compiled three times: baseline (4 lanes), AVX2+FMA (8) and
// AVX-512F (16), each wide copy inlined whole into a target-attributed entry point.
//
// Built with -ffp-contract=fast (CMakeLists): the accumulations w * x + acc become FMAs in
// the wide paths. The dequantization (u - zero) * scale [/ divisor] has no multiply-add, so
// every path gives CompactWeights::decode's values bit for bit.
#include "infer/packed_kernels.h"

#include <algorithm>
#include <cstring>

#pragma GCC diagnostic ignored "-Wpsabi"  // inline, file-local vector types

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QL_INFER_X86 1
#else
#define QL_INFER_X86 0
#endif

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
typedef uint8_t Bytes16 __attribute__((vector_size(16)));

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

// L consecutive INT8 codes as floats.
template <int L>
inline VF<L> int8Codes(const uint8_t* p, bool signedCodes) {
    if (signedCodes) {
        typename Vec<L>::i8 b;
        std::memcpy(&b, p, sizeof b);
        return __builtin_convertvector(b, VF<L>);
    }
    typename Vec<L>::u8 b;
    std::memcpy(&b, p, sizeof b);
    return __builtin_convertvector(b, VF<L>);
}

// The 32 codes u (0..15) of one INT4 block as 32 / L float vectors in weight order.
template <int L>
inline void int4Block(const uint8_t* p, VF<L>* out) {
    Bytes16 b;
    std::memcpy(&b, p, sizeof b);
    const Bytes16 lo = b & 15, hi = b >> 4;
    uint8_t bytes[32];
    std::memcpy(bytes, &lo, 16);
    std::memcpy(bytes + 16, &hi, 16);
    for (int k = 0; k < 32 / L; ++k) {
        typename Vec<L>::u8 u;
        std::memcpy(&u, bytes + k * L, sizeof u);
        out[k] = __builtin_convertvector(u, VF<L>);
    }
}

// One row of the GEMV for T tokens: sum over groups of scale * (sum u x) - scale * zero *
// sum x. Two accumulators per token keep two FMA chains in flight.
template <int L, int T>
inline void gemvRow(const PackedView& w, const float* x, const float* xsum, int64_t r, float* y,
                    int64_t ldy) {
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
        if (w.bits == 4) {
            for (int64_t j = j0; j < j1; j += 32) {
                VF<L> wv[32 / L];
                int4Block<L>(row + j / 2, wv);
                for (int k = 0; k < 32 / L; ++k) {
                    const VF<L> sw = wv[k] * sv;
                    for (int t = 0; t < T; ++t)
                        acc[t][k & 1] += sw * loadF<L>(x + t * cols + j + k * L);
                }
            }
            continue;
        }
        int64_t j = j0;
        for (; j + 2 * L <= j1; j += 2 * L) {
            const VF<L> sw0 = int8Codes<L>(row + j, w.signedCodes) * sv;
            const VF<L> sw1 = int8Codes<L>(row + j + L, w.signedCodes) * sv;
            for (int t = 0; t < T; ++t) {
                acc[t][0] += sw0 * loadF<L>(x + t * cols + j);
                acc[t][1] += sw1 * loadF<L>(x + t * cols + j + L);
            }
        }
        for (; j + L <= j1; j += L) {
            const VF<L> sw = int8Codes<L>(row + j, w.signedCodes) * sv;
            for (int t = 0; t < T; ++t) acc[t][0] += sw * loadF<L>(x + t * cols + j);
        }
        for (; j < j1; ++j) {
            const float q = w.signedCodes ? float(int8_t(row[j])) : float(row[j]);
            for (int t = 0; t < T; ++t) tail[t] += s * q * x[t * cols + j];
        }
    }
    for (int t = 0; t < T; ++t) y[t * ldy + r] = hsum<L>(acc[t][0] + acc[t][1]) + tail[t] - corr[t];
}

template <int L, int T>
inline void gemvRowsT(const PackedView& w, const float* x, const float* xsum, int64_t r0,
                      int64_t r1, float* y, int64_t ldy) {
    for (int64_t r = r0; r < r1; ++r) gemvRow<L, T>(w, x, xsum, r, y, ldy);
}

template <int L>
inline void gemvRows(const PackedView& w, const float* x, const float* xsum, int tokens, int64_t r0,
                     int64_t r1, float* y, int64_t ldy) {
    switch (tokens) {
        case 1:
            return gemvRowsT<L, 1>(w, x, xsum, r0, r1, y, ldy);
        case 2:
            return gemvRowsT<L, 2>(w, x, xsum, r0, r1, y, ldy);
        case 3:
            return gemvRowsT<L, 3>(w, x, xsum, r0, r1, y, ldy);
        default:
            return gemvRowsT<L, 4>(w, x, xsum, r0, r1, y, ldy);
    }
}

// (u - zero) * scale, then / divisor: the same two float32 operations as decode.
template <int L>
inline void dequantRowsT(const PackedView& w, int64_t r0, int64_t r1, const float* divisor,
                         float* out) {
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
                    int4Block<L>(row + j / 2, wv);
                    for (int k = 0; k < 32 / L; ++k) {
                        VF<L> v = (wv[k] - zv) * sv;
                        if (divisor) v = v / loadF<L>(divisor + j + k * L);
                        storeF<L>(o + j + k * L, v);
                    }
                }
                continue;
            }
            for (; j + L <= j1; j += L) {
                VF<L> v = (int8Codes<L>(row + j, w.signedCodes) - zv) * sv;
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
    gemvRows<4>(w, x, xsum, tokens, r0, r1, y, ldy);
}
void dequantBaseline(const PackedView& w, int64_t r0, int64_t r1, const float* divisor,
                     float* out) {
    dequantRowsT<4>(w, r0, r1, divisor, out);
}

#if QL_INFER_X86
__attribute__((target("avx2,fma"), flatten)) void gemvAvx2(const PackedView& w, const float* x,
                                                           const float* xsum, int tokens,
                                                           int64_t r0, int64_t r1, float* y,
                                                           int64_t ldy) {
    gemvRows<8>(w, x, xsum, tokens, r0, r1, y, ldy);
}
__attribute__((target("avx2,fma"), flatten)) void dequantAvx2(const PackedView& w, int64_t r0,
                                                              int64_t r1, const float* divisor,
                                                              float* out) {
    dequantRowsT<8>(w, r0, r1, divisor, out);
}
__attribute__((target("avx512f,fma"), flatten)) void gemvAvx512(const PackedView& w, const float* x,
                                                                const float* xsum, int tokens,
                                                                int64_t r0, int64_t r1, float* y,
                                                                int64_t ldy) {
    gemvRows<16>(w, x, xsum, tokens, r0, r1, y, ldy);
}
__attribute__((target("avx512f,fma"), flatten)) void dequantAvx512(const PackedView& w, int64_t r0,
                                                                   int64_t r1, const float* divisor,
                                                                   float* out) {
    dequantRowsT<16>(w, r0, r1, divisor, out);
}
#else
// Other architectures: the baseline code under the wide names (never selected: cpuIsa()
// reports Baseline there).
void gemvAvx2(const PackedView& w, const float* x, const float* xsum, int tokens, int64_t r0,
              int64_t r1, float* y, int64_t ldy) {
    gemvRows<4>(w, x, xsum, tokens, r0, r1, y, ldy);
}
void dequantAvx2(const PackedView& w, int64_t r0, int64_t r1, const float* d, float* out) {
    dequantRowsT<4>(w, r0, r1, d, out);
}
void gemvAvx512(const PackedView& w, const float* x, const float* xsum, int tokens, int64_t r0,
                int64_t r1, float* y, int64_t ldy) {
    gemvRows<4>(w, x, xsum, tokens, r0, r1, y, ldy);
}
void dequantAvx512(const PackedView& w, int64_t r0, int64_t r1, const float* d, float* out) {
    dequantRowsT<4>(w, r0, r1, d, out);
}
#endif

}  // namespace ql::infer::detail
