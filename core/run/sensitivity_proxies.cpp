// The proxies of measured sensitivity (see sensitivity_proxies.h).
#include "run/sensitivity_proxies.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace ql {

namespace {

double sumSquares(const at::Tensor& t) {
    return t.pow(2).sum(at::kDouble).item<double>();
}

void addMoments(LayerProxySums& s, const at::Tensor& x) {
    const at::Tensor d = x.detach().to(at::kDouble);
    at::Tensor power = d;
    for (int k = 0; k < 4; ++k) {
        s.moments[k] += power.sum().item<double>();
        if (k < 3) power = power * d;
    }
    s.count += double(d.numel());
}

}  // namespace

LinearObserver outputErrorObserver(ProxySums& sums) {
    // The same energies as a run's output SQNR (SqnrStats::observer, stream_stats.cpp).
    return [&sums](const Linear& layer, const at::Tensor& input,
                   const at::Tensor& output) -> at::Tensor {
        const auto it = sums.find(layer.info.name);
        if (it == sums.end()) return {};
        at::Tensor reference = at::matmul(input.detach(), layer.original.detach().t());
        it->second.outSignal += sumSquares(reference);
        if (layer.bias.defined()) reference = reference + layer.bias.detach();
        it->second.outNoise += sumSquares(reference - output.detach());
        return {};
    };
}

int64_t inputProxies(const Transformer& net, const Windows& windows, ProxySums& sums,
                     const ProgressReporter& rep) {
    // x W_hat^T is computed by the model anyway; its difference from x W^T is (W - W_hat) x,
    // whose squared norm summed over tokens is the Hessian-weighted error (H = X^T X).
    const LinearObserver floatOutputs = [&sums](const Linear& layer, const at::Tensor& input,
                                                const at::Tensor& output) -> at::Tensor {
        const auto it = sums.find(layer.info.name);
        if (it == sums.end()) return {};
        const at::Tensor x = input.detach();
        at::Tensor reference = at::matmul(x, layer.original.detach().t());
        if (layer.bias.defined()) reference = reference + layer.bias.detach();
        LayerProxySums& s = it->second;
        s.hessian += sumSquares(reference - output.detach());
        s.tokens += x.numel() / x.size(-1);
        addMoments(s, x);
        return reference;  // the float model's output: the next layers see float inputs
    };
    at::NoGradGuard noGrad;
    const int blocks = net.config().numLayers;
    constexpr size_t kBatch = 4;
    for (size_t w0 = 0; w0 < windows.size(); w0 += kBatch) {
        const size_t n = std::min(kBatch, windows.size() - w0);
        at::Tensor hidden = net.embed(idsTensor(windows, w0, n));
        for (int b = 0; b < blocks; ++b) {
            rep.checkCancelled();
            hidden = net.block(b, hidden, floatOutputs);
        }
        rep.report("proxies", double(w0 + n) / double(windows.size()), "Hessian and kurtosis");
    }
    return windows.empty() ? 0 : blocks;
}

int64_t fisherProxies(Transformer& net, const FloatStates& fs, int count, ProxySums& sums,
                      const ProgressReporter& rep) {
    std::map<std::string, size_t> index;
    int first = net.config().numLayers;
    for (const auto& entry : sums) {
        index.emplace(entry.first, index.size());
        first = std::min(first, net.linear(entry.first).info.block);
    }
    const int blocks = net.config().numLayers;
    int done = 0;
    for (size_t i = 0; i < fs.batches.size() && done < count; ++i) {
        const int64_t inBatch = fs.batches[i].ids.size(0);
        for (int64_t j = 0; j < inBatch && done < count; ++j, ++done) {
            const at::Tensor ids = fs.batches[i].ids.narrow(0, j, 1);
            at::Tensor grad = lossGradient(net, fs.final[i].narrow(0, j, 1), ids, rep);
            for (int b = blocks - 1; b >= first; --b) {
                // The float model's gradient: the block's float weights in, w_hat kept aside.
                std::vector<std::pair<Linear*, at::Tensor>> quantized;
                for (Linear& l : net.linears())
                    if (l.info.block == b && sums.count(l.info.name)) {
                        quantized.emplace_back(&l, l.weight);
                        l.weight = l.original;
                    }
                std::map<std::string, at::Tensor> g;
                grad = blockBackward(net, b, fs.input[size_t(b)][i].narrow(0, j, 1), grad, index, g,
                                     rep);
                for (auto& [l, wHat] : quantized) {
                    l->weight = wHat;
                    const at::Tensor delta = (l->original - wHat).to(at::kDouble);
                    const at::Tensor g2 = g.at(l->info.name).to(at::kDouble).pow(2);
                    sums.at(l->info.name).fisher += (g2 * delta.pow(2)).sum().item<double>();
                }
            }
            for (auto& entry : sums) ++entry.second.fisherWindows;
            rep.report("proxies", double(done + 1) / double(count), "Fisher");
        }
    }
    return done > 0 ? blocks - first : 0;
}

double inputKurtosis(const LayerProxySums& s) {
    if (s.count <= 0) return std::numeric_limits<double>::quiet_NaN();
    const double mean = s.moments[0] / s.count, e2 = s.moments[1] / s.count,
                 e3 = s.moments[2] / s.count, e4 = s.moments[3] / s.count;
    const double var = e2 - mean * mean;
    const double m4 = e4 - 4 * mean * e3 + 6 * mean * mean * e2 - 3 * mean * mean * mean * mean;
    if (!(var > 0)) return std::numeric_limits<double>::quiet_NaN();
    return m4 / (var * var);
}

}  // namespace ql
