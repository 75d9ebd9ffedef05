// A run, or a model folder under a recipe, as a GGUF v3 file llama.cpp loads: what
// convert_hf_to_gguf.py writes for the float model (architecture and tokenizer metadata,
// llama.cpp's tensor names, the q/k row permutation of Llama) with each tensor in the type the
// run gave it, and, for quantized files, the key order and tensor order llama-quantize writes.
#pragma once

#include "base/progress.h"
#include "run/run.h"

#include <string>

namespace ql {

struct GgufExportOptions {
    // false (default): tensors the run did not quantize (token embedding, output head,
    // unselected layers) stay float32, so the file is the model the run measured. true: they
    // get the type llama-quantize gives them for the recipe (llama-quantize's file exactly).
    bool llamaQuantizeTypes = false;
};

// Every layer of the run must be a llama.cpp format (q8_0 .. q6_k, a mix), fp16, bf16;
// throws ql::Error naming the layer otherwise, or the model file / field that is wrong.
// The run's model may be a Hugging Face folder (metadata converted from config.json and the
// tokenizer) or a GGUF file (its metadata kept, as llama-quantize requantizing it would).
// `progress` hears of each tensor written and may cancel (ql::Cancelled, no file left).
void exportRunGguf(const RunResult& run, const std::string& outPath,
                   const GgufExportOptions& options = {}, const ProgressCallback& progress = {});

// Empty when exportRunGguf can write the run, else why not (the recipe, layer, architecture,
// missing tokenizer file or model config it would refuse), checked without reading tensors
// or the vocabulary.
std::string whyNotGgufExportable(const RunResult& run);

// The model (a folder or a GGUF file) under `recipe`: "f32", "f16"/"fp16", "bf16" (every 2-D weight
// in that type, as convert_hf_to_gguf.py --outtype), or a llama.cpp recipe (q8_0 .. q6_k, q4_k_m,
// ...) applied to every decoder projection as a run would.
void exportModelGguf(const std::string& modelDir, const std::string& recipe,
                     const std::string& outPath, const GgufExportOptions& options = {});

}  // namespace ql
