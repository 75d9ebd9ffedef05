// validateModel: the config.json <-> checkpoint consistency check (see model_check.h).
#include "io/model_check.h"

#include "base/error.h"

#include <cstdlib>

namespace ql {

namespace {

std::string shapeText(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

struct Checker {
    const TensorStore& store;
    const std::string& configPath;

    // `why` names the config fields the expected shape comes from.
    void expect(const std::string& name, const std::vector<int64_t>& shape,
                const std::string& why) const {
        const TensorInfo* t = store.find(name);
        if (!t)
            throw Error(checkpoint() + ": tensor '" + name + "' is missing (" + configPath +
                        " implies shape " + shapeText(shape) + " from " + why + ")");
        if (t->shape != shape)
            throw Error(t->file + ": tensor '" + name + "' has shape " + shapeText(t->shape) +
                        " but " + configPath + " implies " + shapeText(shape) + " (" + why + ")");
        if (!isFloatDType(t->dtype))
            throw Error(t->file + ": tensor '" + name + "' has dtype " + dtypeName(t->dtype) +
                        ", expected a float type (F32, F16, BF16 or F64)");
    }
    void expectIfPresent(const std::string& name, const std::vector<int64_t>& shape,
                         const std::string& why) const {
        if (store.find(name)) expect(name, shape, why);
    }
    std::string checkpoint() const {
        const auto files = store.files();
        return files.empty() ? std::string("checkpoint") : files.front();
    }
};

// Largest N of a "model.layers.N." tensor name, or -1.
long highestLayer(const TensorStore& store, std::string& example) {
    const std::string prefix = "model.layers.";
    long highest = -1;
    for (const auto& name : store.names()) {
        if (name.compare(0, prefix.size(), prefix) != 0) continue;
        char* end = nullptr;
        const long n = std::strtol(name.c_str() + prefix.size(), &end, 10);
        if (end && *end == '.' && n > highest && n < (1L << 30)) {
            highest = n;
            example = name;
        }
    }
    return highest;
}

void checkBlock(const Checker& check, const ModelConfig& c, int b) {
    const int64_t hidden = c.hiddenSize, inter = c.intermediateSize;
    const int64_t qOut = int64_t(c.numHeads) * c.headDim;
    const int64_t kvOut = int64_t(c.numKvHeads) * c.headDim;
    const std::string p = "model.layers." + std::to_string(b) + ".";
    check.expect(p + "input_layernorm.weight", {hidden}, "hidden_size");
    check.expect(p + "post_attention_layernorm.weight", {hidden}, "hidden_size");
    if (c.qkNorm) {
        check.expect(p + "self_attn.q_norm.weight", {c.headDim}, "head_dim");
        check.expect(p + "self_attn.k_norm.weight", {c.headDim}, "head_dim");
    }
    struct Spec {
        const char* name;
        int64_t out, in;
        const char* why;
        bool qkv;
    };
    const Spec specs[] = {
        {"self_attn.q_proj", qOut, hidden, "num_attention_heads x head_dim, hidden_size", true},
        {"self_attn.k_proj", kvOut, hidden, "num_key_value_heads x head_dim, hidden_size", true},
        {"self_attn.v_proj", kvOut, hidden, "num_key_value_heads x head_dim, hidden_size", true},
        {"self_attn.o_proj", hidden, qOut, "hidden_size, num_attention_heads x head_dim", false},
        {"mlp.gate_proj", inter, hidden, "intermediate_size, hidden_size", false},
        {"mlp.up_proj", inter, hidden, "intermediate_size, hidden_size", false},
        {"mlp.down_proj", hidden, inter, "hidden_size, intermediate_size", false},
    };
    for (const Spec& s : specs) {
        check.expect(p + s.name + ".weight", {s.out, s.in}, s.why);
        const std::string bias = p + s.name + ".bias";
        if (s.qkv && c.attentionBias)
            check.expect(bias, {s.out},
                         c.architecture == Architecture::Qwen2 ? "Qwen2 has q/k/v biases"
                                                               : "attention_bias is true");
        else
            check.expectIfPresent(bias, {s.out}, "the layer's output size");
    }
}

}  // namespace

void validateModel(const ModelConfig& c, const TensorStore& store, const std::string& configPath) {
    const Checker check{store, configPath};
    const int64_t vocab = c.vocabSize, hidden = c.hiddenSize;
    const bool hasEmbed = store.find("model.embed_tokens.weight") != nullptr;
    const bool hasHead = store.find("lm_head.weight") != nullptr;
    const std::string embedWhy =
        "vocab_size " + std::to_string(vocab) + ", hidden_size " + std::to_string(hidden);
    // A tied embedding may be stored under either name.
    if (!(c.tieWordEmbeddings && hasHead && !hasEmbed))
        check.expect("model.embed_tokens.weight", {vocab, hidden}, embedWhy);
    if (c.tieWordEmbeddings)
        check.expectIfPresent("lm_head.weight", {vocab, hidden}, embedWhy);
    else
        check.expect("lm_head.weight", {vocab, hidden},
                     embedWhy + "; tie_word_embeddings is false, so the output head is separate");
    check.expect("model.norm.weight", {hidden}, "hidden_size");
    std::string example;
    const long highest = highestLayer(store, example);
    if (highest >= c.numLayers)
        throw Error(configPath + ": num_hidden_layers is " + std::to_string(c.numLayers) +
                    " but the checkpoint has " + std::to_string(highest + 1) + " layers (" +
                    example + "); expected them to match");
    for (int b = 0; b < c.numLayers; ++b) checkBlock(check, c, b);
}

}  // namespace ql
