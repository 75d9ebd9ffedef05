// Activation and gradient capture: the calibration windows through the float and the
// quantized model, histogrammed per layer on shared bins, streamed (no activation is
// kept beyond the forward call that produced it, except a bounded random sample).
#include "base/error.h"
#include "quant/histogram.h"
#include "run/reservoir.h"
#include "run/run_internal.h"
#include "run/run_torch.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>

namespace ql {

// ---- model states ----

ModelStates::ModelStates(Transformer& net) : net_(net) {
    float_ = snapshot(true);
}

ModelStates::State ModelStates::snapshot(bool cloneNorms) const {
    State s;
    for (const Linear& l : net_.linears()) s.linear.push_back(l.weight);
    for (int b = 0; b < net_.config().numLayers; ++b) {
        const at::Tensor& in = net_.inputNorm(b);
        const at::Tensor& post = net_.postAttentionNorm(b);
        s.inputNorm.push_back(cloneNorms ? in.clone() : in);
        s.postNorm.push_back(cloneNorms ? post.clone() : post);
    }
    return s;
}

void ModelStates::captureQuantized() {
    quant_ = snapshot(false);
}

bool ModelStates::normsChanged() const {
    for (int b = 0; b < net_.config().numLayers; ++b) {
        if (!at::equal(float_.inputNorm[size_t(b)], net_.inputNorm(b)) ||
            !at::equal(float_.postNorm[size_t(b)], net_.postAttentionNorm(b)))
            return true;
    }
    return false;
}

void ModelStates::use(bool quantized) {
    const State& s = quantized ? quant_ : float_;
    if (s.linear.empty()) throw Error("internal: quantized model state not captured");
    auto& linears = net_.linears();
    for (size_t i = 0; i < linears.size(); ++i) linears[i].weight = s.linear[i];
    for (int b = 0; b < net_.config().numLayers; ++b) {
        net_.inputNorm(b) = s.inputNorm[size_t(b)];
        net_.postAttentionNorm(b) = s.postNorm[size_t(b)];
    }
    net_.setInputQuantizer(quantized ? quantizer_ : InputQuantizer());
}

at::Tensor idsTensor(const Windows& windows, size_t begin, size_t count) {
    const int64_t seq = int64_t(windows.at(begin).size());
    at::Tensor ids = at::empty({int64_t(count), seq}, at::kLong);
    int64_t* p = ids.data_ptr<int64_t>();
    for (size_t w = 0; w < count; ++w)
        for (int64_t t = 0; t < seq; ++t) *p++ = windows[begin + w][size_t(t)];
    return ids;
}

size_t batchWindows(int64_t seq, int64_t vocab) {
    const int64_t limit = 16 * 1024 * 1024;
    return size_t(
        std::max<int64_t>(1, std::min<int64_t>(4, limit / std::max<int64_t>(1, seq * vocab))));
}

namespace {

Range merge(Range a, Range b) {
    if (!a.valid) return b;
    if (!b.valid) return a;
    return unionRange(a, b);
}

// Per layer and state (0 float, 1 quantized): ranges, then histograms + samples.
struct ActivationAcc {
    Range in[2], out[2];
    std::optional<HistogramAccumulator> histIn[2], histOut[2];
    std::optional<Reservoir> sample[2];
};

std::map<std::string, size_t> layerIndex(const std::vector<LayerResult>& layers) {
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < layers.size(); ++i) index[layers[i].name] = i;
    return index;
}

const float* floatData(const at::Tensor& t, at::Tensor& keep) {
    keep = t.detach().contiguous();
    if (keep.scalar_type() != at::kFloat) keep = keep.to(at::kFloat);
    return keep.data_ptr<float>();
}

}  // namespace

void captureActivations(Transformer& net, ModelStates& states, const Windows& windows,
                        std::vector<LayerResult>& layers, int bins, const ProgressReporter& rep) {
    const auto index = layerIndex(layers);
    std::vector<ActivationAcc> acc(layers.size());
    const size_t batch = batchWindows(int64_t(windows.front().size()), net.config().vocabSize);
    // Passes: ranges float, ranges quantized, histograms float, histograms quantized.
    for (int pass = 0; pass < 4; ++pass) {
        const int state = pass % 2;
        const bool ranges = pass < 2;
        if (pass == 2) {
            for (size_t i = 0; i < layers.size(); ++i) {
                ActivationAcc& a = acc[i];
                const Range in = binnableRange(merge(a.in[0], a.in[1]));
                const Range out = binnableRange(merge(a.out[0], a.out[1]));
                for (int s = 0; s < 2; ++s) {
                    a.histIn[s].emplace(in.lo, in.hi, bins);
                    a.histOut[s].emplace(out.lo, out.hi, bins);
                    a.sample[s].emplace(kSampleSize, fnv1a(layers[i].name, uint64_t(s) + 1));
                }
            }
        }
        states.use(state == 1);
        const LinearObserver observer = [&](const Linear& l, const at::Tensor& input,
                                            const at::Tensor& output) -> at::Tensor {
            const auto it = index.find(l.info.name);
            if (it == index.end()) return {};
            ActivationAcc& a = acc[it->second];
            at::Tensor xi, xo;
            const float* pi = floatData(input, xi);
            const float* po = floatData(output, xo);
            const size_t ni = size_t(xi.numel()), no = size_t(xo.numel());
            if (ranges) {
                a.in[state] = merge(a.in[state], finiteRange(pi, ni));
                a.out[state] = merge(a.out[state], finiteRange(po, no));
            } else {
                a.histIn[state]->add(pi, ni);
                a.histOut[state]->add(po, no);
                a.sample[state]->add(pi, ni);
            }
            return {};
        };
        at::NoGradGuard noGrad;
        for (size_t w0 = 0; w0 < windows.size(); w0 += batch) {
            const size_t n = std::min(batch, windows.size() - w0);
            at::Tensor hidden = net.embed(idsTensor(windows, w0, n));
            for (int b = 0; b < net.config().numLayers; ++b) {
                hidden = net.block(b, hidden, observer);
                rep.checkCancelled();
            }
            rep.report("activations", (pass + double(w0 + n) / windows.size()) / 4.0,
                       "pass " + std::to_string(pass + 1) + "/4");
        }
    }
    states.use(true);
    for (size_t i = 0; i < layers.size(); ++i) {
        LayerResult& l = layers[i];
        l.activationBefore = acc[i].histIn[0]->result();
        l.activationAfter = acc[i].histIn[1]->result();
        l.outputBefore = acc[i].histOut[0]->result();
        l.outputAfter = acc[i].histOut[1]->result();
        l.activationSampleBefore = acc[i].sample[0]->take();
        l.activationSampleAfter = acc[i].sample[1]->take();
    }
}

namespace {

// Gradients of the mean next-token NLL over `windows` w.r.t. the selected linears'
// weights, in the current model state. Each weight is replaced by a detached leaf
// sharing its storage (no copy); the originals are put back afterwards.
std::vector<at::Tensor> weightGradients(Transformer& net, const std::vector<size_t>& selected,
                                        const Windows& windows, const ProgressReporter& rep) {
    auto& linears = net.linears();
    std::vector<at::Tensor> saved, leaves;
    for (size_t i : selected) {
        saved.push_back(linears[i].weight);
        at::Tensor leaf = linears[i].weight.detach();
        leaf.requires_grad_(true);
        linears[i].weight = leaf;
        leaves.push_back(leaf);
    }
    auto restore = [&] {
        for (size_t k = 0; k < selected.size(); ++k) linears[selected[k]].weight = saved[k];
    };
    try {
        at::AutoGradMode gradMode(true);
        int64_t scoredTotal = 0;
        for (const auto& w : windows) scoredTotal += int64_t(w.size()) - 1;
        for (size_t w = 0; w < windows.size(); ++w) {
            const at::Tensor ids = idsTensor(windows, w, 1);
            const int64_t T = ids.size(1);
            const at::Tensor logits = net.forward(ids)[0].narrow(0, 0, T - 1);  // [T-1, V]
            const at::Tensor targets = ids[0].narrow(0, 1, T - 1).unsqueeze(1);
            const at::Tensor nll = at::logsumexp(logits, -1) - logits.gather(1, targets).squeeze(1);
            (nll.sum() / double(scoredTotal)).backward();
            rep.report("gradients", double(w + 1) / windows.size());
        }
    } catch (...) {
        restore();
        throw;
    }
    restore();
    std::vector<at::Tensor> grads;
    for (const at::Tensor& leaf : leaves) {
        const at::Tensor g = leaf.grad();
        grads.push_back(g.defined() ? g.detach().contiguous() : at::zeros_like(leaf.detach()));
    }
    return grads;
}

double l2Norm(const float* p, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) s += double(p[i]) * double(p[i]);
    return std::sqrt(s);
}

}  // namespace

namespace {

// Whether to compute the float gradients twice (for their range, then for their histogram)
// instead of keeping them while the quantized ones are computed: one set of weight
// gradients is as large as the selected weights (5 GB for a 1.5B model). Recomputing costs
// one more backward pass. QL_GRADIENTS_RECOMPUTE=0/1 forces either way.
bool recomputeGradients(const Transformer& net, const std::vector<size_t>& selected) {
    if (const char* e = std::getenv("QL_GRADIENTS_RECOMPUTE")) return e[0] == '1';
    uint64_t bytes = 0;
    for (size_t i : selected) bytes += uint64_t(net.linears()[i].weight.numel()) * 4;
    const uint64_t gib = uint64_t(1) << 30;
    return bytes > gib || 2 * bytes + gib > memAvailableBytes();
}

// Gradients in one state, restoring the quantized state on the way out.
std::vector<at::Tensor> gradientsIn(bool quantized, Transformer& net, ModelStates& states,
                                    const std::vector<size_t>& selected, const Windows& windows,
                                    const ProgressReporter& rep) {
    states.use(quantized);
    std::vector<at::Tensor> grads;
    try {
        grads = weightGradients(net, selected, windows, rep);
        memoryTrace(quantized ? "gradients (quantized)" : "gradients (float)");
    } catch (...) {
        states.use(true);
        throw;
    }
    states.use(true);
    return grads;
}

Range rangeOf(const at::Tensor& g) {
    return finiteRange(g.data_ptr<float>(), size_t(g.numel()));
}

}  // namespace

void captureGradients(Transformer& net, ModelStates& states, const Windows& windows,
                      std::vector<LayerResult>& layers, int bins, const ProgressReporter& rep) {
    std::vector<size_t> selected;
    const auto index = layerIndex(layers);
    std::vector<size_t> layerOf;
    for (size_t i = 0; i < net.linears().size(); ++i) {
        const auto it = index.find(net.linears()[i].info.name);
        if (it == index.end()) continue;
        selected.push_back(i);
        layerOf.push_back(it->second);
    }
    const bool recompute = recomputeGradients(net, selected);
    const double part = recompute ? 1.0 / 3.0 : 0.5;
    std::vector<at::Tensor> before =
        gradientsIn(false, net, states, selected, windows, rep.sub(0.0, part));
    std::vector<Range> beforeRange(selected.size());
    if (recompute) {  // keep the range and norm only
        for (size_t k = 0; k < selected.size(); ++k) {
            LayerResult& l = layers[layerOf[k]];
            beforeRange[k] = rangeOf(before[k]);
            l.gradientNormBefore = l2Norm(before[k].data_ptr<float>(), size_t(before[k].numel()));
            before[k] = at::Tensor();
        }
    }
    std::vector<at::Tensor> after =
        gradientsIn(true, net, states, selected, windows, rep.sub(part, 2 * part));
    std::vector<Range> shared(selected.size());
    for (size_t k = 0; k < selected.size(); ++k) {
        LayerResult& l = layers[layerOf[k]];
        const float* ga = after[k].data_ptr<float>();
        const size_t n = size_t(after[k].numel());
        shared[k] = binnableRange(
            merge(recompute ? beforeRange[k] : rangeOf(before[k]), finiteRange(ga, n)));
        l.gradientAfter = computeHistogram(ga, n, shared[k].lo, shared[k].hi, bins);
        l.gradientNormAfter = l2Norm(ga, n);
        after[k] = at::Tensor();
        if (recompute) continue;
        const float* gb = before[k].data_ptr<float>();
        l.gradientBefore = computeHistogram(gb, n, shared[k].lo, shared[k].hi, bins);
        l.gradientNormBefore = l2Norm(gb, n);
        before[k] = at::Tensor();
    }
    if (!recompute) return;
    before = gradientsIn(false, net, states, selected, windows, rep.sub(2 * part, 1.0));
    for (size_t k = 0; k < selected.size(); ++k) {
        const float* gb = before[k].data_ptr<float>();
        layers[layerOf[k]].gradientBefore =
            computeHistogram(gb, size_t(before[k].numel()), shared[k].lo, shared[k].hi, bins);
        before[k] = at::Tensor();
    }
}

}  // namespace ql
