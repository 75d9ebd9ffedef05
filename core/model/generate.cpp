// Generation loop (cached or not) and the teacher-forced comparison of two models.
#include "model/generate.h"

#include "base/error.h"
#include "model/decoder.h"
#include "model/model.h"
#include "model/torch_errors.h"
#include "model/transformer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace ql {

namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Softmax in double (max subtracted first).
std::vector<double> softmax(const std::vector<float>& logits) {
    const float top = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(logits.size());
    double sum = 0.0;
    for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(double(logits[i]) - double(top));
    for (double& v : p) v /= sum;
    return p;
}

}  // namespace

GenerationResult generate(const Model& model, const std::vector<int32_t>& prompt,
                          const GenerationOptions& options, const TokenCallback& onToken,
                          const ProgressCallback& progress) {
    if (prompt.empty()) throw Error("the prompt has no tokens");
    if (options.maxNewTokens < 1) throw Error("--max-new-tokens must be at least 1");
    Sampler sampler(options.sampling);
    const ProgressReporter reporter(progress);
    GenerationResult result;
    Decoder decoder(model);
    std::vector<int32_t> sequence = prompt;  // the uncached path's whole input
    auto t0 = std::chrono::steady_clock::now();
    std::vector<float> logits = options.useCache ? decoder.feed(prompt) : model.lastLogits(prompt);
    result.prefillSeconds = secondsSince(t0);
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < options.maxNewTokens; ++i) {
        const int32_t token = sampler.next(logits);
        result.tokens.push_back(token);
        if (onToken) onToken(i, token);
        reporter.report(
            "generate", double(i + 1) / options.maxNewTokens,
            std::to_string(i + 1) + " of " + std::to_string(options.maxNewTokens) + " tokens");
        const auto& stops = options.stopTokens;
        if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
            result.stopped = true;
            break;
        }
        if (i + 1 == options.maxNewTokens) break;
        if (options.useCache) {
            logits = decoder.feed({token});
        } else {
            sequence.push_back(token);
            logits = model.lastLogits(sequence);
        }
    }
    result.decodeSeconds = secondsSince(t0);
    result.cacheBytes = decoder.cacheBytes();
    return result;
}

std::vector<std::vector<float>> continuationLogits(const Model& model,
                                                   const std::vector<int32_t>& prompt,
                                                   const std::vector<int32_t>& continuation,
                                                   bool oneTokenSteps) {
    if (prompt.empty()) throw Error("the prompt has no tokens");
    if (continuation.empty()) return {};
    if (oneTokenSteps) {
        Decoder decoder(model);
        std::vector<std::vector<float>> rows{decoder.feed(prompt)};
        for (size_t i = 0; i + 1 < continuation.size(); ++i)
            rows.push_back(decoder.feed({continuation[i]}));
        return rows;
    }
    std::vector<int32_t> ids = prompt;
    ids.insert(ids.end(), continuation.begin(), continuation.end() - 1);
    // The rows that predict the continuation: the prompt's last and every fed one after it.
    Decoder decoder(model);
    const std::vector<float> all = decoder.feedAll(ids);
    const size_t vocab = all.size() / ids.size();
    std::vector<std::vector<float>> rows;
    for (size_t i = prompt.size() - 1; i < ids.size(); ++i)
        rows.emplace_back(all.begin() + std::ptrdiff_t(i * vocab),
                          all.begin() + std::ptrdiff_t((i + 1) * vocab));
    return rows;
}

std::vector<TokenComparison> compareNextTokens(const std::vector<std::vector<float>>& floatLogits,
                                               const std::vector<std::vector<float>>& runLogits,
                                               const std::vector<int32_t>& floatTokens) {
    if (floatLogits.size() != runLogits.size() || floatLogits.size() != floatTokens.size())
        throw Error("internal: comparing " + std::to_string(floatLogits.size()) + " and " +
                    std::to_string(runLogits.size()) + " logit rows for " +
                    std::to_string(floatTokens.size()) + " tokens");
    std::vector<TokenComparison> out;
    for (size_t i = 0; i < floatTokens.size(); ++i) {
        if (floatLogits[i].size() != runLogits[i].size() || floatLogits[i].empty())
            throw Error("internal: logit rows of different vocabularies");
        const std::vector<double> p = softmax(floatLogits[i]), q = softmax(runLogits[i]);
        TokenComparison c;
        c.floatToken = floatTokens[i];
        c.runToken = argmaxToken(runLogits[i]);
        c.floatProbOfRunToken = p[size_t(c.runToken)];
        c.floatProbOfFloatToken = p.at(size_t(c.floatToken));
        // KL(p || q) = sum p log(p / q); terms with p = 0 contribute nothing.
        double kl = 0.0;
        for (size_t v = 0; v < p.size(); ++v)
            if (p[v] > 0.0) kl += p[v] * (std::log(p[v]) - std::log(std::max(q[v], 1e-300)));
        c.kl = std::max(0.0, kl);
        out.push_back(c);
    }
    return out;
}

int firstDivergence(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    const size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return int(i);
    return a.size() == b.size() ? -1 : int(n);
}

}  // namespace ql
