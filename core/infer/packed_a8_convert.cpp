// The int8-activation path's conversions (packed_kernels_a8.h): activations quantized to
// int8 blocks, and a tile's codes back to the row form for prefill.
//
// Built with -ffp-contract=off (CMakeLists): the quantizer's float part must be the same
// separate multiply and add on every path, or the paths would differ in the last bit.
#include "infer/packed_kernels_a8.h"
#include "infer/packed_linear.h"
#include "infer/x86_target.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

namespace ql::infer::detail {

namespace {

// Adding and subtracting 1.5 * 2^23 rounds |v| < 2^22 to the nearest integer, ties to even
// (as nearbyint in the default mode), in two float operations that vectorize; nearbyint
// itself is a library call per value on baseline x86-64.
constexpr float kRound = 12582912.0f;

// A block whose largest magnitude is at most this quantizes to zeros: 127 / amax would
// overflow to infinity (0 * inf is NaN, and the codes garbage). Such a block's true
// contribution is below 32 * 1e-36 * |w|, under float32's resolution of any sum it joins.
constexpr float kTinyAmax = 127.0f / FLT_MAX;

#if QL_INFER_X86
// Horizontal max and sum by halving shuffles, in zero-masked forms (GCC 12 warns
// maybe-uninitialized inside the unmasked ones and its _mm512_reduce_* helpers). A max is
// exact in any order, and so is an int32 sum.
__attribute__((target("avx512f"))) inline float maxOf(__m512 m) {
    m = _mm512_maskz_max_ps(0xffff, m, _mm512_maskz_shuffle_f32x4(0xffff, m, m, 0x4e));
    m = _mm512_maskz_max_ps(0xffff, m, _mm512_maskz_shuffle_f32x4(0xffff, m, m, 0xb1));
    m = _mm512_maskz_max_ps(0xffff, m, _mm512_maskz_permute_ps(0xffff, m, 0x4e));
    m = _mm512_maskz_max_ps(0xffff, m, _mm512_maskz_permute_ps(0xffff, m, 0xb1));
    return _mm512_cvtss_f32(m);
}
__attribute__((target("avx512f"))) inline int32_t sumOf(__m512i s) {
    s = _mm512_add_epi32(s, _mm512_maskz_shuffle_i32x4(0xffff, s, s, 0x4e));
    s = _mm512_add_epi32(s, _mm512_maskz_shuffle_i32x4(0xffff, s, s, 0xb1));
    s = _mm512_add_epi32(s, _mm512_maskz_shuffle_epi32(0xffff, s, _MM_PERM_BADC));
    s = _mm512_add_epi32(s, _mm512_maskz_shuffle_epi32(0xffff, s, _MM_PERM_CDAB));
    int32_t lanes[16];
    _mm512_storeu_si512(lanes, s);
    return lanes[0];
}

// Whole blocks [0, blocks) as the scalar loop below computes them, 32 values in two zmm: the
// same multiply, add, subtract and clamp per value, so the same bits. 896 values took 1.1 µs
// in the scalar loop (a q/k/v group quantizes its input three times per token, a 0.5B down
// projection's 4864 values 6 µs); 0.2 and 1.0 µs here.
__attribute__((target("avx512f"))) void quantizeBlocksAvx512(const float* x, int64_t blocks,
                                                             int8_t* q, float* d, int32_t* bsum) {
    const __m512 kMax = _mm512_set1_ps(FLT_MAX), kR = _mm512_set1_ps(kRound);
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    for (int64_t b = 0; b < blocks; ++b) {
        const float* xb = x + b * kA8Block;
        const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
        const __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
        // Not finite (an infinity or NaN) where a <= FLT_MAX fails (ordered compare).
        const bool finite = (_mm512_cmp_ps_mask(a0, kMax, _CMP_LE_OQ) &
                             _mm512_cmp_ps_mask(a1, kMax, _CMP_LE_OQ)) == 0xffff;
        const float amax = finite ? maxOf(_mm512_maskz_max_ps(0xffff, a0, a1)) : 0.0f;
        int8_t* qb = q + b * kA8Block;
        if (amax > kTinyAmax) {
            const __m512 id = _mm512_set1_ps(127.0f / amax);
            // (No lambda: it would not inherit the function's target. The zero-masked forms: GCC 12
            // warns maybe-uninitialized on the unmasked ones.)
            const __m512 r0 = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(v0, id), kR), kR);
            const __m512 r1 = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(v1, id), kR), kR);
            const __m512i c0 = _mm512_maskz_cvtps_epi32(
                0xffff, _mm512_maskz_min_ps(0xffff, hi, _mm512_maskz_max_ps(0xffff, lo, r0)));
            const __m512i c1 = _mm512_maskz_cvtps_epi32(
                0xffff, _mm512_maskz_min_ps(0xffff, hi, _mm512_maskz_max_ps(0xffff, lo, r1)));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(qb),
                             _mm512_maskz_cvtsepi32_epi8(0xffff, c0));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(qb + 16),
                             _mm512_maskz_cvtsepi32_epi8(0xffff, c1));
            bsum[b] = sumOf(_mm512_add_epi32(c0, c1));
            d[b] = amax / 127.0f;
        } else {
            std::memset(qb, 0, kA8Block);
            bsum[b] = 0;
            d[b] = finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
        }
    }
}
#endif

// Blocks [b, blocks) one value at a time.
void quantizeBlocksScalar(const float* x, int64_t cols, int64_t b, int8_t* q, float* d,
                          int32_t* bsum) {
    const int64_t blocks = (cols + kA8Block - 1) / kA8Block;
    for (; b < blocks; ++b) {
        const int64_t j0 = b * kA8Block, n = std::min<int64_t>(kA8Block, cols - j0);
        float amax = 0.0f;
        bool finite = true;  // std::max would drop a NaN
        for (int64_t i = 0; i < n; ++i) {
            const float a = std::fabs(x[j0 + i]);
            finite = finite && a <= FLT_MAX;
            amax = std::max(amax, a);
        }
        int8_t* qb = q + j0;
        int32_t s = 0;
        if (amax > kTinyAmax && finite) {
            const float id = 127.0f / amax;
            for (int64_t i = 0; i < n; ++i) {
                const float r = (x[j0 + i] * id + kRound) - kRound;
                const float c = std::min(127.0f, std::max(-127.0f, r));
                qb[i] = int8_t(c);
                s += int32_t(qb[i]);
            }
            d[b] = amax / 127.0f;
        } else {
            // Zeros or values too small to scale; or an infinite or NaN value, whose d = NaN makes
            // every output NaN (as the float path's would be) instead of a silently clamped code.
            for (int64_t i = 0; i < n; ++i) qb[i] = 0;
            d[b] = finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
        }
        for (int64_t i = n; i < kA8Block; ++i) qb[i] = 0;
        bsum[b] = s;
    }
}

}  // namespace

void quantizeActivationsA8(const float* x, int64_t cols, int8_t* q, float* d, int32_t* bsum) {
    int64_t b = 0;
#if QL_INFER_X86
    if (activeIsa() == Isa::Avx512) {
        b = cols / kA8Block;  // the whole blocks; a partial last one below
        quantizeBlocksAvx512(x, b, q, d, bsum);
    }
#endif
    quantizeBlocksScalar(x, cols, b, q, d, bsum);
}

void quantizeActivationsA8Scalar(const float* x, int64_t cols, int8_t* q, float* d, int32_t* bsum) {
    quantizeBlocksScalar(x, cols, 0, q, d, bsum);
}

#if QL_INFER_X86
namespace {

// Four zmm of 16 lanes x 4 bytes, lane l of each one row's 4 bytes (a, b, c, d in that order)
// -> each row's 16 bytes at out + l * rowBytes: a 4 x 4 transpose of dwords within each
// 128-bit lane leaves rows 0,4,8,12 in r[0], rows 1,5,9,13 in r[1], and so on.
__attribute__((target("avx512f"))) inline void storeRows16(__m512i a, __m512i b, __m512i c,
                                                           __m512i d, uint8_t* out,
                                                           int64_t rowBytes) {
    const __m512i ab0 = _mm512_maskz_unpacklo_epi32(0xffff, a, b);
    const __m512i ab1 = _mm512_maskz_unpackhi_epi32(0xffff, a, b);
    const __m512i cd0 = _mm512_maskz_unpacklo_epi32(0xffff, c, d);
    const __m512i cd1 = _mm512_maskz_unpackhi_epi32(0xffff, c, d);
    const __m512i r[4] = {
        _mm512_maskz_unpacklo_epi64(0xff, ab0, cd0), _mm512_maskz_unpackhi_epi64(0xff, ab0, cd0),
        _mm512_maskz_unpacklo_epi64(0xff, ab1, cd1), _mm512_maskz_unpackhi_epi64(0xff, ab1, cd1)};
    for (int i = 0; i < 4; ++i) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i * rowBytes),
                         _mm512_maskz_extracti32x4_epi32(0xf, r[i], 0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (4 + i) * rowBytes),
                         _mm512_maskz_extracti32x4_epi32(0xf, r[i], 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (8 + i) * rowBytes),
                         _mm512_maskz_extracti32x4_epi32(0xf, r[i], 2));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (12 + i) * rowBytes),
                         _mm512_maskz_extracti32x4_epi32(0xf, r[i], 3));
    }
}

// Four 64-byte chunks per step: INT8 16 columns (chunk c holds columns 4c..4c+3), INT4 32
// (chunk c holds 8c..8c+3 in low nibbles, 8c+4..8c+7 in high ones; the row form's byte i
// is column i | column 16 + i << 4, so bytes 0-3 come from the low nibbles of chunks 0 and 2,
// 4-7 from their high ones, 8-15 likewise from chunks 1 and 3).
__attribute__((target("avx512f"))) void tileCodesToRowsAvx512(const uint8_t* tile, int bits,
                                                              int64_t cols, uint8_t flip,
                                                              uint8_t* out, int64_t rowBytes) {
    const __m512i nib = _mm512_set1_epi32(0x0f0f0f0f);
    const __m512i flips = _mm512_set1_epi32(int32_t(flip * 0x01010101u));
    const int64_t step = bits == 8 ? 16 : 32;
    for (int64_t j = 0; j < cols; j += step) {
        const uint8_t* p = tile + (j / step) * 256;
        __m512i w[4];
        for (int k = 0; k < 4; ++k) w[k] = _mm512_loadu_si512(p + k * 64);
        if (bits == 8) {
            for (int k = 0; k < 4; ++k) w[k] = _mm512_xor_si512(w[k], flips);
            storeRows16(w[0], w[1], w[2], w[3], out + j, rowBytes);
            continue;
        }
        __m512i lo[4], hi[4];
        for (int k = 0; k < 4; ++k) {
            lo[k] = _mm512_and_si512(w[k], nib);
            hi[k] = _mm512_and_si512(_mm512_maskz_srli_epi32(0xffff, w[k], 4), nib);
        }
        storeRows16(_mm512_or_si512(lo[0], _mm512_maskz_slli_epi32(0xffff, lo[2], 4)),
                    _mm512_or_si512(hi[0], _mm512_maskz_slli_epi32(0xffff, hi[2], 4)),
                    _mm512_or_si512(lo[1], _mm512_maskz_slli_epi32(0xffff, lo[3], 4)),
                    _mm512_or_si512(hi[1], _mm512_maskz_slli_epi32(0xffff, hi[3], 4)), out + j / 2,
                    rowBytes);
    }
}

}  // namespace
#endif

bool tileCodesToRows(const uint8_t* tile, int bits, int64_t cols, uint8_t flip, uint8_t* out,
                     int64_t rowBytes) {
#if QL_INFER_X86
    if (activeIsa() != Isa::Avx512 || cols % (bits == 8 ? 16 : 32) != 0) return false;
    tileCodesToRowsAvx512(tile, bits, cols, flip, out, rowBytes);
    return true;
#else
    return false;
#endif
}

}  // namespace ql::infer::detail
