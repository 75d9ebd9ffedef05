// QuantLens's own packed export (model_export.h; layout in io/quantlens_source.cpp): the
// run's integer codes and float32 grids exactly as the run holds them, so the folder read
// back gives the run's dequantized weights bit for bit; casts as F16/BF16 tensors.
#include "base/error.h"
#include "base/process_env.h"
#include "io/safetensors.h"
#include "quant/method_registry.h"
#include "run/export_folder.h"
#include "run/model_export.h"
#include "run/run_internal.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

namespace ql {

namespace {

using nlohmann::json;

template <class T>
TensorToWrite tensorOf(const std::string& name, DType dtype, const std::vector<T>& v) {
    TensorToWrite t{name, dtype, {int64_t(v.size())}, {}};
    t.bytes.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
}

json jnum(double v) {
    return std::isfinite(v) ? json(v) : json(nullptr);
}

json layerMeta(const LayerResult& l) {
    return {{"method", l.method},
            {"bits", l.bits},
            {"sym", l.symmetric},
            {"per_tensor", l.perTensor},
            {"rows", l.rows},
            {"cols", l.cols},
            {"group_size", l.groupSize},
            {"fallback", l.fallback},
            {"weight_after_source", l.weightAfterSource},
            {"weight_sqnr_db", jnum(l.weightSqnrDb)},
            {"output_sqnr_db", jnum(l.outputSqnrDb)},
            {"bytes_fp", l.bytesFp},
            {"bytes_q", l.bytesQ}};
}

// The packed tensors of one integer-grid layer.
void addPacked(std::vector<TensorToWrite>& out, const CompactWeights& c, const std::string& base) {
    out.push_back(tensorOf(base + ".ql_codes", DType::U8, c.codes));
    out.push_back(tensorOf(base + ".ql_scales", DType::F32, c.grid.scales));
    if (!c.grid.symmetric) {
        std::vector<uint8_t> zeros(c.grid.zeros.size());
        for (size_t i = 0; i < zeros.size(); ++i) zeros[i] = uint8_t(c.grid.zeros[i]);
        out.push_back(tensorOf(base + ".ql_zeros", DType::U8, zeros));
    }
    if (!c.columnDivisor.empty())
        out.push_back(tensorOf(base + ".ql_divisor", DType::F32, c.columnDivisor));
}

// The cast layer's weight in its 16-bit type (fp16/bf16 of the original, round to nearest
// even, as castRoundTrip).
TensorToWrite castTensor(const LayerResult& l, const std::vector<float>& w) {
    const bool bf16 = l.method.rfind("bf16", 0) == 0;
    std::vector<uint16_t> h(w.size());
    for (size_t i = 0; i < w.size(); ++i) h[i] = bf16 ? floatToBf16(w[i]) : floatToHalf(w[i]);
    TensorToWrite t = tensorOf(l.name + ".weight", bf16 ? DType::BF16 : DType::F16, h);
    t.shape = {l.rows, l.cols};
    return t;
}

void checkExportable(const RunResult& run) {
    if (run.layers.empty()) throw Error("the run has no quantized layers to export");
    requireModelFolder(run, "QuantLens");
    for (const auto& l : run.layers) {
        if (l.weightAfterSource == "codebook")
            throw Error("layer '" + l.name + "' (" + l.method +
                        "): the QuantLens export of codebook and llama.cpp block formats is not "
                        "in this build (rtn, gptq, awq, llm_int8, fp16 and bf16 runs are)");
        else if (l.weightAfterSource == "cast" && !l.smoothScales.empty())
            throw Error("layer '" + l.name + "' (" + l.method +
                        "): a smoothed (SmoothQuant) float layer has no QuantLens export form");
    }
}

std::vector<TensorToWrite> packedTensors(const RunResult& run, const TensorStore& store,
                                         std::map<std::string, std::string>& meta,
                                         const ProgressReporter& progress) {
    std::vector<TensorToWrite> out;
    const std::vector<std::string> names = store.names();
    for (size_t i = 0; i < names.size(); ++i) {
        progress.report("export", double(i) / double(names.size()), names[i]);
        const TensorInfo& t = store.get(names[i]);
        const bool weight =
            names[i].size() > 7 && names[i].compare(names[i].size() - 7, 7, ".weight") == 0;
        const LayerResult* l =
            weight ? run.layer(names[i].substr(0, names[i].size() - 7)) : nullptr;
        if (!l) {
            const unsigned char* p = store.data(t);
            out.push_back({t.name, t.dtype, t.shape, {p, p + t.byteSize}});
            store.releasePages(t);
            continue;
        }
        const std::vector<float> w = store.readFloat(t.name);
        store.releasePages(t);
        if (w.size() != size_t(l->rows * l->cols))
            throw Error("tensor '" + t.name + "' of '" + run.config.modelDir +
                        "' does not have the run's shape: the run belongs to another model");
        if (l->weightAfterSource == "cast") {
            out.push_back(castTensor(*l, w));
        } else {
            addPacked(out, layerCodesOf(run, *l, w.data()), l->name);
            meta["ql.layer." + l->name] = layerMeta(*l).dump();
        }
    }
    return out;
}

std::string configForQuantLens(const RunResult& run) {
    const json qc = {{"quant_method", "quantlens"},
                     {"recipe", run.config.recipe},
                     {"quantlens_version", QUANTLENS_VERSION}};
    return configWithQuantization(run.config.modelDir, qc.dump());
}

}  // namespace

std::string whyNotQuantLensExportable(const RunResult& run) {
    try {
        checkExportable(run);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

ModelExportResult exportQuantLens(const RunResult& run, const std::string& outDir,
                                  const ModelExportOptions& options,
                                  const ProgressCallback& callback) {
    const auto start = std::chrono::steady_clock::now();
    checkExportable(run);
    const auto store = TensorStore::open(run.config.modelDir);
    std::map<std::string, std::string> meta = {{"format", "pt"},
                                               {"ql.format", "quantlens-packed"},
                                               {"ql.version", "1"},
                                               {"ql.quantlens_version", QUANTLENS_VERSION},
                                               {"ql.recipe", run.config.recipe},
                                               {"ql.run_id", run.id},
                                               {"ql.architecture", run.architecture},
                                               {"ql.model", run.modelName}};
    StagedFolder folder(outDir, "quantlens-export-packed", options.replaceExisting);
    const ProgressReporter progress(callback);
    const std::vector<TensorToWrite> tensors = packedTensors(run, *store, meta, progress);
    writeSafetensors(folder.path("model.safetensors"), tensors, meta);
    folder.writeFile("config.json", configForQuantLens(run));
    copyTokenizerFiles(run.config.modelDir, folder);
    ModelExportResult result;
    if (Recipe::parse(run.config.recipe).quantizesActivations())
        result.warnings.push_back(
            "the run's activation side is recorded in the metadata but a "
            "model read back from the export has float activations");
    const json format = {{"format", "quantlens"}, {"recipe", run.config.recipe}};
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
