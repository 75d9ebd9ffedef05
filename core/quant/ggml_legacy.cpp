// The legacy llama.cpp block formats (32 values a block) and ggml's fp16 conversion.
// Block layouts (bytes): Q4_0 = d(f16) qs[16]; Q4_1 = d m qs[16]; Q5_0 = d qh[4] qs[16];
// Q5_1 = d m qh[4] qs[16]; Q8_0 = d qs[32] (int8). Nibble j of a 4/5-bit block holds value j
// (low nibble) and value j+16 (high nibble); the fifth bits of values j and j+16 are bits j and
// j+16 of qh. The arithmetic keeps ggml's operation order so that the float roundings agree
// (this file is compiled without floating-point contraction).
#include "quant/ggml_blocks.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

namespace ql::ggml {

namespace {

uint32_t bitsOf(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

float floatOf(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Value with the largest magnitude (the first such one) and that magnitude.
void signedMax(const float* x, int n, float& amax, float& max) {
    amax = 0.0f;
    max = 0.0f;
    for (int j = 0; j < n; ++j)
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
}

void minMax(const float* x, int n, float& min, float& max) {
    min = FLT_MAX;
    max = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
}

void put32(uint8_t* p, uint32_t v) {
    std::memcpy(p, &v, 4);
}
uint32_t get32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

}  // namespace

// Round to nearest even by letting the float adder round: the magnitude is scaled so that the
// binary16 mantissa's last bit is the float's last bit, then the bits are read off. Overflow
// goes to infinity, NaN to the quiet NaN 0x7E00.
uint16_t fp16(float f) {
    const float scaleToInf = 0x1.0p+112f;
    const float scaleToZero = 0x1.0p-110f;
    float base = (std::fabs(f) * scaleToInf) * scaleToZero;
    const uint32_t w = bitsOf(f);
    const uint32_t shl1 = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1 & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    base = floatOf((bias >> 1) + 0x07800000u) + base;
    const uint32_t bits = bitsOf(base);
    const uint32_t expBits = (bits >> 13) & 0x00007C00u;
    const uint32_t mantissaBits = bits & 0x00000FFFu;
    const uint32_t nonsign = expBits + mantissaBits;
    return uint16_t((sign >> 16) | (shl1 > 0xFF000000u ? 0x7E00u : nonsign));
}

float fp32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    const uint32_t mant = h & 0x3FFu;
    if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
        const float v = float(mant) * 0x1.0p-24f;
        return sign ? -v : v;
    }
    if (exp == 31) return floatOf(sign | 0x7F800000u | (mant << 13));
    return floatOf(sign | ((exp + 112u) << 23) | (mant << 13));
}

void quantizeQ4_0(const float* x, uint8_t* y, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, x += 32, y += 18) {
        float amax, max;
        signedMax(x, 32, amax, max);
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        putHalf(y, d);
        for (int j = 0; j < 16; ++j) {
            const int lo = std::min(15, truncToInt(x[j] * id + 8.5f));
            const int hi = std::min(15, truncToInt(x[j + 16] * id + 8.5f));
            y[2 + j] = uint8_t(lo | (hi << 4));
        }
    }
}

void quantizeQ4_1(const float* x, uint8_t* y, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, x += 32, y += 20) {
        float min, max;
        minMax(x, 32, min, max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        putHalf(y, d);
        putHalf(y + 2, min);
        for (int j = 0; j < 16; ++j) {
            const int lo = std::min(15, truncToInt((x[j] - min) * id + 0.5f));
            const int hi = std::min(15, truncToInt((x[j + 16] - min) * id + 0.5f));
            y[4 + j] = uint8_t(lo | (hi << 4));
        }
    }
}

void quantizeQ5_0(const float* x, uint8_t* y, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, x += 32, y += 22) {
        float amax, max;
        signedMax(x, 32, amax, max);
        const float d = max / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        putHalf(y, d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = std::min(31, truncToInt(x[j] * id + 16.5f));
            const int hi = std::min(31, truncToInt(x[j + 16] * id + 16.5f));
            y[6 + j] = uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
            qh |= uint32_t((lo >> 4) & 1) << j;
            qh |= uint32_t((hi >> 4) & 1) << (j + 16);
        }
        put32(y + 2, qh);
    }
}

void quantizeQ5_1(const float* x, uint8_t* y, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, x += 32, y += 24) {
        float min, max;
        minMax(x, 32, min, max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        putHalf(y, d);
        putHalf(y + 2, min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            // ggml stores (uint8_t)(v + 0.5f) unclamped: the value is at most 31.5 here.
            const int lo = uint8_t(truncToInt((x[j] - min) * id + 0.5f));
            const int hi = uint8_t(truncToInt((x[j + 16] - min) * id + 0.5f));
            y[8 + j] = uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
            qh |= uint32_t((lo >> 4) & 1) << j;
            qh |= uint32_t((hi >> 4) & 1) << (j + 16);
        }
        put32(y + 4, qh);
    }
}

void quantizeQ8_0(const float* x, uint8_t* y, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, x += 32, y += 34) {
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        putHalf(y, d);
        for (int j = 0; j < 32; ++j) y[2 + j] = uint8_t(int8_t(truncToInt(std::round(x[j] * id))));
    }
}

void dequantizeQ4_0(const uint8_t* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, x += 18, y += 32) {
        const float d = getHalf(x);
        for (int j = 0; j < 16; ++j) {
            y[j] = float((x[2 + j] & 0xF) - 8) * d;
            y[j + 16] = float((x[2 + j] >> 4) - 8) * d;
        }
    }
}

void dequantizeQ4_1(const uint8_t* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, x += 20, y += 32) {
        const float d = getHalf(x), m = getHalf(x + 2);
        for (int j = 0; j < 16; ++j) {
            y[j] = float(x[4 + j] & 0xF) * d + m;
            y[j + 16] = float(x[4 + j] >> 4) * d + m;
        }
    }
}

void dequantizeQ5_0(const uint8_t* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, x += 22, y += 32) {
        const float d = getHalf(x);
        const uint32_t qh = get32(x + 2);
        for (int j = 0; j < 16; ++j) {
            const int lo = (x[6 + j] & 0xF) | int(((qh >> j) & 1) << 4);
            const int hi = (x[6 + j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
            y[j] = float(lo - 16) * d;
            y[j + 16] = float(hi - 16) * d;
        }
    }
}

void dequantizeQ5_1(const uint8_t* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, x += 24, y += 32) {
        const float d = getHalf(x), m = getHalf(x + 2);
        const uint32_t qh = get32(x + 4);
        for (int j = 0; j < 16; ++j) {
            const int lo = (x[8 + j] & 0xF) | int(((qh >> j) & 1) << 4);
            const int hi = (x[8 + j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
            y[j] = float(lo) * d + m;
            y[j + 16] = float(hi) * d + m;
        }
    }
}

void dequantizeQ8_0(const uint8_t* x, float* y, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b, x += 34, y += 32) {
        const float d = getHalf(x);
        for (int j = 0; j < 32; ++j) y[j] = float(int8_t(x[2 + j])) * d;
    }
}

}  // namespace ql::ggml
