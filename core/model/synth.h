// Synthetic models: complete Hugging Face folders with random weights of real
// models' shapes, for scale and speed tests. Their weights are random.
#pragma once

#include "io/dtype.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

struct SynthOptions {
    std::string preset = "llama-tiny";  // see synthPresets()
    std::string outDir;
    DType dtype = DType::BF16;          // BF16, F16 or F32
    uint64_t seed = 0;
};

std::vector<std::string> synthPresets();  // "qwen2.5-0.5b", "qwen2.5-1.5b", "llama-tiny", ...
// Writes config.json, model.safetensors (sharded when large), tokenizer.json
// (byte-level BPE) and a README noting the weights are random. Throws ql::Error.
void synthesizeModel(const SynthOptions& options);

} // namespace ql
