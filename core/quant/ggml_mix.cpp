// llama-quantize's per-tensor type rules (llama_tensor_get_type at the reference commit of
// ../shared/reference/gguf), for dense models without an importance matrix: the output head
// (or a tied token embedding) gets Q6_K, attn_v / ffn_down / attn_output get more bits in
// some mixes and layers, then a k-quant whose 256 does not divide the row falls back.
#include "quant/ggml_mix.h"

#include <algorithm>
#include <cctype>

namespace ql {

namespace {

enum class Category { Output, TokenEmbd, AttnV, AttnQkv, AttnOutput, FfnDown, Other };

Category categoryOf(const std::string& name) {
    const auto has = [&](const char* part) { return name.find(part) != std::string::npos; };
    if (name == "output.weight") return Category::Output;
    if (name == "token_embd.weight") return Category::TokenEmbd;
    if (has("attn_v.weight")) return Category::AttnV;
    if (has("attn_qkv.weight")) return Category::AttnQkv;
    if (has("attn_output.weight")) return Category::AttnOutput;
    if (has("ffn_down")) return Category::FfnDown;
    return Category::Other;
}

bool quantized(const std::string& name, const std::vector<int64_t>& ne) {
    int dims = 0;  // ggml_n_dims: up to the last dimension larger than 1
    for (size_t d = 0; d < ne.size(); ++d)
        if (ne[d] > 1) dims = int(d) + 1;
    const bool endsWithWeight = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
    return std::max(dims, 1) >= 2 && endsWithWeight &&
           name.find("_norm.weight") == std::string::npos;
}

int layerOf(const std::string& name) {
    if (name.rfind("blk.", 0) != 0) return 0;
    return std::atoi(name.c_str() + 4);
}

GgmlType baseType(GgmlMix mix) {
    switch (mix) {
        case GgmlMix::Q4_0:
            return GgmlType::Q4_0;
        case GgmlMix::Q4_1:
            return GgmlType::Q4_1;
        case GgmlMix::Q5_0:
            return GgmlType::Q5_0;
        case GgmlMix::Q5_1:
            return GgmlType::Q5_1;
        case GgmlMix::Q8_0:
            return GgmlType::Q8_0;
        case GgmlMix::Q2_K:
            return GgmlType::Q2_K;
        case GgmlMix::Q3_K_S:
        case GgmlMix::Q3_K_M:
        case GgmlMix::Q3_K_L:
            return GgmlType::Q3_K;
        case GgmlMix::Q4_K_S:
        case GgmlMix::Q4_K_M:
            return GgmlType::Q4_K;
        case GgmlMix::Q5_K_S:
        case GgmlMix::Q5_K_M:
            return GgmlType::Q5_K;
        case GgmlMix::Q6_K:
            return GgmlType::Q6_K;
    }
    return GgmlType::Q8_0;
}

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third between.
bool moreBits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

uint32_t blockOf(GgmlType t) {
    return ggmlTypeTraits(uint32_t(t))->blockValues;
}

GgmlType byCategory(GgmlMix mix, Category c, GgmlType t, int64_t rowLength, int layer,
                    const GgmlMixModel& m) {
    switch (c) {
        case Category::Output:
        case Category::TokenEmbd:  // only when tied (the caller checks)
            if (rowLength % blockOf(t) != 0) return GgmlType::Q8_0;
            return t == GgmlType::Q8_0 ? t : GgmlType::Q6_K;
        case Category::AttnV:
        case Category::AttnQkv:
            if (c == Category::AttnQkv) {
                if (mix == GgmlMix::Q3_K_M || mix == GgmlMix::Q3_K_L) return GgmlType::Q4_K;
                if (mix == GgmlMix::Q4_K_M) return GgmlType::Q5_K;
                if (mix == GgmlMix::Q5_K_M) return GgmlType::Q6_K;
                return t;
            }
            if (mix == GgmlMix::Q2_K) return m.gqa >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
            if (mix == GgmlMix::Q3_K_M) return layer < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
            if (mix == GgmlMix::Q3_K_L) return GgmlType::Q5_K;
            if ((mix == GgmlMix::Q4_K_M || mix == GgmlMix::Q5_K_M) && moreBits(layer, m.layers))
                return GgmlType::Q6_K;
            if (mix == GgmlMix::Q4_K_S && layer < 4) return GgmlType::Q5_K;
            return t;
        case Category::FfnDown:
            if (mix == GgmlMix::Q2_K) return GgmlType::Q3_K;
            if (mix == GgmlMix::Q3_K_M)
                return layer < m.layers / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
            if (mix == GgmlMix::Q3_K_L) return GgmlType::Q5_K;
            if (mix == GgmlMix::Q4_K_M) return moreBits(layer, m.layers) ? GgmlType::Q6_K : t;
            if (mix == GgmlMix::Q5_K_M && moreBits(layer, m.layers)) return GgmlType::Q6_K;
            if (mix == GgmlMix::Q4_K_S && layer < m.layers / 8) return GgmlType::Q5_K;
            return t;
        case Category::AttnOutput:
            if (mix == GgmlMix::Q2_K) return GgmlType::Q3_K;
            if (mix == GgmlMix::Q3_K_M) return GgmlType::Q4_K;
            if (mix == GgmlMix::Q3_K_L) return GgmlType::Q5_K;
            return t;
        case Category::Other:
            return t;
    }
    return t;
}

bool isKQuant(GgmlType t) {
    return blockOf(t) == 256;
}

// A k-quant whose 256 does not divide the row: the reference commit's replacement, then F16
// when even that block does not divide it. (Q2_K / Q3_K go to IQ4_NL here, a type QuantLens
// can name but not quantize; the q2_k / q3_k recipes use Q4_0 instead, see ggml_recipe.cpp.)
GgmlType shapeFallback(GgmlType t, int64_t rowLength) {
    if (!isKQuant(t) || rowLength % 256 == 0) return t;
    GgmlType next = GgmlType::IQ4_NL;
    if (t == GgmlType::Q4_K) next = GgmlType::Q5_0;
    if (t == GgmlType::Q5_K) next = GgmlType::Q5_1;
    if (t == GgmlType::Q6_K) next = GgmlType::Q8_0;
    return rowLength % blockOf(next) == 0 ? next : GgmlType::F16;
}

}  // namespace

std::optional<GgmlMix> ggmlMixFromFileType(int fileType) {
    for (int v : {2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18})
        if (v == fileType) return GgmlMix(v);
    return std::nullopt;
}

std::string ggmlMixName(GgmlMix mix) {
    switch (mix) {
        case GgmlMix::Q4_0:
            return "Q4_0";
        case GgmlMix::Q4_1:
            return "Q4_1";
        case GgmlMix::Q8_0:
            return "Q8_0";
        case GgmlMix::Q5_0:
            return "Q5_0";
        case GgmlMix::Q5_1:
            return "Q5_1";
        case GgmlMix::Q2_K:
            return "Q2_K";
        case GgmlMix::Q3_K_S:
            return "Q3_K_S";
        case GgmlMix::Q3_K_M:
            return "Q3_K_M";
        case GgmlMix::Q3_K_L:
            return "Q3_K_L";
        case GgmlMix::Q4_K_S:
            return "Q4_K_S";
        case GgmlMix::Q4_K_M:
            return "Q4_K_M";
        case GgmlMix::Q5_K_S:
            return "Q5_K_S";
        case GgmlMix::Q5_K_M:
            return "Q5_K_M";
        case GgmlMix::Q6_K:
            return "Q6_K";
    }
    return "?";
}

std::optional<GgmlMix> parseGgmlMix(std::string_view name) {
    std::string upper(name);
    for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
    for (int v : {2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18})
        if (ggmlMixName(GgmlMix(v)) == upper) return GgmlMix(v);
    return std::nullopt;
}

std::optional<GgmlType> ggmlMixChoice(GgmlMix mix, const std::string& name,
                                      const std::vector<int64_t>& ne, const GgmlMixModel& model) {
    if (!quantized(name, ne)) return std::nullopt;
    const int64_t rowLength = ne.empty() ? 1 : ne[0];
    GgmlType t = baseType(mix);
    if (!model.pure) {
        Category c = categoryOf(name);
        if (c == Category::TokenEmbd && model.hasOutput) c = Category::Other;
        t = byCategory(mix, c, t, rowLength, layerOf(name), model);
    }
    return t;
}

std::optional<GgmlType> ggmlMixType(GgmlMix mix, const std::string& name,
                                    const std::vector<int64_t>& ne, const GgmlMixModel& model) {
    const std::optional<GgmlType> t = ggmlMixChoice(mix, name, ne, model);
    if (!t) return std::nullopt;
    return shapeFallback(*t, ne.empty() ? 1 : ne[0]);
}

}  // namespace ql
