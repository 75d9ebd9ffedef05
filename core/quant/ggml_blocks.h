// quant-private: the block quantizers and dequantizers behind quant/ggml_quants.h, one pair per
// type, each over n values (n a multiple of the block size), and the shared rounding helpers.
#pragma once

#include <cstdint>
#include <cstring>

namespace ql::ggml {

// ggml's nearest_int: round half to even by adding 1.5 * 2^23 and reading the mantissa. Exact
// for |f| <= 2^22; beyond that (scales near zero) it gives ggml's own wrapped value.
inline int nearestInt(float f) {
    const float v = f + 12582912.f;
    int32_t bits;
    std::memcpy(&bits, &v, 4);
    return (bits & 0x007fffff) - 0x00400000;
}

// C's float -> int conversion (truncation toward zero) where ggml writes (int8_t)(x) or
// (uint8_t)(x) on a value known to be in range; NaN and out-of-range values (undefined in C)
// give 0 here instead of undefined behaviour.
inline int truncToInt(float f) {
    return f > -2147483648.f && f < 2147483648.f ? int(f) : 0;
}

void quantizeQ4_0(const float* x, uint8_t* y, int64_t n);
void quantizeQ4_1(const float* x, uint8_t* y, int64_t n);
void quantizeQ5_0(const float* x, uint8_t* y, int64_t n);
void quantizeQ5_1(const float* x, uint8_t* y, int64_t n);
void quantizeQ8_0(const float* x, uint8_t* y, int64_t n);
void quantizeQ2_K(const float* x, uint8_t* y, int64_t n);
void quantizeQ3_K(const float* x, uint8_t* y, int64_t n);
void quantizeQ4_K(const float* x, uint8_t* y, int64_t n);
void quantizeQ5_K(const float* x, uint8_t* y, int64_t n);
void quantizeQ6_K(const float* x, uint8_t* y, int64_t n);

void dequantizeQ4_0(const uint8_t* x, float* y, int64_t n);
void dequantizeQ4_1(const uint8_t* x, float* y, int64_t n);
void dequantizeQ5_0(const uint8_t* x, float* y, int64_t n);
void dequantizeQ5_1(const uint8_t* x, float* y, int64_t n);
void dequantizeQ8_0(const uint8_t* x, float* y, int64_t n);
void dequantizeQ2_K(const uint8_t* x, float* y, int64_t n);
void dequantizeQ3_K(const uint8_t* x, float* y, int64_t n);
void dequantizeQ4_K(const uint8_t* x, float* y, int64_t n);
void dequantizeQ5_K(const uint8_t* x, float* y, int64_t n);
void dequantizeQ6_K(const uint8_t* x, float* y, int64_t n);

// Little-endian fp16 fields inside a block.
uint16_t fp16(float f);
float fp32(uint16_t h);
inline void putHalf(uint8_t* p, float f) {
    const uint16_t h = fp16(f);
    std::memcpy(p, &h, 2);
}
inline float getHalf(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp32(h);
}

}  // namespace ql::ggml
