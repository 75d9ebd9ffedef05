// The decode step's loops that read no weights (step_kernels.h): portable versions and
// AVX-512 ones. At 0.5B shapes the portable attention added each key's dot product in one
// chain of 8-lane adds (latency, not width, bound: ~25 µs per block at 160 positions, 60 at
// 700) and called expf once per score and per SiLU element; the wide versions take 16 keys
// per pass and a 16-lane exp.
#include "model/step_kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define QL_STEP_X86 1
#include <immintrin.h>
#else
#define QL_STEP_X86 0
#endif

namespace ql::step {

namespace {

// ---- portable versions

// Multi-versioned for AVX2 where the compiler can (x86 GCC): the dot products and the
// weighted sum of values run 8 lanes wide instead of SSE2's 4 (the project builds for
// baseline x86-64).
#if QL_STEP_X86 && !defined(__clang__)
#define QL_STEP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define QL_STEP_CLONES
#endif

void rmsNormPortable(const float* x, const float* weight, int64_t n, double eps, float* out) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * double(x[i]);
    const float r = 1.0f / std::sqrt(float(ss / double(n)) + float(eps));
    for (int64_t i = 0; i < n; ++i) out[i] = weight[i] * (x[i] * r);
}

// Dot product in 8 independent partial sums (vectorizable without reassociation flags).
inline float dot(const float* a, const float* b, int64_t n) {
    float acc[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

QL_STEP_CLONES void attendPortable(const AttentionArgs& a, int64_t h0, int64_t h1, float* scores,
                                   float* out) {
    const int64_t D = a.D, n = a.n;
    const float scale = float(1.0 / std::sqrt(double(D)));
    for (int64_t i = h0; i < h1; ++i) {
        const int64_t g = i / a.rep;
        const float* kg = a.keys + g * a.capacity * D;
        const float* vg = a.values + g * a.capacity * D;
        const float* qi = a.q + i * D;
        float top = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < n; ++j) {
            scores[j] = dot(qi, kg + j * D, D) * scale;
            top = std::max(top, scores[j]);
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < n; ++j) {
            scores[j] = std::exp(scores[j] - top);
            sum += scores[j];
        }
        float* o = out + i * D;
        std::fill(o, o + D, 0.0f);
        for (int64_t j = 0; j < n; ++j) {
            const float p = scores[j] / sum;
            const float* vj = vg + j * D;
            for (int64_t d = 0; d < D; ++d) o[d] += p * vj[d];
        }
    }
}

void siluPortable(float* gate, const float* up, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
        const float x = gate[i];
        gate[i] = x / (1.0f + std::exp(-x)) * up[i];
    }
}

// ---- AVX-512 versions

#if QL_STEP_X86
#define QL_AVX512 __attribute__((target("avx512f")))

// e^x in 16 lanes (Cephes expf: x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-7
// polynomial, then scaled by 2^n), within ~2 ulp of expf. Below -104 it gives 0, above 88.8
// infinity, NaN stays NaN (min/max return their second operand when one is NaN).
QL_AVX512 inline __m512 exp16(__m512 x) {
    x = _mm512_maskz_min_ps(0xffff, _mm512_set1_ps(88.8f), x);
    x = _mm512_maskz_max_ps(0xffff, _mm512_set1_ps(-104.0f), x);
    const __m512 n =
        _mm512_maskz_roundscale_ps(0xffff, _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_scalef_ps(0xffff, p, n);
}

// Lane k of the result: the sum of the 16 lanes of v[k] (a transpose-and-add tree: 45
// shuffles and adds for 16 sums instead of 16 reductions of ~8 dependent steps each).
QL_AVX512 inline __m512 sums16(const __m512* v) {
    __m512 s2[8], s4[4], s8[2];
    for (int k = 0; k < 8; ++k)  // per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3]
        s2[k] = _mm512_add_ps(_mm512_maskz_unpacklo_ps(0xffff, v[2 * k], v[2 * k + 1]),
                              _mm512_maskz_unpackhi_ps(0xffff, v[2 * k], v[2 * k + 1]));
    for (int k = 0; k < 4; ++k) {  // per 128-bit lane: the 4 vectors' partial sums
        const __m512d a = _mm512_castps_pd(s2[2 * k]), b = _mm512_castps_pd(s2[2 * k + 1]);
        s4[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xff, a, b)),
                              _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xff, a, b)));
    }
    for (int k = 0; k < 2; ++k)  // 128-bit lanes 0+1 and 2+3 of two groups of 4
        s8[k] = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(0xffff, s4[2 * k], s4[2 * k + 1], 0x88),
                              _mm512_maskz_shuffle_f32x4(0xffff, s4[2 * k], s4[2 * k + 1], 0xdd));
    return _mm512_add_ps(_mm512_maskz_shuffle_f32x4(0xffff, s8[0], s8[1], 0x88),
                         _mm512_maskz_shuffle_f32x4(0xffff, s8[0], s8[1], 0xdd));
}

QL_AVX512 void rmsNormWide(const float* x, const float* weight, int64_t n, double eps, float* out) {
    __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                      _mm512_setzero_pd()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; ++k) {
            const __m512d d = _mm512_maskz_cvtps_pd(0xff, _mm256_loadu_ps(x + i + 8 * k));
            acc[k] = _mm512_fmadd_pd(d, d, acc[k]);
        }
    double lanes[8];
    _mm512_storeu_pd(lanes,
                     _mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3])));
    double ss = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
                ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (; i < n; ++i) ss += double(x[i]) * double(x[i]);
    const float r = 1.0f / std::sqrt(float(ss / double(n)) + float(eps));
    const __m512 rv = _mm512_set1_ps(r);
    i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(weight + i),
                                                _mm512_mul_ps(_mm512_loadu_ps(x + i), rv)));
    for (; i < n; ++i) out[i] = weight[i] * (x[i] * r);
}

// The sum and the largest of 16 lanes (a few per head: plain loops; GCC 12 warns on the
// reduce intrinsics' undefined vectors).
QL_AVX512 inline float laneSum(__m512 v) {
    float l[16];
    _mm512_storeu_ps(l, v);
    float s = 0.0f;
    for (float x : l) s += x;
    return s;
}
QL_AVX512 inline float laneMax(__m512 v) {
    float l[16];
    _mm512_storeu_ps(l, v);
    return *std::max_element(l, l + 16);
}

// Lanes [0, min(16, n - j)) of a pass at j.
inline __mmask16 lanesFrom(int64_t j, int64_t n) {
    return n - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - j)) - 1);
}

// q . k in 16 lanes (their sum is the dot product) for D = 16 C.
template <int C>
QL_AVX512 inline __m512 keyDot(const __m512* q, const float* k) {
    __m512 s = _mm512_mul_ps(q[0], _mm512_loadu_ps(k));
    for (int c = 1; c < C; ++c) s = _mm512_fmadd_ps(q[c], _mm512_loadu_ps(k + 16 * c), s);
    return s;
}

// Query heads attendGroup takes at once (their running maxima stay in registers).
constexpr int64_t kMaxGroupRun = 32;

// Heads [h0, h1) of one kv group, D = 16 C. The group's keys and values are read from L2
// once for all its heads rather than once per head (grouped-query attention: 7 query heads
// per kv head at Qwen2.5 shapes; per head they re-read 2 x 256 B per key, which L2's
// bandwidth bounded): scores 16 keys per pass for every head, then the values' weighted
// sum over chunks of kChunk keys that stay in L1 while every head adds them.
template <int C>
QL_AVX512 void attendGroup(const AttentionArgs& a, int64_t h0, int64_t h1, float* scores,
                           float* out) {
    constexpr int64_t D = 16 * C, kChunk = 64;
    const int64_t n = a.n, heads = h1 - h0, g = h0 / a.rep;
    const float* kg = a.keys + g * a.capacity * D;
    const float* vg = a.values + g * a.capacity * D;
    const __m512 scale = _mm512_set1_ps(float(1.0 / std::sqrt(double(D))));
    __m512 top[kMaxGroupRun];
    for (int64_t h = 0; h < heads; ++h)
        top[h] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
        for (int64_t h = 0; h < heads; ++h) {
            __m512 q[C];
            for (int c = 0; c < C; ++c) q[c] = _mm512_loadu_ps(a.q + (h0 + h) * D + 16 * c);
            __m512 dots[16];
            for (int k = 0; k < 16; ++k) dots[k] = keyDot<C>(q, kg + (j + k) * D);
            const __m512 sc = _mm512_mul_ps(sums16(dots), scale);
            _mm512_storeu_ps(scores + h * n + j, sc);
            top[h] = _mm512_maskz_max_ps(0xffff, top[h], sc);
        }
    for (int64_t h = 0; h < heads; ++h) {
        float* sh = scores + h * n;
        __m512 q[C];
        for (int c = 0; c < C; ++c) q[c] = _mm512_loadu_ps(a.q + (h0 + h) * D + 16 * c);
        float topS = laneMax(top[h]);
        for (int64_t t = j; t < n; ++t) {
            sh[t] = laneSum(keyDot<C>(q, kg + t * D)) * _mm512_cvtss_f32(scale);
            topS = std::max(topS, sh[t]);
        }
        // Softmax's numerators and their sum; then each divided by the sum.
        const __m512 tv = _mm512_set1_ps(topS);
        __m512 sum = _mm512_setzero_ps();
        for (int64_t t = 0; t < n; t += 16) {
            const __mmask16 m = lanesFrom(t, n);
            const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, sh + t), tv));
            sum = _mm512_mask_add_ps(sum, m, sum, e);
            _mm512_mask_storeu_ps(sh + t, m, e);
        }
        const __m512 total = _mm512_set1_ps(laneSum(sum));
        for (int64_t t = 0; t < n; t += 16) {
            const __mmask16 m = lanesFrom(t, n);
            _mm512_mask_storeu_ps(sh + t, m,
                                  _mm512_div_ps(_mm512_maskz_loadu_ps(m, sh + t), total));
        }
    }
    // The weighted sum of values: R keys per pass into R sets of accumulators (one chain of
    // multiply-adds per set and 16 lanes), kept in `out` between chunks.
    constexpr int R = C <= 4 ? 4 : 2;
    for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
        const int64_t c1 = std::min(n, c0 + kChunk);
        for (int64_t h = 0; h < heads; ++h) {
            const float* p = scores + h * n;
            float* o = out + (h0 + h) * D;
            __m512 acc[R][C];
            for (int r = 0; r < R; ++r)
                for (int c = 0; c < C; ++c)
                    acc[r][c] =
                        r == 0 && c0 > 0 ? _mm512_loadu_ps(o + 16 * c) : _mm512_setzero_ps();
            int64_t t = c0;
            for (; t + R <= c1; t += R)
                for (int r = 0; r < R; ++r) {
                    const __m512 w = _mm512_set1_ps(p[t + r]);
                    for (int c = 0; c < C; ++c)
                        acc[r][c] = _mm512_fmadd_ps(w, _mm512_loadu_ps(vg + (t + r) * D + 16 * c),
                                                    acc[r][c]);
                }
            for (; t < c1; ++t) {
                const __m512 w = _mm512_set1_ps(p[t]);
                for (int c = 0; c < C; ++c)
                    acc[0][c] = _mm512_fmadd_ps(w, _mm512_loadu_ps(vg + t * D + 16 * c), acc[0][c]);
            }
            for (int c = 0; c < C; ++c) {
                __m512 sumC = acc[0][c];
                for (int r = 1; r < R; ++r) sumC = _mm512_add_ps(sumC, acc[r][c]);
                _mm512_storeu_ps(o + 16 * c, sumC);
            }
        }
    }
}

// Heads [h0, h1) in runs that share a kv group (at most 32 heads each).
template <int C>
QL_AVX512 void attendWide(const AttentionArgs& a, int64_t h0, int64_t h1, float* scores,
                          float* out) {
    for (int64_t i = h0; i < h1;) {
        const int64_t end = std::min({h1, (i / a.rep + 1) * a.rep, i + kMaxGroupRun});
        attendGroup<C>(a, i, end, scores, out);
        i = end;
    }
}

QL_AVX512 void siluWide(float* gate, const float* up, int64_t b, int64_t e) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = b; i < e; i += 16) {
        const __mmask16 m = lanesFrom(i, e);
        const __m512 x = _mm512_maskz_loadu_ps(m, gate + i);
        const __m512 s =
            _mm512_div_ps(x, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
        _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

bool cpuHasAvx512() {
    return __builtin_cpu_supports("avx512f");
}
#else
bool cpuHasAvx512() {
    return false;
}
#endif

std::atomic<bool> gWide{cpuHasAvx512()};

}  // namespace

bool wideStepKernels() {
    return gWide.load(std::memory_order_relaxed);
}
void setWideStepKernels(bool on) {
    gWide.store(on && cpuHasAvx512());
}

void rmsNorm(const float* x, const float* weight, int64_t n, double eps, float* out) {
#if QL_STEP_X86
    if (wideStepKernels()) return rmsNormWide(x, weight, n, eps, out);
#endif
    rmsNormPortable(x, weight, n, eps, out);
}

void rope(float* x, const float* cos, const float* sin, int64_t D) {
    const int64_t half = D / 2;
    for (int64_t i = 0; i < half; ++i) {
        const float a = x[i], b = x[i + half];
        x[i] = a * cos[i] + -b * sin[i];
        x[i + half] = b * cos[i + half] + a * sin[i + half];
    }
}

void attend(const AttentionArgs& a, int64_t h0, int64_t h1, float* scores, float* out) {
#if QL_STEP_X86
    if (wideStepKernels()) switch (a.D) {
            case 16:
                return attendWide<1>(a, h0, h1, scores, out);
            case 32:
                return attendWide<2>(a, h0, h1, scores, out);
            case 64:
                return attendWide<4>(a, h0, h1, scores, out);
            case 128:
                return attendWide<8>(a, h0, h1, scores, out);
            default:
                break;
        }
#endif
    attendPortable(a, h0, h1, scores, out);
}

void siluTimesUp(float* gate, const float* up, int64_t b, int64_t e) {
#if QL_STEP_X86
    if (wideStepKernels()) return siluWide(gate, up, b, e);
#endif
    siluPortable(gate, up, b, e);
}

}  // namespace ql::step
