// llama-quantize's per-tensor type choice for its file types ("mixes": Q4_K_M, Q5_K_M, ...):
// which ggml type each tensor of a llama.cpp model gets, as llama-quantize (without an
// importance matrix, for dense Llama-style models) decides it, including the shape fallbacks.
// Only the choice of types; quantizing a tensor is quant/ggml_quants.h.
#pragma once

#include "base/ggml_type.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ql {

// llama.cpp's llama_ftype numbers of the supported mixes (general.file_type of a GGUF file).
enum class GgmlMix : int {
    Q4_0 = 2,
    Q4_1 = 3,
    Q8_0 = 7,
    Q5_0 = 8,
    Q5_1 = 9,
    Q2_K = 10,
    Q3_K_S = 11,
    Q3_K_M = 12,
    Q3_K_L = 13,
    Q4_K_S = 14,
    Q4_K_M = 15,
    Q5_K_S = 16,
    Q5_K_M = 17,
    Q6_K = 18,
};

std::optional<GgmlMix> ggmlMixFromFileType(int fileType);
std::optional<GgmlMix> parseGgmlMix(std::string_view name);  // "Q4_K_M" (any case)
std::string ggmlMixName(GgmlMix mix);

// What the choice depends on besides the tensor itself.
struct GgmlMixModel {
    int layers = 0;         // block count
    int gqa = 1;            // attention heads / KV heads
    bool hasOutput = true;  // false: the output head is tied to token_embd.weight
    bool pure = false;      // llama-quantize --pure: one type for every quantized tensor
};

// The type llama-quantize gives the tensor `name` (GGUF name, e.g. "blk.3.attn_v.weight") of
// shape ne (ggml order, ne[0] = row length) under `mix`; nullopt when llama-quantize leaves
// the tensor as it is (1-D tensors, norms, anything not ending in "weight"). Legacy mixes on
// rows their block does not divide: nullopt is not returned, the type is (llama-quantize
// then refuses the file).
std::optional<GgmlType> ggmlMixType(GgmlMix mix, const std::string& name,
                                    const std::vector<int64_t>& ne, const GgmlMixModel& model);
// The same choice before the row-length fallback (a k-quant even where 256 does not divide
// the row): what the mix asks for the tensor.
std::optional<GgmlType> ggmlMixChoice(GgmlMix mix, const std::string& name,
                                      const std::vector<int64_t>& ne, const GgmlMixModel& model);

}  // namespace ql
