// config.json of Hugging Face causal LMs (Llama, Mistral, Qwen2, Qwen3) -> ModelConfig.
#include "io/model_config.h"

#include "base/error.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

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

int requiredInt(const json& j, const char* key, const std::string& source) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) fail(source, std::string("missing field \"") + key + "\"");
    if (!it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > (1 << 30))
        fail(source,
             std::string("field \"") + key + "\" must be a positive integer, got " + it->dump());
    return it->get<int>();
}

int optionalInt(const json& j, const char* key, int fallback, const std::string& source) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    return requiredInt(j, key, source);
}

double optionalDouble(const json& j, const char* key, double fallback, const std::string& source) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number() || it->get<double>() <= 0)
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

// Token ids may be absent, null, an integer or (eos) a list: take the first.
int tokenId(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end()) return -1;
    if (it->is_number_integer()) return it->get<int>();
    if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) return (*it)[0].get<int>();
    return -1;
}

const ArchInfo& detectArchitecture(const json& j, const std::string& source) {
    std::string name;
    const auto it = j.find("architectures");
    if (it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string())
        name = (*it)[0].get<std::string>();
    if (name.empty())
        fail(source, "missing \"architectures\" (expected e.g. [\"LlamaForCausalLM\"])");
    for (const auto& info : kArchitectures)
        if (name == info.className) return info;
    fail(source, "unsupported architecture '" + name +
                     "' (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
                     "Qwen3ForCausalLM)");
}

void checkConsistency(const ModelConfig& c, const std::string& source) {
    if (c.numHeads % c.numKvHeads != 0)
        fail(source, "num_attention_heads (" + std::to_string(c.numHeads) +
                         ") is not divisible by num_key_value_heads (" +
                         std::to_string(c.numKvHeads) + ")");
    if (c.headDim % 2 != 0)
        fail(source,
             "head_dim " + std::to_string(c.headDim) + " must be even for rotary embeddings");
}

}  // namespace

ModelConfig parseModelConfig(const std::string& jsonText, const std::string& source) {
    json j;
    try {
        j = json::parse(jsonText);
    } catch (const json::exception& e) {
        fail(source, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) fail(source, "not a JSON object");

    const ArchInfo& arch = detectArchitecture(j, source);
    ModelConfig c;
    c.architectureName = arch.className;
    c.architecture = arch.arch;
    c.modelType = j.value("model_type", std::string(arch.modelType));
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
    c.bosTokenId = tokenId(j, "bos_token_id");
    c.eosTokenId = tokenId(j, "eos_token_id");
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

ModelConfig loadModelConfig(const std::string& configJsonPath) {
    std::ifstream in(configJsonPath, std::ios::binary);
    if (!in) throw Error(configJsonPath + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    return parseModelConfig(ss.str(), configJsonPath);
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
