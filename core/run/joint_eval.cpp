// Perplexity of the float and the quantized model plus the divergence of their
// next-token distributions, in one pass: per batch of windows the float model's final
// hidden states are computed, then the quantized model's; the output head is applied
// to both in row chunks (as evaluatePerplexity does, so pplFp is the same number), and
// only one chunk of log-probabilities per model exists at a time.
#include "base/error.h"
#include "run/run_torch.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace ql {

namespace {

constexpr int64_t kHeadRowsPerChunk = 512;
constexpr size_t kEvalBatch = 4;  // evaluatePerplexity's default batch

at::Tensor finalHidden(const Transformer& net, const at::Tensor& ids, const ProgressReporter& rep) {
    at::Tensor hidden = net.embed(ids);
    for (int b = 0; b < net.config().numLayers; ++b) {
        hidden = net.block(b, hidden);
        rep.checkCancelled();
    }
    return hidden;
}

struct Totals {
    double nllFp = 0.0, nllQ = 0.0;
    int64_t scored = 0, agree = 0;
    std::vector<float> kl;  // one per scored position
};

// One window: hidden states [seq, hidden] of both models, ids [seq].
void scoreWindow(const Transformer& net, const at::Tensor& hf, const at::Tensor& hq,
                 const at::Tensor& ids, int firstScored, Totals& t) {
    const int64_t last = hf.size(0) - 1;
    for (int64_t begin = firstScored; begin < last; begin += kHeadRowsPerChunk) {
        const int64_t n = std::min(kHeadRowsPerChunk, last - begin);
        const at::Tensor targets = ids.narrow(0, begin + 1, n).unsqueeze(1);
        const at::Tensor lf = net.head(hf.narrow(0, begin, n));  // logits [n, vocab]
        const at::Tensor lq = net.head(hq.narrow(0, begin, n));
        const at::Tensor zf = at::logsumexp(lf, -1, true), zq = at::logsumexp(lq, -1, true);
        t.nllFp +=
            (zf.squeeze(1) - lf.gather(1, targets).squeeze(1)).to(at::kDouble).sum().item<double>();
        t.nllQ +=
            (zq.squeeze(1) - lq.gather(1, targets).squeeze(1)).to(at::kDouble).sum().item<double>();
        const at::Tensor logPf = lf - zf, logPq = lq - zq;
        // KL(P_f || P_q) = sum_v p_f (log p_f - log p_q); rounding can give -1e-9: clamp at 0.
        const at::Tensor kl = (logPf.exp() * (logPf - logPq)).sum(-1).clamp_min(0.0).contiguous();
        t.kl.insert(t.kl.end(), kl.data_ptr<float>(), kl.data_ptr<float>() + n);
        t.agree += lf.argmax(-1).eq(lq.argmax(-1)).sum().item<int64_t>();
        t.scored += n;
    }
}

double quantile(const std::vector<float>& sorted, double q) {
    // Nearest rank on the sorted values.
    if (sorted.empty()) return 0.0;
    const size_t i = size_t(std::ceil(q * double(sorted.size()))) - (q > 0 ? 1 : 0);
    return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

PerplexitySummary jointEvaluate(Transformer& net, ModelStates& states,
                                const std::vector<EvalWindow>& windows,
                                const ProgressReporter& rep) {
    const auto start = std::chrono::steady_clock::now();
    Windows ids;
    for (const auto& w : windows) ids.push_back(w.ids);
    const int firstScored = windows.front().firstScored;
    Totals t;
    at::NoGradGuard noGrad;
    try {
        for (size_t w0 = 0; w0 < ids.size(); w0 += kEvalBatch) {
            const size_t n = std::min(kEvalBatch, ids.size() - w0);
            const at::Tensor batch = idsTensor(ids, w0, n);
            states.use(false);
            const at::Tensor hf = finalHidden(net, batch, rep);
            states.use(true);
            const at::Tensor hq = finalHidden(net, batch, rep);
            for (size_t i = 0; i < n; ++i)
                scoreWindow(net, hf[int64_t(i)], hq[int64_t(i)], batch[int64_t(i)], firstScored, t);
            char msg[96];
            std::snprintf(msg, sizeof msg, "%zu/%zu windows, ppl %.4f -> %.4f", w0 + n, ids.size(),
                          std::exp(t.nllFp / double(t.scored)),
                          std::exp(t.nllQ / double(t.scored)));
            rep.report("evaluate", double(w0 + n) / double(ids.size()), msg);
        }
    } catch (...) {
        states.use(true);
        throw;
    }
    states.use(true);

    PerplexitySummary p;
    p.valid = true;
    p.pplFp = std::exp(t.nllFp / double(t.scored));
    p.pplQ = std::exp(t.nllQ / double(t.scored));
    p.scoredTokens = t.scored;
    p.windows = int(windows.size());
    p.seq = int(windows.front().ids.size());
    double klSum = 0.0;
    for (float v : t.kl) klSum += v;
    p.klMean = klSum / double(t.kl.size());
    std::sort(t.kl.begin(), t.kl.end());
    p.klP50 = quantile(t.kl, 0.50);
    p.klP90 = quantile(t.kl, 0.90);
    p.klP99 = quantile(t.kl, 0.99);
    p.klMax = t.kl.back();
    p.top1Agreement = double(t.agree) / double(t.scored);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    p.tokensPerSecond = seconds > 0 ? 2.0 * double(windows.size()) * p.seq / seconds : 0.0;
    return p;
}

}  // namespace ql
