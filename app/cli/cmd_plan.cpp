// quantlens-cli plan: a mixed-precision plan under a memory budget from measured per-layer
// sensitivity (one-in ΔKL of every candidate recipe), as JSON and as --override lines.
#include "args.h"
#include "base/error.h"
#include "commands.h"
#include "quant/method_registry.h"
#include "run/plan.h"
#include "run/plan_inputs.h"
#include "run/plan_llama.h"
#include "run/run.h"
#include "run/sensitivity.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

namespace qlcli {

ql::SensitivityConfig sensitivityOptions(const Args& args, const Argv& argv);  // cmd_sensitivity

namespace {

const char* kUsage =
    "Usage: quantlens-cli plan --model DIR --candidates R1,R2,... --eval FILE BUDGET [options]\n"
    "\n"
    "Chooses one candidate recipe per layer minimizing the sum of the layers' measured one-in\n"
    "dKL mean (each layer alone quantized with the candidate, see 'sensitivity') subject to\n"
    "the budget on the bytes of the selected layers: an exact knapsack by dynamic programming\n"
    "over bytes. Prints the plan and the 'quantize' command that runs it (--override lines);\n"
    "when every candidate is a llama.cpp type (q8_0 .. q6_k, fp16, bf16), also the\n"
    "'llama-quantize' command with one --tensor-type per planned layer.\n"
    "\n"
    "  --model DIR            Hugging Face model folder\n"
    "  --candidates LIST      comma-separated recipes, e.g.\n"
    "                         rtn:int4:g128:asym,rtn:int4:g32:asym,rtn:int8:channel:sym,fp16;\n"
    "                         at most one fitted recipe (gptq/awq: it is then the run's\n"
    "                         recipe, the others its weight-only overrides); no activation side\n"
    "  --eval FILE            evaluation text for the sensitivity\n"
    "  BUDGET, one of:\n"
    "  --budget BYTES         bytes of the selected layers\n"
    "  --bits-per-weight X    X bits per weight of the selected layers\n"
    "  --budget-of RECIPE     the bytes of RECIPE on every selected layer, plus\n"
    "  --extra PCT            PCT percent (default 0)\n"
    "  --windows N --seq L    evaluation windows (default 4 x 256)\n"
    "  --protocol P           gptq (default) or llamacpp\n"
    "  --calib FILE           calibration text (needed by a gptq/awq candidate)\n"
    "  --calib-windows K --calib-seq N\n"
    "  --include GLOB --exclude GLOB  the layers planned (repeatable)\n"
    "  --threads T            compute threads, 1..256\n"
    "  --json                 print the plan as JSON\n";

std::vector<std::string> splitList(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

uint64_t budgetBytes(const Args& args, const ql::SensitivityConfig& s, uint64_t parameters) {
    const int given =
        int(args.has("budget")) + int(args.has("bits-per-weight")) + int(args.has("budget-of"));
    if (given != 1)
        throw ql::Error("give exactly one budget: --budget, --bits-per-weight or --budget-of");
    if (args.has("budget")) {
        const double b = args.doubleValue("budget", 0);
        if (!(b > 0)) throw ql::Error("--budget must be a positive number of bytes");
        return uint64_t(b);
    }
    if (args.has("bits-per-weight")) {
        const double bits = args.doubleValue("bits-per-weight", 0);
        if (!(bits > 0 && bits <= 32)) throw ql::Error("--bits-per-weight must be in (0, 32]");
        return uint64_t(bits * double(parameters) / 8.0);
    }
    const double extra = args.doubleValue("extra", 0);
    if (extra < 0) throw ql::Error("--extra must not be negative");
    uint64_t uniform = 0;
    for (const auto& [name, bytes] : ql::layerBytes(s, args.value("budget-of"))) uniform += bytes;
    return uint64_t(double(uniform) * (1.0 + extra / 100.0));
}

}  // namespace

int cmdPlan(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(argv,
                    {"model", "candidates", "eval", "budget", "bits-per-weight", "budget-of",
                     "extra", "windows", "seq", "protocol", "calib", "calib-windows", "calib-seq",
                     "include", "exclude", "threads"},
                    {"json"});
    args.allowPositional(0);
    ql::SensitivityConfig s = sensitivityOptions(args, argv);
    s.proxies = false;  // the plan needs only the measured dKL
    const std::vector<std::string> candidates = splitList(args.required("candidates"));
    ql::checkPlanCandidates(candidates);
    // Each candidate's measurement on stderr, as before (the JSON stays alone on stdout).
    size_t shown = 0;
    const ql::PlanInputs in = ql::measurePlanInputs(s, candidates, [&](const ql::Progress& p) {
        const size_t j = size_t(p.fraction * double(candidates.size()));
        if (p.fraction >= 0.0 && j < candidates.size() && j >= shown) {
            std::fprintf(stderr, "measuring %s (%zu of %zu)\n", candidates[j].c_str(), j + 1,
                         candidates.size());
            shown = j + 1;
        }
        return true;
    });
    const uint64_t budget = budgetBytes(args, s, in.parameters);
    const ql::PlanResult p = ql::planMixedPrecision(in.layers, budget);
    const ql::PlanRun run = ql::planRun(in, p);
    const std::string& base = run.recipe;
    std::vector<std::string> overrides;
    for (const ql::RecipeOverride& o : run.overrides) overrides.push_back(ql::overrideText(o));
    std::string command = "quantlens-cli quantize --model " + s.modelDir + " --recipe " + base;
    for (const std::string& o : overrides) command += " --override '" + o + "'";
    const double bpw = 8.0 * double(p.bytes) / double(in.parameters);
    const ql::LlamaQuantizePlan llama = ql::llamaQuantizePlan(in, p);

    if (args.flag("json")) {
        nlohmann::json j;
        j["model_dir"] = s.modelDir;
        j["candidates"] = in.candidates;
        j["budget_bytes"] = budget;
        j["bytes"] = p.bytes;
        j["bits_per_weight"] = bpw;
        j["predicted_delta_kl_sum"] = p.predictedLoss;
        j["quantum_bytes"] = p.quantum;
        j["exact"] = p.exact;
        j["recipe"] = base;
        j["overrides"] = overrides;
        j["command"] = command;
        if (llama.possible)
            j["llama_quantize"] = {{"command", llama.command},
                                   {"base_type", llama.baseType},
                                   {"tensor_types", llama.tensorTypes}};
        else
            j["llama_quantize"] = {{"command", nullptr}, {"why_not", llama.whyNot}};
        for (size_t k = 0; k < in.layers.size(); ++k) {
            const size_t c = size_t(p.choice[k]);
            j["layers"].push_back({{"name", in.layers[k].name},
                                   {"recipe", in.candidates[c]},
                                   {"bytes", in.layers[k].bytes[c]},
                                   {"delta_kl_mean", in.layers[k].loss[c]}});
        }
        for (size_t c = 0; c < in.candidates.size(); ++c)
            j["uniform"].push_back({{"recipe", in.candidates[c]},
                                    {"bytes", in.uniformBytes(c)},
                                    {"predicted_delta_kl_sum", in.uniformLoss(c)}});
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf("%-40s %-24s %12s %12s\n", "layer", "recipe", "bytes", "dKL mean");
    for (size_t k = 0; k < in.layers.size(); ++k) {
        const size_t c = size_t(p.choice[k]);
        std::printf("%-40s %-24s %12llu %12.6g\n", in.layers[k].name.c_str(),
                    in.candidates[c].c_str(), (unsigned long long)in.layers[k].bytes[c],
                    in.layers[k].loss[c]);
    }
    std::printf("plan: %llu of %llu bytes budget (%.3f bits/weight), predicted sum dKL %.6g%s\n",
                (unsigned long long)p.bytes, (unsigned long long)budget, bpw, p.predictedLoss,
                p.exact ? " (exact optimum)" : " (bytes rounded up to the DP quantum)");
    for (size_t c = 0; c < in.candidates.size(); ++c)
        std::printf("uniform %-24s %12llu bytes, predicted sum dKL %.6g\n",
                    in.candidates[c].c_str(), (unsigned long long)in.uniformBytes(c),
                    in.uniformLoss(c));
    std::printf("%s\n", command.c_str());
    if (llama.possible)
        std::printf("# the same plan for llama.cpp (tensors it does not list: %s's choices)\n%s\n",
                    llama.baseType.c_str(), llama.command.c_str());
    else
        std::printf("# no llama-quantize form: %s\n", llama.whyNot.c_str());
    return 0;
}

}  // namespace qlcli
