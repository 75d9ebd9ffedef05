// Token sampling. The draw is computed from the raw 64-bit engine output (not a standard
// distribution, whose algorithm is implementation-defined), so a seed gives the same
// tokens with every standard library.
#include "base/error.h"
#include "model/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace ql {

void checkSampling(const SamplingOptions& o) {
    if (o.greedy) return;
    if (!(o.temperature > 0.0) || !std::isfinite(o.temperature))
        throw Error("--temperature must be a number > 0 (use --greedy for argmax), got " +
                    std::to_string(o.temperature));
    if (o.topK < 0) throw Error("--top-k must be 0 (all tokens) or more");
    if (!(o.topP > 0.0 && o.topP <= 1.0))
        throw Error("--top-p must be in (0, 1], got " + std::to_string(o.topP));
}

int32_t argmaxToken(const std::vector<float>& logits) {
    if (logits.empty()) throw Error("internal: no logits to choose from");
    return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const SamplingOptions& options) : options_(options), rng_(options.seed) {
    checkSampling(options_);
}

int32_t Sampler::next(const std::vector<float>& logits) {
    if (options_.greedy) return argmaxToken(logits);
    if (logits.empty()) throw Error("internal: no logits to sample from");
    // Candidates by decreasing logit (ties: lower id first, so top-k 1 is the argmax).
    std::vector<int32_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    const auto byLogit = [&](int32_t a, int32_t b) {
        return logits[size_t(a)] > logits[size_t(b)] ||
               (logits[size_t(a)] == logits[size_t(b)] && a < b);
    };
    const size_t k =
        options_.topK > 0 ? std::min(order.size(), size_t(options_.topK)) : order.size();
    std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(k), order.end(), byLogit);
    order.resize(k);
    // Softmax of logit / T over the candidates, in double.
    const double top = double(logits[size_t(order[0])]);
    std::vector<double> prob(k);
    double sum = 0.0;
    for (size_t i = 0; i < k; ++i) {
        prob[i] = std::exp((double(logits[size_t(order[i])]) - top) / options_.temperature);
        sum += prob[i];
    }
    // Top-p: the shortest prefix whose probability reaches P (at least one token).
    size_t keep = k;
    if (options_.topP < 1.0) {
        double cumulative = 0.0;
        for (size_t i = 0; i < k; ++i) {
            cumulative += prob[i] / sum;
            if (cumulative >= options_.topP) {
                keep = i + 1;
                break;
            }
        }
    }
    const double kept = std::accumulate(prob.begin(), prob.begin() + std::ptrdiff_t(keep), 0.0);
    const double u = double(rng_() >> 11) * 0x1.0p-53 * kept;  // uniform in [0, kept)
    double cumulative = 0.0;
    for (size_t i = 0; i < keep; ++i) {
        cumulative += prob[i];
        if (u < cumulative) return order[i];
    }
    return order[keep - 1];  // u within rounding of the total
}

}  // namespace ql
