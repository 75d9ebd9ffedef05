// The output head of the block-streamed engine, applied in vocabulary chunks: a chunk of
// head rows (converted from the mapped checkpoint) against all scored positions of both
// streams at once, with running (online) log-sum-exp, target logit, argmax and KL sums,
// so that the head is read once and no [tokens, vocab] logits matrix exists.
#include "base/error.h"
#include "run/stream_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace ql {

namespace {

// Logit chunks of at most this many floats per stream (16 MB): at 7B (hidden 3584) a
// chunk is 30 GFLOP, a fraction of a second between cancellation checks.
constexpr int64_t kChunkFloats = int64_t(4) << 20;

int64_t vocabChunk(int64_t rows, int64_t vocab) {
    return std::clamp<int64_t>(kChunkFloats / std::max<int64_t>(rows, 1), 256, vocab);
}

// Running softmax statistics of one stream over vocabulary chunks, per row.
struct Online {
    at::Tensor max;     // [N] float, running max logit
    at::Tensor argmax;  // [N] int64, first index of the max
    at::Tensor sum;     // [N] double, sum exp(l - max)
    at::Tensor target;  // [N] float, logit of the target token

    explicit Online(int64_t n)
        : max(at::full({n}, -std::numeric_limits<float>::infinity(), at::kFloat)),
          argmax(at::zeros({n}, at::kLong)),
          sum(at::zeros({n}, at::kDouble)),
          target(at::zeros({n}, at::kFloat)) {}

    // Folds in logits [N, c] of vocabulary ids [begin, begin + c); returns the factor
    // exp(oldMax - newMax) that rescales sums of the earlier chunks.
    at::Tensor add(const at::Tensor& logits, int64_t begin, const at::Tensor& targets) {
        const auto [chunkMax, chunkArg] = logits.max(1);
        const at::Tensor better = chunkMax > max;  // strict: ties keep the first index
        const at::Tensor newMax = at::maximum(max, chunkMax);
        const at::Tensor rescale = (max - newMax).exp().to(at::kDouble);
        sum = sum * rescale + (logits - newMax.unsqueeze(1)).exp().sum(1, false, at::kDouble);
        argmax = at::where(better, chunkArg + begin, argmax);
        max = newMax;
        const at::Tensor local = targets - begin;
        const at::Tensor inside = (local >= 0).logical_and(local < logits.size(1));
        const at::Tensor picked =
            logits.gather(1, local.clamp(0, logits.size(1) - 1).unsqueeze(1)).squeeze(1);
        target = at::where(inside, picked, target);
        return rescale;
    }
    at::Tensor logSumExp() const { return max.to(at::kDouble) + sum.log(); }
};

// Normalised final hidden states of the scored positions of every batch, per stream, and
// their target ids.
struct Scored {
    std::array<at::Tensor, 2> normed;  // [N, hidden]
    at::Tensor targets;                // [N] int64
};

Scored scoredRows(const Transformer& net, const std::vector<StreamBatch>& batches,
                  int firstScored) {
    std::array<std::vector<at::Tensor>, 2> rows;
    std::vector<at::Tensor> targets;
    for (const StreamBatch& b : batches) {
        const int64_t T = b.ids.size(1), n = T - 1 - firstScored;
        if (n <= 0) continue;
        for (int s = 0; s < 2; ++s)
            rows[size_t(s)].push_back(
                b.hidden[size_t(s)].narrow(1, firstScored, n).reshape({-1, b.hidden[0].size(2)}));
        targets.push_back(b.ids.narrow(1, firstScored + 1, n).reshape({-1}));
    }
    if (targets.empty()) throw Error("internal: no scored positions");
    Scored out;
    for (int s = 0; s < 2; ++s) out.normed[size_t(s)] = net.finalNorm(at::cat(rows[size_t(s)], 0));
    out.targets = at::cat(targets, 0);
    return out;
}

double quantile(const std::vector<float>& sorted, double q) {
    if (sorted.empty()) return 0.0;
    const size_t i = size_t(std::ceil(q * double(sorted.size()))) - (q > 0 ? 1 : 0);
    return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

PerplexitySummary scoreStreams(const Transformer& net, const std::vector<StreamBatch>& eval,
                               int firstScored, const ProgressReporter& rep) {
    at::NoGradGuard noGrad;
    const Scored sc = scoredRows(net, eval, firstScored);
    const int64_t N = sc.targets.size(0), vocab = net.config().vocabSize;
    Online f(N), q(N);
    at::Tensor klTerm =
        at::zeros({N}, at::kDouble);  // sum p_f~ (l_f - l_q), p_f~ = e^(l_f - max_f)
    const int64_t chunk = vocabChunk(N, vocab);
    for (int64_t v0 = 0; v0 < vocab; v0 += chunk) {
        rep.checkCancelled();
        const int64_t c = std::min(chunk, vocab - v0);
        const at::Tensor w = net.headRows(v0, c);
        const at::Tensor lf = at::matmul(sc.normed[kFloat], w.t());
        const at::Tensor lq = at::matmul(sc.normed[kQuant], w.t());
        const at::Tensor rescale = f.add(lf, v0, sc.targets);
        q.add(lq, v0, sc.targets);
        klTerm = klTerm * rescale +
                 ((lf - f.max.unsqueeze(1)).exp() * (lf - lq)).sum(1, false, at::kDouble);
        rep.report("evaluate", double(v0 + c) / double(vocab), "output head");
    }
    const at::Tensor lseF = f.logSumExp(), lseQ = q.logSumExp();
    const at::Tensor nllF = lseF - f.target.to(at::kDouble);
    const at::Tensor nllQ = lseQ - q.target.to(at::kDouble);
    // KL(P_f || P_q) = sum_v p_f (l_f - l_q) - lse_f + lse_q; rounding can give -1e-9.
    const at::Tensor kl = (klTerm / f.sum - lseF + lseQ).clamp_min(0.0).to(at::kFloat).contiguous();

    PerplexitySummary p;
    p.valid = true;
    p.scoredTokens = N;
    p.pplFp = std::exp(nllF.sum().item<double>() / double(N));
    p.pplQ = std::exp(nllQ.sum().item<double>() / double(N));
    std::vector<float> kls(kl.data_ptr<float>(), kl.data_ptr<float>() + N);
    double klSum = 0.0;
    for (float v : kls) klSum += v;
    p.klMean = klSum / double(N);
    std::sort(kls.begin(), kls.end());
    p.klP50 = quantile(kls, 0.50);
    p.klP90 = quantile(kls, 0.90);
    p.klP99 = quantile(kls, 0.99);
    p.klMax = kls.back();
    p.top1Agreement = f.argmax.eq(q.argmax).sum().item<double>() / double(N);
    return p;
}

namespace {

// d(mean next-token NLL)/d(final hidden) of any number of streams sharing `ids`.
std::vector<at::Tensor> lossGradientsOf(const Transformer& net,
                                        const std::vector<at::Tensor>& finalHidden,
                                        const at::Tensor& ids, const ProgressReporter& rep) {
    // Loss = sum of NLL of positions 0..T-2 over all windows / their count, as the
    // whole-model gradient capture defines it.
    const size_t S = finalHidden.size();
    const int64_t W = ids.size(0), T = ids.size(1), hidden = finalHidden[0].size(2);
    const int64_t N = W * (T - 1), vocab = net.config().vocabSize;
    const at::Tensor targets = ids.narrow(1, 1, T - 1).reshape({-1});
    std::vector<at::Tensor> leaf(S), normed(S), out(S), y(S);
    for (size_t s = 0; s < S; ++s) {
        leaf[s] = finalHidden[s].detach().requires_grad_(true);
        at::AutoGradMode on(true);
        normed[s] = net.finalNorm(leaf[s]).narrow(1, 0, T - 1).reshape({N, hidden});
    }
    const int64_t chunk = vocabChunk(N, vocab);
    at::NoGradGuard noGrad;
    for (size_t s = 0; s < S; ++s) y[s] = normed[s].detach();
    // Pass 1: log-sum-exp per row. Pass 2: dL/dy = sum_chunks (softmax - onehot) W / N.
    std::vector<Online> stats;
    for (size_t s = 0; s < S; ++s) stats.emplace_back(N);
    for (int64_t v0 = 0; v0 < vocab; v0 += chunk) {
        rep.checkCancelled();
        const int64_t c = std::min(chunk, vocab - v0);
        const at::Tensor w = net.headRows(v0, c);
        for (size_t s = 0; s < S; ++s) stats[s].add(at::matmul(y[s], w.t()), v0, targets);
    }
    std::vector<at::Tensor> lse(S), dy(S);
    for (size_t s = 0; s < S; ++s) {
        lse[s] = stats[s].logSumExp().to(at::kFloat).unsqueeze(1);
        dy[s] = at::zeros({N, hidden});
    }
    for (int64_t v0 = 0; v0 < vocab; v0 += chunk) {
        rep.checkCancelled();
        const int64_t c = std::min(chunk, vocab - v0);
        const at::Tensor w = net.headRows(v0, c);
        const at::Tensor local = targets - v0;
        const at::Tensor inside = (local >= 0).logical_and(local < c);
        for (size_t s = 0; s < S; ++s) {
            at::Tensor p = (at::matmul(y[s], w.t()) - lse[s]).exp();
            const at::Tensor rows = at::arange(N, at::kLong).masked_select(inside);
            if (rows.numel() > 0)
                p.index_put_({rows, local.masked_select(inside)},
                             p.index({rows, local.masked_select(inside)}) - 1.0);
            dy[s].addmm_(p, w);
        }
        rep.report("gradients", 0.1 * double(v0 + c) / double(vocab), "output head");
    }
    for (size_t s = 0; s < S; ++s) {
        at::AutoGradMode on(true);
        normed[s].backward(dy[s] / double(N));
        out[s] = leaf[s].grad().detach();
    }
    return out;
}

}  // namespace

std::array<at::Tensor, 2> lossGradients(const Transformer& net,
                                        const std::array<at::Tensor, 2>& finalHidden,
                                        const at::Tensor& ids, const ProgressReporter& rep) {
    const std::vector<at::Tensor> g =
        lossGradientsOf(net, {finalHidden[0], finalHidden[1]}, ids, rep);
    return {g[0], g[1]};
}

at::Tensor lossGradient(const Transformer& net, const at::Tensor& finalHidden,
                        const at::Tensor& ids, const ProgressReporter& rep) {
    return lossGradientsOf(net, {finalHidden}, ids, rep)[0];
}

}  // namespace ql
