// Tensor names of a Hugging Face Llama-family checkpoint and their GGUF (llama.cpp) names, as
// convert_hf_to_gguf.py maps them: "model.layers.3.self_attn.q_proj.weight" <->
// "blk.3.attn_q.weight". Shared by the llama-quantize mixes (quant), the GGUF writer and the
// GGUF model import (io). Torch-free.
#pragma once

#include <optional>
#include <string>

namespace ql {

// GGUF name of a Hugging Face tensor name (".weight"/".bias" kept); nullopt for a tensor
// llama.cpp's Llama/Qwen2/Qwen3 graphs have no name for (e.g. rotary inv_freq buffers).
std::optional<std::string> ggufTensorName(const std::string& hfName);
// The inverse: the Hugging Face name of a GGUF tensor name; nullopt when unknown.
std::optional<std::string> hfTensorName(const std::string& ggufName);
// GGUF weight name of a linear layer ("model.layers.0.mlp.down_proj" ->
// "blk.0.ffn_down.weight"); nullopt for names that are not a decoder projection or head.
std::optional<std::string> ggufLinearName(const std::string& layerName);

}  // namespace ql
