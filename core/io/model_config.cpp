// config.json of Hugging Face causal LMs (Llama, Mistral, Qwen2, Qwen3) -> ModelConfig.
#include "io/model_config.h"

#include "base/error.h"
#include "base/file_util.h"
#include "io/gguf.h"
#include "io/gguf_model.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>

using json = nlohmann::json;

namespace ql {

namespace {

struct ArchInfo {
    const char* className;
    Architecture arch;
    const char* modelType;
};

constexpr ArchInfo kArchitectures[] = {
    {"LlamaForCausalLM", Architecture::Llama, "llama"},
    {"MistralForCausalLM", Architecture::Mistral, "mistral"},
    {"Qwen2ForCausalLM", Architecture::Qwen2, "qwen2"},
    {"Qwen3ForCausalLM", Architecture::Qwen3, "qwen3"},
};

const ArchInfo& archInfo(Architecture a) {
    for (const auto& info : kArchitectures)
        if (info.arch == a) return info;
    return kArchitectures[0];
}

[[noreturn]] void fail(const std::string& source, const std::string& what) {
    throw Error(source + ": " + what);
}

// Upper bounds of config sizes: several times the largest released models, low enough
// that every size computed from them (layer loops, q/k/v widths, bytes) stays cheap and
// far from overflow. A config beyond them is corrupt or hostile.
struct FieldLimit {
    const char* key;
    int64_t max;
};
constexpr FieldLimit kLimits[] = {
    {"hidden_size", 1 << 17},         {"intermediate_size", 1 << 20},
    {"num_hidden_layers", 1 << 12},   {"num_attention_heads", 1 << 12},
    {"num_key_value_heads", 1 << 12}, {"head_dim", 1 << 12},
    {"vocab_size", 1 << 23},          {"max_position_embeddings", 1 << 26},
};

int64_t limitOf(const char* key) {
    for (const auto& l : kLimits)
        if (std::string(key) == l.key) return l.max;
    return 1 << 30;
}

int requiredInt(const json& j, const char* key, const std::string& source) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) fail(source, std::string("missing field \"") + key + "\"");
    const int64_t max = limitOf(key);
    const bool ok =
        it->is_number_unsigned()
            ? it->get<uint64_t>() >= 1 && it->get<uint64_t>() <= uint64_t(max)
            : it->is_number_integer() && it->get<int64_t>() >= 1 && it->get<int64_t>() <= max;
    if (!ok)
        fail(source, std::string("field \"") + key + "\" must be an integer from 1 to " +
                         std::to_string(max) + ", got " + it->dump());
    return int(it->get<int64_t>());
}

int optionalInt(const json& j, const char* key, int fallback, const std::string& source) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    return requiredInt(j, key, source);
}

double optionalDouble(const json& j, const char* key, double fallback, const std::string& source) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number() || !(it->get<double>() > 0) || !std::isfinite(it->get<double>()))
        fail(source,
             std::string("field \"") + key + "\" must be a positive number, got " + it->dump());
    return it->get<double>();
}

bool optionalBool(const json& j, const char* key, bool fallback, const std::string& source) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean())
        fail(source, std::string("field \"") + key + "\" must be true or false, got " + it->dump());
    return it->get<bool>();
}

// Token ids may be absent, null, an integer or (eos) a list: take the first. An id
// outside the vocabulary would index past the embedding, so it is refused.
int tokenId(const json& j, const char* key, int vocabSize, const std::string& source) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return -1;
    const json& v = it->is_array() && !it->empty() ? (*it)[0] : *it;
    if (v.is_array() && v.empty()) return -1;
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= vocabSize ||
        (v.is_number_unsigned() && v.get<uint64_t>() >= uint64_t(vocabSize)))
        fail(source, std::string("field \"") + key + "\" must be a token id from 0 to " +
                         std::to_string(vocabSize - 1) + " (vocab_size - 1), got " + it->dump());
    return int(v.get<int64_t>());
}

// The supported architecture named by the config, or nullptr with the reason in `why`.
const ArchInfo* findArchitecture(const json& j, std::string& why) {
    std::string name;
    const auto it = j.find("architectures");
    if (it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string())
        name = (*it)[0].get<std::string>();
    if (name.empty()) {
        why = "missing \"architectures\" (expected e.g. [\"LlamaForCausalLM\"])";
        return nullptr;
    }
    for (const auto& info : kArchitectures)
        if (name == info.className) return &info;
    why = "unsupported architecture '" + name.substr(0, 80) +
          "' (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
          "Qwen3ForCausalLM)";
    return nullptr;
}

json parseJson(const std::string& jsonText, const std::string& source) {
    checkJsonDepth(jsonText, source);
    json j;
    try {
        j = json::parse(jsonText);
    } catch (const json::exception& e) {
        fail(source, "not valid JSON: " + jsonErrorReason(e));
    }
    if (!j.is_object()) fail(source, "not a JSON object");
    return j;
}

ModelConfig configFromJson(const json& j, const ArchInfo& arch, const std::string& source);

std::string readConfigFile(const std::string& path) {
    return readRegularFile(path, "a config.json file", 16u << 20);
}

void checkConsistency(const ModelConfig& c, const std::string& source) {
    if (c.numHeads % c.numKvHeads != 0)
        fail(source, "num_attention_heads (" + std::to_string(c.numHeads) +
                         ") is not divisible by num_key_value_heads (" +
                         std::to_string(c.numKvHeads) + ")");
    if (c.numKvHeads > c.numHeads)
        fail(source, "num_key_value_heads (" + std::to_string(c.numKvHeads) +
                         ") must not exceed num_attention_heads (" + std::to_string(c.numHeads) +
                         ")");
    if (c.headDim % 2 != 0)
        fail(source,
             "head_dim " + std::to_string(c.headDim) + " must be even for rotary embeddings");
    const int64_t width = int64_t(c.numHeads) * c.headDim;
    if (width > (int64_t(1) << 17))
        fail(source, "num_attention_heads x head_dim = " + std::to_string(width) +
                         " exceeds the 131072 supported");
}

ModelConfig configFromJson(const json& j, const ArchInfo& arch, const std::string& source) {
    ModelConfig c;
    c.architectureName = arch.className;
    c.architecture = arch.arch;
    c.modelType = arch.modelType;
    if (j.contains("model_type") && j["model_type"].is_string())
        c.modelType = j["model_type"].get<std::string>();
    c.hiddenSize = requiredInt(j, "hidden_size", source);
    c.intermediateSize = requiredInt(j, "intermediate_size", source);
    c.numLayers = requiredInt(j, "num_hidden_layers", source);
    c.numHeads = requiredInt(j, "num_attention_heads", source);
    c.numKvHeads = optionalInt(j, "num_key_value_heads", c.numHeads, source);
    c.vocabSize = requiredInt(j, "vocab_size", source);
    c.maxPositions = optionalInt(j, "max_position_embeddings", c.maxPositions, source);
    c.ropeTheta = optionalDouble(j, "rope_theta", c.ropeTheta, source);
    c.rmsNormEps = optionalDouble(j, "rms_norm_eps", c.rmsNormEps, source);
    c.tieWordEmbeddings = optionalBool(j, "tie_word_embeddings", false, source);
    // Qwen2 always has q/k/v biases (its config has no key for it).
    c.attentionBias =
        arch.arch == Architecture::Qwen2 || optionalBool(j, "attention_bias", false, source);
    c.qkNorm = arch.arch == Architecture::Qwen3;
    c.bosTokenId = tokenId(j, "bos_token_id", c.vocabSize, source);
    c.eosTokenId = tokenId(j, "eos_token_id", c.vocabSize, source);
    if (j.contains("torch_dtype") && j["torch_dtype"].is_string())
        c.torchDtype = j["torch_dtype"].get<std::string>();

    if (j.contains("head_dim") && !j["head_dim"].is_null()) {
        c.headDim = requiredInt(j, "head_dim", source);
    } else {
        if (c.hiddenSize % c.numHeads != 0)
            fail(source, "hidden_size (" + std::to_string(c.hiddenSize) +
                             ") is not divisible by num_attention_heads (" +
                             std::to_string(c.numHeads) + ") and there is no head_dim");
        c.headDim = c.hiddenSize / c.numHeads;
    }
    checkConsistency(c, source);
    return c;
}

}  // namespace

ModelConfig parseModelConfig(const std::string& jsonText, const std::string& source) {
    const json j = parseJson(jsonText, source);
    std::string why;
    const ArchInfo* arch = findArchitecture(j, why);
    if (!arch) fail(source, why);
    return configFromJson(j, *arch, source);
}

std::optional<ModelConfig> parseSupportedModelConfig(const std::string& jsonText,
                                                     const std::string& source,
                                                     std::string& whyNot) {
    const json j = parseJson(jsonText, source);
    const ArchInfo* arch = findArchitecture(j, whyNot);
    if (!arch) return std::nullopt;
    return configFromJson(j, *arch, source);
}

ModelConfig loadModelConfig(const std::string& configJsonPath) {
    return parseModelConfig(readConfigFile(configJsonPath), configJsonPath);
}

ModelConfig loadModelConfigOf(const std::string& modelPath) {
    if (isGgufFile(modelPath)) return ggufModelConfig(GgufFile(modelPath));
    return loadModelConfig(modelConfigSource(modelPath));
}

std::string modelConfigSource(const std::string& modelPath) {
    return isGgufFile(modelPath) ? modelPath : modelPath + "/config.json";
}

std::optional<ModelConfig> loadSupportedModelConfig(const std::string& configJsonPath,
                                                    std::string& whyNot) {
    return parseSupportedModelConfig(readConfigFile(configJsonPath), configJsonPath, whyNot);
}

std::string architectureDisplayName(Architecture a) {
    switch (a) {
        case Architecture::Llama:
            return "Llama";
        case Architecture::Mistral:
            return "Mistral";
        case Architecture::Qwen2:
            return "Qwen2";
        case Architecture::Qwen3:
            return "Qwen3";
    }
    return "?";
}

std::string modelConfigToJson(const ModelConfig& c) {
    nlohmann::ordered_json j;
    j["architectures"] = {c.architectureName.empty() ? archInfo(c.architecture).className
                                                     : c.architectureName};
    j["model_type"] = c.modelType.empty() ? archInfo(c.architecture).modelType : c.modelType;
    j["hidden_size"] = c.hiddenSize;
    j["intermediate_size"] = c.intermediateSize;
    j["num_hidden_layers"] = c.numLayers;
    j["num_attention_heads"] = c.numHeads;
    j["num_key_value_heads"] = c.numKvHeads;
    j["head_dim"] = c.headDim;
    j["vocab_size"] = c.vocabSize;
    j["max_position_embeddings"] = c.maxPositions;
    j["rope_theta"] = c.ropeTheta;
    j["rms_norm_eps"] = c.rmsNormEps;
    j["tie_word_embeddings"] = c.tieWordEmbeddings;
    if (c.architecture != Architecture::Qwen2) j["attention_bias"] = c.attentionBias;
    j["hidden_act"] = "silu";
    if (c.bosTokenId >= 0) j["bos_token_id"] = c.bosTokenId;
    if (c.eosTokenId >= 0) j["eos_token_id"] = c.eosTokenId;
    if (!c.torchDtype.empty()) j["torch_dtype"] = c.torchDtype;
    return j.dump(2) + "\n";
}

}  // namespace ql
