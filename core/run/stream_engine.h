// core/run private, torch-facing: the block-streamed engine of model-path runs.
//
// The model stays in its memory-mapped checkpoint (Residency::Streamed). Window sets
// (calibration, evaluation) flow through the decoder one block at a time in two streams,
// the float model's and the quantized model's; only their hidden states stay resident.
// Per block: load its float weights, run the float stream, quantize the block on the
// quantized stream's calibration inputs, run the quantized stream, histogram what the
// block's layers saw, release the block. Then the output head scores both streams in
// vocabulary chunks, and gradients are computed backwards block by block from the stored
// block inputs (activation checkpointing). See stream_engine.cpp for the phase order.
#pragma once

#include "quant/histogram.h"
#include "quant/quantized_checkpoint.h"
#include "run/layer_overrides.h"
#include "run/reservoir.h"
#include "run/run_torch.h"

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ql {

enum Stream { kFloat = 0, kQuant = 1 };

// A batch of windows and its hidden states at the current block's input, per stream.
struct StreamBatch {
    at::Tensor ids;                    // [n, T] int64
    std::array<at::Tensor, 2> hidden;  // [n, T, hidden] float32
    size_t firstWindow = 0;            // index of its first window in its set
    bool fit = false;                  // GPTQ/AWQ fit to it (calibration, not held out)
    bool sqnr = false;                 // output SQNR is measured on it
};

// Batches of `perBatch` windows, cut at `split` (a batch never holds windows from both
// sides of it). Calibration batches are cut as quantizeLayers cuts them (kCalibrationBatchTokens)
// so that GPTQ/AWQ statistics are summed in the same order and give the same layers; evaluation
// batches as the joint evaluation (4 windows).
std::vector<StreamBatch> makeBatches(const Windows& windows, size_t split, size_t perBatch);

// The first `count` windows of `batches` (hidden states of one stream), concatenated.
at::Tensor firstWindows(const std::vector<StreamBatch>& batches, int stream, size_t count);

// Activation histograms of the selected layers over the calibration batches: one block at
// a time, ranges on the main pass, then counts on a second pass of the block over the
// stored block inputs (exact counts on shared bins, no extra pass through the model).
class ActivationStats {
public:
    ActivationStats(const std::vector<LayerResult>& layers, int bins);
    LinearObserver rangeObserver(int stream);
    // Allocates the histograms of the block's layers from the ranges seen.
    void beginCounting(int block, const Transformer& net);
    bool selected(const std::string& layer) const { return index_.count(layer) > 0; }
    LinearObserver countObserver(int stream);
    void finish(std::vector<LayerResult>& layers);

private:
    struct Acc {
        Range in[2], out[2];
        std::optional<HistogramAccumulator> histIn[2], histOut[2];
        std::optional<Reservoir> sample[2];
    };
    std::map<std::string, size_t> index_;
    std::vector<std::string> names_;
    std::vector<Acc> acc_;
    int bins_;
};

// Output SQNR of the selected layers: quantized-stream inputs, float weight vs the
// layer's actual (quantized) output, as measureOutputSqnr.
// With an activation side, measuring(q) wraps the quantized model's input quantizer: it
// sums the activation error (x vs x_hat) and hands the observer the unquantized input x,
// so that the reference output is W x and the output SQNR includes the activation error.
class SqnrStats {
public:
    explicit SqnrStats(const std::vector<LayerResult>& layers);
    LinearObserver observer();
    // outlierThreshold > 0 (LLM.int8()): also counts each layer's outlier columns per window
    // and the output error without decomposition (all columns int8 per token).
    InputQuantizer measuring(InputQuantizer quantizer, double outlierThreshold = 0.0);
    void finish(std::vector<LayerResult>& layers) const;

private:
    struct Energy {
        double signal = 0.0, noise = 0.0;
        double actSignal = 0.0, actNoise = 0.0;
        bool activations = false;
        double plainNoise = 0.0;   // LLM.int8(): output noise without decomposition
        at::Tensor columnWindows;  // LLM.int8(): [in] int64, windows flagging each column
        int64_t windows = 0;
    };
    void countOutliers(Energy& e, const Linear& layer, const at::Tensor& x);
    double outlierThreshold_ = 0.0;
    std::map<std::string, Energy> energy_;
    InputQuantizer quantizer_;
    std::string rawLayer_;  // the layer whose unquantized input is raw_ (the one being run)
    at::Tensor raw_;
};

// Perplexity of both streams, KL(P_float || P_quant) and top-1 agreement from the final
// hidden states of the evaluation batches, the head applied in vocabulary chunks (no
// [tokens, vocab] logits matrix exists). firstScored as EvalWindow::firstScored.
PerplexitySummary scoreStreams(const Transformer& net, const std::vector<StreamBatch>& eval,
                               int firstScored, const ProgressReporter& rep);

// d(mean next-token NLL)/d(final hidden) of both streams for `count` windows whose final
// hidden states are finalHidden[stream] [count, T, hidden] and ids [count, T].
std::array<at::Tensor, 2> lossGradients(const Transformer& net,
                                        const std::array<at::Tensor, 2>& finalHidden,
                                        const at::Tensor& ids, const ProgressReporter& rep);

// The same for one stream: d(mean next-token NLL)/d(final hidden) [n, T, hidden].
at::Tensor lossGradient(const Transformer& net, const at::Tensor& finalHidden,
                        const at::Tensor& ids, const ProgressReporter& rep);

// Recomputes block b from `input` with autograd and back-propagates `gradOut` through it;
// returns d/d(input) and fills `weightGrads` with the weight gradients of the block's
// layers named in `index` (the weights as they are now; requires-grad is off again after).
at::Tensor blockBackward(Transformer& net, int b, const at::Tensor& input,
                         const at::Tensor& gradOut, const std::map<std::string, size_t>& index,
                         std::map<std::string, at::Tensor>& weightGrads,
                         const ProgressReporter& rep);

// Weight gradients of the selected layers, float vs quantized, by recomputing each block
// from its stored inputs (blockInputs[stream][block]) in reverse order with its weights
// streamed back in; histogram + norm per layer as soon as both exist. `quantizer`: the
// quantized model's input quantizer (activation side), empty without one.
void streamedGradients(Transformer& net, const RunResult& run,
                       const std::array<std::vector<at::Tensor>, 2>& blockInputs,
                       std::array<at::Tensor, 2> gradOut, std::vector<LayerResult>& layers,
                       int bins, const InputQuantizer& quantizer, const ProgressReporter& rep);

// What a streamed run computes (run.cpp prepares it from the RunConfig).
struct StreamPlan {
    std::vector<LinearLayerInfo> layers;  // selected, in model order
    Recipe recipe;
    // Layers by recipe (run/layer_overrides.h): groups[0] the recipe's, the others overrides
    // (weight-only), quantized first in each block. Empty: every layer gets `recipe`.
    std::vector<RecipeGroup> groups;
    bool needsFit = false;  // GPTQ/AWQ: quantize on the fit windows' statistics
    Windows calibration;    // every calibration window used
    size_t heldOut = 0;     // the last ones: not fit to
    bool sqnrOnHeldOut = false;
    Windows evaluation;  // perplexity/KL windows (may be empty)
    int evaluationFirstScored = 0;
    size_t sqnrEvalWindows = 0;  // output SQNR on the first evaluation windows
    bool activations = false, gradients = false;
    int bins = 128;
    std::shared_ptr<const QuantizedCheckpoint> checkpoint;  // RunConfig::checkpoint, opened
};

// Runs the plan on a model loaded with Model::loadStreamed; fills run.layers, perplexity,
// activations, gradients, stored weights and phase timings.
void runStreamEngine(RunResult& run, Model& model, const TensorStore& store, const StreamPlan& plan,
                     const ProgressReporter& rep);

// Weights of block `b`'s linears in the float or the quantized state: quantized tensors
// are kept per selected layer while the block is loaded.
class BlockStates {
public:
    // After quantizeBlock: the current weights of `layers` (of one block) are the quantized ones.
    void captureQuantized(Transformer& net, const std::vector<std::string>& layers);
    void use(Transformer& net, int block, int stream) const;
    void clear() { quant_.clear(); }

private:
    std::map<std::string, at::Tensor> quant_;
};

}  // namespace ql
