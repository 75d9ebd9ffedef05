// quantlens-cli sensitivity: measured per-unit sensitivity of a model to a recipe, with
// cheap proxies beside it and their Spearman rank correlation with the measurement.
#include "args.h"
#include "base/error.h"
#include "commands.h"
#include "run/sensitivity.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace qlcli {

namespace {

const char* kUsage =
    "Usage: quantlens-cli sensitivity --model DIR --recipe SPEC --eval FILE [options]\n"
    "\n"
    "Quantizes one unit at a time (one-in: only the unit; leave-one-out: all but the unit)\n"
    "and measures the change of KL(float || variant) and perplexity on evaluation windows.\n"
    "Each variant starts from the float model's cached hidden states at its first changed\n"
    "block and recomputes only the blocks from there on.\n"
    "\n"
    "  --model DIR          Hugging Face model folder\n"
    "  --recipe SPEC        weight recipe (no activation side), e.g. rtn:int4:g128:asym\n"
    "  --eval FILE          evaluation text\n"
    "  --mode M             one-in (default) or leave-one-out\n"
    "  --unit U             layer (default), block or kind\n"
    "  --windows N          evaluation windows (default 4)\n"
    "  --seq L              evaluation window length (default 256)\n"
    "  --protocol P         gptq (default) or llamacpp\n"
    "  --calib FILE         calibration text (GPTQ/AWQ: fitted per variant)\n"
    "  --calib-windows K    calibration windows (default 16)\n"
    "  --calib-seq N        calibration window length (default 256)\n"
    "  --fisher-windows N   evaluation windows of the Fisher proxy, one backward pass\n"
    "                       each (default 4; 0 skips it)\n"
    "  --include GLOB       only matching layers (repeatable)\n"
    "  --exclude GLOB       skip matching layers (repeatable)\n"
    "  --threads T          compute threads, 1..256\n"
    "  --json               print the result as JSON\n"
    "\n"
    "Columns: dKL mean / p99 and dppl (one-in: variant - float; leave-one-out: fully\n"
    "quantized - variant; positive = the unit hurts), then the proxies, w_hat as in the\n"
    "fully quantized model, summed over the unit's layers:\n"
    "  wSQNR    weight SQNR (dB)\n"
    "  w err    sum (w - w_hat)^2\n"
    "  oSQNR    output SQNR (dB) on the evaluation windows (held out from calibration),\n"
    "           each layer's input in the fully quantized model\n"
    "  Fisher   sum F (w - w_hat)^2, F = mean over windows of the float model's g^2\n"
    "  Hessian  tr((W - W_hat) H (W - W_hat)^T), H = X^T X / N from the float model's\n"
    "           inputs on the calibration windows (the evaluation windows without --calib)\n"
    "  kurt     kurtosis of the layer's input in the float model (largest of the unit's)\n"
    "Then each proxy's Spearman rank correlation with dKL mean; SQNRs are negated (a high\n"
    "SQNR means a less sensitive unit), so positive always means the proxy ranks the\n"
    "units as the measurement does.\n";

ql::ProgressCallback progressLines() {
    return [](const ql::Progress& p) {
        if (p.fraction >= 0 && p.phase == "sensitivity" && !p.message.empty())
            std::fprintf(stderr, "[%3d%%] %s\n", int(p.fraction * 100), p.message.c_str());
        return true;
    };
}

nlohmann::json orNull(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

void printJson(const ql::SensitivityResult& r) {
    nlohmann::json j;
    j["model_dir"] = r.config.modelDir;
    j["recipe"] = r.recipe;
    j["mode"] = ql::sensitivityModeName(r.config.mode);
    j["unit"] = ql::sensitivityUnitName(r.config.unit);
    j["windows"] = r.windows;
    j["seq"] = r.seq;
    j["scored_tokens"] = r.scoredTokens;
    j["ppl_fp"] = r.pplFp;
    if (r.config.mode == ql::SensitivityMode::LeaveOneOut)
        j["fully_quantized"] = {{"kl_mean", r.fullyQuantized.klMean},
                                {"kl_p99", r.fullyQuantized.klP99},
                                {"ppl_q", r.fullyQuantized.pplQ}};
    j["block_passes"] = r.blockPasses;
    j["block_passes_from_block_0"] = r.blockPassesFull;
    j["seconds"] = r.seconds;
    j["units"] = nlohmann::json::array();
    for (const auto& u : r.units)
        j["units"].push_back(
            {{"unit", u.unit},
             {"layers", u.layers},
             {"first_block", u.firstBlock},
             {"parameters", u.parameters},
             {"kl_mean", u.klMean},
             {"kl_p99", u.klP99},
             {"ppl_q", u.pplQ},
             {"delta_kl_mean", u.deltaKlMean},
             {"delta_kl_p99", u.deltaKlP99},
             {"delta_ppl", u.deltaPpl},
             {"weight_sqnr_db", orNull(u.weightSqnrDb)},
             {"weight_error_sq", u.weightErrorSq},
             {"output_sqnr_db", orNull(u.outputSqnrDb)},
             {"fisher_error", orNull(u.fisherError)},
             {"hessian_error", orNull(u.hessianError)},
             {"input_kurtosis", orNull(u.inputKurtosis)},
             {"fallback_layers", u.fallbackLayers},
             {"fallback_reason",
              u.fallbackReason.empty() ? nlohmann::json() : nlohmann::json(u.fallbackReason)},
             {"seconds", u.seconds}});
    j["proxies"] = {{"hessian_windows", r.hessianWindows},
                    {"fisher_windows", r.fisherWindows},
                    {"block_passes", r.proxyBlockPasses},
                    {"seconds", r.proxySeconds}};
    // Negated proxies (SQNRs) under "neg_<name>": the correlation of -proxy.
    nlohmann::json rho = nlohmann::json::object();
    for (const ql::ProxyCorrelation& c : r.correlations)
        rho[(c.negated ? "neg_" : "") + c.proxy] = orNull(c.spearman);
    j["spearman_with_delta_kl_mean"] = rho;
    std::cout << j.dump(2) << "\n";
}

void printTable(const ql::SensitivityResult& r) {
    std::printf("sensitivity to %s, %s per %s, %d windows x %d (%lld scored tokens), ppl fp %.5f\n",
                r.recipe.c_str(), ql::sensitivityModeName(r.config.mode).c_str(),
                ql::sensitivityUnitName(r.config.unit).c_str(), r.windows, r.seq,
                (long long)r.scoredTokens, r.pplFp);
    if (r.config.mode == ql::SensitivityMode::LeaveOneOut)
        std::printf("fully quantized: KL mean %.6g  p99 %.6g  ppl %.5f\n", r.fullyQuantized.klMean,
                    r.fullyQuantized.klP99, r.fullyQuantized.pplQ);
    std::printf("%-40s %11s %11s %9s %8s %10s %8s %10s %10s %7s\n", "unit", "dKL mean", "dKL p99",
                "dppl", "wSQNR", "w err", "oSQNR", "Fisher", "Hessian", "kurt");
    for (const auto& u : r.units)
        std::printf("%-40s %11.5g %11.5g %9.5f %8.2f %10.4g %8.2f %10.4g %10.4g %7.2f\n",
                    u.unit.c_str(), u.deltaKlMean, u.deltaKlP99, u.deltaPpl, u.weightSqnrDb,
                    u.weightErrorSq, u.outputSqnrDb, u.fisherError, u.hessianError,
                    u.inputKurtosis);
    // A unit measured with a fallback is not the recipe as asked: say which and why.
    const auto fell =
        std::count_if(r.units.begin(), r.units.end(),
                      [](const ql::UnitSensitivity& u) { return !u.fallbackLayers.empty(); });
    if (fell > 0) {
        std::printf(
            "\nfallback: %lld unit(s) measured with layers the recipe could not be applied "
            "to as asked:\n",
            (long long)fell);
        for (const auto& u : r.units)
            if (!u.fallbackLayers.empty())
                std::printf("  %s: %zu layer(s), %s\n", u.unit.c_str(), u.fallbackLayers.size(),
                            u.fallbackReason.c_str());
    }
    std::printf("\nSpearman rank correlation with dKL mean (%zu units; SQNRs negated):\n",
                r.units.size());
    for (const ql::ProxyCorrelation& c : r.correlations)
        std::printf("  %-14s %7.3f\n", c.label.c_str(), c.spearman);
    std::printf(
        "proxies: Hessian/kurtosis on the %s windows, Fisher on %d windows, %lld block "
        "passes, %.2f s\n",
        r.hessianWindows.c_str(), r.fisherWindows, (long long)r.proxyBlockPasses, r.proxySeconds);
    std::printf("block passes %lld (recomputing every variant from block 0: %lld), %.2f s\n",
                (long long)r.blockPasses, (long long)r.blockPassesFull, r.seconds);
}

}  // namespace

ql::SensitivityConfig sensitivityOptions(const Args& args, const Argv& argv) {
    ql::SensitivityConfig c;
    c.modelDir = modelFolderOption(args);
    c.evaluationText = args.required("eval");
    c.evalWindows = args.intValue("windows", c.evalWindows);
    c.evalSeq = args.intValue("seq", c.evalSeq);
    c.evalProtocol = args.value("protocol", "gptq");
    c.calibrationText = args.value("calib");
    c.calibrationWindows = args.intValue("calib-windows", c.calibrationWindows);
    c.calibrationSeq = args.intValue("calib-seq", c.calibrationSeq);
    c.layers.include = repeated(argv, "--include");
    c.layers.exclude = repeated(argv, "--exclude");
    c.threads = threadsOption(args);
    applyThreads(c.threads);
    return c;
}

int cmdSensitivity(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(
        argv,
        {"model", "recipe", "eval", "mode", "unit", "windows", "seq", "protocol", "calib",
         "calib-windows", "calib-seq", "fisher-windows", "include", "exclude", "threads"},
        {"json"});
    args.allowPositional(0);
    ql::SensitivityConfig c = sensitivityOptions(args, argv);
    c.recipe = args.required("recipe");
    c.mode = ql::parseSensitivityMode(args.value("mode", "one-in"));
    c.unit = ql::parseSensitivityUnit(args.value("unit", "layer"));
    c.fisherWindows = args.intValue("fisher-windows", c.fisherWindows);
    const ql::SensitivityResult r = ql::measureSensitivity(c, progressLines());
    if (args.flag("json"))
        printJson(r);
    else
        printTable(r);
    return 0;
}

}  // namespace qlcli
