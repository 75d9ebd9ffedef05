// Plan inputs (see plan_inputs.h).
#include "run/plan_inputs.h"

#include "base/error.h"
#include "quant/method_registry.h"
#include "run/run.h"

namespace ql {

uint64_t PlanInputs::uniformBytes(size_t candidate) const {
    uint64_t bytes = 0;
    for (const PlanLayer& l : layers) bytes += l.bytes[candidate];
    return bytes;
}

double PlanInputs::uniformLoss(size_t candidate) const {
    double loss = 0;
    for (const PlanLayer& l : layers) loss += l.loss[candidate];
    return loss;
}

void checkPlanCandidates(const std::vector<std::string>& candidates) {
    if (candidates.size() < 2) throw Error("a plan needs at least two candidate recipes");
    int fitted = 0;
    for (const std::string& c : candidates) {
        const Recipe r = Recipe::parse(c);
        fitted += methodSpec(r.method).needsCalibration ? 1 : 0;
        if (r.quantizesActivations() || r.method == QuantMethod::LlmInt8)
            throw Error("candidate '" + c + "': recipes with an activation side cannot be planned");
    }
    if (fitted > 1)
        throw Error("candidates: at most one gptq/awq recipe (overrides are weight-only)");
}

std::map<std::string, uint64_t> layerBytes(const SensitivityConfig& s, const std::string& recipe) {
    RunConfig c;
    c.modelDir = s.modelDir;
    c.recipe = recipe;
    c.layers = s.layers;
    c.captureActivations = c.captureGradients = false;
    c.threads = s.threads;
    if (methodSpec(Recipe::parse(recipe).method).needsCalibration) {
        const auto colon = recipe.find(':');  // the same grid, so the same bytes, as RTN
        c.recipe = "rtn" + (colon == std::string::npos ? std::string() : recipe.substr(colon));
    }
    std::map<std::string, uint64_t> out;
    for (const LayerResult& l : runQuantization(c).layers) out[l.name] = l.bytesQ;
    return out;
}

PlanInputs measurePlanInputs(const SensitivityConfig& base,
                             const std::vector<std::string>& candidates,
                             const ProgressCallback& progress) {
    checkPlanCandidates(candidates);
    PlanInputs in;
    in.settings = base;
    in.settings.unit = SensitivityUnit::Layer;
    in.settings.mode = SensitivityMode::OneIn;
    in.candidates = candidates;
    const double n = double(candidates.size());
    for (size_t j = 0; j < candidates.size(); ++j) {
        SensitivityConfig s = in.settings;
        s.recipe = candidates[j];
        // Each candidate's share of the progress; the sensitivity's own reports scaled in.
        auto scaled = [&](const Progress& p) {
            if (!progress) return true;
            if (p.fraction < 0.0) return progress(p);
            return progress(
                Progress{"plan", (double(j) + p.fraction) / n, candidates[j] + ": " + p.message});
        };
        const SensitivityResult r = measureSensitivity(s, scaled);
        const auto bytes = layerBytes(in.settings, candidates[j]);
        if (j == 0)
            for (const UnitSensitivity& u : r.units) {
                in.layers.push_back({u.unit, {}, {}, {}});
                in.parameters += u.parameters;
            }
        for (size_t k = 0; k < r.units.size(); ++k) {
            in.layers[k].bytes.push_back(bytes.at(r.units[k].unit));
            in.layers[k].loss.push_back(r.units[k].deltaKlMean);
            in.layers[k].fallback.push_back(r.units[k].fallbackReason);
        }
    }
    if (progress) progress(Progress{"plan", 1.0, "measured"});
    return in;
}

PlanRun planRun(const PlanInputs& in, const PlanResult& p) {
    std::map<int, int> count;
    for (int j : p.choice) ++count[j];
    int best = p.choice.empty() ? 0 : p.choice.front();
    std::string base;
    for (const auto& [j, n] : count) {
        if (methodSpec(Recipe::parse(in.candidates[size_t(j)]).method).needsCalibration) {
            base = in.candidates[size_t(j)];
            break;
        }
        if (n > count[best]) best = j;
    }
    if (base.empty()) base = in.candidates[size_t(best)];
    PlanRun run{base, {}};
    for (size_t k = 0; k < in.layers.size(); ++k)
        if (in.candidates[size_t(p.choice[k])] != base)
            run.overrides.push_back({in.layers[k].name, in.candidates[size_t(p.choice[k])]});
    return run;
}

}  // namespace ql
