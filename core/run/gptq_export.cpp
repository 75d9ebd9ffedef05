// GPTQ export of a run (model_export.h). The quantized layers' codes come from the run
// (re-quantized with the recorded grid, or the stored compact codes of GPTQ layers), so
// the export's dequantized weight is the run's up to the fp16 rounding of the scales that
// the format imposes (scales are fp16 in every GPTQ checkpoint).
#include "base/error.h"
#include "base/file_util.h"
#include "base/process_env.h"
#include "io/safetensors.h"
#include "run/export_folder.h"
#include "run/model_export.h"
#include "run/run_internal.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>

namespace ql {

namespace {

using nlohmann::json;

struct GptqPlan {
    Recipe recipe;
    int bits = 4;
    bool symmetric = true;
    int64_t groupSize = -1;  // -1: one group per row (channel-wise), GPTQ's spelling
};

// Decoder projections the run left in float: the GPTQ loaders replace every linear of
// every block, so a partial selection would not load.
std::string unquantizedProjection(const RunResult& run, const TensorStore& store) {
    for (const auto& name : store.names()) {
        const bool proj = name.find(".layers.") != std::string::npos && name.size() > 12 &&
                          name.compare(name.size() - 12, 12, "_proj.weight") == 0;
        if (proj && !run.layer(name.substr(0, name.size() - 7))) return name;
    }
    return {};
}

GptqPlan planOf(const RunResult& run) {
    GptqPlan p;
    p.recipe = Recipe::parse(run.config.recipe);
    const Recipe& r = p.recipe;
    if (r.method != QuantMethod::Rtn && r.method != QuantMethod::Gptq)
        throw Error("GPTQ export takes rtn or gptq runs; this run's recipe is '" +
                    run.config.recipe + "'");
    if (r.bits != 2 && r.bits != 4 && r.bits != 8)
        throw Error(
            "GPTQ export takes 2-, 4- or 8-bit runs (the layout packs 32/bits codes per "
            "int32); this run is " +
            std::to_string(r.bits) + "-bit");
    p.bits = r.bits;
    p.symmetric = r.symmetric;
    p.groupSize = r.granularity == Granularity::Group ? r.groupSize : -1;
    if (run.layers.empty()) throw Error("the run has no quantized layers to export");
    requireModelFolder(run, "GPTQ");
    for (const auto& l : run.layers) {
        const int64_t want = p.groupSize > 0 ? p.groupSize : l.cols;
        if (l.bits != p.bits || l.symmetric != p.symmetric)
            throw Error("layer '" + l.name + "' is " + l.method +
                        ", not the run's grid: a GPTQ checkpoint has one bits/sym setting");
        if (!l.perTensor && l.groupSize != want)
            throw Error("layer '" + l.name + "' fell back to " + l.method +
                        "; a GPTQ checkpoint has one group size (" + std::to_string(p.groupSize) +
                        ") for every layer");
    }
    return p;
}

// QuantLens codes (ql::pack layout, signed for symmetric grids) on GPTQ's unsigned grid:
// u = q - qmin, zero = -qmin (2^(bits-1)) when symmetric.
GptqGrid gptqGridOf(const CompactWeights& w, const std::string& name) {
    if (!w.columnDivisor.empty())
        throw Error("layer '" + name +
                    "' has per-column scales (AWQ or SmoothQuant), which GPTQ cannot store");
    const QuantGrid& g = w.grid;
    GptqGrid out;
    out.bits = g.bits;
    out.outFeatures = g.rows, out.inFeatures = g.cols;
    out.groupSize = g.perTensor ? g.cols : g.groupSize;
    const int64_t groups = out.groups(), gpr = g.perTensor ? 1 : g.groupsPerRow();
    const size_t n = size_t(g.rows * g.cols);
    out.codes.resize(n);
    const int qmin = g.qmin();
    for (size_t i = 0; i < n; ++i) {
        const int q = g.bits <= 4 ? int((w.codes[i / 2] >> ((i & 1) * 4)) & 0xf) + qmin
                      : qmin < 0  ? int(int8_t(w.codes[i]))
                                  : int(w.codes[i]);
        out.codes[i] = uint8_t(q - qmin);
    }
    out.scales.resize(size_t(g.rows * groups));
    out.zeros.resize(out.scales.size());
    for (int64_t row = 0; row < g.rows; ++row)
        for (int64_t k = 0; k < groups; ++k) {
            const size_t src = g.perTensor ? 0 : size_t(row * gpr + k);
            out.scales[size_t(row * groups + k)] = g.scales[src];
            out.zeros[size_t(row * groups + k)] = uint8_t(g.symmetric ? -qmin : int(g.zeros[src]));
        }
    return out;
}

// lmHead: the output head is quantized too (a run whose layer selection included it).
json quantizationConfig(const GptqPlan& p, GptqZeroFormat zeros, bool lmHead) {
    return {{"quant_method", "gptq"},
            {"bits", p.bits},
            {"group_size", p.groupSize},
            {"desc_act", false},
            {"sym", p.symmetric},
            {"true_sequential", true},
            {"damp_percent", p.recipe.gptqDampening},
            {"static_groups", false},
            {"lm_head", lmHead},
            {"checkpoint_format", gptqFormatName(zeros)},
            {"quantizer", "quantlens"},
            {"quantlens_recipe", p.recipe.toString()}};
}

// Layout of model.safetensors: every checkpoint tensor, the quantized weights replaced by
// their four GPTQ tensors.
std::vector<TensorLayout> gptqLayout(const RunResult& run, const TensorStore& store, int bits,
                                     int64_t groupSize) {
    std::vector<TensorLayout> layout;
    const int64_t perWord = 32 / bits;
    for (const auto& name : store.names()) {
        const TensorInfo& t = store.get(name);
        const LayerResult* l = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0
                                   ? run.layer(name.substr(0, name.size() - 7))
                                   : nullptr;
        if (!l) {
            layout.push_back({name, t.dtype, t.shape});
            continue;
        }
        const std::string base = l->name;
        const int64_t groups = groupSize > 0 ? l->cols / groupSize : 1;
        layout.push_back({base + ".qweight", DType::I32, {l->cols / perWord, l->rows}});
        layout.push_back({base + ".qzeros", DType::I32, {groups, l->rows / perWord}});
        layout.push_back({base + ".scales", DType::F16, {groups, l->rows}});
        layout.push_back({base + ".g_idx", DType::I32, {l->cols}});
    }
    return layout;
}

template <class T>
void writeVector(SafetensorsWriter& w, const std::vector<T>& v) {
    w.write(v.data(), v.size() * sizeof(T));
}

void writeTensors(const RunResult& run, const TensorStore& store, const GptqPlan& plan,
                  GptqZeroFormat zeros, const std::string& path, const ProgressReporter& progress) {
    std::map<std::string, std::string> meta = {
        {"format", "pt"}, {"quantlens_recipe", plan.recipe.toString()}, {"quantlens_run", run.id}};
    SafetensorsWriter out(path, gptqLayout(run, store, plan.bits, plan.groupSize), meta);
    const std::vector<std::string> names = store.names();
    for (size_t i = 0; i < names.size(); ++i) {
        progress.report("export", double(i) / double(names.size()), names[i]);
        const TensorInfo& t = store.get(names[i]);
        const LayerResult* l =
            names[i].size() > 7 && names[i].compare(names[i].size() - 7, 7, ".weight") == 0
                ? run.layer(names[i].substr(0, names[i].size() - 7))
                : nullptr;
        if (!l) {
            out.write(store.data(t), size_t(t.byteSize));
            store.releasePages(t);
            continue;
        }
        const std::vector<float> original = store.readFloat(t.name);
        store.releasePages(t);
        if (original.size() != size_t(l->rows * l->cols))
            throw Error("tensor '" + t.name + "' of '" + run.config.modelDir +
                        "' does not have the run's shape: the run belongs to another model");
        const GptqTensors g =
            packGptq(gptqGridOf(layerCodesOf(run, *l, original.data()), l->name), zeros, l->name);
        writeVector(out, g.qweight);
        writeVector(out, g.qzeros);
        writeVector(out, g.scales);
        writeVector(out, g.gIdx);
    }
    out.finish();
}

}  // namespace

std::string whyNotGptqExportable(const RunResult& run) {
    try {
        planOf(run);
        const auto store = TensorStore::open(run.config.modelDir);
        const std::string left = unquantizedProjection(run, *store);
        if (!left.empty())
            return "'" + left + "' is not quantized in this run; GPTQ loaders expect every " +
                   "decoder projection quantized";
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

ModelExportResult exportGptq(const RunResult& run, const std::string& outDir,
                             const ModelExportOptions& options, const ProgressCallback& callback) {
    const auto start = std::chrono::steady_clock::now();
    const GptqPlan plan = planOf(run);
    const auto store = TensorStore::open(run.config.modelDir);
    const std::string left = unquantizedProjection(run, *store);
    if (!left.empty())
        throw Error("'" + left + "' is not quantized in this run; GPTQ loaders expect every " +
                    "decoder projection quantized");
    ModelExportResult result;
    if (plan.recipe.quantizesActivations())
        result.warnings.push_back(
            "the run's activation side (" + plan.recipe.toString() +
            ") is not part of a GPTQ checkpoint: only the weights are exported");
    const json qc = quantizationConfig(plan, options.gptqZeros, run.layer("lm_head") != nullptr);
    StagedFolder folder(outDir, "quantlens-export-gptq", options.replaceExisting);
    const ProgressReporter progress(callback);
    writeTensors(run, *store, plan, options.gptqZeros, folder.path("model.safetensors"), progress);
    folder.writeFile("config.json", configWithQuantization(run.config.modelDir, qc.dump()));
    folder.writeFile("quantize_config.json", qc.dump(2) + "\n");
    copyTokenizerFiles(run.config.modelDir, folder);
    json format = {{"format", "gptq"}, {"quantization_config", qc}};
    folder.writeFile("quantlens_report.json",
                     exportReportJson(run, format.dump(), result.warnings));
    progress.report("export", 1.0, "renaming into place");
    result.folder = folder.commit();
    result.files = folderFiles(result.folder, result.bytes);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.peakRssBytes = peakResidentBytes();
    return result;
}

}  // namespace ql
