// GGUF files as models: the config from llama.cpp's metadata keys, the tensors under Hugging Face
// names, dequantized on demand (quantized_source.h: TensorStore::open hands them to the engine).
#include "io/gguf_model.h"

#include "base/error.h"
#include "base/gguf_names.h"
#include "io/gguf.h"
#include "quant/ggml_quants.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

namespace ql {

namespace {

struct ArchInfo {
    const char* gguf;
    Architecture architecture;
    const char* hfClass;
};

constexpr ArchInfo kArchitectures[] = {
    {"llama", Architecture::Llama, "LlamaForCausalLM"},
    {"qwen2", Architecture::Qwen2, "Qwen2ForCausalLM"},
    {"qwen3", Architecture::Qwen3, "Qwen3ForCausalLM"},
};

[[noreturn]] void failKey(const GgufFile& f, const std::string& key, const std::string& why) {
    throw Error(f.path() + ": metadata '" + key + "' " + why);
}

std::optional<int64_t> optionalInt(const GgufFile& f, const std::string& key) {
    const GgufValue* v = f.find(key);
    if (!v) return std::nullopt;
    if (v->type == GgufValueType::Array)
        failKey(f, key, "is an array (per-layer values are not supported)");
    if (!v->isInteger() || v->type == GgufValueType::Bool) failKey(f, key, "is not an integer");
    const bool isSigned = v->type == GgufValueType::I8 || v->type == GgufValueType::I16 ||
                          v->type == GgufValueType::I32 || v->type == GgufValueType::I64;
    const int64_t n = isSigned ? v->i : int64_t(v->u);
    if (n < 0 || n > (int64_t(1) << 31) - 1) failKey(f, key, "is out of range");
    return n;
}

int requiredPositive(const GgufFile& f, const std::string& key) {
    const std::optional<int64_t> n = optionalInt(f, key);
    if (!n) failKey(f, key, "is missing");
    if (*n <= 0) failKey(f, key, "is 0, expected a positive number");
    return int(*n);
}

// A float key as the decimal it was written from: the shortest text that reads back as the
// same float32 (1e-06, not 9.99999997e-07), since converters store config values as F32.
std::optional<double> optionalFloat(const GgufFile& f, const std::string& key) {
    const GgufValue* v = f.find(key);
    if (!v) return std::nullopt;
    if (v->type == GgufValueType::F64) return v->f;
    if (v->type != GgufValueType::F32) failKey(f, key, "is not a float");
    const float value = float(v->f);
    char text[32];
    for (int digits = 6; digits <= 9; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, double(value));
        if (std::strtof(text, nullptr) == value) break;
    }
    const double d = std::strtod(text, nullptr);
    if (!std::isfinite(d) || d <= 0) failKey(f, key, "is not a positive number");
    return d;
}

const ArchInfo& architectureOf(const GgufFile& f) {
    const GgufValue* arch = f.find("general.architecture");
    if (!arch || arch->type != GgufValueType::String)
        failKey(f, "general.architecture", "is missing or not a string");
    for (const ArchInfo& a : kArchitectures)
        if (arch->s == a.gguf) return a;
    failKey(f, "general.architecture",
            "is '" + arch->s + "', which QuantLens cannot open (llama, qwen2, qwen3 are)");
}

void checkRope(const GgufFile& f, const std::string& arch, const ModelConfig& c) {
    const std::string scaling = arch + ".rope.scaling.type";
    if (const GgufValue* v = f.find(scaling);
        v && !(v->type == GgufValueType::String && (v->s == "none" || v->s.empty())))
        failKey(f, scaling, "is '" + v->toString() + "': RoPE scaling is not supported");
    if (f.findTensor("rope_freqs.weight"))
        throw Error(f.path() +
                    ": tensor 'rope_freqs.weight' (RoPE frequency factors, Llama 3.1 "
                    "style scaling) is not supported");
    const std::string dims = arch + ".rope.dimension_count";
    if (const auto n = optionalInt(f, dims); n && *n != c.headDim)
        failKey(f, dims,
                "is " + std::to_string(*n) + " but the head size is " + std::to_string(c.headDim) +
                    ": partial rotary embeddings are not supported");
}

int vocabOf(const GgufFile& f, const std::string& arch) {
    if (const auto n = optionalInt(f, arch + ".vocab_size")) return int(*n);
    if (const GgufTensor* t = f.findTensor("token_embd.weight"); t && t->ne.size() == 2)
        return int(t->ne[1]);
    if (const GgufValue* tokens = f.find("tokenizer.ggml.tokens"))
        return int(tokens->elements.size());
    failKey(f, arch + ".vocab_size", "is missing (and so are token_embd.weight and the tokens)");
}

}  // namespace

bool isGgufFile(const std::string& path) {
    // Regular files only: opening a FIFO (or a device) to read its magic would block or
    // consume it; such paths are refused later with their own message.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return false;
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    return in.is_open() && in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

ModelConfig ggufModelConfig(const GgufFile& f) {
    const ArchInfo& a = architectureOf(f);
    const std::string arch = a.gguf;
    ModelConfig c;
    c.architectureName = a.hfClass;
    c.architecture = a.architecture;
    c.modelType = arch;
    c.hiddenSize = requiredPositive(f, arch + ".embedding_length");
    c.intermediateSize = requiredPositive(f, arch + ".feed_forward_length");
    c.numLayers = requiredPositive(f, arch + ".block_count");
    c.numHeads = requiredPositive(f, arch + ".attention.head_count");
    const std::string kv = arch + ".attention.head_count_kv";
    c.numKvHeads = f.find(kv) ? requiredPositive(f, kv) : c.numHeads;
    if (c.numHeads % c.numKvHeads != 0)
        failKey(f, kv,
                "(" + std::to_string(c.numKvHeads) + ") does not divide the head count " +
                    std::to_string(c.numHeads));
    const std::string keyLength = arch + ".attention.key_length";
    if (f.find(keyLength)) {
        c.headDim = requiredPositive(f, keyLength);
    } else {
        if (c.hiddenSize % c.numHeads != 0)
            failKey(f, arch + ".attention.head_count",
                    "does not divide embedding_length and there is no attention.key_length");
        c.headDim = c.hiddenSize / c.numHeads;
    }
    c.vocabSize = vocabOf(f, arch);
    c.maxPositions = int(optionalInt(f, arch + ".context_length").value_or(2048));
    c.ropeTheta = optionalFloat(f, arch + ".rope.freq_base").value_or(10000.0);
    const std::string eps = arch + ".attention.layer_norm_rms_epsilon";
    const std::optional<double> rmsEps = optionalFloat(f, eps);
    if (!rmsEps) failKey(f, eps, "is missing");
    c.rmsNormEps = *rmsEps;
    c.tieWordEmbeddings = f.findTensor("output.weight") == nullptr;
    c.attentionBias = a.architecture == Architecture::Qwen2 || f.findTensor("blk.0.attn_q.bias");
    c.qkNorm = a.architecture == Architecture::Qwen3 || f.findTensor("blk.0.attn_q_norm.weight");
    c.bosTokenId = int(optionalInt(f, "tokenizer.ggml.bos_token_id").value_or(-1));
    c.eosTokenId = int(optionalInt(f, "tokenizer.ggml.eos_token_id").value_or(-1));
    c.torchDtype = "float32";
    checkRope(f, arch, c);
    return c;
}

std::vector<float> unpermuteLlamaRows(const std::vector<float>& w, int64_t rows, int64_t cols,
                                      int heads) {
    const int64_t hd = rows / heads, half = hd / 2;
    std::vector<float> out(w.size());
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t s = 0; s < 2; ++s)
            for (int64_t j = 0; j < half; ++j)
                std::memcpy(&out[size_t((h * hd + s * half + j) * cols)],
                            &w[size_t((h * hd + 2 * j + s) * cols)], size_t(cols) * 4);
    return out;
}

namespace {

bool readable(GgmlType t) {
    return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16 || ggmlQuantizable(t);
}

class GgufModelSource : public QuantizedWeightsSource {
public:
    explicit GgufModelSource(const std::string& path) : file_(path) {
        const ModelConfig c = ggufModelConfig(file_);
        permuteQk_ = c.architecture == Architecture::Llama;
        heads_ = c.numHeads;
        kvHeads_ = c.numKvHeads;
        for (const GgufTensor& t : file_.tensors()) addTensor(t);
    }

    std::string formatName() const override { return "gguf"; }
    const std::vector<QuantizedTensorInfo>& tensors() const override { return tensors_; }
    const std::vector<std::string>& packedNames() const override { return packed_; }
    std::string modelFile() const override { return file_.path(); }

    std::vector<float> dequantize(const std::string& name) const override {
        const auto it = byName_.find(name);
        if (it == byName_.end()) throw Error(file_.path() + ": no tensor '" + name + "'");
        const GgufTensor& t = *it->second;
        std::vector<float> v =
            t.type == GgmlType::F32 || t.type == GgmlType::F16 || t.type == GgmlType::BF16
                ? file_.readFloat(t)
                : ggmlDequantize(t.type, file_.data(t), t.numel());
        const bool q = t.name.find(".attn_q.weight") != std::string::npos;
        const bool k = t.name.find(".attn_k.weight") != std::string::npos;
        if (permuteQk_ && (q || k))
            v = unpermuteLlamaRows(v, t.rows(), t.rowLength(), q ? heads_ : kvHeads_);
        return v;
    }

private:
    void addTensor(const GgufTensor& t) {
        const std::optional<std::string> hf = hfTensorName(t.name);
        if (!hf)
            throw Error(file_.path() + ": tensor '" + t.name +
                        "' has no Hugging Face counterpart QuantLens knows");
        if (!readable(t.type))
            throw Error(file_.path() + ": tensor '" + t.name + "' is " + ggmlTypeName(t.type) +
                        ", which QuantLens cannot dequantize (F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
                        "Q5_0, Q5_1, Q2_K .. Q6_K can be)");
        QuantizedTensorInfo info;
        info.name = *hf;
        info.shape.assign(t.ne.rbegin(), t.ne.rend());
        info.typeLabel = ggmlTypeName(t.type);
        info.packedBytes = t.bytes;
        info.file = file_.path();
        tensors_.push_back(info);
        byName_[*hf] = &t;
    }

    GgufFile file_;
    bool permuteQk_ = false;
    int heads_ = 1, kvHeads_ = 1;
    std::vector<QuantizedTensorInfo> tensors_;
    std::vector<std::string> packed_;  // none: the GGUF tensors are not in the safetensors view
    std::map<std::string, const GgufTensor*> byName_;
};

}  // namespace

std::shared_ptr<QuantizedWeightsSource> openGgufModelSource(const std::string& path) {
    return std::make_shared<GgufModelSource>(path);
}

}  // namespace ql
