// Dequantization of the llama.cpp k-quants (layouts in ggml_kquants.cpp), in ggml's operation
// order so that the floats equal ggml's dequantize_row_* output.
#include "quant/ggml_blocks.h"

namespace ql::ggml {

namespace {

void scaleMin(int j, const uint8_t* q, int& d, int& m) {
    if (j < 4) {
        d = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

}  // namespace

void dequantizeQ2_K(const uint8_t* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n / 256; ++b, x += 84) {
        const float d = getHalf(x + 80), min = getHalf(x + 82);
        const uint8_t* q = x + 16;
        int is = 0;
        for (int n128 = 0; n128 < 256; n128 += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; ++half) {
                    const uint8_t sc = x[is++];
                    const float dl = d * float(sc & 0xF), ml = min * float(sc >> 4);
                    for (int l = 0; l < 16; ++l)
                        *y++ = dl * float((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }
}

void dequantizeQ3_K(const uint8_t* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n / 256; ++b, x += 110) {
        const float dAll = getHalf(x + 108);
        const uint8_t* hm = x;
        const uint8_t* q = x + 32;
        const uint8_t* sc = x + 96;
        int8_t scales[16];
        for (int j = 0; j < 16; ++j) {
            const int lo = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
            scales[j] = int8_t((lo | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
        }
        int is = 0;
        uint8_t m = 1;
        for (int n128 = 0; n128 < 256; n128 += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = uint8_t(m << 1)) {
                for (int half = 0; half < 2; ++half) {
                    const float dl = dAll * float(scales[is++]);
                    for (int l = 0; l < 16; ++l) {
                        const int k = l + 16 * half;
                        const int v = ((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4);
                        *y++ = dl * float(v);
                    }
                }
            }
        }
    }
}

void dequantizeQ4_K(const uint8_t* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n / 256; ++b, x += 144) {
        const float d = getHalf(x), min = getHalf(x + 2);
        const uint8_t* q = x + 16;
        for (int j = 0, is = 0; j < 256; j += 64, q += 32, is += 2) {
            int s, m;
            scaleMin(is, x + 4, s, m);
            const float d1 = d * float(s), m1 = min * float(m);
            scaleMin(is + 1, x + 4, s, m);
            const float d2 = d * float(s), m2 = min * float(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
        }
    }
}

void dequantizeQ5_K(const uint8_t* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n / 256; ++b, x += 176) {
        const float d = getHalf(x), min = getHalf(x + 2);
        const uint8_t* qh = x + 16;
        const uint8_t* ql = x + 48;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < 256; j += 64, ql += 32, is += 2) {
            int s, m;
            scaleMin(is, x + 4, s, m);
            const float d1 = d * float(s), m1 = min * float(m);
            scaleMin(is + 1, x + 4, s, m);
            const float d2 = d * float(s), m2 = min * float(m);
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * float((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * float((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            u1 = uint8_t(u1 << 2);
            u2 = uint8_t(u2 << 2);
        }
    }
}

void dequantizeQ6_K(const uint8_t* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n / 256; ++b, x += 210) {
        const float d = getHalf(x + 208);
        const uint8_t* ql = x;
        const uint8_t* qh = x + 128;
        const int8_t* sc = reinterpret_cast<const int8_t*>(x + 192);
        for (int n128 = 0; n128 < 256; n128 += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * float(sc[is]) * float(q1);
                y[l + 32] = d * float(sc[is + 2]) * float(q2);
                y[l + 64] = d * float(sc[is + 4]) * float(q3);
                y[l + 96] = d * float(sc[is + 6]) * float(q4);
            }
        }
    }
}

}  // namespace ql::ggml
