// The int8-activation decode kernels (packed_kernels_a8.h): activation quantization and the
// int8 x int8 / int4 x int8 GEMV, scalar, AVX-VNNI (256-bit) and AVX-512 VNNI.
//
// Built with -ffp-contract=off (CMakeLists): the float part must be the same separate
// multiply and add on every path, or the paths would differ in the last bit.
#include "infer/packed_kernels_a8.h"
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
// Whole blocks [0, blocks) as the scalar loop below computes them, 32 values in two zmm: the
// same multiply, add, subtract and clamp per value, so the same bits. 896 values took 1.1 µs
// in the scalar loop (a q/k/v group quantizes its input three times per token, a 0.5B down
// projection's 4864 values 6 µs); 0.2 and 1.0 µs here.
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

__attribute__((target("avx512f,avx512bw"))) void quantizeBlocksAvx512(const float* x,
                                                                      int64_t blocks, int8_t* q,
                                                                      float* d, int32_t* bsum) {
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
    static const bool avx512 =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    if (avx512) {
        b = cols / kA8Block;  // the whole blocks; a partial last one below
        quantizeBlocksAvx512(x, b, q, d, bsum);
    }
#endif
    quantizeBlocksScalar(x, cols, b, q, d, bsum);
}

void quantizeActivationsA8Scalar(const float* x, int64_t cols, int8_t* q, float* d, int32_t* bsum) {
    quantizeBlocksScalar(x, cols, 0, q, d, bsum);
}

namespace {

// Bytes of one block (32 columns) of a tile: 16 rows x 32 codes of bits/8 bytes.
inline int64_t blockBytes(int bits) {
    return bits == 8 ? 512 : 256;
}

inline int32_t load32(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

void tileScalar(const A8View& w, const A8Act& a, int64_t tile, float* out) {
    const uint8_t* base = w.codes + tile * w.tileBytes;
    const int64_t G = w.groupsPerRow, bb = blockBytes(w.bits);
    float y[kA8Tile] = {};
    for (int64_t g = 0; g < G; ++g) {
        const int64_t gi = (tile * G + g) * kA8Tile;
        float acc[kA8Tile] = {};
        const int64_t b1 = std::min(w.blocks, (g + 1) * w.blocksPerGroup);
        for (int64_t b = g * w.blocksPerGroup; b < b1; ++b) {
            const uint8_t* p = base + b * bb;
            const int8_t* qb = a.q + b * kA8Block;
            int32_t I[kA8Tile] = {};
            if (w.bits == 8) {
                for (int k = 0; k < 8; ++k)
                    for (int l = 0; l < kA8Tile; ++l)
                        for (int i = 0; i < 4; ++i)
                            I[l] += int32_t(p[k * 64 + l * 4 + i]) * int32_t(qb[k * 4 + i]);
            } else {
                for (int k = 0; k < 4; ++k)
                    for (int l = 0; l < kA8Tile; ++l)
                        for (int i = 0; i < 4; ++i) {
                            const uint8_t v = p[k * 64 + l * 4 + i];
                            I[l] += int32_t(v & 15) * int32_t(qb[k * 8 + i]) +
                                    int32_t(v >> 4) * int32_t(qb[k * 8 + 4 + i]);
                        }
            }
            for (int l = 0; l < kA8Tile; ++l) {
                const int32_t z = w.zeros ? int32_t(w.zeros[gi + l]) : w.symZero;
                acc[l] = acc[l] + a.d[b] * float(I[l] - z * a.bsum[b]);
            }
        }
        for (int l = 0; l < kA8Tile; ++l) y[l] = y[l] + w.scales[gi + l] * acc[l];
    }
    std::memcpy(out, y, sizeof y);
}

template <void (*Tile)(const A8View&, const A8Act&, int64_t, float*)>
inline void tiles(const A8View& w, const A8Act& a, int64_t t0, int64_t t1, float* y, int64_t rows) {
    for (int64_t t = t0; t < t1; ++t) {
        const int64_t r0 = t * kA8Tile;
        if (r0 + kA8Tile <= rows) {
            Tile(w, a, t, y + r0);
        } else {
            float tmp[kA8Tile];
            Tile(w, a, t, tmp);
            std::memcpy(y + r0, tmp, size_t(rows - r0) * sizeof(float));
        }
    }
}

#if QL_INFER_X86
// 16 rows as two halves of 8 lanes (lanes 0-7 are the first 32 bytes of each 64-byte chunk).
__attribute__((target("avx2,avxvnni"))) void tileAvxVnni(const A8View& w, const A8Act& a,
                                                         int64_t tile, float* out) {
    const uint8_t* base = w.codes + tile * w.tileBytes;
    const int64_t G = w.groupsPerRow, bb = blockBytes(w.bits);
    const __m256i nib = _mm256_set1_epi8(15);
    __m256 y[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t g = 0; g < G; ++g) {
        const int64_t gi = (tile * G + g) * kA8Tile;
        __m256i z[2];
        for (int h = 0; h < 2; ++h)
            z[h] = w.zeros ? _mm256_cvtepu8_epi32(_mm_loadl_epi64(
                                 reinterpret_cast<const __m128i*>(w.zeros + gi + 8 * h)))
                           : _mm256_set1_epi32(w.symZero);
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        const int64_t b1 = std::min(w.blocks, (g + 1) * w.blocksPerGroup);
        for (int64_t b = g * w.blocksPerGroup; b < b1; ++b) {
            const uint8_t* p = base + b * bb;
            const int8_t* qb = a.q + b * kA8Block;
            for (int h = 0; h < 2; ++h) {
                // Two chains of dot products per half: the int32 adds are exact in any order.
                __m256i i0 = _mm256_setzero_si256(), i1 = _mm256_setzero_si256();
                if (w.bits == 8) {
                    for (int k = 0; k < 8; k += 2) {
                        const __m256i v0 = _mm256_loadu_si256(
                            reinterpret_cast<const __m256i*>(p + k * 64 + 32 * h));
                        const __m256i v1 = _mm256_loadu_si256(
                            reinterpret_cast<const __m256i*>(p + (k + 1) * 64 + 32 * h));
                        i0 = _mm256_dpbusd_avx_epi32(i0, v0, _mm256_set1_epi32(load32(qb + k * 4)));
                        i1 = _mm256_dpbusd_avx_epi32(i1, v1,
                                                     _mm256_set1_epi32(load32(qb + k * 4 + 4)));
                    }
                } else {
                    for (int k = 0; k < 4; ++k) {
                        const __m256i v = _mm256_loadu_si256(
                            reinterpret_cast<const __m256i*>(p + k * 64 + 32 * h));
                        const __m256i lo = _mm256_and_si256(v, nib);
                        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
                        i0 = _mm256_dpbusd_avx_epi32(i0, lo, _mm256_set1_epi32(load32(qb + k * 8)));
                        i1 = _mm256_dpbusd_avx_epi32(i1, hi,
                                                     _mm256_set1_epi32(load32(qb + k * 8 + 4)));
                    }
                }
                const __m256i I =
                    _mm256_sub_epi32(_mm256_add_epi32(i0, i1),
                                     _mm256_mullo_epi32(z[h], _mm256_set1_epi32(a.bsum[b])));
                acc[h] = _mm256_add_ps(
                    acc[h], _mm256_mul_ps(_mm256_set1_ps(a.d[b]), _mm256_cvtepi32_ps(I)));
            }
        }
        for (int h = 0; h < 2; ++h)
            y[h] =
                _mm256_add_ps(y[h], _mm256_mul_ps(_mm256_loadu_ps(w.scales + gi + 8 * h), acc[h]));
    }
    _mm256_storeu_ps(out, y[0]);
    _mm256_storeu_ps(out + 8, y[1]);
}

// How far ahead of each INT4 tile's reads a software prefetch runs. The INT4 loop spends
// about six instructions per 64-byte line, so the core's window alone keeps too few lines in
// flight to overlap memory with compute; 1-2 KB ahead read a layer from memory 1.2-1.25x
// faster (both in one process, alternated; BENCHMARKS.md). INT8 (three per line) was 7-10 % slower
// with it and has none. Near a tile's end the prefetch runs into the next run's tiles, not
// into the neighbour this run is already reading: a run of 4 tiles of 896 columns starts 3
// of its 4 streams cold otherwise (7 KB tiles, 2 KB each cold), 1.05-1.14x slower.
constexpr int64_t kInt4Prefetch = 2048;

// NT adjacent tiles (16 NT rows) at once, the format fixed at compile time: each activation
// broadcast feeds NT multiply-adds. The broadcasts, not the multiply-adds nor the per-block
// float epilogue, bound the one-tile loop (measured: dropping the epilogue or the INT4
// shifts changed nothing; 4 tiles per broadcast computed INT4 1.1-1.4x faster with the
// layer in L2, 8 tiles INT8 1.25-1.35x). Per row the arithmetic and its order are those of
// the scalar loop, so every NT gives the same bits.
template <int NT, int BITS>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void tilesAvx512Vnni(const A8View& w,
                                                                            const A8Act& a,
                                                                            int64_t tile,
                                                                            float* out) {
    const uint8_t* base = w.codes + tile * w.tileBytes;
    const int64_t G = w.groupsPerRow, bb = blockBytes(BITS), tb = w.tileBytes;
    const __m512i nib = _mm512_set1_epi8(15);
    __m512 y[NT];
    for (int n = 0; n < NT; ++n) y[n] = _mm512_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
        __m512i z[NT];
        __m512 acc[NT];
        for (int n = 0; n < NT; ++n) {
            const int64_t gi = ((tile + n) * G + g) * kA8Tile;
            // The next run's scales and zero points of this group, a run ahead. Read from
            // memory unannounced (NT small strided streams beside the codes), they made an
            // INT4 layer 1.25-1.35x slower than with them cached; this wins 1.1-1.2x of it.
            const int64_t next = gi + NT * G * kA8Tile;
            _mm_prefetch(reinterpret_cast<const char*>(w.scales + next), _MM_HINT_T0);
            if (w.zeros) _mm_prefetch(reinterpret_cast<const char*>(w.zeros + next), _MM_HINT_T0);
            // (The zero-masked widening: GCC 12 warns maybe-uninitialized on the unmasked one.)
            z[n] = w.zeros ? _mm512_maskz_cvtepu8_epi32(
                                 0xffff,
                                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.zeros + gi)))
                           : _mm512_set1_epi32(w.symZero);
            acc[n] = _mm512_setzero_ps();
        }
        const int64_t b1 = std::min(w.blocks, (g + 1) * w.blocksPerGroup);
        for (int64_t b = g * w.blocksPerGroup; b < b1; ++b) {
            const uint8_t* p = base + b * bb;
            const int8_t* qb = a.q + b * kA8Block;
            __m512i i0[NT], i1[NT];
            for (int n = 0; n < NT; ++n) i0[n] = i1[n] = _mm512_setzero_si512();
            if (BITS == 8) {
                for (int k = 0; k < 8; k += 2) {
                    const __m512i q0 = _mm512_set1_epi32(load32(qb + k * 4));
                    const __m512i q1 = _mm512_set1_epi32(load32(qb + k * 4 + 4));
                    for (int n = 0; n < NT; ++n) {
                        i0[n] =
                            _mm512_dpbusd_epi32(i0[n], _mm512_loadu_si512(p + n * tb + k * 64), q0);
                        i1[n] = _mm512_dpbusd_epi32(
                            i1[n], _mm512_loadu_si512(p + n * tb + (k + 1) * 64), q1);
                    }
                }
            } else {
                for (int k = 0; k < 4; ++k) {
                    const __m512i q0 = _mm512_set1_epi32(load32(qb + k * 8));
                    const __m512i q1 = _mm512_set1_epi32(load32(qb + k * 8 + 4));
                    // Past the end of its tile a prefetch goes to the same place in the
                    // tile NT further on, the one the next run reads in this stream's place.
                    const int64_t ahead = b * bb + k * 64 + kInt4Prefetch;
                    const int64_t skip = ahead >= tb ? (NT - 1) * tb : 0;
                    for (int n = 0; n < NT; ++n) {
                        const uint8_t* line = p + n * tb + k * 64;
                        _mm_prefetch(reinterpret_cast<const char*>(base + n * tb + ahead + skip),
                                     _MM_HINT_T0);
                        const __m512i v = _mm512_loadu_si512(line);
                        const __m512i lo = _mm512_and_si512(v, nib);
                        const __m512i hi =
                            _mm512_and_si512(_mm512_maskz_srli_epi16(0xffffffff, v, 4), nib);
                        i0[n] = _mm512_dpbusd_epi32(i0[n], lo, q0);
                        i1[n] = _mm512_dpbusd_epi32(i1[n], hi, q1);
                    }
                }
            }
            const __m512i bs = _mm512_set1_epi32(a.bsum[b]);
            const __m512 db = _mm512_set1_ps(a.d[b]);
            for (int n = 0; n < NT; ++n) {
                const __m512i I =
                    _mm512_sub_epi32(_mm512_add_epi32(i0[n], i1[n]), _mm512_mullo_epi32(z[n], bs));
                acc[n] =
                    _mm512_add_ps(acc[n], _mm512_mul_ps(db, _mm512_maskz_cvtepi32_ps(0xffff, I)));
            }
        }
        for (int n = 0; n < NT; ++n) {
            const int64_t gi = ((tile + n) * G + g) * kA8Tile;
            y[n] = _mm512_add_ps(y[n], _mm512_mul_ps(_mm512_loadu_ps(w.scales + gi), acc[n]));
        }
    }
    for (int n = 0; n < NT; ++n) _mm512_storeu_ps(out + n * kA8Tile, y[n]);
}

template <int BITS>
void tileAvx512Vnni(const A8View& w, const A8Act& a, int64_t tile, float* out) {
    tilesAvx512Vnni<1, BITS>(w, a, tile, out);
}

// Runs of NT whole tiles, then the rest (and a last partial tile) one at a time.
template <int NT, int BITS>
void gemvAvx512Vnni(const A8View& w, const A8Act& a, int64_t t0, int64_t t1, float* y,
                    int64_t rows) {
    int64_t t = t0;
    for (; t + NT <= t1 && (t + NT) * kA8Tile <= rows; t += NT)
        tilesAvx512Vnni<NT, BITS>(w, a, t, y + t * kA8Tile);
    tiles<tileAvx512Vnni<BITS>>(w, a, t, t1, y, rows);
}
#endif

}  // namespace

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
    const __m512i flips = _mm512_set1_epi8(char(flip));
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
    static const bool avx512 = __builtin_cpu_supports("avx512f");
    if (!avx512 || cols % (bits == 8 ? 16 : 32) != 0) return false;
    tileCodesToRowsAvx512(tile, bits, cols, flip, out, rowBytes);
    return true;
#else
    return false;
#endif
}

void gemvA8Scalar(const A8View& w, const A8Act& a, int64_t t0, int64_t t1, float* y, int64_t rows) {
    tiles<tileScalar>(w, a, t0, t1, y, rows);
}

#if QL_INFER_X86
void gemvA8AvxVnni(const A8View& w, const A8Act& a, int64_t t0, int64_t t1, float* y,
                   int64_t rows) {
    tiles<tileAvxVnni>(w, a, t0, t1, y, rows);
}
void gemvA8Avx512Vnni(const A8View& w, const A8Act& a, int64_t t0, int64_t t1, float* y,
                      int64_t rows) {
    // Tiles per run, measured (bench_a8_compute): INT8 8, INT4 4 (8 spills registers).
    if (w.bits == 8)
        gemvAvx512Vnni<8, 8>(w, a, t0, t1, y, rows);
    else
        gemvAvx512Vnni<4, 4>(w, a, t0, t1, y, rows);
}
#else
// Other architectures: the scalar code under the wide names (never selected).
void gemvA8AvxVnni(const A8View& w, const A8Act& a, int64_t t0, int64_t t1, float* y,
                   int64_t rows) {
    tiles<tileScalar>(w, a, t0, t1, y, rows);
}
void gemvA8Avx512Vnni(const A8View& w, const A8Act& a, int64_t t0, int64_t t1, float* y,
                      int64_t rows) {
    tiles<tileScalar>(w, a, t0, t1, y, rows);
}
#endif

}  // namespace ql::infer::detail
