// core/run private, torch-facing (include from core/run/*.cpp only): switching a loaded
// model between its float and quantized weights without copies, and the passes that
// compare the two (activations, gradients, perplexity + KL).
#pragma once

#include "model/transformer.h"
#include "run/eval_windows.h"
#include "run/run.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace ql {

// Weight handles of both states. quantizeLayers assigns new tensors to the quantized
// layers (Linear::original keeps the float ones) and AWQ may rescale norm weights, so
// the float state is snapshotted before quantization: linear weight handles (no copy)
// and clones of the small norm vectors. Switching assigns handles: O(layers), no copy.
class ModelStates {
public:
    explicit ModelStates(Transformer& net);  // call before quantizeLayers
    void captureQuantized();                 // call after quantizeLayers
    // Whether quantization rescaled norm weights (AWQ scale folding into the norms).
    bool normsChanged() const;
    void use(bool quantized);
    // The quantized state's input quantizer (activation side of the recipe); use(true) sets it
    // on the model, use(false) clears it.
    void setInputQuantizer(InputQuantizer quantizer) { quantizer_ = std::move(quantizer); }
    const InputQuantizer& inputQuantizer() const { return quantizer_; }

private:
    struct State {
        std::vector<at::Tensor> linear, inputNorm, postNorm;
    };
    State snapshot(bool cloneNorms) const;
    Transformer& net_;
    State float_, quant_;
    InputQuantizer quantizer_;
};

using Windows = std::vector<std::vector<int32_t>>;

// Input/output activation histograms (float vs quantized model on shared bins) and
// reservoir samples of the inputs, for the layers in `layers`. Leaves the model quantized.
void captureActivations(Transformer& net, ModelStates& states, const Windows& windows,
                        std::vector<LayerResult>& layers, int bins, const ProgressReporter& rep);

// Weight gradients of the mean next-token NLL on `windows`, float vs quantized (the
// gradient w.r.t. the dequantized weight is the straight-through estimator's gradient).
// Leaves the model quantized and without requires-grad.
void captureGradients(Transformer& net, ModelStates& states, const Windows& windows,
                      std::vector<LayerResult>& layers, int bins, const ProgressReporter& rep);

// Perplexity of both states plus KL(P_float || P_quant) and top-1 agreement per scored
// position, in one pass over the windows (float then quantized forward per batch).
PerplexitySummary jointEvaluate(Transformer& net, ModelStates& states,
                                const std::vector<EvalWindow>& windows,
                                const ProgressReporter& rep);

// Output SQNR of every layer in `layers` on `windows` (heldout_sqnr.cpp): through the
// quantized model, ||X W^T||^2 / ||X W^T - X W_hat^T||^2 with X each layer's input there
// and W its float weight. Overwrites LayerResult::outputSqnrDb; leaves the model quantized.
// outlierThreshold: LLM.int8()'s (SqnrStats::measuring), 0 for other recipes.
void measureOutputSqnr(Transformer& net, ModelStates& states, const Windows& windows,
                       std::vector<LayerResult>& layers, double outlierThreshold,
                       const ProgressReporter& rep);

// Windows of token ids -> int64 tensor [count, seq] (rows begin..begin+count).
at::Tensor idsTensor(const Windows& windows, size_t begin, size_t count);

// Windows per forward call: at most 4, and logits of at most ~16M floats.
size_t batchWindows(int64_t seq, int64_t vocab);

}  // namespace ql
