// GGUF checkpoints as quantized weights: name mapping, shape check, dequantization, and the
// inverse of convert_hf_to_gguf.py's q/k row permutation for Llama.
#include "run/gguf_source.h"

#include "base/error.h"
#include "base/gguf_names.h"
#include "io/gguf.h"
#include "io/gguf_model.h"
#include "quant/ggml_mix.h"
#include "quant/ggml_quants.h"

#include <cstring>

namespace ql {

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The recipe word of llama-quantize's file type (q2_k_mix for its Q2_K mix, q6_k for Q6_K, ..).
std::string recipeOfFileType(uint64_t fileType, const std::string& path) {
    if (fileType == 1) return "fp16";
    if (fileType == 32) return "bf16";
    const std::optional<GgmlMix> mix = ggmlMixFromFileType(int(fileType));
    if (!mix)
        throw Error(path + ": general.file_type " + std::to_string(fileType) +
                    (fileType == 0 ? " (all F32) is not a quantized file"
                                   : " is not a llama.cpp type QuantLens knows"));
    if (*mix == GgmlMix::Q2_K) return "q2_k_mix";
    return lower(ggmlMixName(*mix));
}

uint64_t integerKey(const GgufFile& f, const std::string& key) {
    const GgufValue* v = f.find(key);
    if (!v || !v->isInteger()) throw Error(f.path() + ": metadata '" + key + "' missing");
    return v->type == GgufValueType::I32 || v->type == GgufValueType::I64 ? uint64_t(v->i) : v->u;
}

class GgufWeights : public QuantizedCheckpoint {
public:
    explicit GgufWeights(const std::string& path) : file_(path) {
        const GgufValue* arch = file_.find("general.architecture");
        if (!arch || arch->type != GgufValueType::String)
            throw Error(path + ": metadata 'general.architecture' missing");
        arch_ = arch->s;
        if (arch_ != "llama" && arch_ != "qwen2" && arch_ != "qwen3")
            throw Error(path + ": architecture '" + arch_ +
                        "' is not supported (llama, qwen2, qwen3 are)");
        heads_ = int(integerKey(file_, arch_ + ".attention.head_count"));
        const GgufValue* kv = file_.find(arch_ + ".attention.head_count_kv");
        kvHeads_ = kv ? int(integerKey(file_, arch_ + ".attention.head_count_kv")) : heads_;
        recipe_ = recipeOfFileType(integerKey(file_, "general.file_type"), path);
    }

    const std::string& path() const override { return file_.path(); }
    std::string recipe() const override { return recipe_; }

    QuantizedWeight layer(const std::string& name, int64_t rows, int64_t cols) const override {
        const std::optional<std::string> g = ggufLinearName(name);
        const GgufTensor* t = g ? file_.findTensor(*g) : nullptr;
        if (!t)
            throw Error(path() + ": no tensor for layer '" + name + "'" +
                        (g ? " (expected '" + *g + "')" : ""));
        if (t->ne.size() != 2 || t->ne[0] != cols || t->ne[1] != rows)
            throw Error(path() + ": tensor '" + t->name + "' has another shape than '" + name +
                        "' of the original (" + std::to_string(rows) + " x " +
                        std::to_string(cols) + ")");
        QuantizedWeight w;
        w.method = methodOf(*t);
        if (t->type == GgmlType::F16 || t->type == GgmlType::BF16)
            w.values = file_.readFloat(*t);
        else
            w.values = ggmlDequantize(t->type, file_.data(*t), t->numel());
        const bool q = g->find("attn_q.weight") != std::string::npos;
        const bool k = g->find("attn_k.weight") != std::string::npos;
        if (arch_ == "llama" && (q || k))
            w.values = unpermuteLlamaRows(w.values, rows, cols, q ? heads_ : kvHeads_);
        return w;
    }

private:
    std::string methodOf(const GgufTensor& t) const {
        if (t.type == GgmlType::F16) return "fp16";
        if (t.type == GgmlType::BF16) return "bf16";
        if (t.type != GgmlType::F32 && ggmlQuantizable(t.type)) return lower(ggmlTypeName(t.type));
        throw Error(path() + ": tensor '" + t.name + "' is " + ggmlTypeName(t.type) +
                    ", which QuantLens cannot compare (F16, BF16, Q8_0 .. Q6_K can be)");
    }

    GgufFile file_;
    std::string arch_;
    int heads_ = 1, kvHeads_ = 1;
    std::string recipe_;
};

}  // namespace

std::shared_ptr<const QuantizedCheckpoint> openGgufWeights(const std::string& path) {
    return std::make_shared<GgufWeights>(path);
}

}  // namespace ql
