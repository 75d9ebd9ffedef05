// The one check that a checkpoint matches its config.json, run by every path that opens
// a model (info, eval, quantize, weights-only runs, the GUI's open): every tensor the
// config implies is present, float, and of the implied shape; no layers beyond
// num_hidden_layers. Errors name the tensor, the expected and the actual shape.
#pragma once

#include "io/model_config.h"
#include "io/safetensors.h"

#include <string>

namespace ql {

// Throws ql::Error; `configPath` is only used in messages.
void validateModel(const ModelConfig& config, const TensorStore& store,
                   const std::string& configPath);

}  // namespace ql
