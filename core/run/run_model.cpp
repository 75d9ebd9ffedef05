#include "run/run_model.h"

#include "base/error.h"
#include "model/model.h"
#include "quant/recipe.h"
#include "run/run_internal.h"

#include <map>

namespace ql {

namespace {

std::string runWhat(const RunResult& run) {
    return "run '" + (run.folder.empty() ? run.id : run.folder) + "'";
}

}  // namespace

void checkRunFitsModel(const Model& model, const RunResult& run) {
    const std::string what = runWhat(run);
    std::map<std::string, const LinearLayerInfo*> linears;
    for (const LinearLayerInfo& l : model.linears()) linears[l.name] = &l;
    for (const LayerResult& layer : run.layers) {
        const auto it = linears.find(layer.name);
        if (it == linears.end())
            throw Error(what + ": layer '" + layer.name +
                        "' is not in the model (a run of another model?)");
        if (it->second->outFeatures != layer.rows || it->second->inFeatures != layer.cols)
            throw Error(what + ": layer '" + layer.name + "' is " + std::to_string(layer.rows) +
                        " x " + std::to_string(layer.cols) + " but the model's is " +
                        std::to_string(it->second->outFeatures) + " x " +
                        std::to_string(it->second->inFeatures) + " (a run of another model?)");
    }
}

std::vector<std::string> applyRunWeights(Model& model, const RunResult& run) {
    model.restoreWeights();
    checkRunFitsModel(model, run);
    const std::string what = runWhat(run);
    for (const LayerResult& layer : run.layers)
        model.setLinearWeight(layer.name,
                              afterWeightsOf(run, layer, model.linearWeight(layer.name)));
    std::vector<std::string> notes;
    bool activations = false;
    try {
        activations = Recipe::parse(run.config.recipe).quantizesActivations();
    } catch (const Error&) {
        // A checkpoint's own recipe name (e.g. q4_k_m) has no activation side.
    }
    if (activations)
        notes.push_back(what + " quantizes activations too; generation simulates its weights only");
    return notes;
}

}  // namespace ql
