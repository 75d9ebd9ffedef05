// Weights-only sweep: the per-layer loop of a weights-only run (weightOnlyLayer, shared with
// runWeightsOnly), once per recipe for each layer while the layer is hot in the page cache.
#include "run/sweep.h"

#include "base/error.h"
#include "io/gguf_model.h"
#include "io/model_check.h"
#include "io/model_config.h"
#include "quant/method_registry.h"
#include "run/run_internal.h"

#include <chrono>

namespace ql {

namespace {

Recipe sweepRecipe(const std::string& text) {
    const Recipe r = Recipe::parse(text);
    if (methodSpec(r.method).needsCalibration || r.quantizesActivations() ||
        r.method == QuantMethod::LlmInt8)
        throw Error("recipe '" + text + "' needs a calibration or evaluation text: a sweep " +
                    "is weights-only (RTN, casts, NF4/FP4, llama.cpp formats)");
    return r;
}

}  // namespace

SweepResult sweepWeights(const std::string& modelDir, const std::vector<std::string>& recipes,
                         const LayerSelection& selection, int bins,
                         const ProgressReporter& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (recipes.empty()) throw Error("a sweep needs at least one recipe");
    SweepResult res;
    res.modelDir = modelDir;
    std::vector<Recipe> parsed;
    for (const std::string& text : recipes) {
        parsed.push_back(sweepRecipe(text));
        res.recipes.push_back(parsed.back().toString());
    }
    progress.report("load", 0.0, "opening " + modelDir);
    const ModelConfig cfg = loadModelConfigOf(modelDir);
    const auto store = TensorStore::open(modelDir);
    validateModel(cfg, *store, modelConfigSource(modelDir));
    res.architecture = cfg.architectureName;
    const auto layers = selectLayers(checkpointLinears(*store, cfg.numLayers), selection);
    res.layers.assign(parsed.size(), {});
    WeightOnlyBuffers buffers;
    const ProgressReporter q = progress.sub(0.02, 1.0);
    for (size_t i = 0; i < layers.size(); ++i) {
        q.report("sweep", double(i) / double(layers.size()), layers[i].name);
        for (size_t r = 0; r < parsed.size(); ++r) {
            const auto l0 = std::chrono::steady_clock::now();
            UnusableWeights bad;
            res.layers[r].push_back(weightOnlyLayer(*store, layers[i], layerPlace(cfg, layers[i]),
                                                    parsed[r], bins, buffers, bad));
            LayerResult& l = res.layers[r].back();
            l.seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - l0).count();
            l.unusableWeights = bad.count;
            l.firstUnusableRow = bad.firstRow;
            if (bins == 0) {  // a 1.5B model's g32 scales and zeros alone are 330 MB a recipe
                std::vector<float>().swap(l.scales);
                std::vector<float>().swap(l.zeros);
            }
        }
        store->releasePages(store->get(layers[i].name + ".weight"));
    }
    q.report("sweep", 1.0, std::to_string(layers.size()) + " layers");
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

}  // namespace ql
