// Synthetic models: complete Hugging Face folders with random weights of real
// models' shapes, for scale and speed tests. Their weights are random.
#pragma once

#include "base/progress.h"
#include "io/dtype.h"
#include "io/model_config.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

struct SynthOptions {
    std::string preset = "llama-tiny";  // see synthPresets()
    std::string outDir;
    DType dtype = DType::BF16;  // BF16, F16 or F32
    uint64_t seed = 0;
    // Checkpoints whose data exceed this are split into model-0000N-of-0000M shards
    // with model.safetensors.index.json (Hugging Face's default "2GB").
    uint64_t maxShardBytes = 2000000000ull;
    ProgressCallback progress;  // optional; returning false cancels (ql::Cancelled)
};

std::vector<std::string> synthPresets();  // "qwen2.5-0.5b", "qwen2.5-1.5b", "llama-tiny", ...
// Writes config.json, model.safetensors (sharded when large), tokenizer.json (byte-level
// BPE), tokenizer_config.json and a README noting the weights are random. Throws ql::Error.
void synthesizeModel(const SynthOptions& options);

// The architecture of a preset (throws ql::Error naming the preset if unknown).
ModelConfig synthPresetConfig(const std::string& preset);

}  // namespace ql
