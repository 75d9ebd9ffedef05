// Element types and bit-exact float16 / bfloat16 conversions (round to nearest even).
#include "io/dtype.h"

#include "base/error.h"

#include <cmath>
#include <cstring>

namespace ql {

size_t dtypeSize(DType t) {
    switch (t) {
        case DType::F64:
        case DType::I64:
            return 8;
        case DType::F32:
        case DType::I32:
            return 4;
        case DType::F16:
        case DType::BF16:
        case DType::I16:
            return 2;
        case DType::I8:
        case DType::U8:
        case DType::Bool:
            return 1;
    }
    return 1;
}

std::string dtypeName(DType t) {
    switch (t) {
        case DType::F32:
            return "F32";
        case DType::F16:
            return "F16";
        case DType::BF16:
            return "BF16";
        case DType::F64:
            return "F64";
        case DType::I8:
            return "I8";
        case DType::U8:
            return "U8";
        case DType::I16:
            return "I16";
        case DType::I32:
            return "I32";
        case DType::I64:
            return "I64";
        case DType::Bool:
            return "BOOL";
    }
    return "?";
}

std::optional<DType> parseDType(std::string_view s) {
    static const std::pair<const char*, DType> kNames[] = {
        {"F32", DType::F32}, {"F16", DType::F16},  {"BF16", DType::BF16}, {"F64", DType::F64},
        {"I8", DType::I8},   {"U8", DType::U8},    {"I16", DType::I16},   {"I32", DType::I32},
        {"I64", DType::I64}, {"BOOL", DType::Bool}};
    for (const auto& [name, type] : kNames)
        if (s == name) return type;
    return std::nullopt;
}

bool isFloatDType(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

static uint32_t floatBits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

static float bitsFloat(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

float halfToFloat(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    const uint32_t mant = h & 0x3FFu;
    if (exp == 0x1F) return bitsFloat(sign | 0x7F800000u | (mant << 13));  // inf / nan
    if (exp != 0) return bitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
    // Zero or subnormal: mant * 2^-24 is exact in float.
    const float v = std::ldexp(float(mant), -24);
    return sign ? -v : v;
}

uint16_t floatToHalf(float f) {
    const uint32_t u = floatBits(f);
    const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    const uint32_t absBits = u & 0x7FFFFFFFu;
    if (absBits >= 0x7F800000u)  // inf or nan (keep nan quiet and non-zero)
        return sign | (absBits > 0x7F800000u ? 0x7E00u : 0x7C00u);
    if (absBits >= 0x477FF000u) return sign | 0x7C00u;  // rounds to >= 65520 -> inf
    const int exp = int(absBits >> 23) - 127;
    if (exp < -14) {
        // Subnormal half (or zero): value = m * 2^-24, m = round(|f| * 2^24), ties to even.
        // |f| * 2^24 < 1024 is exact in float, nearbyint rounds to even by default.
        const float scaled = std::ldexp(bitsFloat(absBits), 24);
        return sign | uint16_t(std::nearbyint(scaled));
    }
    // Normal: drop 13 mantissa bits with round-to-nearest-even; a carry into the
    // exponent is correct (it may produce the next binade or inf).
    uint32_t halfBits = ((uint32_t(exp + 15) << 10) | ((absBits >> 13) & 0x3FFu));
    const uint32_t rest = absBits & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (halfBits & 1u))) ++halfBits;
    return sign | uint16_t(halfBits);
}

void convertToFloat(DType t, const void* src, size_t n, float* dst) {
    switch (t) {
        case DType::F32:
            std::memcpy(dst, src, n * 4);
            return;
        case DType::F64: {
            const auto* p = static_cast<const unsigned char*>(src);
            for (size_t i = 0; i < n; ++i) {
                double d;
                std::memcpy(&d, p + i * 8, 8);
                dst[i] = float(d);
            }
            return;
        }
        case DType::F16: {
            const auto* p = static_cast<const unsigned char*>(src);
            for (size_t i = 0; i < n; ++i) {
                uint16_t v;
                std::memcpy(&v, p + i * 2, 2);
                dst[i] = halfToFloat(v);
            }
            return;
        }
        case DType::BF16: {
            // A loop of its own (no per-element dtype test), so that it vectorizes: the
            // weights-only analysis converts every tile it reads.
            const auto* p = static_cast<const unsigned char*>(src);
            for (size_t i = 0; i < n; ++i) {
                uint16_t v;
                std::memcpy(&v, p + i * 2, 2);
                dst[i] = bf16ToFloat(v);
            }
            return;
        }
        default:
            throw Error("cannot convert " + dtypeName(t) + " data to float32 (not a float dtype)");
    }
}

}  // namespace ql
