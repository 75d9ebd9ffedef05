// GGUF export: the type of every tensor (the run's layers, then the policy for the rest), the
// tensor order (sorted Hugging Face names as convert_hf_to_gguf.py; llama-quantize's order for
// quantized files) and each tensor's bytes, produced one at a time while the file is written.
#include "run/gguf_export.h"

#include "base/error.h"
#include "base/gguf_names.h"
#include "io/gguf_model.h"
#include "io/gguf_writer.h"
#include "io/model_check.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "quant/ggml_mix.h"
#include "quant/ggml_quants.h"
#include "quant/method_registry.h"
#include "run/gguf_meta.h"
#include "run/run_internal.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace ql {

namespace {

// What the file holds, decided before anything is written.
struct Plan {
    std::string modelDir;
    ModelConfig config;
    std::map<std::string, GgmlType> layerTypes;  // Hugging Face layer name -> type
    GgmlType floatType = GgmlType::F32;          // 2-D tensors of float exports
    std::optional<GgmlMix> mix;                  // quantized: llama-quantize's file type
    bool pure = false;                           // single-type recipe: --pure for the rest
    uint32_t fileType = 0;
    bool llamaQuantizeTypes = false;
};

// A layer's recipe text as a ggml type (q8_0 .. q6_k, fp16, bf16).
GgmlType typeOfMethod(const std::string& layer, const std::string& method) {
    if (method == "fp16") return GgmlType::F16;
    if (method == "bf16") return GgmlType::BF16;
    for (GgmlType t : ggmlBlockTypes()) {
        std::string name = ggmlTypeName(t);
        for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
        if (name == method) return t;
    }
    throw Error("layer '" + layer + "' is quantized with '" + method +
                "', which GGUF cannot hold (llama.cpp formats q8_0 .. q6_k and their mixes, "
                "fp16, bf16 can be exported)");
}

// llama-quantize's file type (llama_ftype) of a recipe, and whether the other tensors follow
// its default mix or --pure. A legacy type (q4_0 ..) gives every projection that type, as
// llama-quantize's default mix of it does (which only changes the output head); a single
// k-quant (q4_k ..) gives every projection one type, which only --pure does.
void fileTypeOf(const Recipe& r, Plan& p) {
    static const std::map<QuantMethod, std::pair<GgmlMix, bool>> kinds = {
        {QuantMethod::Q8_0, {GgmlMix::Q8_0, false}},
        {QuantMethod::Q4_0, {GgmlMix::Q4_0, false}},
        {QuantMethod::Q4_1, {GgmlMix::Q4_1, false}},
        {QuantMethod::Q5_0, {GgmlMix::Q5_0, false}},
        {QuantMethod::Q5_1, {GgmlMix::Q5_1, false}},
        {QuantMethod::Q2_K, {GgmlMix::Q2_K, true}},
        {QuantMethod::Q3_K, {GgmlMix::Q3_K_S, true}},
        {QuantMethod::Q4_K, {GgmlMix::Q4_K_S, true}},
        {QuantMethod::Q5_K, {GgmlMix::Q5_K_S, true}},
        {QuantMethod::Q6_K, {GgmlMix::Q6_K, true}},
        {QuantMethod::Q2_K_Mix, {GgmlMix::Q2_K, false}},
        {QuantMethod::Q3_K_S, {GgmlMix::Q3_K_S, false}},
        {QuantMethod::Q3_K_M, {GgmlMix::Q3_K_M, false}},
        {QuantMethod::Q3_K_L, {GgmlMix::Q3_K_L, false}},
        {QuantMethod::Q4_K_S, {GgmlMix::Q4_K_S, false}},
        {QuantMethod::Q4_K_M, {GgmlMix::Q4_K_M, false}},
        {QuantMethod::Q5_K_S, {GgmlMix::Q5_K_S, false}},
        {QuantMethod::Q5_K_M, {GgmlMix::Q5_K_M, false}},
    };
    if (r.quantizesActivations())
        throw Error("recipe '" + r.toString() +
                    "' quantizes activations, which a GGUF file cannot describe");
    if (r.smooth)
        throw Error("recipe '" + r.toString() +
                    "' smooths the inputs (SmoothQuant), which a GGUF file cannot describe");
    if (r.method == QuantMethod::Fp16 || r.method == QuantMethod::Bf16) {
        p.floatType = r.method == QuantMethod::Fp16 ? GgmlType::F16 : GgmlType::BF16;
        p.fileType = r.method == QuantMethod::Fp16 ? 1 : 32;
        return;
    }
    const auto it = kinds.find(r.method);
    if (it == kinds.end())
        throw Error("recipe '" + r.toString() +
                    "' has no GGUF form (llama.cpp formats q8_0 .. q6_k and their mixes, f32, "
                    "f16, bf16 can be exported)");
    p.mix = it->second.first;
    p.pure = it->second.second;
    p.fileType = uint32_t(p.mix.value());
}

int gqaOf(const ModelConfig& c) {
    return c.numKvHeads > 0 ? std::max(1, c.numHeads / c.numKvHeads) : 1;
}

// The type of a tensor that is not one of the run's layers.
GgmlType otherType(const Plan& p, const std::string& gguf, const std::vector<int64_t>& ne,
                   bool hasOutput) {
    const bool matrix = ne.size() >= 2 && ne[1] > 1;
    if (!matrix) return GgmlType::F32;
    if (!p.mix) return p.floatType;
    if (!p.llamaQuantizeTypes) return GgmlType::F32;
    const GgmlMixModel m{p.config.numLayers, gqaOf(p.config), hasOutput, p.pure};
    const std::optional<GgmlType> t = ggmlMixType(*p.mix, gguf, ne, m);
    if (!t) return GgmlType::F32;
    // llama-quantize's IQ4_NL (not implemented) -> Q4_0, as the q2_k / q3_k recipes do.
    const GgmlType chosen = *t == GgmlType::IQ4_NL ? GgmlType::Q4_0 : *t;
    return ne[0] % int64_t(ggmlTypeTraits(uint32_t(chosen))->blockValues) == 0 ? chosen
                                                                               : GgmlType::F16;
}

// llama.cpp's RoPE layout of attn_q / attn_k (convert_hf_to_gguf.py LlamaModel.permute):
// HF row h*hd + s*hd/2 + j becomes row h*hd + 2*j + s.
std::vector<float> permuteRows(const std::vector<float>& w, int64_t rows, int64_t cols, int heads) {
    const int64_t hd = rows / heads, half = hd / 2;
    std::vector<float> out(w.size());
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t s = 0; s < 2; ++s)
            for (int64_t j = 0; j < half; ++j)
                std::memcpy(&out[size_t((h * hd + 2 * j + s) * cols)],
                            &w[size_t((h * hd + s * half + j) * cols)], size_t(cols) * 4);
    return out;
}

std::vector<uint8_t> encode(GgmlType t, const std::vector<float>& w, int64_t rows, int64_t cols) {
    if (t == GgmlType::F32) {
        std::vector<uint8_t> b(w.size() * 4);
        std::memcpy(b.data(), w.data(), b.size());
        return b;
    }
    if (t == GgmlType::BF16) {  // ggml_compute_fp32_to_bf16: round to nearest even
        std::vector<uint8_t> b(w.size() * 2);
        for (size_t i = 0; i < w.size(); ++i) {
            uint32_t u;
            std::memcpy(&u, &w[i], 4);
            const uint16_t h = (u & 0x7fffffff) > 0x7f800000
                                   ? uint16_t((u >> 16) | 64)
                                   : uint16_t((u + (0x7fff + ((u >> 16) & 1))) >> 16);
            std::memcpy(&b[2 * i], &h, 2);
        }
        return b;
    }
    return ggmlQuantize(t, w.data(), rows, cols);
}

// Tensor order: convert's (sorted Hugging Face names) for float files, llama-quantize's
// (outside the layers sorted by GGUF name, then layer by layer sorted by name) otherwise.
std::vector<std::pair<std::string, std::string>> tensorOrder(const TensorStore& store,
                                                             bool quantized) {
    std::vector<std::pair<std::string, std::string>> out;  // (HF name, GGUF name)
    for (const std::string& hf : store.names()) {
        const std::optional<std::string> g = ggufTensorName(hf);
        if (!g) continue;  // e.g. rotary_emb.inv_freq: llama.cpp recomputes it
        out.emplace_back(hf, *g);
    }
    if (!quantized) return out;
    const auto key = [](const std::string& g) {
        const int layer = g.rfind("blk.", 0) == 0 ? std::atoi(g.c_str() + 4) : -1;
        return std::make_pair(layer, g);
    };
    std::stable_sort(out.begin(), out.end(),
                     [&](const auto& a, const auto& b) { return key(a.second) < key(b.second); });
    return out;
}

void writePlan(const Plan& p, const std::string& outPath, const ProgressCallback& progress = {}) {
    const auto store = TensorStore::open(p.modelDir);
    validateModel(p.config, *store, modelConfigSource(p.modelDir));
    const bool quantized = p.mix.has_value();
    const bool hasOutput = store->find("lm_head.weight") != nullptr;
    const bool permute = ggufArchitecture(p.config) == "llama";
    GgufWriter w;
    uint64_t parameters = 0;
    for (const auto& [hf, g] : tensorOrder(*store, quantized)) {
        const TensorInfo& t = store->get(hf);
        parameters += uint64_t(t.numel());
        std::vector<int64_t> ne(t.shape.rbegin(), t.shape.rend());
        if (ne.empty()) ne.push_back(1);
        const std::string layer = hf.substr(0, hf.size() - std::string(".weight").size());
        const auto it = p.layerTypes.find(layer);
        const GgmlType type =
            it != p.layerTypes.end() ? it->second : otherType(p, g, ne, hasOutput);
        const int64_t cols = ne[0], rows = t.numel() / std::max<int64_t>(cols, 1);
        const bool isQ = g.find("attn_q.weight") != std::string::npos;
        const bool isK = g.find("attn_k.weight") != std::string::npos;
        const int heads = isQ ? p.config.numHeads : p.config.numKvHeads;
        w.addTensor(g, ne, type,
                    [store, hf = hf, type, rows, cols, heads, perm = permute && (isQ || isK)] {
                        std::vector<float> v = store->readFloat(hf);
                        store->releasePages(store->get(hf));
                        if (perm) v = permuteRows(v, rows, cols, heads);
                        return encode(type, v, rows, cols);
                    });
    }
    // Keys and tensors are separate sections: the keys may be added after the tensors.
    if (isGgufFile(p.modelDir))  // a GGUF model: its own keys, as llama-quantize keeps them
        addGgufMetadataFrom(w, GgufFile(p.modelDir), p.fileType, quantized);
    else
        addGgufMetadata(w, p.config, p.modelDir, parameters, p.fileType, quantized);
    w.write(outPath, progress);
}

Plan planFor(const std::string& modelDir, const Recipe& recipe, const GgufExportOptions& o) {
    Plan p;
    p.modelDir = modelDir;
    p.config = loadModelConfigOf(modelDir);
    p.llamaQuantizeTypes = o.llamaQuantizeTypes;
    fileTypeOf(recipe, p);
    return p;
}

// Everything exportRunGguf decides before it reads a tensor; throws what it would throw.
Plan runPlan(const RunResult& run, const GgufExportOptions& options) {
    Plan p = planFor(run.config.modelDir, Recipe::parse(run.config.recipe), options);
    for (const LayerResult& l : run.layers) p.layerTypes[l.name] = typeOfMethod(l.name, l.method);
    if (!isGgufFile(p.modelDir)) checkGgufMetadataSource(p.config, p.modelDir);
    return p;
}

}  // namespace

std::string whyNotGgufExportable(const RunResult& run) {
    try {
        runPlan(run, {});
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

void exportRunGguf(const RunResult& run, const std::string& outPath,
                   const GgufExportOptions& options, const ProgressCallback& progress) {
    writePlan(runPlan(run, options), outPath, progress);
}

void exportModelGguf(const std::string& modelDir, const std::string& recipe,
                     const std::string& outPath, const GgufExportOptions& options) {
    if (recipe == "f32" || recipe == "fp32") {
        Plan p;
        p.modelDir = modelDir;
        p.config = loadModelConfigOf(modelDir);
        writePlan(p, outPath);
        return;
    }
    const Recipe r = Recipe::parse(recipe == "f16" ? "fp16" : recipe);
    Plan p = planFor(modelDir, r, options);
    if (p.mix) {
        const auto store = TensorStore::open(modelDir);
        for (const LinearLayerInfo& l : checkpointLinears(*store, p.config.numLayers)) {
            const ShapedRecipe s = recipeForLayer(r, layerPlace(p.config, l));
            p.layerTypes[l.name] = typeOfMethod(l.name, s.recipe.toString());
        }
    }
    writePlan(p, outPath);
}

}  // namespace ql
