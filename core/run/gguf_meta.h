// run-private: the metadata convert_hf_to_gguf.py writes for a Hugging Face Llama-family or
// Qwen2/Qwen3 folder (general.*, the architecture's hyperparameters, the SentencePiece or
// byte-level BPE tokenizer), in its key order; llama-quantize's files move general.file_type
// to the end.
#pragma once

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "io/model_config.h"

#include <cstdint>
#include <string>

namespace ql {

// GGUF architecture name of a config ("llama" for Llama and Mistral, "qwen2", "qwen3").
std::string ggufArchitecture(const ModelConfig& c);

// convert_hf_to_gguf.py's names from the folder name: general.name, version, basename, ...
struct GgufModelNames {
    std::string name, basename, finetune, version, sizeLabel;
};
GgufModelNames ggufModelNames(const std::string& folderName, uint64_t parameters);

// Adds every key: `fileType` is general.file_type; `quantized` puts it after
// general.quantization_version, where llama-quantize writes it.
void addGgufMetadata(GgufWriter& w, const ModelConfig& c, const std::string& modelDir,
                     uint64_t parameters, uint32_t fileType, bool quantized);

// The same without reading the vocabulary: throws the error addGgufMetadata would give for an
// architecture GGUF cannot name or a tokenizer file that is not there (a quick check for menus).
void checkGgufMetadataSource(const ModelConfig& c, const std::string& modelDir);

// The keys of a model that is itself a GGUF file, for a new file of that model, as
// llama-quantize copies them: every key in its order (names, hyperparameters, tokenizer) except
// general.alignment (the writer's is the default); a float file gets general.file_type in
// place, a quantized one general.quantization_version and then general.file_type at the end.
void addGgufMetadataFrom(GgufWriter& w, const GgufFile& source, uint32_t fileType, bool quantized);

}  // namespace ql
