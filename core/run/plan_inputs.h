// What a mixed-precision plan (run/plan.h) is made from, shared by the CLI's `plan` and the
// workbench's Plan tab: each candidate recipe's one-in ΔKL mean and packed bytes per layer,
// and turning a plan into a run (the base recipe plus --override rows). Plain C++.
#pragma once

#include "base/progress.h"
#include "run/layer_overrides.h"
#include "run/plan.h"
#include "run/sensitivity.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ql {

struct PlanInputs {
    SensitivityConfig settings;           // what the ΔKL were measured under (unit, mode set)
    std::vector<std::string> candidates;  // as given
    std::vector<PlanLayer> layers;        // model order; bytes and loss per candidate
    uint64_t parameters = 0;              // of the planned layers
    // Per candidate: the sum over layers (a uniform run of that candidate).
    uint64_t uniformBytes(size_t candidate) const;
    double uniformLoss(size_t candidate) const;
};

// Throws ql::Error for fewer than two candidates, more than one calibration-fitted recipe
// (overrides are weight-only) or a recipe with an activation side.
void checkPlanCandidates(const std::vector<std::string>& candidates);

// Packed bytes of every selected layer under `recipe` (a weights-only run; a fitted recipe
// is measured as RTN of the same grid, which has the same bytes).
std::map<std::string, uint64_t> layerBytes(const SensitivityConfig& s, const std::string& recipe);

// Layer-wise one-in sensitivity of every candidate plus its bytes. Progress: phase
// "plan", fraction over the candidates. Throws ql::Error or ql::Cancelled.
PlanInputs measurePlanInputs(const SensitivityConfig& base,
                             const std::vector<std::string>& candidates,
                             const ProgressCallback& progress = {});

// A plan as a run: the base recipe (the fitted candidate if chosen, else the most chosen)
// and one override per layer whose candidate differs from it (full layer names).
struct PlanRun {
    std::string recipe;
    std::vector<RecipeOverride> overrides;
};
PlanRun planRun(const PlanInputs& in, const PlanResult& plan);

}  // namespace ql
