// config.json of a Hugging Face causal LM -> model description.
#pragma once

#include <optional>
#include <string>

namespace ql {

enum class Architecture { Llama, Mistral, Qwen2, Qwen3 };

struct ModelConfig {
    std::string architectureName;  // as in config.json, e.g. "Qwen2ForCausalLM"
    Architecture architecture = Architecture::Llama;
    std::string modelType;  // "llama", "qwen2", ...
    int hiddenSize = 0;
    int intermediateSize = 0;
    int numLayers = 0;
    int numHeads = 0;
    int numKvHeads = 0;
    int headDim = 0;  // explicit head_dim or hidden / heads
    int vocabSize = 0;
    int maxPositions = 2048;
    double ropeTheta = 10000.0;
    double rmsNormEps = 1e-6;
    bool tieWordEmbeddings = false;
    bool attentionBias = false;  // q/k/v bias (Qwen2 always)
    bool qkNorm = false;         // Qwen3 q_norm / k_norm
    int bosTokenId = -1;
    int eosTokenId = -1;
    std::string torchDtype;  // "float32", "bfloat16", ...
};

// Throws ql::Error naming the file for unreadable JSON, an unsupported
// architecture or missing/invalid fields.
ModelConfig loadModelConfig(const std::string& configJsonPath);
ModelConfig parseModelConfig(const std::string& jsonText, const std::string& source);
// As above, but a valid JSON object whose "architectures" is missing or unsupported
// gives nullopt with the reason in `whyNot` (a weights-only checkpoint) instead of an
// error; every other problem still throws.
std::optional<ModelConfig> loadSupportedModelConfig(const std::string& configJsonPath,
                                                    std::string& whyNot);
std::optional<ModelConfig> parseSupportedModelConfig(const std::string& jsonText,
                                                     const std::string& source,
                                                     std::string& whyNot);
std::string architectureDisplayName(Architecture a);

// Writes the config in Hugging Face form (used by `synth`).
std::string modelConfigToJson(const ModelConfig& c);

}  // namespace ql
