// quantlens-cli quantize: one run (quantize, analyze, evaluate), written to a run folder.
#include "args.h"
#include "base/error.h"
#include "base/parallel.h"
#include "commands.h"
#include "progress_gaps.h"
#include "progress_line.h"
#include "run/checkpoint_source.h"
#include "run/run.h"
#include "run/run_estimate.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

namespace qlcli {

namespace {

const char* kUsage =
    "Usage: quantlens-cli quantize --model DIR --recipe SPEC --out RUN_DIR [options]\n"
    "\n"
    "Quantizes the decoder projections of a model, measures every layer and writes a run\n"
    "folder (run.json, histograms.bin) that the workbench opens.\n"
    "\n"
    "  --model DIR          Hugging Face model folder, or a .gguf file (dequantized on load)\n"
    "  --recipe SPEC        e.g. rtn:int8:channel:sym, rtn:int4:g128:asym, gptq:int4:g128:sym,\n"
    "                       awq:int4:g128:asym, fp16, bf16, or bitsandbytes 4-bit\n"
    "                       nf4|fp4[:bN][:dq][:fp32|fp16|bf16] (blocks of N, default 64; dq:\n"
    "                       double quantization; dequantized to fp32 by default), e.g.\n"
    "                       nf4:b64, nf4:b64:dq, fp4:b64:bf16, or llama.cpp's formats\n"
    "                       q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k\n"
    "                       (bit for bit as llama-quantize; rows the block does not divide\n"
    "                       fall back per layer, e.g. q4_k -> q5_0 -> fp16).\n"
    "                       Activation side: append +aB[:token|tensor][:sym|asym] to fake-\n"
    "                       quantize every quantized layer's input to B bits (a2..a8; a16 =\n"
    "                       float, the default), per token (dynamic) or per tensor (static,\n"
    "                       calibrated on --calib); default token, sym. E.g. W8A8:\n"
    "                       rtn:int8:channel:sym+a8, W4A8: rtn:int4:g128:asym+a8:tensor:asym.\n"
    "                       Needs --calib or --eval; reports activation SQNR per layer.\n"
    "                       LLM.int8() (bitsandbytes): llm_int8[:tT], int8 row-wise weights\n"
    "                       (fp32 row scales), int8 per-token activations, input columns\n"
    "                       with |x| >= T (default 6) in any token of a window in fp16\n"
    "                       SmoothQuant: append +sq[:ALPHA] (last; ALPHA 0..1, default 0.5)\n"
    "                       to an rtn, gptq, nf4, fp4 or llama.cpp recipe: per input channel\n"
    "                       s = max|X|^a / max|W|^(1-a) from --calib (needed); the method\n"
    "                       quantizes W*s (GPTQ with the Hessian of X/s), inputs are X/s.\n"
    "                       Not with awq (own scales), llm_int8 (own outliers) or casts.\n"
    "                       E.g. W8A8 SmoothQuant: rtn:int8:channel:sym+a8+sq,\n"
    "                       gptq:int4:g128:asym+a8+sq:0.5, nf4+a8+sq\n"
    "  --from-checkpoint Q  instead of --recipe: the quantized side is the weights of Q, a\n"
    "                       llama.cpp .gguf file, a GPTQ folder or a QuantLens packed export\n"
    "                       (tensors matched by name, dequantized as their format does),\n"
    "                       compared with --model, its original (a folder or an F32/F16 .gguf):\n"
    "                       per-layer metrics, histograms, perplexity/KL with --eval, as for\n"
    "                       QuantLens's own runs\n"
    "  --calib FILE         calibration text (GPTQ/AWQ, output SQNR, activations, gradients)\n"
    "  --eval FILE          evaluation text: perplexity before/after, KL, top-1 agreement\n"
    "  --seq N              evaluation window (default min(2048, max positions))\n"
    "  --max-windows K      evaluation windows (default all)\n"
    "  --protocol P         gptq (default) or llamacpp\n"
    "  --calib-windows K    calibration windows (default 16)\n"
    "  --calib-seq N        calibration window length (default 256)\n"
    "  --include GLOB       quantize only matching layers (repeatable; * and ?)\n"
    "  --exclude GLOB       skip matching layers (repeatable)\n"
    "  --override PATTERN=RECIPE\n"
    "                       recipe of the layers matching PATTERN (glob, * and ?), e.g.\n"
    "                       'model.layers.*.mlp.down_proj=rtn:int8:channel:sym'; repeatable,\n"
    "                       the LAST matching override wins; weight-only recipes (rtn, fp16,\n"
    "                       bf16, nf4/fp4, llama.cpp formats); a pattern must match a layer\n"
    "  --no-activations     skip activation histograms\n"
    "  --no-gradients       skip gradient histograms\n"
    "  --bins N             histogram bins (default 128)\n"
    "  --threads T          compute threads, 1..256 (default: QUANTLENS_THREADS, else all\n"
    "                       cores); bounds every pool: torch, OpenMP, OpenBLAS\n"
    "  --out RUN_DIR        run folder to write; its parent folder must exist. An existing\n"
    "                       QuantLens run there is replaced (crash-safe) only with --force;\n"
    "                       anything else there is never replaced\n"
    "  --force              replace the run already in RUN_DIR\n"
    "  --dry-run            print the predicted peak memory and time (from the model's\n"
    "                       shapes, the settings and this machine's measured GEMM rate)\n"
    "                       and what is available, then stop (--out not needed)\n"
    "  --gemm-bound         measure the float32 GEMM rate before the run and print the run's\n"
    "                       matrix-product FLOPs / that rate (the time bound) next to its\n"
    "                       wall time and their ratio (GPTQ/AWQ solver time not in the bound)\n"
    "  --json               print the summary as JSON\n";

std::string mb(uint64_t bytes) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f MB", double(bytes) / 1e6);
    return b;
}

// "12.34 dB", or "n/a" where there was nothing to measure (no calibration inputs).
std::string db(double v) {
    if (std::isnan(v)) return "n/a";
    char b[32];
    std::snprintf(b, sizeof b, "%.2f dB", v);
    return b;
}

// Time spent quantizing (the method itself: for GPTQ Hessian, Cholesky and column
// updates; for AWQ the scale search), per layer shape and per block.
void printQuantizeSeconds(const ql::RunResult& run) {
    std::map<std::pair<int64_t, int64_t>, std::pair<double, int>> byShape;
    std::map<int, double> byBlock;
    double total = 0;
    for (const auto& l : run.layers) {
        auto& s = byShape[{l.rows, l.cols}];
        s.first += l.seconds;
        ++s.second;
        byBlock[l.block] += l.seconds;
        total += l.seconds;
    }
    if (run.layers.empty()) return;
    std::printf("quantization time %.1f s; per layer shape:", total);
    for (const auto& [shape, s] : byShape)
        std::printf(" %lldx%lld %.2f s/layer (%d)", (long long)shape.first, (long long)shape.second,
                    s.first / s.second, s.second);
    double slowest = 0;
    int slowestBlock = 0;
    for (const auto& [b, sec] : byBlock)
        if (sec > slowest) slowest = sec, slowestBlock = b;
    std::printf("; per block %.2f s mean, %.2f s max (block %d)\n", total / double(byBlock.size()),
                slowest, slowestBlock);
}

// LLM.int8(): per layer the columns computed in fp16 and what the decomposition buys.
void printOutliers(const ql::RunResult& run) {
    bool any = false;
    for (const auto& l : run.layers) any = any || l.outlierWindows > 0;
    if (!any) return;
    std::printf("LLM.int8() decomposition (output SQNR with / without; columns: windows):\n");
    for (const auto& l : run.layers) {
        if (l.outlierWindows == 0) continue;
        std::string cols;
        for (size_t i = 0; i < l.outlierColumns.size() && i < 8; ++i)
            cols += (i ? " " : "") + std::to_string(l.outlierColumns[i]) + ":" +
                    std::to_string(l.outlierColumnWindows[i]);
        std::printf("  %-40s %6.2f %% outlier columns  %s / %s  %s\n", l.name.c_str(),
                    100.0 * l.outlierColumnFraction, db(l.outputSqnrDb).c_str(),
                    db(l.outputSqnrPlainDb).c_str(), cols.empty() ? "-" : cols.c_str());
    }
}

void printTable(const ql::RunResult& run, const std::string& out) {
    // The activation SQNR column only for runs that quantize activations.
    bool acts = false;
    for (const auto& l : run.layers) acts = acts || !std::isnan(l.activationSqnrDb);
    std::printf("%-40s %-24s %11s %11s%s %12s %12s\n", "layer", "method", "weight SQNR",
                "output SQNR", acts ? "    act SQNR" : "", "bytes fp", "bytes q");
    for (const auto& l : run.layers) {
        char act[24] = "";
        if (acts) std::snprintf(act, sizeof act, " %11s", db(l.activationSqnrDb).c_str());
        std::printf("%-40s %-24s %11s %11s%s %12llu %12llu%s\n", l.name.c_str(), l.method.c_str(),
                    db(l.weightSqnrDb).c_str(), db(l.outputSqnrDb).c_str(), act,
                    (unsigned long long)l.bytesFp, (unsigned long long)l.bytesQ,
                    l.fallback ? "  (fallback)" : "");
    }
    printOutliers(run);
    if (!run.config.calibrationText.empty())
        std::printf(
            "calibration: %d of %d window(s) of %d tokens used (text has %lld tokens), "
            "%d held out from fitting\n",
            run.calibrationWindowsUsed, run.config.calibrationWindows, run.config.calibrationSeq,
            (long long)run.calibrationTokens, run.calibrationWindowsHeldOut);
    std::printf("output SQNR measured on: %s\n", ql::outputSqnrSourceText(run).c_str());
    const auto& p = run.perplexity;
    if (p.valid) {
        std::printf("ppl fp %.5f  ppl q %.5f  (%s, seq %d, %d windows, %lld scored tokens)\n",
                    p.pplFp, p.pplQ, p.protocol.c_str(), p.seq, p.windows,
                    (long long)p.scoredTokens);
        std::printf("KL mean %.6g  p99 %.6g  max %.6g  top-1 agreement %.4f\n", p.klMean, p.klP99,
                    p.klMax, p.top1Agreement);
    }
    const auto& m = run.memory;
    std::printf("memory: model %s -> %s, quantized layers %s -> %s, peak RSS %s\n",
                mb(m.bytesFpTotal).c_str(), mb(m.bytesQTotal).c_str(),
                mb(m.bytesFpQuantized).c_str(), mb(m.bytesQQuantized).c_str(),
                mb(m.peakRssBytes).c_str());
    printQuantizeSeconds(run);
    std::printf("phases (s, peak RSS so far):");
    for (const auto& t : run.timings)
        std::printf(" %s %.1f%s%s", t.phase.c_str(), t.seconds, t.peakBytes ? " " : "",
                    t.peakBytes ? mb(t.peakBytes).c_str() : "");
    std::printf("\n");
    for (const auto& w : run.warnings) std::printf("warning: %s\n", w.c_str());
    std::printf("run %s (%s) written to %s (%.2f s)\n", run.id.c_str(), run.label.c_str(),
                out.c_str(), run.seconds);
}

int printEstimate(const ql::RunConfig& c, bool json) {
    const ql::RunEstimate e = ql::estimateRun(c, ql::measureGemmRate());
    if (json) {
        nlohmann::json j;
        j["model_path"] = e.modelPath;
        j["peak_bytes"] = e.peakBytes;
        j["peak_phase"] = e.peakPhase;
        for (const auto& [what, bytes] : e.peakParts) j["peak_parts"][what] = bytes;
        j["matmul_flops"] = e.matmulFlops;
        j["gemm_flops_per_second"] = e.gemmFlopsPerSecond;
        j["seconds"] = e.seconds;
        if (e.availableBytes != UINT64_MAX) j["available_bytes"] = e.availableBytes;
        j["fits"] = e.fits();
        if (!e.advice.empty()) j["advice"] = e.advice;
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("%s\n%s\n", ql::describeEstimate(e).c_str(),
                    e.fits() ? "fits" : ("does not fit: " + e.advice).c_str());
    }
    return 0;
}

}  // namespace

int cmdQuantize(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(
        argv,
        {"model", "recipe", "calib", "eval", "seq", "calib-windows", "calib-seq", "max-windows",
         "protocol", "include", "exclude", "bins", "threads", "out", "from-checkpoint", "override"},
        {"json", "no-activations", "no-gradients", "force", "dry-run", "gemm-bound"});
    args.allowPositional(0);
    ql::RunConfig c;
    c.modelDir = modelFolderOption(args);
    if (args.has("from-checkpoint")) {
        if (args.has("recipe"))
            throw ql::Error("--from-checkpoint takes the checkpoint's own types; drop --recipe");
        c.checkpoint = args.value("from-checkpoint");
        c.recipe = ql::openQuantizedCheckpoint(c.checkpoint)->recipe();  // checks it early
    } else {
        c.recipe = args.required("recipe");
    }
    const bool dryRun = args.flag("dry-run");
    const std::string out = dryRun ? args.value("out") : args.required("out");
    // Before any computation: a run must never be lost to an unusable --out.
    const bool force = args.flag("force");
    if (!dryRun && ql::checkRunDestination(out) == ql::RunDestination::ExistingRun && !force)
        throw ql::Error("'" + out + "' already holds a QuantLens run; pass --force to replace it");
    c.calibrationText = args.value("calib");
    c.evaluationText = args.value("eval");
    c.evalSeq = args.intValue("seq", 0);
    c.evalMaxWindows = args.intValue("max-windows", 0);
    c.evalProtocol = args.value("protocol", "gptq");
    c.calibrationWindows = args.intValue("calib-windows", c.calibrationWindows);
    c.calibrationSeq = args.intValue("calib-seq", c.calibrationSeq);
    c.layers.include = repeated(argv, "--include");
    c.layers.exclude = repeated(argv, "--exclude");
    for (const std::string& o : repeated(argv, "--override"))
        c.overrides.push_back(ql::parseOverride(o));
    if (!c.overrides.empty() && !c.checkpoint.empty())
        throw ql::Error("--override changes a quantization; --from-checkpoint has none to change");
    c.captureActivations = !args.flag("no-activations");
    c.captureGradients = !args.flag("no-gradients");
    c.histogramBins = args.intValue("bins", c.histogramBins);
    c.threads = threadsOption(args);
    applyThreads(c.threads);
    // GPTQ/AWQ codes wait beside the destination (same disk: saving hard-links them) rather
    // than in memory: 0.7 GB at 1.5B, 3.9 GB at 7B.
    if (!out.empty()) {
        std::filesystem::path dest = std::filesystem::absolute(out).lexically_normal();
        if (!dest.has_filename()) dest = dest.parent_path();  // "runs/a/"
        c.spillFolder = dest.parent_path().string();
    }
    if (dryRun) return printEstimate(c, args.flag("json"));

    // Measured before the run, on the same threads, so the bound is this machine's now.
    const ql::RunEstimate bound =
        args.flag("gemm-bound") ? ql::estimateRun(c, ql::measureGemmRate()) : ql::RunEstimate{};
    ql::RunResult run =
        ql::runQuantization(c, recordProgressGaps(stderrProgress(), ql::computeThreads()));
    const auto t0 = std::chrono::steady_clock::now();
    ql::saveRun(run, out, force ? ql::Overwrite::ExistingRun : ql::Overwrite::Never);
    const double saveSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (args.flag("json")) {
        nlohmann::json j = nlohmann::json::parse(ql::runSummaryJson(run));
        j["timings"]["save"] = saveSeconds;
        j["out"] = out;
        if (bound.seconds > 0) {
            j["gemm_bound"] = {{"matmul_flops", bound.matmulFlops},
                               {"gemm_flops_per_second", bound.gemmFlopsPerSecond},
                               {"bound_seconds", bound.seconds},
                               {"run_seconds", run.seconds},
                               {"ratio", run.seconds / bound.seconds}};
        }
        std::cout << j.dump(2) << "\n";
    } else {
        printTable(run, out);
        if (bound.seconds > 0)
            std::printf(
                "GEMM bound: %.4g TFLOP of matrix products / %.0f GFLOP/s (float32, %d "
                "threads, measured before the run) = %.4g s; run %.4g s = %.3f x the "
                "bound\n",
                bound.matmulFlops / 1e12, bound.gemmFlopsPerSecond / 1e9, ql::computeThreads(),
                bound.seconds, run.seconds, run.seconds / bound.seconds);
    }
    return 0;
}

}  // namespace qlcli
