// What the block-streamed engine measures while a block is loaded: activation histograms
// (ranges on the main pass, counts on a second pass of the block), output SQNR, and the
// float/quantized weight states of the block. Window batching of the streams.
#include "base/error.h"
#include "run/stream_engine.h"

#include "methods/activation_quant.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ql {

std::vector<StreamBatch> makeBatches(const Windows& windows, size_t split, size_t perBatch) {
    std::vector<StreamBatch> out;
    if (windows.empty()) return out;
    for (size_t w0 = 0; w0 < windows.size();) {
        size_t end = std::min(windows.size(), w0 + perBatch);
        if (w0 < split && end > split) end = split;
        StreamBatch b;
        b.ids = idsTensor(windows, w0, end - w0);
        b.firstWindow = w0;
        out.push_back(std::move(b));
        w0 = end;
    }
    return out;
}

at::Tensor firstWindows(const std::vector<StreamBatch>& batches, int stream, size_t count) {
    std::vector<at::Tensor> parts;
    size_t have = 0;
    for (const StreamBatch& b : batches) {
        if (have >= count) break;
        const int64_t n =
            std::min<int64_t>(b.hidden[size_t(stream)].size(0), int64_t(count - have));
        parts.push_back(b.hidden[size_t(stream)].narrow(0, 0, n));
        have += size_t(n);
    }
    return at::cat(parts, 0).clone();
}

namespace {

Range merge(Range a, Range b) {
    if (!a.valid) return b;
    if (!b.valid) return a;
    return unionRange(a, b);
}

const float* floatData(const at::Tensor& t, at::Tensor& keep) {
    keep = t.detach().contiguous();
    if (keep.scalar_type() != at::kFloat) keep = keep.to(at::kFloat);
    return keep.data_ptr<float>();
}

}  // namespace

// ---- activations ----

ActivationStats::ActivationStats(const std::vector<LayerResult>& layers, int bins)
    : acc_(layers.size()), bins_(bins) {
    for (size_t i = 0; i < layers.size(); ++i) {
        index_[layers[i].name] = i;
        names_.push_back(layers[i].name);
    }
}

LinearObserver ActivationStats::rangeObserver(int stream) {
    return [this, stream](const Linear& l, const at::Tensor& input,
                          const at::Tensor& output) -> at::Tensor {
        const auto it = index_.find(l.info.name);
        if (it == index_.end()) return {};
        Acc& a = acc_[it->second];
        at::Tensor xi, xo;
        const float* pi = floatData(input, xi);
        const float* po = floatData(output, xo);
        a.in[stream] = merge(a.in[stream], finiteRange(pi, size_t(xi.numel())));
        a.out[stream] = merge(a.out[stream], finiteRange(po, size_t(xo.numel())));
        return {};
    };
}

void ActivationStats::beginCounting(int block, const Transformer& net) {
    for (const Linear& l : net.linears()) {
        if (l.info.block != block) continue;
        const auto it = index_.find(l.info.name);
        if (it == index_.end()) continue;
        Acc& a = acc_[it->second];
        const Range in = binnableRange(merge(a.in[0], a.in[1]));
        const Range out = binnableRange(merge(a.out[0], a.out[1]));
        for (int s = 0; s < 2; ++s) {
            a.histIn[s].emplace(in.lo, in.hi, bins_);
            a.histOut[s].emplace(out.lo, out.hi, bins_);
            a.sample[s].emplace(kSampleSize, fnv1a(l.info.name, uint64_t(s) + 1));
        }
    }
}

LinearObserver ActivationStats::countObserver(int stream) {
    return [this, stream](const Linear& l, const at::Tensor& input,
                          const at::Tensor& output) -> at::Tensor {
        const auto it = index_.find(l.info.name);
        if (it == index_.end()) return {};
        Acc& a = acc_[it->second];
        if (!a.histIn[stream]) throw Error("internal: activation counts before ranges");
        at::Tensor xi, xo;
        const float* pi = floatData(input, xi);
        const float* po = floatData(output, xo);
        a.histIn[stream]->add(pi, size_t(xi.numel()));
        a.histOut[stream]->add(po, size_t(xo.numel()));
        a.sample[stream]->add(pi, size_t(xi.numel()));
        return {};
    };
}

void ActivationStats::finish(std::vector<LayerResult>& layers) {
    for (size_t i = 0; i < layers.size(); ++i) {
        Acc& a = acc_[i];
        if (!a.histIn[0]) throw Error("internal: no activations for layer '" + names_[i] + "'");
        LayerResult& l = layers[i];
        l.activationBefore = a.histIn[0]->result();
        l.activationAfter = a.histIn[1]->result();
        l.outputBefore = a.histOut[0]->result();
        l.outputAfter = a.histOut[1]->result();
        l.activationSampleBefore = a.sample[0]->take();
        l.activationSampleAfter = a.sample[1]->take();
    }
}

// ---- output SQNR ----

namespace {

constexpr size_t kOutlierColumnsListed = 16;

// LLM.int8() per layer: mean fraction of columns decomposed per window, the columns most
// often decomposed (count of windows, ties by index) and the output SQNR without it.
void finishOutliers(const at::Tensor& columnWindows, int64_t windows, double signal,
                    double plainNoise, LayerResult& l) {
    const at::Tensor counts = columnWindows.contiguous();
    const int64_t* c = counts.data_ptr<int64_t>();
    const int64_t in = counts.numel();
    int64_t total = 0;
    std::vector<int64_t> order;
    for (int64_t j = 0; j < in; ++j) {
        total += c[j];
        if (c[j] > 0) order.push_back(j);
    }
    std::stable_sort(order.begin(), order.end(), [c](int64_t a, int64_t b) { return c[a] > c[b]; });
    if (order.size() > kOutlierColumnsListed) order.resize(kOutlierColumnsListed);
    l.outlierColumnFraction = double(total) / (double(windows) * double(in));
    l.outlierColumns = order;
    l.outlierColumnWindows.clear();
    for (int64_t j : order) l.outlierColumnWindows.push_back(c[j]);
    l.outlierWindows = windows;
    l.outputSqnrPlainDb = plainNoise > 0.0 ? 10.0 * std::log10(signal / plainNoise)
                                           : std::numeric_limits<double>::infinity();
}

}  // namespace

SqnrStats::SqnrStats(const std::vector<LayerResult>& layers) {
    for (const auto& l : layers) energy_[l.name];
}

LinearObserver SqnrStats::observer() {
    // Inputs as the quantized model sees them; W the float weight (Linear::original), the
    // layer's output computed with the quantized weight (bias on both sides).
    return [this](const Linear& layer, const at::Tensor& input,
                  const at::Tensor& output) -> at::Tensor {
        const auto it = energy_.find(layer.info.name);
        if (it == energy_.end()) return {};
        const bool raw = rawLayer_ == layer.info.name;
        at::Tensor reference =
            at::matmul((raw ? raw_ : input).detach(), layer.original.detach().t());
        if (raw) {
            raw_ = at::Tensor();
            rawLayer_.clear();
        }
        it->second.signal += reference.pow(2).sum(at::kDouble).item<double>();
        if (layer.bias.defined()) reference = reference + layer.bias.detach();
        it->second.noise += (reference - output.detach()).pow(2).sum(at::kDouble).item<double>();
        return {};
    };
}

void SqnrStats::countOutliers(Energy& e, const Linear& layer, const at::Tensor& x) {
    const at::Tensor flagged = outlierColumns(x, outlierThreshold_);  // [..., 1, in]
    const int64_t in = x.size(-1);
    const at::Tensor perColumn = flagged.reshape({-1, in}).to(at::kLong).sum(0);
    e.columnWindows = e.columnWindows.defined() ? e.columnWindows + perColumn : perColumn;
    e.windows += flagged.numel() / in;
    // Without decomposition: every column int8 per token, the same int8 weight.
    at::Tensor reference = at::matmul(x, layer.original.detach().t());
    at::Tensor plain = at::matmul(fakeQuantPerToken(x, 8, true), layer.weight.detach().t());
    e.plainNoise += (reference - plain).pow(2).sum(at::kDouble).item<double>();
}

InputQuantizer SqnrStats::measuring(InputQuantizer quantizer, double outlierThreshold) {
    if (!quantizer) return {};
    quantizer_ = std::move(quantizer);
    outlierThreshold_ = outlierThreshold;
    return [this](const Linear& layer, const at::Tensor& x) -> at::Tensor {
        at::Tensor xHat = quantizer_(layer, x);
        const auto it = energy_.find(layer.info.name);
        if (it == energy_.end() || xHat.is_same(x)) return xHat;
        const at::Tensor v = x.detach();
        it->second.actSignal += v.pow(2).sum(at::kDouble).item<double>();
        it->second.actNoise += (v - xHat.detach()).pow(2).sum(at::kDouble).item<double>();
        it->second.activations = true;
        if (outlierThreshold_ > 0.0) countOutliers(it->second, layer, v);
        rawLayer_ = layer.info.name;
        raw_ = v;
        return xHat;
    };
}

void SqnrStats::finish(std::vector<LayerResult>& layers) const {
    for (auto& l : layers) {
        const Energy& e = energy_.at(l.name);
        l.activationSqnrDb = !e.activations     ? std::numeric_limits<double>::quiet_NaN()
                             : e.actNoise > 0.0 ? 10.0 * std::log10(e.actSignal / e.actNoise)
                                                : std::numeric_limits<double>::infinity();
        if (e.windows > 0) finishOutliers(e.columnWindows, e.windows, e.signal, e.plainNoise, l);
        l.outputSqnrDb = e.noise > 0.0 ? 10.0 * std::log10(e.signal / e.noise)
                                       : std::numeric_limits<double>::infinity();
    }
}

// ---- block weight states ----

void BlockStates::captureQuantized(Transformer& net, const std::vector<std::string>& layers) {
    quant_.clear();
    for (const std::string& name : layers) quant_[name] = net.linear(name).weight;
}

void BlockStates::use(Transformer& net, int block, int stream) const {
    for (Linear& l : net.linears()) {
        if (l.info.block != block) continue;
        const auto it = quant_.find(l.info.name);
        l.weight = stream == kQuant && it != quant_.end() ? it->second : l.original.detach();
    }
}

}  // namespace ql
