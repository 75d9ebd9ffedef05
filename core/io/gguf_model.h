// A GGUF file (llama.cpp's model file) opened as a model on its own: the Hugging Face config
// its metadata describes (llama / qwen2 / qwen3 keys) and its tensors under their Hugging Face
// names, dequantized to float32 one tensor at a time when the engine asks for them (the file
// stays mapped), with the q/k rows llama.cpp permutes for Llama put back in Hugging Face order.
// The tokenizer of such a file is in tokenizer/tokenizer.h (Tokenizer::load).
#pragma once

#include "io/model_config.h"
#include "io/quantized_source.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ql {

class GgufFile;

// True for a regular file that starts with the GGUF magic (whatever its name).
bool isGgufFile(const std::string& path);

// The config of a model path: a folder's config.json, or a GGUF file's metadata.
// modelConfigSource names what it is read from, for messages.
ModelConfig loadModelConfigOf(const std::string& modelPath);
std::string modelConfigSource(const std::string& modelPath);

// The model config of a GGUF file's metadata. Throws ql::Error naming the file and the key for
// an unsupported architecture, a missing or invalid hyperparameter, or RoPE scaling.
ModelConfig ggufModelConfig(const GgufFile& file);

// Every tensor of the file as the float tensor of its Hugging Face name ("blk.0.attn_q.weight"
// -> "model.layers.0.self_attn.q_proj.weight", shape [out, in]). Throws ql::Error naming the
// file and tensor for a tensor without a Hugging Face name or of a type QuantLens cannot
// dequantize (F32, F16, BF16, Q8_0 .. Q6_K can be).
std::shared_ptr<QuantizedWeightsSource> openGgufModelSource(const std::string& path);

// Hugging Face row order of a Llama attn_q / attn_k weight: convert_hf_to_gguf.py stores HF row
// h*hd + s*hd/2 + j as row h*hd + 2*j + s (hd = rows / heads); this undoes it.
std::vector<float> unpermuteLlamaRows(const std::vector<float>& w, int64_t rows, int64_t cols,
                                      int heads);

}  // namespace ql
