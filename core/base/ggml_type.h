// The tensor types of ggml (llama.cpp's tensor library) as GGUF files number them: their names
// and block layout (values per block, bytes per block). Shared by the GGUF reader (core/io) and
// the llama.cpp quantizers (core/quant). Numbers are ggml's enum ggml_type; gaps are types
// ggml removed (4, 5: Q4_2/Q4_3; 31-33: Q4_0_4_4 & co.), which no current file may carry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ql {

enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
};

struct GgmlTypeTraits {
    const char* name;      // ggml's spelling, e.g. "Q4_K"
    uint32_t blockValues;  // values per block (1 for plain types)
    uint32_t blockBytes;   // bytes per block
};

// The traits of a type number, or nullopt when the number is not a ggml type.
std::optional<GgmlTypeTraits> ggmlTypeTraits(uint32_t type);
// "Q4_K", or "type 42" for an unknown number.
std::string ggmlTypeName(uint32_t type);
std::string ggmlTypeName(GgmlType type);
// Bytes of `values` values of a known type (values must be a multiple of its block); nullopt
// on overflow or a partial block.
std::optional<uint64_t> ggmlBytes(GgmlType type, uint64_t values);

}  // namespace ql
