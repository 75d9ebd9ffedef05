// The quantized side of a comparison run from any checkpoint QuantLens reads: a GGUF file
// (run/gguf_source.h), or a GPTQ / QuantLens packed folder (io/quantized_source.h), behind the
// one interface the run uses (quant/quantized_checkpoint.h).
#pragma once

#include "quant/quantized_checkpoint.h"

#include <memory>
#include <string>

namespace ql {

// Throws ql::Error naming the path when it is none of the three, or what is wrong with it.
std::shared_ptr<const QuantizedCheckpoint> openQuantizedCheckpoint(const std::string& path);

}  // namespace ql
