// Synthetic Hugging Face model folders with RANDOM weights of real models' shapes.
// Values come from a counter-based generator (splitmix64 of seed, tensor name and
// element index), so the output is identical for any thread count and each tensor is
// generated and written in blocks without holding the model in memory.
#include "model/synth.h"

#include "base/atomic_write.h"
#include "base/error.h"
#include "base/parallel.h"
#include "io/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;

namespace ql {

namespace {

// ---- presets

struct Preset {
    const char* name;
    const char* summary;
    ModelConfig config;
};

ModelConfig makeConfig(Architecture arch, const char* className, const char* modelType, int hidden,
                       int intermediate, int layers, int heads, int kvHeads, int headDim, int vocab,
                       int maxPos, double theta, double eps, bool tied) {
    ModelConfig c;
    c.architecture = arch;
    c.architectureName = className;
    c.modelType = modelType;
    c.hiddenSize = hidden;
    c.intermediateSize = intermediate;
    c.numLayers = layers;
    c.numHeads = heads;
    c.numKvHeads = kvHeads;
    c.headDim = headDim > 0 ? headDim : hidden / heads;
    c.vocabSize = vocab;
    c.maxPositions = maxPos;
    c.ropeTheta = theta;
    c.rmsNormEps = eps;
    c.tieWordEmbeddings = tied;
    c.attentionBias = arch == Architecture::Qwen2;
    c.qkNorm = arch == Architecture::Qwen3;
    c.bosTokenId = 256;  // <|endoftext|> of the synthetic tokenizer
    c.eosTokenId = 256;
    return c;
}

const std::vector<Preset>& presets() {
    static const std::vector<Preset> list = {
        {"qwen2.5-0.5b", "shapes of Qwen2.5-0.5B",
         makeConfig(Architecture::Qwen2, "Qwen2ForCausalLM", "qwen2", 896, 4864, 24, 14, 2, 0,
                    151936, 32768, 1e6, 1e-6, true)},
        {"qwen2.5-1.5b", "shapes of Qwen2.5-1.5B",
         makeConfig(Architecture::Qwen2, "Qwen2ForCausalLM", "qwen2", 1536, 8960, 28, 12, 2, 0,
                    151936, 32768, 1e6, 1e-6, true)},
        {"qwen2.5-3b", "shapes of Qwen2.5-3B",
         makeConfig(Architecture::Qwen2, "Qwen2ForCausalLM", "qwen2", 2048, 11008, 36, 16, 2, 0,
                    151936, 32768, 1e6, 1e-6, true)},
        // The model people deploy: untied head, larger vocabulary (152064).
        {"qwen2.5-7b", "shapes of Qwen2.5-7B",
         makeConfig(Architecture::Qwen2, "Qwen2ForCausalLM", "qwen2", 3584, 18944, 28, 28, 4, 0,
                    152064, 32768, 1e6, 1e-6, false)},
        {"qwen3-0.6b", "shapes of Qwen3-0.6B",
         makeConfig(Architecture::Qwen3, "Qwen3ForCausalLM", "qwen3", 1024, 3072, 28, 16, 8, 128,
                    151936, 40960, 1e6, 1e-6, true)},
        {"llama-tiny", "a tiny Llama for tests",
         makeConfig(Architecture::Llama, "LlamaForCausalLM", "llama", 256, 768, 4, 8, 4, 0, 512,
                    512, 10000.0, 1e-5, false)},
        // Tiny Qwen variants exercise biases, q/k norms and an explicit head_dim in tests.
        {"qwen2-tiny", "a tiny Qwen2 for tests",
         makeConfig(Architecture::Qwen2, "Qwen2ForCausalLM", "qwen2", 128, 384, 2, 4, 2, 0, 512,
                    512, 1e6, 1e-6, true)},
        {"qwen3-tiny", "a tiny Qwen3 for tests (head_dim 64 != hidden / heads)",
         makeConfig(Architecture::Qwen3, "Qwen3ForCausalLM", "qwen3", 128, 384, 2, 4, 2, 64, 512,
                    512, 1e6, 1e-6, true)},
    };
    return list;
}

// ---- tensor plan

enum class Init { Normal, ResidualOut, Ones, Bias };

struct PlannedTensor {
    TensorLayout layout;
    Init init = Init::Normal;
    bool outlierColumns = false;  // projections: a few input channels x8
};

std::vector<PlannedTensor> planTensors(const ModelConfig& c, DType dtype) {
    const int64_t h = c.hiddenSize, inter = c.intermediateSize, hd = c.headDim;
    const int64_t qOut = c.numHeads * hd, kvOut = c.numKvHeads * hd;
    std::vector<PlannedTensor> out;
    const auto add = [&](const std::string& name, std::vector<int64_t> shape, Init init,
                         bool outliers = false) {
        out.push_back({{name, dtype, std::move(shape)}, init, outliers});
    };
    add("model.embed_tokens.weight", {c.vocabSize, h}, Init::Normal);
    for (int l = 0; l < c.numLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        add(p + "input_layernorm.weight", {h}, Init::Ones);
        add(p + "self_attn.q_proj.weight", {qOut, h}, Init::Normal, true);
        add(p + "self_attn.k_proj.weight", {kvOut, h}, Init::Normal, true);
        add(p + "self_attn.v_proj.weight", {kvOut, h}, Init::Normal, true);
        if (c.attentionBias) {
            add(p + "self_attn.q_proj.bias", {qOut}, Init::Bias);
            add(p + "self_attn.k_proj.bias", {kvOut}, Init::Bias);
            add(p + "self_attn.v_proj.bias", {kvOut}, Init::Bias);
        }
        add(p + "self_attn.o_proj.weight", {h, qOut}, Init::ResidualOut, true);
        if (c.qkNorm) {
            add(p + "self_attn.q_norm.weight", {hd}, Init::Ones);
            add(p + "self_attn.k_norm.weight", {hd}, Init::Ones);
        }
        add(p + "post_attention_layernorm.weight", {h}, Init::Ones);
        add(p + "mlp.gate_proj.weight", {inter, h}, Init::Normal, true);
        add(p + "mlp.up_proj.weight", {inter, h}, Init::Normal, true);
        add(p + "mlp.down_proj.weight", {h, inter}, Init::ResidualOut, true);
    }
    add("model.norm.weight", {h}, Init::Ones);
    if (!c.tieWordEmbeddings) add("lm_head.weight", {c.vocabSize, h}, Init::Normal);
    return out;
}

uint64_t tensorBytes(const TensorLayout& t) {
    uint64_t n = dtypeSize(t.dtype);
    for (int64_t d : t.shape) n *= uint64_t(d);
    return n;
}

// ---- random values

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t nameHash(const std::string& s) {  // FNV-1a
    uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char ch : s) h = (h ^ ch) * 0x100000001B3ull;
    return h;
}

// Approximately standard normal: sum of four 16-bit uniforms (Irwin-Hall), scaled to
// unit variance. Tails end at +-3.46 sigma; the outlier channels supply heavier ones.
inline float approxNormal(uint64_t r) {
    const uint32_t s = uint32_t(r & 0xFFFF) + uint32_t((r >> 16) & 0xFFFF) +
                       uint32_t((r >> 32) & 0xFFFF) + uint32_t(r >> 48);
    constexpr float kMean = 4 * 32767.5f;
    constexpr float kInvStd = 1.0f / 37837.23f;  // sqrt(4 * (65536^2 - 1) / 12)
    return (float(s) - kMean) * kInvStd;
}

template <DType T>
inline void storeValue(float v, unsigned char* dst) {
    if constexpr (T == DType::F32) {
        std::memcpy(dst, &v, 4);
    } else {
        const uint16_t bits = T == DType::F16 ? floatToHalf(v) : floatToBf16(v);
        std::memcpy(dst, &bits, 2);
    }
}

// Per-column multipliers of a projection: ~0.5% of input channels (at least 2) x8.
std::vector<float> columnScales(uint64_t key, int64_t columns) {
    std::vector<float> scale(size_t(columns), 1.0f);
    const int64_t count = std::max<int64_t>(2, columns / 200);
    for (int64_t i = 0; i < count; ++i)
        scale[size_t(splitmix64(key ^ (0xC0FFEEull + uint64_t(i))) % uint64_t(columns))] = 8.0f;
    return scale;
}

class TensorGenerator {
public:
    TensorGenerator(const ModelConfig& c, uint64_t seed, const PlannedTensor& t)
        : dtype_(t.layout.dtype), init_(t.init), key_(splitmix64(seed ^ nameHash(t.layout.name))) {
        if (init_ == Init::ResidualOut) stddev_ = 0.02f / std::sqrt(2.0f * float(c.numLayers));
        if (init_ == Init::Bias) stddev_ = 0.01f;
        if (t.outlierColumns) columnScale_ = columnScales(key_, t.layout.shape.back());
    }

    // Writes elements [begin, end) in the tensor's dtype to dst.
    void fill(uint64_t begin, uint64_t end, unsigned char* dst) const {
        switch (dtype_) {
            case DType::F32:
                return fillAs<DType::F32>(begin, end, dst);
            case DType::F16:
                return fillAs<DType::F16>(begin, end, dst);
            default:
                return fillAs<DType::BF16>(begin, end, dst);
        }
    }

private:
    DType dtype_;
    Init init_;
    uint64_t key_;
    float stddev_ = 0.02f;
    std::vector<float> columnScale_;

    template <DType T>
    void fillAs(uint64_t begin, uint64_t end, unsigned char* dst) const {
        constexpr size_t es = T == DType::F32 ? 4 : 2;
        if (init_ == Init::Ones) {
            for (uint64_t i = begin; i < end; ++i) storeValue<T>(1.0f, dst + (i - begin) * es);
            return;
        }
        const size_t cols = columnScale_.size();
        size_t col = cols ? size_t(begin % cols) : 0;  // walked, not divided, per element
        for (uint64_t i = begin; i < end; ++i) {
            float v = approxNormal(splitmix64(key_ + i * 0xD1B54A32D192ED03ull)) * stddev_;
            if (cols) {
                v *= columnScale_[col];
                if (++col == cols) col = 0;
            }
            storeValue<T>(v, dst + (i - begin) * es);
        }
    }
};

// ---- writing the weights

struct Shard {
    std::string file;
    std::vector<size_t> tensors;  // indices into the plan
    uint64_t bytes = 0;
};

std::vector<Shard> planShards(const std::vector<PlannedTensor>& plan, uint64_t maxShardBytes) {
    std::vector<Shard> shards(1);
    for (size_t i = 0; i < plan.size(); ++i) {
        const uint64_t b = tensorBytes(plan[i].layout);
        if (!shards.back().tensors.empty() && shards.back().bytes + b > maxShardBytes)
            shards.emplace_back();
        shards.back().tensors.push_back(i);
        shards.back().bytes += b;
    }
    if (shards.size() == 1) {
        shards[0].file = "model.safetensors";
    } else {
        char name[64];
        for (size_t i = 0; i < shards.size(); ++i) {
            std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1,
                          shards.size());
            shards[i].file = name;
        }
    }
    return shards;
}

class WeightWriter {
public:
    WeightWriter(const ModelConfig& c, const SynthOptions& o, uint64_t totalBytes)
        : config_(c), options_(o), reporter_(o.progress), total_(totalBytes) {}

    void writeShard(const fs::path& dir, const Shard& shard,
                    const std::vector<PlannedTensor>& plan) {
        std::vector<TensorLayout> layout;
        for (size_t i : shard.tensors) layout.push_back(plan[i].layout);
        SafetensorsWriter writer((dir / shard.file).string(), layout,
                                 {{"format", "pt"}, {"quantlens_synthetic", "random weights"}});
        for (size_t i : shard.tensors) writeTensor(writer, plan[i]);
        writer.finish();
    }

private:
    void writeTensor(SafetensorsWriter& writer, const PlannedTensor& t) {
        const TensorGenerator gen(config_, options_.seed, t);
        const size_t es = dtypeSize(t.layout.dtype);
        const uint64_t numel = tensorBytes(t.layout) / es;
        constexpr uint64_t kBlock = 1ull << 22;  // elements per write
        buffer_.resize(size_t(std::min(numel, kBlock) * es));
        for (uint64_t begin = 0; begin < numel; begin += kBlock) {
            const uint64_t n = std::min(kBlock, numel - begin);
            unsigned char* dst = buffer_.data();
            const int threads = n < 65536 ? 1 : 0;
            parallelChunks(size_t(n), threads, [&](int, size_t b, size_t e) {
                gen.fill(begin + b, begin + e, dst + b * es);
            });
            writer.write(dst, size_t(n * es));
            done_ += n * es;
            if (options_.progress)
                reporter_.report("synth", double(done_) / double(std::max<uint64_t>(1, total_)),
                                 t.layout.name);
        }
    }

    const ModelConfig& config_;
    const SynthOptions& options_;
    ProgressReporter reporter_;
    uint64_t total_;
    uint64_t done_ = 0;
    std::vector<unsigned char> buffer_;
};

void writeIndex(const fs::path& dir, const std::vector<Shard>& shards,
                const std::vector<PlannedTensor>& plan) {
    nlohmann::ordered_json index;
    uint64_t total = 0;
    nlohmann::ordered_json map = nlohmann::ordered_json::object();
    for (const auto& s : shards) {
        total += s.bytes;
        for (size_t i : s.tensors) map[plan[i].layout.name] = s.file;
    }
    index["metadata"] = {{"total_size", total}, {"quantlens_synthetic", "random weights"}};
    index["weight_map"] = map;
    writeFileAtomic((dir / "model.safetensors.index.json").string(), index.dump(2) + "\n");
}

// ---- tokenizer.json: byte-level BPE in the structure of Qwen's tokenizer.json

// GPT-2's bytes_to_unicode(): printable bytes map to themselves, the others to U+0100...
std::vector<std::string> byteLevelAlphabet() {
    std::vector<int> bytes, codepoints;
    for (int b = 0; b < 256; ++b)
        if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
            bytes.push_back(b);
            codepoints.push_back(b);
        }
    int extra = 0;
    for (int b = 0; b < 256; ++b)
        if (std::find(bytes.begin(), bytes.end(), b) == bytes.end()) {
            bytes.push_back(b);
            codepoints.push_back(256 + extra++);
        }
    std::vector<std::string> out;  // in vocab order: id i -> out[i]
    for (int cp : codepoints) {
        std::string u;
        if (cp < 0x80) {
            u += char(cp);
        } else {
            u += char(0xC0 | (cp >> 6));
            u += char(0x80 | (cp & 0x3F));
        }
        out.push_back(u);
    }
    return out;
}

// Merges of frequent English pairs ("Ġ" is the byte-level space), each part already a token.
const std::vector<std::pair<const char*, const char*>>& englishMerges() {
    static const std::vector<std::pair<const char*, const char*>> merges = {
        {"Ġ", "t"},    {"h", "e"},  {"i", "n"},    {"Ġ", "a"},   {"e", "r"},   {"o", "n"},
        {"Ġt", "he"},  {"r", "e"},  {"a", "t"},    {"o", "u"},   {"e", "n"},   {"Ġ", "s"},
        {"Ġ", "w"},    {"n", "d"},  {"Ġ", "o"},    {"Ġ", "c"},   {"i", "s"},   {"Ġ", "b"},
        {"e", "d"},    {"i", "t"},  {"Ġ", "f"},    {"in", "g"},  {"Ġ", "h"},   {"a", "n"},
        {"Ġ", "p"},    {"Ġ", "m"},  {"o", "r"},    {"a", "r"},   {"Ġ", "d"},   {"e", "s"},
        {"Ġa", "nd"},  {"Ġt", "o"}, {"Ġo", "f"},   {"l", "l"},   {"Ġ", "i"},   {"a", "s"},
        {"Ġ", "l"},    {"Ġ", "n"},  {"o", "m"},    {"Ġ", "I"},   {"Ġi", "n"},  {"Ġw", "as"},
        {"Ġ", "T"},    {"l", "e"},  {"Ġ", "g"},    {"Ġ", "e"},   {"Ġ", "y"},   {"Ġ", "he"},
        {"Ġ", "th"},   {"o", "t"},  {"Ġ", "re"},   {"Ġs", "t"},  {"Ġ", "S"},   {"e", "t"},
        {"Ġ", "A"},    {"l", "y"},  {"Ġb", "e"},   {"Ġ", "on"},  {"o", "w"},   {"Ġ", "it"},
        {"Ġw", "h"},   {"e", "l"},  {"c", "h"},    {"Ġ", "C"},   {"Ġ", "u"},   {"Ġh", "a"},
        {"Ġth", "at"}, {"Ġ", "M"},  {"Ġw", "ith"}, {"i", "th"},  {"t", "h"},   {"Ġ", "is"},
        {"Ġf", "or"},  {"Ġ", "P"},  {"Ġ", "B"},    {"Ġs", "he"}, {"Ġh", "er"}, {"Ġ", "H"},
    };
    return merges;
}

nlohmann::ordered_json byteLevelSection() {
    return {{"type", "ByteLevel"},
            {"add_prefix_space", false},
            {"trim_offsets", false},
            {"use_regex", false}};
}

std::string tokenizerJson(int vocabLimit) {
    using ojson = nlohmann::ordered_json;
    const auto alphabet = byteLevelAlphabet();
    ojson vocab = ojson::object();
    for (size_t i = 0; i < alphabet.size(); ++i) vocab[alphabet[i]] = int(i);
    constexpr int kEndOfText = 256;
    ojson merges = ojson::array();
    int next = kEndOfText + 1;
    for (const auto& [a, b] : englishMerges()) {
        if (next >= vocabLimit) break;
        const std::string merged = std::string(a) + b;
        if (!vocab.contains(a) || !vocab.contains(b) || vocab.contains(merged))
            continue;  // keeps the list valid even if someone edits it carelessly
        merges.push_back({a, b});
        vocab[merged] = next++;
    }
    ojson t;
    t["version"] = "1.0";
    t["truncation"] = nullptr;
    t["padding"] = nullptr;
    t["added_tokens"] = ojson::array({{{"id", kEndOfText},
                                       {"content", "<|endoftext|>"},
                                       {"single_word", false},
                                       {"lstrip", false},
                                       {"rstrip", false},
                                       {"normalized", false},
                                       {"special", true}}});
    t["normalizer"] = {{"type", "NFC"}};
    // The Qwen2/Qwen3 pre-tokenizer regex, verbatim.
    const char* regex =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
        "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    t["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", ojson::array({{{"type", "Split"},
                                                           {"pattern", {{"Regex", regex}}},
                                                           {"behavior", "Isolated"},
                                                           {"invert", false}},
                                                          byteLevelSection()})}};
    t["post_processor"] = byteLevelSection();
    t["decoder"] = byteLevelSection();
    t["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"continuing_subword_prefix", ""},
                  {"end_of_word_suffix", ""},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"ignore_merges", false},
                  {"vocab", vocab},
                  {"merges", merges}};
    return t.dump(2) + "\n";
}

// tokenizer_config.json: BOS/EOS by name, as Hugging Face tools read them. No BOS is
// added automatically (like Qwen); config.json's bos_token_id names the same token.
std::string tokenizerConfigJson(const ModelConfig& c) {
    nlohmann::ordered_json t;
    t["add_bos_token"] = false;
    t["add_prefix_space"] = false;
    t["added_tokens_decoder"] = {{"256",
                                  {{"content", "<|endoftext|>"},
                                   {"lstrip", false},
                                   {"normalized", false},
                                   {"rstrip", false},
                                   {"single_word", false},
                                   {"special", true}}}};
    t["bos_token"] = "<|endoftext|>";
    t["eos_token"] = "<|endoftext|>";
    t["pad_token"] = "<|endoftext|>";
    t["unk_token"] = nullptr;
    t["clean_up_tokenization_spaces"] = false;
    t["model_max_length"] = c.maxPositions;
    t["tokenizer_class"] = "PreTrainedTokenizerFast";
    return t.dump(2) + "\n";
}

// ---- config.json and README

std::string torchDtypeName(DType t) {
    return t == DType::F32 ? "float32" : t == DType::F16 ? "float16" : "bfloat16";
}

std::string configJson(ModelConfig c, const SynthOptions& o) {
    c.torchDtype = torchDtypeName(o.dtype);
    auto j = nlohmann::ordered_json::parse(modelConfigToJson(c));
    j["quantlens_synthetic"] = true;
    j["quantlens_preset"] = o.preset;
    j["quantlens_seed"] = o.seed;
    return j.dump(2) + "\n";
}

std::string readme(const ModelConfig& c, const SynthOptions& o, const Preset& p, int64_t params,
                   size_t shards) {
    std::string s;
    s += "# Synthetic model `" + o.preset + "` - RANDOM WEIGHTS\n\n";
    s += "**The weights of this model are random.** It was generated by `quantlens-cli synth` "
         "with\n";
    s += "the " + std::string(p.summary) + " (" + c.architectureName + ") but no training: its\n";
    s +=
        "output is meaningless and its perplexity is that of noise. Use it only for scale, speed\n";
    s += "and memory tests of tools.\n\n";
    s += "- preset: " + o.preset + ", seed: " + std::to_string(o.seed) +
         ", dtype: " + dtypeName(o.dtype) + "\n";
    s += "- parameters: " + std::to_string(params) + ", files: " + std::to_string(shards) +
         " safetensors file(s)\n";
    s += "- values: approximately normal(0, 0.02) (o_proj/down_proj 0.02/sqrt(2*layers)), a few\n";
    s += "  input channels of each projection x8, norms 1.0, biases normal(0, 0.01)\n";
    s += "- tokenizer.json: byte-level BPE (256 byte tokens, a few English merges,\n";
    s += "  `<|endoftext|>` = 256); not the original model's tokenizer\n";
    return s;
}

const Preset& findPreset(const std::string& name) {
    for (const auto& p : presets())
        if (name == p.name) return p;
    std::string names;
    for (const auto& p : presets()) names += std::string(names.empty() ? "" : ", ") + p.name;
    throw Error("unknown synth preset '" + name + "' (available: " + names + ")");
}

void writeTextFile(const fs::path& path, const std::string& text) {
    writeFileAtomic(path.string(), text);
}

// A previous run's files must not mix with this one (e.g. 2 shards then 1 file).
void removePreviousWeights(const fs::path& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        const bool shard = name.rfind("model-", 0) == 0 && name.find("-of-") != std::string::npos &&
                           e.path().extension() == ".safetensors";
        if (shard || name == "model.safetensors" || name == "model.safetensors.index.json")
            fs::remove(e.path(), ec);
    }
}

}  // namespace

std::vector<std::string> synthPresets() {
    std::vector<std::string> names;
    for (const auto& p : presets()) names.push_back(p.name);
    return names;
}

ModelConfig synthPresetConfig(const std::string& preset) {
    return findPreset(preset).config;
}

void synthesizeModel(const SynthOptions& o) {
    const Preset& preset = findPreset(o.preset);
    if (o.dtype != DType::BF16 && o.dtype != DType::F16 && o.dtype != DType::F32)
        throw Error("synth: dtype must be BF16, F16 or F32, not " + dtypeName(o.dtype));
    if (o.outDir.empty()) throw Error("synth: no output folder given");
    const fs::path dir(o.outDir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir)) throw Error(o.outDir + ": cannot create the output folder");
    removePreviousWeights(dir);

    const ModelConfig& c = preset.config;
    const auto plan = planTensors(c, o.dtype);
    const auto shards = planShards(plan, std::max<uint64_t>(1, o.maxShardBytes));
    uint64_t total = 0;
    int64_t params = 0;
    for (const auto& t : plan) {
        total += tensorBytes(t.layout);
        params += int64_t(tensorBytes(t.layout) / dtypeSize(o.dtype));
    }
    writeTextFile(dir / "config.json", configJson(c, o));
    writeTextFile(dir / "tokenizer.json", tokenizerJson(c.vocabSize));
    writeTextFile(dir / "tokenizer_config.json", tokenizerConfigJson(c));
    writeTextFile(dir / "README.md", readme(c, o, preset, params, shards.size()));
    WeightWriter writer(c, o, total);
    for (const auto& s : shards) writer.writeShard(dir, s, plan);
    if (shards.size() > 1) writeIndex(dir, shards, plan);
}

}  // namespace ql
