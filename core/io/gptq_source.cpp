// GPTQ checkpoint folders as a quantized weights source (quantized_source.h): every
// "<layer>.qweight" with its qzeros, scales and g_idx becomes the float tensor
// "<layer>.weight" = (u - zero) * scale, dequantized on demand.
#include "base/error.h"
#include "base/file_util.h"
#include "io/gptq_checkpoint.h"
#include "io/quantized_source.h"
#include "io/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <map>

namespace ql {

namespace {

using nlohmann::json;

struct GptqSettings {
    int bits = 4;
    int64_t groupSize = -1;
    bool sym = true;
    GptqZeroFormat zeros = GptqZeroFormat::V1;
};

[[noreturn]] void failConfig(const std::string& path, const std::string& field,
                             const std::string& why) {
    throw Error(path + ": field 'quantization_config." + field + "' " + why);
}

GptqSettings settingsOf(const json& qc, const std::string& path) {
    GptqSettings s;
    if (!qc.contains("bits") || !qc["bits"].is_number_integer())
        failConfig(path, "bits", "is missing or not an integer");
    s.bits = qc["bits"].get<int>();
    if (s.bits != 2 && s.bits != 4 && s.bits != 8)
        failConfig(path, "bits", "is " + std::to_string(s.bits) + " (QuantLens reads 2, 4 or 8)");
    if (qc.contains("group_size")) {
        if (!qc["group_size"].is_number_integer())
            failConfig(path, "group_size", "is not an integer");
        s.groupSize = qc["group_size"].get<int64_t>();
    }
    if (qc.contains("sym") && qc["sym"].is_boolean()) s.sym = qc["sym"].get<bool>();
    const std::string format =
        qc.contains("checkpoint_format") && qc["checkpoint_format"].is_string()
            ? qc["checkpoint_format"].get<std::string>()
            : "gptq";
    if (format == "gptq_v2")
        s.zeros = GptqZeroFormat::V2;
    else if (format != "gptq")
        failConfig(path, "checkpoint_format",
                   "is \"" + format + "\" (QuantLens reads \"gptq\" and \"gptq_v2\")");
    return s;
}

class GptqSource : public QuantizedWeightsSource {
public:
    GptqSource(const std::string& folder, const GptqSettings& s, const std::string& configPath)
        : settings_(s), raw_(TensorStore::openRaw(folder)) {
        for (const auto& name : raw_->names()) {
            const std::string suffix = ".qweight";
            if (name.size() <= suffix.size() ||
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
                continue;
            addLayer(name.substr(0, name.size() - suffix.size()));
        }
        if (tensors_.empty())
            throw Error(configPath +
                        " says quant_method \"gptq\" but no tensor '*.qweight' is in " + folder);
    }

    std::string formatName() const override { return "gptq"; }
    const std::vector<QuantizedTensorInfo>& tensors() const override { return tensors_; }
    const std::vector<std::string>& packedNames() const override { return packed_; }

    std::vector<float> dequantize(const std::string& name) const override {
        const auto it = layers_.find(name);
        if (it == layers_.end()) throw Error("tensor '" + name + "' is not a GPTQ weight");
        const std::string& base = it->second.base;
        GptqTensors t = it->second.shape;
        t.qweight = readI32(base + ".qweight");
        t.qzeros = readI32(base + ".qzeros");
        const TensorInfo& sc = raw_->get(base + ".scales");
        t.scales.resize(size_t(sc.numel()));
        std::memcpy(t.scales.data(), raw_->data(sc), t.scales.size() * 2);
        if (raw_->find(base + ".g_idx")) {
            t.gIdx = readI32(base + ".g_idx");
        } else {  // old checkpoints: contiguous groups
            t.gIdx.resize(size_t(t.inFeatures));
            const int64_t gs = t.inFeatures / t.groups;
            for (int64_t i = 0; i < t.inFeatures; ++i) t.gIdx[size_t(i)] = int32_t(i / gs);
        }
        return dequantizeGptq(t, settings_.zeros, base);
    }

private:
    struct Layer {
        std::string base;
        GptqTensors shape;  // dimensions only
    };

    std::vector<int32_t> readI32(const std::string& name) const {
        const TensorInfo& t = raw_->get(name);
        std::vector<int32_t> v(size_t(t.numel()));
        std::memcpy(v.data(), raw_->data(t), v.size() * 4);
        return v;
    }

    const TensorInfo& need(const std::string& name, DType dtype, size_t rank) const {
        const TensorInfo* t = raw_->find(name);
        if (!t) throw Error(raw_->files().front() + ": GPTQ tensor '" + name + "' is missing");
        if (t->dtype != dtype || t->shape.size() != rank)
            throw Error(t->file + ": tensor '" + name + "' is " + dtypeName(t->dtype) +
                        " of rank " + std::to_string(t->shape.size()) + ", expected " +
                        dtypeName(dtype) + " of rank " + std::to_string(rank));
        return *t;
    }

    void addLayer(const std::string& base) {
        const int perWord = 32 / settings_.bits;
        const TensorInfo& qw = need(base + ".qweight", DType::I32, 2);
        const TensorInfo& qz = need(base + ".qzeros", DType::I32, 2);
        const TensorInfo& sc = need(base + ".scales", DType::F16, 2);
        GptqTensors t;
        t.bits = settings_.bits;
        t.inFeatures = qw.shape[0] * perWord;
        t.outFeatures = qw.shape[1];
        t.groups = sc.shape[0];
        auto bad = [&](const TensorInfo& info, const std::string& why) {
            throw Error(info.file + ": tensor '" + info.name + "' " + why);
        };
        if (sc.shape[1] != t.outFeatures)
            bad(sc, "has " + std::to_string(sc.shape[1]) + " columns, qweight has " +
                        std::to_string(t.outFeatures));
        if (qz.shape[0] != t.groups || qz.shape[1] * perWord != t.outFeatures)
            bad(qz, "does not match scales [groups, out] packed " + std::to_string(perWord) +
                        " per int32");
        if (t.groups < 1 || t.groups > t.inFeatures) bad(sc, "has a wrong number of groups");
        if (settings_.groupSize > 0 && t.groups * settings_.groupSize != t.inFeatures)
            bad(sc, "has " + std::to_string(t.groups) + " groups, expected in_features / " +
                        "group_size = " + std::to_string(t.inFeatures / settings_.groupSize));
        if (!raw_->find(base + ".g_idx") && t.inFeatures % t.groups != 0)
            bad(sc, "has groups that do not divide in_features and there is no g_idx");
        if (raw_->find(base + ".g_idx")) {
            const TensorInfo& gi = need(base + ".g_idx", DType::I32, 1);
            if (gi.shape[0] != t.inFeatures)
                bad(gi, "has " + std::to_string(gi.shape[0]) + " entries, expected in_features " +
                            std::to_string(t.inFeatures));
            packed_.push_back(gi.name);
        }
        QuantizedTensorInfo info;
        info.name = base + ".weight";
        info.shape = {t.outFeatures, t.inFeatures};
        info.typeLabel = "gptq int" + std::to_string(settings_.bits) + " " +
                         (settings_.groupSize > 0 ? "g" + std::to_string(settings_.groupSize)
                                                  : std::string("channel")) +
                         (settings_.sym ? " sym" : " asym");
        info.packedBytes = qw.byteSize + qz.byteSize + sc.byteSize;
        info.file = qw.file;
        packed_.insert(packed_.end(), {qw.name, qz.name, sc.name});
        tensors_.push_back(info);
        layers_[info.name] = {base, t};
    }

    GptqSettings settings_;
    std::shared_ptr<TensorStore> raw_;
    std::vector<QuantizedTensorInfo> tensors_;
    std::vector<std::string> packed_;
    std::map<std::string, Layer> layers_;
};

}  // namespace

std::shared_ptr<QuantizedWeightsSource> openQuantizedSource(const std::string& fileOrFolder) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path configPath = fs::path(fileOrFolder) / "config.json";
    if (!fs::is_directory(fileOrFolder, ec) || !fs::is_regular_file(configPath, ec)) return nullptr;
    json config;
    try {
        config = json::parse(readRegularFile(configPath.string(), "config.json"));
    } catch (const json::exception&) {
        return nullptr;  // the model config reader reports a broken config.json
    }
    if (!config.is_object() || !config.contains("quantization_config")) return nullptr;
    const json& qc = config["quantization_config"];
    if (!qc.is_object() || !qc.contains("quant_method")) return nullptr;
    if (qc["quant_method"] == "quantlens") return openQuantLensSource(fileOrFolder);
    if (qc["quant_method"] != "gptq")
        return nullptr;  // other methods: read as before (their tensors name the problem)
    return std::make_shared<GptqSource>(fileOrFolder, settingsOf(qc, configPath.string()),
                                        configPath.string());
}

}  // namespace ql
