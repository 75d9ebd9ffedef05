// core-private (includes nothing from torch, but operates on a loaded Model):
// quantizes the selected linear layers of a model with a recipe, RTN, GPTQ or AWQ,
// block by block so that later blocks see the quantized outputs of earlier ones.
#pragma once

#include "base/progress.h"
#include "quant/quantize.h"
#include "quant/recipe.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

class Model;

struct LayerQuantization {
    std::string name;       // linear layer name, e.g. "model.layers.0.mlp.down_proj"
    Recipe applied;         // the recipe actually applied (after any fallback)
    bool fallback = false;  // e.g. group size does not divide the row -> per-channel
    std::string fallbackReason;
    QuantGrid grid;                // final grid (for AWQ: of the scaled weight, see awqScales)
    std::vector<int32_t> codes;    // row-major [rows, cols]; empty for casts (fp16/bf16)
    std::vector<float> dequant;    // row-major [rows, cols]: the effective weight now in the model
    std::vector<float> awqScales;  // per input channel when AWQ folded scales; else empty
    double outputSqnrDb;  // ||W X||^2 / ||(W - W_hat) X||^2 over calibration inputs (NaN if none)
    double seconds = 0.0;
};

struct QuantizeLayersOptions {
    // Calibration windows (token ids, each of the same length). Required for GPTQ/AWQ;
    // optional for RTN/casts (then outputSqnrDb is NaN).
    std::vector<std::vector<int32_t>> calibration;
};

// Replaces the selected layers' weights in `model` by their dequantized values
// (model.setLinearWeight) and returns one entry per layer, in model order. For AWQ,
// the scale folding is applied to the model (norm weights / preceding projections),
// and `dequant` is the effective weight of the layer in the model after folding.
// Throws ql::Error (impossible settings, missing calibration for GPTQ/AWQ) or ql::Cancelled.
std::vector<LayerQuantization> quantizeLayers(Model& model, const std::vector<std::string>& layers,
                                              const Recipe& recipe,
                                              const QuantizeLayersOptions& options,
                                              const ProgressReporter& progress);

}  // namespace ql
