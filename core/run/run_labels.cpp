// Display texts of a run that depend on what happened, not only on what was asked:
// the label (fallbacks) and where output SQNR was measured.
#include "base/error.h"
#include "quant/method_registry.h"
#include "quant/recipe.h"
#include "run/run_internal.h"

#include <filesystem>
#include <string>

namespace ql {

namespace {

std::string baseDisplayLabel(const RunResult& run) {
    Recipe recipe;
    try {
        recipe = Recipe::parse(run.config.recipe);
    } catch (const Error&) {
        return run.label.empty() ? run.config.recipe : run.label;
    }
    std::string label = runLabel(recipe);
    if (!run.config.checkpoint.empty())
        return label + " (" + std::filesystem::path(run.config.checkpoint).filename().string() +
               ")";
    size_t fell = 0;
    for (const auto& l : run.layers) fell += l.fallback ? 1 : 0;
    if (fell > 0 && methodSpec(recipe.method).forRowLength)  // llama.cpp formats
        return label + " (" + std::to_string(fell) + " of " + std::to_string(run.layers.size()) +
               " layers fell back)";
    if (fell == 0 || recipe.granularity != Granularity::Group) return label;
    // A fallback is always to per-channel at the same bit width (quantize_layers.h).
    const std::string group = " g" + std::to_string(recipe.groupSize) + " ";
    const size_t at = label.find(group);
    if (at == std::string::npos) return label;
    std::string what =
        " g" + std::to_string(recipe.groupSize) + " \u2192 channel \u00d7" + std::to_string(fell);
    if (fell < run.layers.size()) what += " of " + std::to_string(run.layers.size());
    return label.replace(at, group.size(), what + " ");
}

}  // namespace

std::string runDisplayLabel(const RunResult& run) {
    const std::string label = baseDisplayLabel(run);
    const size_t n = run.config.overrides.size();
    if (n == 0) return label;
    return label + " + " + std::to_string(n) + (n == 1 ? " override" : " overrides");
}

std::string outputSqnrSourceText(const RunResult& run) {
    const std::string n = std::to_string(run.outputSqnrWindows);
    if (run.outputSqnrSource == "evaluation") return "evaluation text (" + n + " windows)";
    if (run.outputSqnrSource == "calibration-heldout")
        return "held-out calibration windows (" + n + ")";
    if (run.outputSqnrSource == "calibration")
        return "calibration windows used to fit (" + n + ", none held out)";
    return "not measured";
}

}  // namespace ql
