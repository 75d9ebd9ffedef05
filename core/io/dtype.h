// Element types of safetensors files and conversions between float formats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace ql {

enum class DType { F32, F16, BF16, F64, I8, U8, I16, I32, I64, Bool };

size_t dtypeSize(DType t);
std::string dtypeName(DType t);                       // "F32", "BF16", ...
std::optional<DType> parseDType(std::string_view s);  // safetensors spelling
bool isFloatDType(DType t);

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);  // round to nearest even
// bfloat16 conversions are inline: they sit in hot loops (synth, loading).
inline float bf16ToFloat(uint16_t b) {
    const uint32_t u = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Round to nearest even; NaN stays a (quiet) NaN.
inline uint16_t floatToBf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x0040u);  // quiet nan
    return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);  // round to nearest even
}

// Converts n elements of a float dtype (F32/F16/BF16/F64) to float32.
// Throws ql::Error for non-float dtypes.
void convertToFloat(DType t, const void* src, size_t n, float* dst);

}  // namespace ql
