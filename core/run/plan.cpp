// Mixed-precision plan by exact knapsack DP (see plan.h).
#include "run/plan.h"

#include "base/error.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace ql {

namespace {

void check(const std::vector<PlanLayer>& layers) {
    if (layers.empty()) throw Error("plan: no layers");
    const size_t m = layers.front().bytes.size();
    if (m > 255) throw Error("plan: at most 255 candidates, got " + std::to_string(m));
    for (const PlanLayer& l : layers)
        if (l.bytes.empty() || l.bytes.size() != m || l.loss.size() != m)
            throw Error("plan: layer '" + l.name +
                        "' has not one byte count and one loss per "
                        "candidate (" +
                        std::to_string(m) + ")");
}

uint64_t cheapest(const PlanLayer& l) {
    return *std::min_element(l.bytes.begin(), l.bytes.end());
}

// Steps of `extra` bytes in units of q, rounded up.
uint64_t steps(uint64_t extra, uint64_t q) {
    return (extra + q - 1) / q;
}

// The quantum: gcd of every extra byte count (exact), grown when the table is too large.
uint64_t chooseQuantum(const std::vector<PlanLayer>& layers, uint64_t slack, size_t maxStates,
                       bool& exact) {
    uint64_t g = 0;
    for (const PlanLayer& l : layers)
        for (uint64_t b : l.bytes) g = std::gcd(g, b - cheapest(l));
    if (g == 0) g = 1;  // every candidate of every layer has the same size
    exact = true;
    const uint64_t perLayer = std::max<uint64_t>(1, maxStates / layers.size());
    uint64_t q = g;
    while (slack / q + 1 > perLayer) {
        q *= 2;
        exact = false;
    }
    return q;
}

}  // namespace

PlanResult planMixedPrecision(const std::vector<PlanLayer>& layers, uint64_t budgetBytes,
                              size_t maxStates) {
    check(layers);
    uint64_t base = 0;
    for (const PlanLayer& l : layers) base += cheapest(l);
    if (base > budgetBytes)
        throw Error("plan: the budget of " + std::to_string(budgetBytes) +
                    " bytes is below the smallest plan (" + std::to_string(base) + " bytes)");
    const uint64_t slack = budgetBytes - base;
    PlanResult out;
    out.quantum = chooseQuantum(layers, slack, maxStates, out.exact);
    const size_t cap = size_t(slack / out.quantum);  // steps the plan may use
    const double inf = std::numeric_limits<double>::infinity();
    // best[c] = least loss of the layers so far using exactly c steps; pick[k][c] its choice.
    std::vector<double> best(cap + 1, inf), next(cap + 1);
    best[0] = 0.0;
    std::vector<std::vector<uint8_t>> pick(layers.size(), std::vector<uint8_t>(cap + 1, 0));
    for (size_t k = 0; k < layers.size(); ++k) {
        const PlanLayer& l = layers[k];
        std::fill(next.begin(), next.end(), inf);
        for (size_t j = 0; j < l.bytes.size(); ++j) {
            const uint64_t s = steps(l.bytes[j] - cheapest(l), out.quantum);
            if (s > cap) continue;
            for (size_t c = size_t(s); c <= cap; ++c) {
                const double v = best[c - size_t(s)] + l.loss[j];
                if (v < next[c]) {
                    next[c] = v;
                    pick[k][c] = uint8_t(j);
                }
            }
        }
        best.swap(next);
    }
    size_t at = size_t(std::min_element(best.begin(), best.end()) - best.begin());
    out.predictedLoss = best[at];
    out.choice.assign(layers.size(), 0);
    for (size_t k = layers.size(); k-- > 0;) {
        const int j = pick[k][at];
        out.choice[k] = j;
        out.bytes += layers[k].bytes[size_t(j)];
        at -= size_t(steps(layers[k].bytes[size_t(j)] - cheapest(layers[k]), out.quantum));
    }
    return out;
}

}  // namespace ql
