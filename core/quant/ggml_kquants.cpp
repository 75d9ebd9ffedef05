// The llama.cpp k-quants: super-blocks of 256 values whose sub-block scales (and mins) are
// themselves quantized against one fp16 super-block scale. Block layouts (bytes):
//   Q2_K = scales[16] (scale | min << 4) qs[64] d dmin             = 84
//   Q3_K = hmask[32] qs[64] scales[12] (6-bit, packed) d           = 110
//   Q4_K = d dmin scales[12] (6-bit scale/min pairs) qs[128]       = 144
//   Q5_K = d dmin scales[12] qh[32] qs[128]                        = 176
//   Q6_K = ql[128] qh[64] scales[16] (int8) d                      = 210
// The searches for the sub-block scales are ggml's reference ones (no importance matrix); the
// float operations keep ggml's order (this file is compiled without contraction), so the
// chosen codes and scales are the same bits.
#include "quant/ggml_blocks.h"

#include <algorithm>
#include <cmath>

namespace ql::ggml {

namespace {

constexpr int QK = 256;
constexpr float kGroupMaxEps = 1e-15f;

int clampInt(int v, int lo, int hi) {
    return std::max(lo, std::min(hi, v));
}

// Symmetric codes in [-nmax, nmax) for n values with weights x^2, searching 19 scales around
// nmax/max for the best weighted least-squares fit (ggml's make_qx_quants, rmse type 1).
// L receives code + nmax; returns the scale.
float symmetricFit(int n, int nmax, const float* x, int8_t* L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, int8_t(0));
        return 0.f;
    }
    const auto fitAt = [&](float iscale, float& sumlx, float& suml2, int8_t* out) {
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clampInt(nearestInt(iscale * x[i]), -nmax, nmax - 1);
            if (out) out[i] = int8_t(l + nmax);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * float(l);
            suml2 += w * float(l) * float(l);
        }
    };
    float sumlx, suml2;
    fitAt(float(-nmax) / max, sumlx, suml2, L);
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float iscale = -(float(nmax) + 0.1f * float(is)) / max;
        fitAt(iscale, sumlx, suml2, nullptr);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            fitAt(iscale, sumlx, suml2, L);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

// Q3_K's sub-block fit (ggml's make_q3_quants with rmse): codes in [-nmax, nmax) at nmax/max,
// then up to 5 passes moving single codes while the weighted (x^2) fit improves.
// L receives code + nmax; returns the scale.
float symmetricFitQ3(int n, int nmax, const float* x, int8_t* L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, int8_t(0));
        return 0.f;
    }
    const float iscale = float(-nmax) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = clampInt(nearestInt(iscale * x[i]), -nmax, nmax - 1);
        L[i] = int8_t(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * float(l);
        suml2 += w * float(l) * float(l);
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * float(L[i]);
            if (slx > 0) {
                float sl2 = suml2 - w * float(L[i]) * float(L[i]);
                const int newL = clampInt(nearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (newL != L[i]) {
                    slx += w * x[i] * float(newL);
                    sl2 += w * float(newL) * float(newL);
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = int8_t(newL);
                        sumlx = slx;
                        suml2 = sl2;
                        ++changed;
                    }
                }
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Asymmetric codes in [0, nmax] with a min <= 0 (ggml's make_qkx2_quants): start from the
// range, then try nstep+1 scales (rmin + rdelta*is + nmax)/(max - min), each with the weighted
// least-squares scale and min for its codes, keeping the lowest weighted error (absolute with
// useMad, else squared). *theMin receives -min; returns the scale.
float asymmetricFit(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                    float* theMin, float rmin, float rdelta, int nstep, bool useMad) {
    float min = x[0], max = x[0];
    float sumW = weights[0];
    float sumX = sumW * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sumW += weights[i];
        sumX += weights[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        std::fill(L, L + n, uint8_t(0));
        *theMin = -min;
        return 0.f;
    }
    const auto error = [&](float scale, float mn, const uint8_t* codes) {
        float e = 0;
        for (int i = 0; i < n; ++i) {
            float diff = scale * float(codes[i]) + mn - x[i];
            diff = useMad ? std::fabs(diff) : diff * diff;
            e += weights[i] * diff;
        }
        return e;
    };
    float iscale = float(nmax) / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i)
        L[i] = uint8_t(clampInt(nearestInt(iscale * (x[i] - min)), 0, nmax));
    float bestError = error(scale, min, L);
    uint8_t aux[32];
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
        float sumL = 0, sumL2 = 0, sumXL = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clampInt(nearestInt(iscale * (x[i] - min)), 0, nmax);
            aux[i] = uint8_t(l);
            const float w = weights[i];
            sumL += w * float(l);
            sumL2 += w * float(l) * float(l);
            sumXL += w * float(l) * x[i];
        }
        const float D = sumW * sumL2 - sumL * sumL;
        if (D > 0) {
            float thisScale = (sumW * sumXL - sumX * sumL) / D;
            float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
            if (thisMin > 0) {
                thisMin = 0;
                thisScale = sumXL / sumL2;
            }
            const float e = error(thisScale, thisMin, aux);
            if (e < bestError) {
                std::copy(aux, aux + n, L);
                bestError = e;
                scale = thisScale;
                min = thisMin;
            }
        }
    }
    *theMin = -min;
    return scale;
}

// The 6-bit scale and min of sub-block j from Q4_K/Q5_K's 12 packed bytes.
void scaleMinK4(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
    if (j < 4) {
        d = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Packs 2-bit codes L[0..255] as Q2_K/Q3_K do: byte j/4+l of each 128 holds l, l+32, l+64, l+96.
void pack2Bits(const uint8_t* L, uint8_t* qs) {
    for (int j = 0; j < QK; j += 128)
        for (int l = 0; l < 32; ++l)
            qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                    (L[j + l + 96] << 6));
}

// Q4_K/Q5_K: fits the eight 32-value sub-blocks, quantizes their scales and mins to 6 bits
// (scales[12], d, dmin at y), then re-codes every value against the quantized scale and min.
void fitScaleMinBlocks(const float* x, uint8_t* y, int nmax, float rmin, int nstep, uint8_t* L) {
    float scales[8], mins[8], weights[32];
    float maxScale = 0, maxMin = 0;
    for (int j = 0; j < 8; ++j) {
        float sumX2 = 0;
        for (int l = 0; l < 32; ++l) sumX2 += x[32 * j + l] * x[32 * j + l];
        const float avX = std::sqrt(sumX2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = avX + std::fabs(x[32 * j + l]);
        scales[j] = asymmetricFit(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], rmin, 0.1f,
                                  nstep, false);
        if (scales[j] > maxScale) maxScale = scales[j];
        if (mins[j] > maxMin) maxMin = mins[j];
    }
    const float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
    const float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
    uint8_t* sc = y + 4;
    for (int j = 0; j < 8; ++j) {
        const uint8_t ls = std::min<uint8_t>(63, uint8_t(nearestInt(invScale * scales[j])));
        const uint8_t lm = std::min<uint8_t>(63, uint8_t(nearestInt(invMin * mins[j])));
        if (j < 4) {
            sc[j] = ls;
            sc[j + 4] = lm;
        } else {
            sc[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
            sc[j - 4] |= uint8_t((ls >> 4) << 6);
            sc[j] |= uint8_t((lm >> 4) << 6);
        }
    }
    putHalf(y, maxScale / 63.f);
    putHalf(y + 2, maxMin / 63.f);
    for (int j = 0; j < 8; ++j) {
        uint8_t s, m;
        scaleMinK4(j, sc, s, m);
        const float d = getHalf(y) * float(s);
        if (d == 0.0f) continue;
        const float dm = getHalf(y + 2) * float(m);
        for (int ii = 0; ii < 32; ++ii)
            L[32 * j + ii] = uint8_t(clampInt(nearestInt((x[32 * j + ii] + dm) / d), 0, nmax));
    }
}

}  // namespace

void quantizeQ2_K(const float* x, uint8_t* y, int64_t n) {
    for (int64_t b = 0; b < n / QK; ++b, x += QK, y += 84) {
        uint8_t L[QK];
        float weights[16], mins[16], scales[16];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 16; ++j) {
            for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
            scales[j] = asymmetricFit(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f, 0.1f,
                                      15, true);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        uint8_t* sc = y;
        uint8_t* d = y + 80;
        if (maxScale > 0) {
            const float iscale = 15.f / maxScale;
            for (int j = 0; j < 16; ++j) sc[j] = uint8_t(nearestInt(iscale * scales[j]));
            putHalf(d, maxScale / 15.f);
        } else {
            std::fill(sc, sc + 16, uint8_t(0));
            putHalf(d, 0.f);
        }
        if (maxMin > 0) {
            const float iscale = 15.f / maxMin;
            for (int j = 0; j < 16; ++j) sc[j] |= uint8_t(nearestInt(iscale * mins[j]) << 4);
            putHalf(d + 2, maxMin / 15.f);
        } else {
            putHalf(d + 2, 0.f);
        }
        for (int j = 0; j < 16; ++j) {
            const float dl = getHalf(d) * float(sc[j] & 0xF);
            if (dl == 0.0f) continue;
            const float ml = getHalf(d + 2) * float(sc[j] >> 4);
            for (int ii = 0; ii < 16; ++ii)
                L[16 * j + ii] = uint8_t(clampInt(nearestInt((x[16 * j + ii] + ml) / dl), 0, 3));
        }
        pack2Bits(L, y + 16);
    }
}

void quantizeQ3_K(const float* x, uint8_t* y, int64_t n) {
    for (int64_t b = 0; b < n / QK; ++b, x += QK, y += 110) {
        int8_t L[QK];
        float scales[16];
        float maxScale = 0, amax = 0;
        for (int j = 0; j < 16; ++j) {
            scales[j] = symmetricFitQ3(16, 4, x + 16 * j, L + 16 * j);
            const float s = std::fabs(scales[j]);
            if (s > amax) {
                amax = s;
                maxScale = scales[j];
            }
        }
        uint8_t* hmask = y;
        uint8_t* qs = y + 32;
        uint8_t* sc = y + 96;
        uint8_t* d = y + 108;
        std::fill(sc, sc + 12, uint8_t(0));
        if (maxScale != 0.0f) {
            const float iscale = -32.f / maxScale;
            for (int j = 0; j < 16; ++j) {
                int8_t l = int8_t(nearestInt(iscale * scales[j]));
                l = int8_t(clampInt(l, -32, 31) + 32);
                if (j < 8)
                    sc[j] = uint8_t(l & 0xF);
                else
                    sc[j - 8] |= uint8_t((l & 0xF) << 4);
                l = int8_t(l >> 4);
                sc[j % 4 + 8] |= uint8_t(l << (2 * (j / 4)));
            }
            putHalf(d, 1 / iscale);
        } else {
            putHalf(d, 0.f);
        }
        for (int j = 0; j < 16; ++j) {
            int s = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
            s = int8_t((s | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
            const float dl = getHalf(d) * float(s);
            if (dl == 0.0f) continue;
            for (int ii = 0; ii < 16; ++ii)
                L[16 * j + ii] = int8_t(clampInt(nearestInt(x[16 * j + ii] / dl), -4, 3) + 4);
        }
        std::fill(hmask, hmask + 32, uint8_t(0));
        uint8_t codes[QK];
        for (int j = 0; j < QK; ++j) {  // high bit of value j goes to bit j/32 of hmask[j%32]
            uint8_t l = uint8_t(L[j]);
            if (l > 3) {
                hmask[j % 32] |= uint8_t(1u << (j / 32));
                l = uint8_t(l - 4);
            }
            codes[j] = l;
        }
        pack2Bits(codes, qs);
    }
}

void quantizeQ4_K(const float* x, uint8_t* y, int64_t n) {
    for (int64_t b = 0; b < n / QK; ++b, x += QK, y += 144) {
        uint8_t L[QK];
        fitScaleMinBlocks(x, y, 15, -1.f, 20, L);
        uint8_t* q = y + 16;
        for (int j = 0; j < QK; j += 64, q += 32)
            for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
    }
}

void quantizeQ5_K(const float* x, uint8_t* y, int64_t n) {
    for (int64_t b = 0; b < n / QK; ++b, x += QK, y += 176) {
        uint8_t L[QK];
        fitScaleMinBlocks(x, y, 31, -0.5f, 15, L);
        uint8_t* qh = y + 16;
        uint8_t* ql = y + 48;
        std::fill(qh, qh + 32, uint8_t(0));
        uint8_t m1 = 1, m2 = 2;
        for (int n64 = 0; n64 < QK; n64 += 64, ql += 32) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[n64 + j], l2 = L[n64 + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[j] = uint8_t(l1 | (l2 << 4));
            }
            m1 = uint8_t(m1 << 2);
            m2 = uint8_t(m2 << 2);
        }
    }
}

void quantizeQ6_K(const float* x, uint8_t* y, int64_t n) {
    for (int64_t b = 0; b < n / QK; ++b, x += QK, y += 210) {
        int8_t L[QK];
        float scales[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < 16; ++ib) {
            scales[ib] = symmetricFit(16, 32, x + 16 * ib, L + 16 * ib);
            const float a = std::fabs(scales[ib]);
            if (a > maxAbsScale) {
                maxAbsScale = a;
                maxScale = scales[ib];
            }
        }
        if (maxAbsScale < kGroupMaxEps) {  // all (near) zero: an all-zero block
            std::fill(y, y + 210, uint8_t(0));
            continue;
        }
        uint8_t* ql = y;
        uint8_t* qh = y + 128;
        int8_t* sc = reinterpret_cast<int8_t*>(y + 192);
        const float iscale = -128.f / maxScale;
        putHalf(y + 208, 1 / iscale);
        for (int ib = 0; ib < 16; ++ib)
            sc[ib] = int8_t(std::min(127, nearestInt(iscale * scales[ib])));
        for (int j = 0; j < 16; ++j) {
            const float d = getHalf(y + 208) * float(sc[j]);
            if (d == 0.0f) continue;
            for (int ii = 0; ii < 16; ++ii)
                L[16 * j + ii] = int8_t(clampInt(nearestInt(x[16 * j + ii] / d), -32, 31) + 32);
        }
        for (int j = 0; j < QK; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; ++l) {
                const int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
                const int q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = uint8_t(q1 | (q3 << 4));
                ql[l + 32] = uint8_t(q2 | (q4 << 4));
                qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                                ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}

}  // namespace ql::ggml
