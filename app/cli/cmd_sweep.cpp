// quantlens-cli sweep: weights-only metrics of every layer under several recipes at once.
#include "args.h"
#include "base/error.h"
#include "commands.h"
#include "run/sweep.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace qlcli {

namespace {

const char* kUsage =
    "Usage: quantlens-cli sweep --model DIR --recipes R1,R2,... [options]\n"
    "\n"
    "Weights-only analysis of the decoder projections under every recipe: per layer the\n"
    "weight SQNR, MSE, max error, cosine and packed bytes, exactly the numbers a weights-only\n"
    "'quantize' run (no --calib/--eval) of each recipe gives. No forward pass, nothing written.\n"
    "RTN recipes run the fused streaming kernel; casts, NF4/FP4 and llama.cpp formats work too;\n"
    "GPTQ, AWQ, LLM.int8() and activation sides need a text and are refused.\n"
    "\n"
    "  --model DIR          Hugging Face model folder, or a .gguf file (dequantized on load)\n"
    "  --recipes LIST       comma-separated recipes, e.g.\n"
    "                       rtn:int8:channel:sym,rtn:int4:g128:asym,rtn:int4:g32:sym,nf4\n"
    "  --include GLOB       only matching layers (* and ?)\n"
    "  --exclude GLOB       skip matching layers\n"
    "  --bins N             also compute each layer's three histograms with N bins, as a\n"
    "                       run does (default 0: metrics only; nothing of them is printed,\n"
    "                       for timing a run's weights-only work)\n"
    "  --threads T          compute threads, 1..256\n"
    "  --json               per-recipe, per-layer metrics as JSON\n";

std::vector<std::string> splitList(const std::string& s) {
    std::vector<std::string> out;
    size_t b = 0;
    while (b <= s.size()) {
        const size_t e = std::min(s.find(',', b), s.size());
        if (e > b) out.push_back(s.substr(b, e - b));
        b = e + 1;
    }
    return out;
}

nlohmann::json num(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

double meanSqnr(const std::vector<ql::LayerResult>& layers) {
    double s = 0;
    int n = 0;
    for (const auto& l : layers)
        if (std::isfinite(l.weightSqnrDb)) s += l.weightSqnrDb, ++n;
    return n ? s / n : std::nan("");
}

uint64_t bytesQ(const std::vector<ql::LayerResult>& layers) {
    uint64_t b = 0;
    for (const auto& l : layers) b += l.bytesQ;
    return b;
}

nlohmann::json toJson(const ql::SweepResult& s) {
    nlohmann::json recipes = nlohmann::json::array();
    for (size_t r = 0; r < s.recipes.size(); ++r) {
        nlohmann::json layers = nlohmann::json::array();
        for (const auto& l : s.layers[r])
            layers.push_back({{"name", l.name},
                              {"rows", l.rows},
                              {"cols", l.cols},
                              {"method", l.method},
                              {"fallback", l.fallback},
                              {"weight_sqnr_db", num(l.weightSqnrDb)},
                              {"mse", l.mse},
                              {"max_abs_error", l.maxAbsError},
                              {"cosine", l.cosine},
                              {"bytes_fp", l.bytesFp},
                              {"bytes_q", l.bytesQ},
                              {"unusable_weights", l.unusableWeights}});
        recipes.push_back({{"recipe", s.recipes[r]},
                           {"mean_weight_sqnr_db", num(meanSqnr(s.layers[r]))},
                           {"bytes_q", bytesQ(s.layers[r])},
                           {"layers", layers}});
    }
    return {{"model", s.modelDir},
            {"architecture", s.architecture},
            {"weights_only", true},
            {"seconds", s.seconds},
            {"recipes", recipes}};
}

void printTable(const ql::SweepResult& s) {
    std::printf("weights-only sweep of %s (%s), weight SQNR in dB per layer\n", s.modelDir.c_str(),
                s.architecture.c_str());
    std::printf("%-40s", "layer");
    for (const auto& r : s.recipes) std::printf(" %22s", r.c_str());
    std::printf("\n");
    const size_t n = s.layers.empty() ? 0 : s.layers[0].size();
    for (size_t i = 0; i < n; ++i) {
        std::printf("%-40s", s.layers[0][i].name.c_str());
        for (const auto& layers : s.layers)
            std::printf(" %21.2f%s", layers[i].weightSqnrDb, layers[i].fallback ? "*" : " ");
        std::printf("\n");
    }
    std::printf("%-40s", "mean");
    for (const auto& layers : s.layers) std::printf(" %21.2f ", meanSqnr(layers));
    std::printf("\n%-40s", "packed MiB");
    for (const auto& layers : s.layers) std::printf(" %21.1f ", double(bytesQ(layers)) / 1048576.0);
    std::printf("\n(* = fell back, see --json)  %zu layers x %zu recipes in %.2f s\n", n,
                s.recipes.size(), s.seconds);
}

}  // namespace

int cmdSweep(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(argv, {"model", "recipes", "include", "exclude", "bins", "threads"}, {"json"});
    args.allowPositional(0);
    const std::string model = modelFolderOption(args);
    const std::vector<std::string> recipes = splitList(args.required("recipes"));
    if (recipes.empty()) throw ql::Error("--recipes is empty (see --help)");
    ql::LayerSelection sel;
    if (args.has("include")) sel.include = {args.value("include")};
    if (args.has("exclude")) sel.exclude = {args.value("exclude")};
    const int bins = args.intValue("bins", 0);
    if (bins < 0 || bins > (1 << 20))
        throw ql::Error("--bins " + std::to_string(bins) + " is out of range (0..1048576)");
    applyThreads(threadsOption(args));
    const ql::SweepResult s = ql::sweepWeights(model, recipes, sel, bins);
    if (args.flag("json"))
        std::cout << toJson(s).dump(2) << "\n";
    else
        printTable(s);
    return 0;
}

}  // namespace qlcli
