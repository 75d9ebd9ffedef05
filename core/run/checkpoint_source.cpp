// GPTQ and QuantLens packed folders as QuantizedCheckpoint: the folder's float view
// (QuantizedWeightsSource) gives each layer's dequantized weight; its type label becomes the
// recipe of the grid the weight lies on.
#include "run/checkpoint_source.h"

#include "base/error.h"
#include "io/gguf_model.h"
#include "io/quantized_source.h"
#include "quant/recipe.h"
#include "run/gguf_source.h"

#include <map>
#include <sstream>

namespace ql {

namespace {

// "gptq int4 g128 asym" (GPTQ folders) or a QuantLens layer method ("gptq:int4:g128:asym",
// "rtn:int8:channel:sym+a8") -> the recipe of the stored grid. How the values on the grid were
// chosen (GPTQ, AWQ, RTN) is history the file does not need: the grid is "rtn"'s, so that a
// comparison run does not ask for calibration. Activation sides are not weights: dropped.
std::string gridRecipe(const std::string& label) {
    std::string r = label;
    if (r.rfind("gptq int", 0) == 0) {  // GPTQ folder label
        std::istringstream in(r.substr(5));
        std::string bits, group, symmetry;
        in >> bits >> group >> symmetry;
        return "rtn:" + bits + ":" + group + ":" + symmetry;
    }
    r = r.substr(0, r.find('+'));
    for (const char* method : {"gptq:", "awq:"})
        if (r.rfind(method, 0) == 0) r = "rtn:" + r.substr(std::string(method).size());
    return r;
}

class FolderCheckpoint : public QuantizedCheckpoint {
public:
    FolderCheckpoint(const std::string& path, std::shared_ptr<QuantizedWeightsSource> source)
        : path_(path), source_(std::move(source)) {
        std::map<std::string, int> counts;
        for (const QuantizedTensorInfo& t : source_->tensors()) {
            byName_[t.name] = &t;
            ++counts[gridRecipe(t.typeLabel)];
        }
        for (const auto& [recipe, n] : counts)  // the most common layer type names the run
            if (recipe_.empty() || n > counts[recipe_]) recipe_ = recipe;
        (void)Recipe::parse(recipe_);  // a label QuantLens cannot run is refused here
    }

    const std::string& path() const override { return path_; }
    std::string recipe() const override { return recipe_; }

    QuantizedWeight layer(const std::string& name, int64_t rows, int64_t cols) const override {
        const auto it = byName_.find(name + ".weight");
        if (it == byName_.end())
            throw Error(path_ + ": no quantized tensor for layer '" + name + "' (expected '" +
                        name + ".qweight' or QuantLens codes)");
        const QuantizedTensorInfo& t = *it->second;
        if (t.shape != std::vector<int64_t>{rows, cols})
            throw Error(t.file + ": tensor '" + t.name + "' has another shape than '" + name +
                        "' of the original (" + std::to_string(rows) + " x " +
                        std::to_string(cols) + ")");
        QuantizedWeight w;
        w.values = source_->dequantize(t.name);
        w.method = gridRecipe(t.typeLabel);
        return w;
    }

private:
    std::string path_;
    std::shared_ptr<QuantizedWeightsSource> source_;
    std::map<std::string, const QuantizedTensorInfo*> byName_;
    std::string recipe_;
};

}  // namespace

std::shared_ptr<const QuantizedCheckpoint> openQuantizedCheckpoint(const std::string& path) {
    if (isGgufFile(path)) return openGgufWeights(path);
    std::shared_ptr<QuantizedWeightsSource> source = openQuantizedSource(path);
    if (!source || source->tensors().empty())
        throw Error(path +
                    ": not a quantized checkpoint (a .gguf file, or a folder whose "
                    "config.json has quantization_config with quant_method \"gptq\" or "
                    "\"quantlens\" and packed layers)");
    return std::make_shared<FolderCheckpoint>(path, std::move(source));
}

}  // namespace ql
