// Element types of safetensors files and conversions between float formats.
#pragma once

#include <cstddef>
#include <cstdint>
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
float bf16ToFloat(uint16_t b);
uint16_t floatToBf16(float f);  // round to nearest even

// Converts n elements of a float dtype (F32/F16/BF16/F64) to float32.
// Throws ql::Error for non-float dtypes.
void convertToFloat(DType t, const void* src, size_t n, float* dst);

} // namespace ql
