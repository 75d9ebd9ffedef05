// Mixed-precision plan (issue 10): one candidate recipe per layer minimizing the summed
// predicted loss (e.g. each layer's measured one-in ΔKL under that recipe) subject to a
// byte budget over those layers. Exact 0/1 multiple-choice knapsack by dynamic programming
// over bytes: the bytes above each layer's cheapest candidate, in units of a quantum q.
// q is the gcd of all those byte differences and of the budget's slack when the table
// (layers x slack/q) fits `maxStates`; the plan is then the exact optimum. Otherwise q
// grows until it fits and each candidate's extra bytes are rounded UP to a multiple of q
// (the plan never exceeds the budget; it is the exact optimum of that rounded problem and
// `exact` is false). Plain C++.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

struct PlanLayer {
    std::string name;
    std::vector<uint64_t> bytes;  // per candidate
    std::vector<double> loss;     // per candidate (predicted; smaller is better)
    // Per candidate (when measured): why the layer falls back under it (a group size that
    // does not divide its rows: per-channel instead), empty when it does not.
    std::vector<std::string> fallback;
};

struct PlanResult {
    std::vector<int> choice;  // candidate index per layer
    uint64_t bytes = 0;       // exact bytes of the plan
    double predictedLoss = 0.0;
    uint64_t quantum = 1;  // bytes per DP step
    bool exact = true;     // false: bytes rounded up to the quantum (see above)
};

// Throws ql::Error when layers disagree on the number of candidates, a layer has none, or
// even the cheapest plan exceeds the budget (naming both byte counts).
PlanResult planMixedPrecision(const std::vector<PlanLayer>& layers, uint64_t budgetBytes,
                              size_t maxStates = size_t(1) << 24);

}  // namespace ql
