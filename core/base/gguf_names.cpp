// The name table of convert_hf_to_gguf.py's Llama / Qwen2 / Qwen3 tensor map (the parts of it
// the supported architectures use).
#include "base/gguf_names.h"

#include <cstdlib>
#include <utility>

namespace ql {

namespace {

// Per-layer parts: Hugging Face suffix after "model.layers.N." -> GGUF suffix after "blk.N.".
constexpr std::pair<const char*, const char*> kLayerParts[] = {
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"self_attn.q_norm", "attn_q_norm"},
    {"self_attn.k_norm", "attn_k_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
    {"input_layernorm", "attn_norm"},
    {"post_attention_layernorm", "ffn_norm"},
};

// Tensors outside the layers (full names without ".weight").
constexpr std::pair<const char*, const char*> kGlobal[] = {
    {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"},
    {"lm_head", "output"},
};

bool endsWith(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// "prefix<digits>.rest" -> (digits, rest); nullopt when the shape differs.
std::optional<std::pair<std::string, std::string>> splitLayer(const std::string& name,
                                                              const std::string& prefix) {
    if (name.rfind(prefix, 0) != 0) return std::nullopt;
    const size_t dot = name.find('.', prefix.size());
    if (dot == std::string::npos || dot == prefix.size()) return std::nullopt;
    const std::string digits = name.substr(prefix.size(), dot - prefix.size());
    for (char c : digits)
        if (c < '0' || c > '9') return std::nullopt;
    return std::make_pair(digits, name.substr(dot + 1));
}

// Splits "stem.weight" / "stem.bias" into stem and ".weight"/".bias".
std::optional<std::pair<std::string, std::string>> splitKind(const std::string& name) {
    for (const char* kind : {".weight", ".bias"})
        if (endsWith(name, kind))
            return std::make_pair(name.substr(0, name.size() - std::string(kind).size()),
                                  std::string(kind));
    return std::nullopt;
}

}  // namespace

std::optional<std::string> ggufTensorName(const std::string& hfName) {
    const auto kind = splitKind(hfName);
    if (!kind) return std::nullopt;
    const auto& [stem, tail] = *kind;
    for (const auto& [hf, gguf] : kGlobal)
        if (stem == hf) return std::string(gguf) + tail;
    const auto layer = splitLayer(stem, "model.layers.");
    if (!layer) return std::nullopt;
    for (const auto& [hf, gguf] : kLayerParts)
        if (layer->second == hf) return "blk." + layer->first + "." + gguf + tail;
    return std::nullopt;
}

std::optional<std::string> hfTensorName(const std::string& ggufName) {
    const auto kind = splitKind(ggufName);
    if (!kind) return std::nullopt;
    const auto& [stem, tail] = *kind;
    for (const auto& [hf, gguf] : kGlobal)
        if (stem == gguf) return std::string(hf) + tail;
    const auto layer = splitLayer(stem, "blk.");
    if (!layer) return std::nullopt;
    for (const auto& [hf, gguf] : kLayerParts)
        if (layer->second == gguf) return "model.layers." + layer->first + "." + hf + tail;
    return std::nullopt;
}

std::optional<std::string> ggufLinearName(const std::string& layerName) {
    return ggufTensorName(layerName + ".weight");
}

}  // namespace ql
