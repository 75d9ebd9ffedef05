// quantlens-cli info MODEL [--json]: what a checkpoint holds, from its safetensors
// headers (and config.json when present); no weights are loaded.
#include "args.h"
#include "base/error.h"
#include "commands.h"
#include "io/gguf_model.h"
#include "io/quantized_source.h"
#include "io/safetensors.h"
#include "model/model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace qlcli {

namespace {

const char* kUsage =
    "Usage: quantlens-cli info MODEL [--json]\n"
    "\n"
    "MODEL is a model folder (config.json + safetensors, sharded or not), a single\n"
    ".safetensors file or a .gguf file (its metadata is the config). Prints the\n"
    "architecture (or \"weights only\" without a supported config.json), layers, hidden\n"
    "size, heads, vocabulary, parameter count, dtypes, bytes on disk and the tensor list.\n"
    "Reads only the headers.\n"
    "\n"
    "  --json   machine-readable output\n";

struct DtypeCount {
    int tensors = 0;
    int64_t parameters = 0;
    uint64_t bytes = 0;
};

std::map<std::string, DtypeCount> countDtypes(const ql::ModelSummary& s) {
    std::map<std::string, DtypeCount> out;
    for (const auto& t : s.tensors) {
        auto& c = out[ql::dtypeName(t.dtype)];
        ++c.tensors;
        c.parameters += t.numel();
        c.bytes += t.byteSize;
    }
    return out;
}

// config.json written by `synth` says so; info repeats it so nobody mistakes it for a model.
// Only asked of a config that inspectCheckpoint already read and validated.
bool isSynthetic(const ql::ModelSummary& s) {
    if (s.config.architectureName.empty() || ql::isGgufFile(s.folder)) return false;
    const fs::path p = fs::path(s.folder) / "config.json";
    const auto j = nlohmann::json::parse(readTextFile(p.string()), nullptr, false);
    if (!j.is_object()) return false;
    const auto it = j.find("quantlens_synthetic");
    return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string shapeText(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string humanBytes(uint64_t b) {
    char buf[32];
    if (b >= (1ull << 30))
        std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / (1ull << 30));
    else if (b >= (1ull << 20))
        std::snprintf(buf, sizeof buf, "%.2f MiB", double(b) / (1ull << 20));
    else if (b >= 1024)
        std::snprintf(buf, sizeof buf, "%.1f KiB", double(b) / 1024);
    else
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
    return buf;
}

std::string humanCount(int64_t n) {
    char buf[32];
    if (n >= 1000000000)
        std::snprintf(buf, sizeof buf, "%.2f B", double(n) / 1e9);
    else if (n >= 1000000)
        std::snprintf(buf, sizeof buf, "%.2f M", double(n) / 1e6);
    else if (n >= 1000)
        std::snprintf(buf, sizeof buf, "%.1f K", double(n) / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
    return buf;
}

json configJson(const ql::ModelConfig& c) {
    return {{"architecture", c.architectureName},
            {"family", ql::architectureDisplayName(c.architecture)},
            {"layers", c.numLayers},
            {"hidden_size", c.hiddenSize},
            {"intermediate_size", c.intermediateSize},
            {"heads", c.numHeads},
            {"kv_heads", c.numKvHeads},
            {"head_dim", c.headDim},
            {"vocab_size", c.vocabSize},
            {"max_positions", c.maxPositions},
            {"rope_theta", c.ropeTheta},
            {"rms_norm_eps", c.rmsNormEps},
            {"tie_word_embeddings", c.tieWordEmbeddings},
            {"attention_bias", c.attentionBias},
            {"qk_norm", c.qkNorm}};
}

// A quantized checkpoint (GPTQ folder, QuantLens export) is listed as its float model; this
// says what is packed behind it. Empty format: a plain checkpoint.
struct QuantizedSummary {
    std::string format, label;
    size_t tensors = 0;
    uint64_t packedBytes = 0;
};

QuantizedSummary quantizedSummary(const std::string& model) {
    QuantizedSummary q;
    const auto store = ql::TensorStore::open(model);
    const ql::QuantizedWeightsSource* source = store->quantizedSource();
    if (!source) return q;
    q.format = source->formatName();
    for (const auto& t : source->tensors()) {
        if (q.label.empty()) q.label = t.typeLabel;
        if (t.typeLabel != q.label) q.label = "mixed";
        q.packedBytes += t.packedBytes;
        ++q.tensors;
    }
    return q;
}

void printJson(const std::string& model, const ql::ModelSummary& s, bool synthetic) {
    const bool weightsOnly = s.config.architectureName.empty();
    json j;
    j["model"] = model;
    j["folder"] = s.folder;
    j["weights_only"] = weightsOnly;
    if (weightsOnly) j["weights_only_reason"] = s.weightsOnlyReason;
    j["synthetic_random_weights"] = synthetic;
    j["config"] = weightsOnly ? json(nullptr) : configJson(s.config);
    j["parameters"] = s.parameters;
    j["bytes_on_disk"] = s.bytesOnDisk;
    j["bytes_in_memory_f32"] = s.bytesInMemory;
    json dtypes = json::object();
    for (const auto& [name, c] : countDtypes(s))
        dtypes[name] = {{"tensors", c.tensors}, {"parameters", c.parameters}, {"bytes", c.bytes}};
    j["dtypes"] = dtypes;
    j["linear_layers"] = s.linears.size();
    const QuantizedSummary q = quantizedSummary(model);
    j["quantized"] = q.format.empty() ? json(nullptr)
                                      : json{{"format", q.format},
                                             {"type", q.label},
                                             {"tensors", q.tensors},
                                             {"packed_bytes", q.packedBytes}};
    json tensors = json::array();
    for (const auto& t : s.tensors)
        tensors.push_back({{"name", t.name},
                           {"dtype", ql::dtypeName(t.dtype)},
                           {"shape", t.shape},
                           {"bytes", t.byteSize},
                           {"file", fs::path(t.file).filename().string()}});
    j["tensors"] = tensors;
    std::cout << j.dump(2) << "\n";
}

void printText(const std::string& model, const ql::ModelSummary& s, bool synthetic) {
    const ql::ModelConfig& c = s.config;
    std::cout << "Model:          " << model << "\n";
    if (synthetic) std::cout << "NOTE:           synthetic model - its weights are RANDOM\n";
    if (c.architectureName.empty()) {
        std::cout << "Architecture:   weights only (" << s.weightsOnlyReason << ")\n";
    } else {
        std::cout << "Architecture:   " << c.architectureName << "\n"
                  << "Layers:         " << c.numLayers << "\n"
                  << "Hidden:         " << c.hiddenSize << " (MLP " << c.intermediateSize << ")\n"
                  << "Heads:          " << c.numHeads << " (kv heads " << c.numKvHeads
                  << ", head_dim " << c.headDim << ")\n"
                  << "Vocabulary:     " << c.vocabSize << "\n"
                  << "Tied embedding: " << (c.tieWordEmbeddings ? "yes" : "no") << "\n"
                  << "Linear layers:  " << s.linears.size() << "\n";
    }
    const QuantizedSummary q = quantizedSummary(model);
    if (!q.format.empty())
        std::cout << "Quantized:      " << q.format << " checkpoint, " << q.tensors << " tensors "
                  << q.label << " (" << humanBytes(q.packedBytes)
                  << " packed), read dequantized to float32\n";
    std::cout << "Parameters:     " << s.parameters << " (" << humanCount(s.parameters) << ")\n";
    std::cout << "Dtypes:        ";
    for (const auto& [name, d] : countDtypes(s))
        std::cout << " " << name << " x " << d.tensors << " tensors (" << humanCount(d.parameters)
                  << ")";
    std::cout << "\nBytes on disk:  " << s.bytesOnDisk << " (" << humanBytes(s.bytesOnDisk) << ")\n"
              << "As float32:     " << s.bytesInMemory << " (" << humanBytes(s.bytesInMemory)
              << ")\n\nTensors (" << s.tensors.size() << "): name, dtype, bytes, shape\n"
              << std::flush;  // the rows below go through printf
    size_t width = 0;
    for (const auto& t : s.tensors) width = std::max(width, t.name.size());
    for (const auto& t : s.tensors)
        std::printf("  %-*s  %-4s %14llu  %s\n", int(width), t.name.c_str(),
                    ql::dtypeName(t.dtype).c_str(), static_cast<unsigned long long>(t.byteSize),
                    shapeText(t.shape).c_str());
}

}  // namespace

int cmdInfo(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(argv, {}, {"json"});
    if (args.positional().size() != 1)
        throw ql::Error("expected one MODEL (folder, .safetensors or .gguf file), see --help");
    const std::string model = args.positional()[0];
    const ql::ModelSummary s = ql::inspectCheckpoint(model);
    const bool synthetic = isSynthetic(s);
    if (args.flag("json"))
        printJson(model, s, synthetic);
    else
        printText(model, s, synthetic);
    return 0;
}

}  // namespace qlcli
