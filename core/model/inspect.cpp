// Weights-only summary of any safetensors checkpoint; no libtorch here.
#include "base/error.h"
#include "io/gguf_model.h"
#include "io/model_check.h"
#include "model/model.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace fs = std::filesystem;

namespace ql {

namespace {

// The projections in block order, with the module that holds them.
struct ProjName {
    ProjKind kind;
    const char* path;
};
constexpr ProjName kProjections[] = {
    {ProjKind::Q, "self_attn.q_proj"}, {ProjKind::K, "self_attn.k_proj"},
    {ProjKind::V, "self_attn.v_proj"}, {ProjKind::O, "self_attn.o_proj"},
    {ProjKind::Gate, "mlp.gate_proj"}, {ProjKind::Up, "mlp.up_proj"},
    {ProjKind::Down, "mlp.down_proj"},
};

// Linear layers found in the checkpoint (quantized checkpoints without plain
// ".weight" tensors simply list none).
std::vector<LinearLayerInfo> findLinears(const TensorStore& store, int numLayers) {
    std::vector<LinearLayerInfo> out;
    for (int l = 0; l < numLayers; ++l) {
        for (const auto& p : kProjections) {
            LinearLayerInfo li;
            li.name = "model.layers." + std::to_string(l) + "." + p.path;
            const TensorInfo* w = store.find(li.name + ".weight");
            if (!w || w->shape.size() != 2) continue;
            li.block = l;
            li.kind = p.kind;
            li.outFeatures = w->shape[0];
            li.inFeatures = w->shape[1];
            li.hasBias = store.find(li.name + ".bias") != nullptr;
            out.push_back(li);
        }
    }
    return out;
}

// "layers.2" before "layers.10": digit runs compare as numbers.
bool naturalLess(const std::string& a, const std::string& b) {
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        const auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
        if (digit(a[i]) && digit(b[j])) {
            size_t ei = i, ej = j;
            while (ei < a.size() && digit(a[ei])) ++ei;
            while (ej < b.size() && digit(b[ej])) ++ej;
            const std::string na = a.substr(i, ei - i), nb = b.substr(j, ej - j);
            if (na.size() != nb.size()) return na.size() < nb.size();
            if (na != nb) return na < nb;
            i = ei;
            j = ej;
        } else {
            if (a[i] != b[j]) return a[i] < b[j];
            ++i;
            ++j;
        }
    }
    return a.size() - i < b.size() - j;
}

}  // namespace

// Tensors are listed in natural name order; a summary whose config.architectureName
// is empty is weights-only (weightsOnlyReason says why). A supported config is checked
// against the tensors (validateModel).
ModelSummary inspectCheckpoint(const std::string& fileOrFolder) {
    const auto store = TensorStore::open(fileOrFolder);
    ModelSummary s;
    const fs::path p(fileOrFolder);
    s.folder = fs::is_directory(p) ? p.string() : p.parent_path().string();
    if (s.folder.empty()) s.folder = ".";
    for (const auto& name : store->names()) {
        s.tensors.push_back(store->get(name));
        s.parameters += s.tensors.back().numel();
    }
    std::sort(s.tensors.begin(), s.tensors.end(),
              [](const TensorInfo& a, const TensorInfo& b) { return naturalLess(a.name, b.name); });
    s.bytesOnDisk = store->bytesOnDisk();
    s.bytesInMemory = uint64_t(s.parameters) * 4;
    if (isGgufFile(fileOrFolder)) {  // a GGUF is a whole model: its metadata is the config
        s.folder = fileOrFolder;
        s.config = loadModelConfigOf(fileOrFolder);
        validateModel(s.config, *store, fileOrFolder);
        s.linears = findLinears(*store, s.config.numLayers);
        return s;
    }
    // A config.json that is there must be readable and valid; only one that names no
    // supported architecture leaves the checkpoint weights-only, with the reason kept.
    const fs::path configPath = fs::path(s.folder) / "config.json";
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(configPath, ec))) {
        s.weightsOnlyReason = "no config.json next to the weights";
        return s;
    }
    if (!fs::is_directory(p, ec) &&
        fs::exists(fs::path(s.folder) / "model.safetensors.index.json", ec)) {
        s.weightsOnlyReason = "one shard of a sharded checkpoint; open its folder for the model";
        return s;
    }
    std::string why;
    const auto config = loadSupportedModelConfig(configPath.string(), why);
    if (!config) {
        s.weightsOnlyReason = configPath.string() + ": " + why;
        return s;
    }
    validateModel(*config, *store, configPath.string());
    s.config = *config;
    s.linears = findLinears(*store, s.config.numLayers);
    return s;
}

}  // namespace ql
