// quant-private: the recipe grammar, label, byte count and recomputation of each method
// family, referenced by the registry table (method_registry.cpp).
#pragma once

#include "quant/method_registry.h"
#include "quant/recipe.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ql::families {

// Integer grids (rtn, gptq, awq): intB[:GRANULARITY[:SYMMETRY]]; packed as quant/quantize.h's
// pack(): codes at the bit width, fp16 scales, zeros at the bit width when asym.
void parseInteger(std::string_view spec, const std::vector<std::string>& parts, Recipe& r);
std::string printInteger(const Recipe& r);
std::string labelInteger(const Recipe& r);
uint64_t bytesInteger(const Recipe& r, int64_t rows, int64_t cols);

// Casts (fp16, bf16): no further parts, 2 bytes a value.
void parseCast(std::string_view spec, const std::vector<std::string>& parts, Recipe& r);
std::string printCast(const Recipe& r);
std::string labelCast(const Recipe& r);
uint64_t bytesCast(const Recipe& r, int64_t rows, int64_t cols);
std::vector<float> recomputeCast(const Recipe& r, const float* w, size_t n);

// bitsandbytes 4-bit (nf4, fp4): [bN][:dq][:fp32|fp16|bf16] in any order (codebook4.h).
void parseCodebook4(std::string_view spec, const std::vector<std::string>& parts, Recipe& r);
std::string printCodebook4(const Recipe& r);
std::string labelCodebook4(const Recipe& r);
uint64_t bytesCodebook4(const Recipe& r, int64_t rows, int64_t cols);
std::vector<float> recomputeCodebook4(const Recipe& r, const float* w, size_t n);

// llama.cpp formats (q8_0 .. q6_k): no further parts; bytes and weights of the block format
// (quant/ggml_quants.h); rows that the block does not divide fall back as llama-quantize does.
void parseGgml(std::string_view spec, const std::vector<std::string>& parts, Recipe& r);
std::string printGgml(const Recipe& r);
std::string labelGgml(const Recipe& r);
uint64_t bytesGgml(const Recipe& r, int64_t rows, int64_t cols);
std::vector<float> recomputeGgml(const Recipe& r, const float* w, size_t n);
ShapedRecipe ggmlForRowLength(const Recipe& r, int64_t cols);
// llama-quantize's mixes (q4_k_m, ...): the same functions take them (bytes, weights and row
// fallback of the mix's base type); this one gives each layer its own type.
ShapedRecipe ggmlForLayer(const Recipe& r, const LayerPlace& place);
// LLM.int8() (llm_int8): [tT]; int8 row-wise absmax weights with one fp32 scale per row.
void parseLlmInt8(std::string_view spec, const std::vector<std::string>& parts, Recipe& r);
std::string printLlmInt8(const Recipe& r);
std::string labelLlmInt8(const Recipe& r);
uint64_t bytesLlmInt8(const Recipe& r, int64_t rows, int64_t cols);

}  // namespace ql::families
