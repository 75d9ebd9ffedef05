// quantlens-cli synth: writes a model folder with RANDOM weights of a real model's shapes.
#include "args.h"
#include "base/error.h"
#include "base/output_folder.h"
#include "commands.h"
#include "io/safetensors.h"
#include "model/synth.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

namespace qlcli {

namespace {

std::string usage() {
    std::string presets;
    for (const auto& p : ql::synthPresets()) presets += (presets.empty() ? "" : ", ") + p;
    return "Usage: quantlens-cli synth --preset NAME --out DIR [--dtype bf16|f16|f32] [--seed S]"
           " [--force] [--json]\n"
           "\n"
           "Writes a complete Hugging Face model folder (config.json, model.safetensors, sharded\n"
           "above 2 GB, tokenizer.json, README.md) with the shapes of a real model and RANDOM\n"
           "weights: for scale, speed and memory tests only; its outputs mean nothing.\n"
           "\n"
           "  --preset NAME   one of: " +
           presets +
           "\n"
           "  --out DIR       output folder: new or empty (its parent must exist); a model\n"
           "                  synth wrote there before is replaced only with --force\n"
           "  --force         replace the synthetic model already in DIR\n"
           "  --dtype T       bf16 (default), f16 or f32\n"
           "  --seed S        random seed (default 0); the same seed gives identical files\n"
           "  --json          machine-readable output\n";
}

ql::DType parseSynthDtype(const std::string& s) {
    if (s == "bf16" || s == "BF16" || s == "bfloat16") return ql::DType::BF16;
    if (s == "f16" || s == "F16" || s == "float16") return ql::DType::F16;
    if (s == "f32" || s == "F32" || s == "float32") return ql::DType::F32;
    throw ql::Error("--dtype must be bf16, f16 or f32, not '" + s + "'");
}

uint64_t parseSeed(const std::string& s) {
    size_t used = 0;
    unsigned long long v = 0;
    try {
        v = std::stoull(s, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (s.empty() || used != s.size() || s[0] == '-')
        throw ql::Error("--seed must be a non-negative integer, not '" + s + "'");
    return v;
}

// Progress on stderr in steps of 10%, so scripts reading stdout are not disturbed.
ql::ProgressCallback stderrProgress() {
    auto lastStep = std::make_shared<int>(-1);
    return [lastStep](const ql::Progress& p) {
        const int step = int(p.fraction * 10);
        if (step != *lastStep) {
            *lastStep = step;
            std::fprintf(stderr, "synth: %3d%%\n", step * 10);
        }
        return true;
    };
}

}  // namespace

int cmdSynth(const Argv& argv) {
    if (wantsHelp(argv, usage().c_str())) return 0;
    const Args args(argv, {"preset", "out", "dtype", "seed"}, {"json", "force"});
    if (!args.positional().empty())
        throw ql::Error("unexpected argument '" + args.positional()[0] + "', see --help");
    ql::SynthOptions o;
    o.preset = args.required("preset");
    o.outDir = args.required("out");
    o.dtype = parseSynthDtype(args.value("dtype", "bf16"));
    o.seed = parseSeed(args.value("seed", "0"));
    const bool asJson = args.flag("json");
    if (!asJson) o.progress = stderrProgress();
    // synth replaces model files: never in a folder of someone else's (e.g. a real model).
    ql::synthPresetConfig(o.preset);  // an unknown preset is reported first
    if (ql::checkOutputFolder(o.outDir) == ql::OutputFolder::Ours && !args.flag("force"))
        throw ql::Error("'" + o.outDir + "' already holds QuantLens output; pass --force to " +
                        "replace it");
    ql::claimOutputFolder(o.outDir, "quantlens-synth");

    const auto start = std::chrono::steady_clock::now();
    ql::synthesizeModel(o);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto store = ql::TensorStore::open(o.outDir);
    int64_t params = 0;
    for (const auto& n : store->names()) params += store->get(n).numel();

    if (asJson) {
        nlohmann::ordered_json j;
        j["out"] = o.outDir;
        j["preset"] = o.preset;
        j["dtype"] = ql::dtypeName(o.dtype);
        j["seed"] = o.seed;
        j["random_weights"] = true;
        j["parameters"] = params;
        j["tensors"] = store->names().size();
        j["files"] = store->files();
        j["bytes_on_disk"] = store->bytesOnDisk();
        j["seconds"] = seconds;
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("Wrote %s: preset %s, %s, seed %llu\n", o.outDir.c_str(), o.preset.c_str(),
                    ql::dtypeName(o.dtype).c_str(), static_cast<unsigned long long>(o.seed));
        std::printf("  %lld parameters in %zu tensors, %zu safetensors file(s), %.1f MB, %.1f s\n",
                    static_cast<long long>(params), store->names().size(), store->files().size(),
                    double(store->bytesOnDisk()) / 1e6, seconds);
        std::printf("NOTE: the weights are RANDOM (synthetic model for scale/speed tests only).\n");
    }
    return 0;
}

}  // namespace qlcli
