// The tests' own KL divergence of two next-token distributions given as logits: log-softmax
// in double, independent of the engine's code (core/model/perplexity), so the engine's KL
// figures are checked against a separate computation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace qltest {

// KL(p || q) = sum_i p_i (log p_i - log q_i) of softmax(p) and softmax(q), n logits each.
inline double klOfLogits(const float* p, const float* q, int64_t n) {
    const double mp = *std::max_element(p, p + n), mq = *std::max_element(q, q + n);
    double zp = 0.0, zq = 0.0;
    for (int64_t i = 0; i < n; ++i) zp += std::exp(p[i] - mp), zq += std::exp(q[i] - mq);
    const double lzp = std::log(zp), lzq = std::log(zq);
    double kl = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double lp = p[i] - mp - lzp, lq = q[i] - mq - lzq;
        kl += std::exp(lp) * (lp - lq);
    }
    return kl;
}

}  // namespace qltest
