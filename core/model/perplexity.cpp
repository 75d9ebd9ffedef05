// Perplexity over non-overlapping windows of a token stream, "gptq" and "llamacpp"
// protocols as ../shared/README.md defines them. Windows are evaluated in batches;
// the output head is applied in row chunks so that [tokens, vocab] logits of large
// vocabularies (Qwen: 151k) never exist for a whole batch at once.
#include "model/perplexity.h"

#include "base/error.h"
#include "io/model_config.h"
#include "model/model.h"
#include "model/torch_errors.h"
#include "model/transformer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <new>

namespace ql {

namespace {

constexpr int64_t kHeadRowsPerChunk = 512;

struct Plan {
    int seq = 0;
    int windows = 0;
    int firstScored = 0;     // first position whose *next* token is scored
    int32_t bos = -1;        // llamacpp: token put at position 0 of each window
    bool bosStream = false;  // llamacpp: the stream is [BOS] + tokens before cutting windows
};

Plan makePlan(const Model& model, size_t tokenCount, const PerplexityOptions& o) {
    const ModelConfig& c = model.config();
    Plan p;
    p.seq = o.seq > 0 ? o.seq : std::min(2048, c.maxPositions);
    if (p.seq < 2) throw Error("perplexity window (seq) must be at least 2 tokens");
    checkWindowLength(c, p.seq, "the perplexity");
    if (o.batch < 1) throw Error("perplexity batch must be at least 1");
    p.bosStream = o.protocol == PplProtocol::LlamaCpp;
    const size_t streamLength = tokenCount + (p.bosStream ? 1 : 0);
    if (streamLength < size_t(p.seq))
        throw Error("text has " + std::to_string(tokenCount) +
                    " tokens, fewer than one window of " + std::to_string(p.seq));
    p.windows = int(std::min<size_t>(streamLength / size_t(p.seq), size_t(INT32_MAX)));
    if (o.maxWindows > 0) p.windows = std::min(p.windows, o.maxWindows);
    if (p.bosStream) {
        // llama.cpp: logits of positions seq/2 .. seq-2 predict tokens seq/2+1 .. seq-1.
        p.firstScored = p.seq / 2;
        p.bos = o.bosToken >= 0 ? o.bosToken : c.bosTokenId;
        if (p.bos < 0)
            throw Error(
                "the llamacpp protocol needs a BOS token, and the model config has no "
                "bos_token_id");
    }
    return p;
}

// The windows as rows of an int64 [windows, seq] tensor. llamacpp (as llama.cpp's
// llama-perplexity): one BOS in front of the whole stream, windows cut from that stream,
// then the first token of every window replaced by BOS — so window w holds BOS followed by
// tokens w*seq .. w*seq+seq-2 (the token at w*seq-1 is overwritten by BOS).
at::Tensor windowIds(const std::vector<int32_t>& tokens, const Plan& plan) {
    const int64_t offset = plan.bosStream ? 1 : 0;
    const int64_t count = int64_t(plan.windows) * plan.seq - offset;
    at::Tensor stream = at::empty({int64_t(plan.windows) * plan.seq}, at::kLong);
    if (offset) stream[0] = int64_t(plan.bos);
    stream.narrow(0, offset, count)
        .copy_(at::from_blob(const_cast<int32_t*>(tokens.data()), {count}, at::kInt));
    at::Tensor all = stream.view({int64_t(plan.windows), int64_t(plan.seq)});
    if (plan.bos >= 0) all.select(1, 0).fill_(int64_t(plan.bos));
    return all;
}

// Sum of NLL (double) of the scored tokens of one window, given its final hidden
// states [seq, hidden] and its ids [seq].
double windowNll(const Transformer& net, const at::Tensor& hidden, const at::Tensor& ids,
                 int firstScored) {
    const int64_t last = hidden.size(0) - 1;  // position whose next token does not exist
    double sum = 0.0;
    for (int64_t begin = firstScored; begin < last; begin += kHeadRowsPerChunk) {
        const int64_t n = std::min(kHeadRowsPerChunk, last - begin);
        const at::Tensor logits = net.head(hidden.narrow(0, begin, n));  // [n, vocab]
        const at::Tensor targets = ids.narrow(0, begin + 1, n).unsqueeze(1);
        const at::Tensor nll = at::logsumexp(logits, -1) - logits.gather(1, targets).squeeze(1);
        sum += nll.to(at::kDouble).sum().item<double>();
    }
    return sum;
}

}  // namespace

void checkWindowLength(const ModelConfig& c, int seq, const std::string& what) {
    if (c.maxPositions > 0 && seq > c.maxPositions)
        throw Error(what + " window of " + std::to_string(seq) +
                    " tokens is longer than the model's max_position_embeddings (" +
                    std::to_string(c.maxPositions) + " in config.json); use at most " +
                    std::to_string(c.maxPositions));
}

namespace {
PerplexityResult evaluate(const Model& model, const std::vector<int32_t>& tokens,
                          const PerplexityOptions& options, const ProgressCallback& progress);
}  // namespace

std::string protocolName(PplProtocol p) {
    return p == PplProtocol::Gptq ? "gptq" : "llamacpp";
}

PplProtocol parseProtocol(const std::string& s) {
    if (s == "gptq") return PplProtocol::Gptq;
    if (s == "llamacpp" || s == "llama.cpp") return PplProtocol::LlamaCpp;
    throw Error("unknown perplexity protocol '" + s + "' (expected gptq or llamacpp)");
}

PerplexityResult evaluatePerplexity(const Model& model, const std::vector<int32_t>& tokens,
                                    const PerplexityOptions& options,
                                    const ProgressCallback& progress) {
    try {
        return evaluate(model, tokens, options, progress);
    } catch (const c10::Error& e) {
        throwTorchError(e, "evaluating perplexity");
    } catch (const std::bad_alloc&) {
        throwOutOfMemory("evaluating perplexity");
    }
}

namespace {

PerplexityResult evaluate(const Model& model, const std::vector<int32_t>& tokens,
                          const PerplexityOptions& options, const ProgressCallback& progress) {
    const Plan plan = makePlan(model, tokens.size(), options);
    const Transformer& net = model.transformer();
    const ProgressReporter reporter(progress);
    at::NoGradGuard noGrad;
    const auto start = std::chrono::steady_clock::now();

    const at::Tensor all = windowIds(tokens, plan);

    double nllSum = 0.0;
    int64_t scored = 0;
    reporter.report("evaluate", 0.0, "0/" + std::to_string(plan.windows) + " windows");
    for (int w0 = 0; w0 < plan.windows; w0 += options.batch) {
        reporter.checkCancelled();
        const int n = std::min(options.batch, plan.windows - w0);
        const at::Tensor ids = all.narrow(0, w0, n);
        at::Tensor hidden = net.embed(ids);
        for (int b = 0; b < model.config().numLayers; ++b) {
            hidden = net.block(b, hidden);
            reporter.checkCancelled();
        }
        for (int i = 0; i < n; ++i) nllSum += windowNll(net, hidden[i], ids[i], plan.firstScored);
        scored += int64_t(n) * (plan.seq - 1 - plan.firstScored);

        const int done = w0 + n;
        char msg[96];
        std::snprintf(msg, sizeof msg, "%d/%d windows, ppl %.4f", done, plan.windows,
                      std::exp(nllSum / double(scored)));
        reporter.report("evaluate", double(done) / plan.windows, msg);
    }

    PerplexityResult r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.meanNll = nllSum / double(scored);
    r.ppl = std::exp(r.meanNll);
    r.scoredTokens = scored;
    r.windows = plan.windows;
    r.seq = plan.seq;
    r.protocol = protocolName(options.protocol);
    r.tokensPerSecond = r.seconds > 0 ? double(plan.windows) * plan.seq / r.seconds : 0.0;
    return r;
}

}  // namespace

}  // namespace ql
