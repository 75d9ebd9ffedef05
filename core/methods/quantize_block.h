// core-private, torch-facing: quantizing the selected layers of ONE decoder block, for the
// block-streamed run engine (run/stream_engine.cpp), which holds the block's input hidden
// states itself. The same stages, statistics and solvers as quantizeLayers (GPTQ's "true
// sequential" order inside the block), so both paths give the same layers.
#pragma once

#include "methods/quantize_layers.h"
#include "model/transformer.h"

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace ql {

// Quantizes `layers` (names; those not in `block` are ignored) in place: each weight of
// the block becomes its dequantized value and options.onLayer receives each result.
// fitHidden: the block's input hidden states [B, T, hidden] of the calibration windows to
// fit to, as the quantized model computes them (empty: RTN/casts without statistics).
// `done` counts layers finished (progress over `total`).
void quantizeBlock(Transformer& net, int block, const std::vector<std::string>& layers,
                   const Recipe& recipe, const std::vector<at::Tensor>& fitHidden,
                   const QuantizeLayersOptions& options, const ProgressReporter& progress,
                   size_t& done, size_t total);

}  // namespace ql
