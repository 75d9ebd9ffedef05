// Exporting a run's quantized model as a deployable folder:
//  - GPTQ (io/gptq_checkpoint.h): model.safetensors with qweight/qzeros/scales/g_idx for
//    every quantized linear and every other tensor in its source dtype, config.json with
//    quantization_config (also as quantize_config.json, AutoGPTQ's file), the tokenizer
//    files, and quantlens_report.json. Loads in transformers (optimum / GPTQModel) and vLLM.
//  - QuantLens (io/quantlens_source.cpp): model.safetensors with every quantized layer's
//    codes and float32 grid as the run holds them (casts as F16/BF16) and __metadata__
//    (recipe, per-layer method/grid/metrics, architecture, versions), config.json with
//    quant_method "quantlens", the tokenizer files and the report. Read back (any path that
//    opens a model) it gives the run's dequantized weights bit for bit.
// The folder is written complete into a temporary sibling and renamed into place; it
// replaces only an earlier QuantLens export, and only when asked (replaceExisting).
#pragma once

#include "base/progress.h"
#include "io/gptq_checkpoint.h"
#include "run/run.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

struct ModelExportOptions {
    GptqZeroFormat gptqZeros = GptqZeroFormat::V1;  // checkpoint_format "gptq" / "gptq_v2"
    bool replaceExisting = false;                   // replace an earlier QuantLens export
};

struct ModelExportResult {
    std::string folder;                 // absolute path of the finished export
    std::vector<std::string> files;     // file names inside it
    uint64_t bytes = 0;                 // total size of the files
    double seconds = 0.0;               // wall time of the export
    uint64_t peakRssBytes = 0;          // this process's peak RSS at the end (VmHWM)
    std::vector<std::string> warnings;  // e.g. an activation side the format cannot hold
};

// Empty when the run can be exported as GPTQ, else why not (one sentence naming the layer
// or setting): rtn/gptq recipes of 2, 4 or 8 bits, every layer on one group size (a layer
// that fell back to per-channel in a group-wise run cannot be described by one
// quantization_config), every decoder projection quantized.
std::string whyNotGptqExportable(const RunResult& run);

// Writes the GPTQ export of `run` (which needs its model folder, run.config.modelDir, for
// the unquantized tensors and the grid layers' codes) to `outDir`. Throws ql::Error naming
// the layer/field or path; ql::Cancelled when `progress` asks to stop (nothing is left).
ModelExportResult exportGptq(const RunResult& run, const std::string& outDir,
                             const ModelExportOptions& options = {},
                             const ProgressCallback& progress = {});

// Empty when the run can be exported in QuantLens's packed format, else why not (the layer
// whose recipe has no packed form, or a model that is not a Hugging Face folder).
std::string whyNotQuantLensExportable(const RunResult& run);

// Writes QuantLens's packed export of `run` to `outDir` (same rules as exportGptq). Every
// recipe but the codebook ones (nf4/fp4, llama.cpp formats: not in this build, ql::Error).
ModelExportResult exportQuantLens(const RunResult& run, const std::string& outDir,
                                  const ModelExportOptions& options = {},
                                  const ProgressCallback& progress = {});

}  // namespace ql
