// A GGUF file as the quantized side of a run (quant/quantized_checkpoint.h): tensors matched to the
// Hugging Face layer names (base/gguf_names.h), dequantized as ggml does, Llama's q/k rows put
// back in Hugging Face order.
#pragma once

#include "quant/quantized_checkpoint.h"

#include <memory>
#include <string>

namespace ql {

// Throws ql::Error naming the file for an unreadable file, an architecture other than
// llama/qwen2/qwen3, or a file type that is not a llama.cpp quantization QuantLens knows.
std::shared_ptr<const QuantizedCheckpoint> openGgufWeights(const std::string& path);

}  // namespace ql
