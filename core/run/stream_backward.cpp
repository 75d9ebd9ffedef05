// Weight gradients of the block-streamed engine by recomputation (activation
// checkpointing): the forward pass kept each block's input for the gradient windows, in
// both streams; here the blocks run backwards, each one's weights streamed back in (the
// quantized ones re-derived from the run: grid, cast or stored codes), its forward
// recomputed from the stored input with autograd, and the gradient of its output pushed
// through it. Each layer's float and quantized (straight-through) weight gradients are
// histogrammed on shared bins and normed as soon as both exist, then dropped.
#include "base/error.h"
#include "base/process_env.h"
#include "run/heap_trim.h"
#include "run/run_internal.h"
#include "run/stream_engine.h"

#include <cmath>
#include <map>

namespace ql {

namespace {

Range merge(Range a, Range b) {
    if (!a.valid) return b;
    if (!b.valid) return a;
    return unionRange(a, b);
}

double l2Norm(const at::Tensor& g) {
    return std::sqrt(g.pow(2).sum(at::kDouble).item<double>());
}

// Sets the quantized weights of block `b`'s selected layers (float weight already loaded)
// and drops their float weights.
void useQuantized(Transformer& net, const RunResult& run, int b,
                  const std::map<std::string, size_t>& index) {
    for (Linear& l : net.linears()) {
        if (l.info.block != b || !index.count(l.info.name)) continue;
        const LayerResult& r = run.layers[index.at(l.info.name)];
        const at::Tensor w = l.original.contiguous();
        // A pool tensor: the same sizes block after block, so its pages are reused (a fresh
        // vector per layer faulted in 59 MB per 0.5B block).
        at::Tensor q = at::empty_like(w);
        afterWeightsInto(run, r, w.data_ptr<float>(), size_t(w.numel()), q.data_ptr<float>());
        l.weight = net.requiresGrad() ? q.requires_grad_(true) : q;
        // The float weight is not needed again for this block (releaseBlock would drop it):
        // one block of float weights less while the quantized backward runs (0.9 GB at 7B).
        l.original = at::Tensor();
    }
}

}  // namespace

at::Tensor blockBackward(Transformer& net, int b, const at::Tensor& input,
                         const at::Tensor& gradOut, const std::map<std::string, size_t>& index,
                         std::map<std::string, at::Tensor>& weightGrads,
                         const ProgressReporter& rep) {
    at::AutoGradMode on(true);
    std::vector<std::pair<std::string, at::Tensor>> leaves;
    for (Linear& l : net.linears()) {
        if (l.info.block != b || !index.count(l.info.name)) continue;
        l.weight = l.weight.detach().requires_grad_(true);
        leaves.emplace_back(l.info.name, l.weight);
    }
    const at::Tensor x = input.detach().requires_grad_(true);
    try {
        net.block(b, x).backward(gradOut);
    } catch (const std::exception&) {
        rep.checkCancelled();  // a cancellation inside autograd arrives wrapped: rethrown as such
        throw;
    }
    for (auto& [name, leaf] : leaves) {
        const at::Tensor g = leaf.grad();
        weightGrads[name] = g.defined() ? g.detach() : at::zeros_like(leaf.detach());
    }
    for (Linear& l : net.linears())
        if (l.info.block == b) l.weight = l.weight.detach();
    return x.grad().detach();
}

void streamedGradients(Transformer& net, const RunResult& run,
                       const std::array<std::vector<at::Tensor>, 2>& blockInputs,
                       std::array<at::Tensor, 2> gradOut, std::vector<LayerResult>& layers,
                       int bins, const InputQuantizer& quantizer, const ProgressReporter& rep) {
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < layers.size(); ++i) index[layers[i].name] = i;
    const int blocks = net.config().numLayers;
    for (int b = blocks - 1; b >= 0; --b) {
        rep.checkCancelled();
        net.loadBlock(b);
        std::array<std::map<std::string, at::Tensor>, 2> grads;
        gradOut[kFloat] = blockBackward(net, b, blockInputs[kFloat][size_t(b)], gradOut[kFloat],
                                        index, grads[0], rep);
        rep.checkCancelled();
        useQuantized(net, run, b, index);
        net.setInputQuantizer(quantizer);  // straight-through (methods/activation_quant.h)
        gradOut[kQuant] = blockBackward(net, b, blockInputs[kQuant][size_t(b)], gradOut[kQuant],
                                        index, grads[1], rep);
        for (auto& [name, gf] : grads[0]) {
            LayerResult& l = layers[index.at(name)];
            const at::Tensor f = gf.contiguous(), q = grads[1].at(name).contiguous();
            const size_t n = size_t(f.numel());
            const Range shared = binnableRange(
                merge(finiteRange(f.data_ptr<float>(), n), finiteRange(q.data_ptr<float>(), n)));
            l.gradientBefore = computeHistogram(f.data_ptr<float>(), n, shared.lo, shared.hi, bins);
            l.gradientAfter = computeHistogram(q.data_ptr<float>(), n, shared.lo, shared.hi, bins);
            l.gradientNormBefore = l2Norm(f);
            l.gradientNormAfter = l2Norm(q);
        }
        net.setInputQuantizer({});
        grads[0].clear();
        grads[1].clear();
        net.releaseBlock(b);
        releaseFreeMemoryAbove(kFreeHeapBetweenBlocks);
        rep.report("gradients", 0.1 + 0.9 * double(blocks - b) / double(blocks),
                   "block " + std::to_string(b));
    }
    releaseFreeMemory();
}

}  // namespace ql
