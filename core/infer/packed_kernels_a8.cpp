// The int8-activation decode kernels (packed_kernels_a8.h): the int8 x int8 / int4 x int8
// GEMV, scalar, AVX-VNNI (256-bit) and AVX-512 VNNI. The activations' quantizer and the tiles'
// conversion back to rows are in packed_a8_convert.cpp.
//
// Built with -ffp-contract=off (CMakeLists): the float part must be the same separate
// multiply and add on every path, or the paths would differ in the last bit.
#include "infer/packed_kernels_a8.h"
#include "infer/x86_target.h"

#include <algorithm>
#include <cstring>

namespace ql::infer::detail {

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

// How far ahead of each tile's reads a software prefetch runs. The INT4 loop spends about six
// instructions per 64-byte line, so the core's window alone keeps too few lines in flight to
// overlap memory with compute; 1-2 KB ahead read a layer from memory 1.2-1.25x faster (both
// in one process, alternated; BENCHMARKS.md). INT8 (three per line) was 7-10 % slower with it
// while it ran one tile at a time; with 8 tiles per run, 1 KB ahead made a 0.5B step (896
// columns: 14 KB tiles, the INT8 head among them) 1.05-1.14x faster, 2 KB less, 4 KB nothing,
// and left 1.5B (1536 columns) as it was. Near a tile's end the prefetch runs into the next
// run's tiles, not into the neighbour this run is already reading: a run of 4 tiles of 896
// columns starts 3 of its 4 streams cold otherwise (7 KB tiles, 2 KB each cold), 1.05-1.14x
// slower.
constexpr int64_t kInt4Prefetch = 2048;
constexpr int64_t kInt8Prefetch = 1024;

// Prefetches the line `offset` bytes into tile n of the run at `base` (NT tiles of tb
// bytes); past the tile's end, the same place in the tile NT further on (the next run's).
template <int NT>
inline void prefetchTileLine(const uint8_t* base, int n, int64_t tb, int64_t offset) {
    const int64_t skip = offset >= tb ? (NT - 1) * tb : 0;
    _mm_prefetch(reinterpret_cast<const char*>(base + n * tb + offset + skip), _MM_HINT_T0);
}

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
                    const int64_t ahead = b * bb + k * 64 + kInt8Prefetch;
                    for (int n = 0; n < NT; ++n) {
                        prefetchTileLine<NT>(base, n, tb, ahead);
                        prefetchTileLine<NT>(base, n, tb, ahead + 64);
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
                    const int64_t ahead = b * bb + k * 64 + kInt4Prefetch;
                    for (int n = 0; n < NT; ++n) {
                        const uint8_t* line = p + n * tb + k * 64;
                        prefetchTileLine<NT>(base, n, tb, ahead);
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
