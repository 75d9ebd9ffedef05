// quantlens-cli bench-infer: inference speed and memory of the float model and runs
// (run/infer_bench.h).
#include "args.h"
#include "base/error.h"
#include "commands.h"
#include "run/infer_bench.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace qlcli {

namespace {

const char* kUsage =
    "Usage: quantlens-cli bench-infer --model DIR [--run RUN ...] [--prompt-tokens P]\n"
    "                                 [--gen-tokens G] [--repeats R] [--threads N]\n"
    "                                 [--simulated]"
    "                                 [--activations float|int8] [--head f32|int8|int4]\n"
    "                                 [--json]\n"
    "\n"
    "Per model (the float model in float32, then each run): prefill tokens/s (P tokens in\n"
    "one pass), KV-cached decode tokens/s (G greedy steps), bytes of the weights resident\n"
    "and of the KV cache, peak RSS while it ran; and the machine's read bandwidth (a sum\n"
    "over >= 1 GiB, beyond the last-level cache), the decode speed it allows (bandwidth /\n"
    "weight bytes read per token) and the fraction of it reached; decode speed and its\n"
    "bandwidth limit relative to the float model's. Runs leave the output head in float32\n"
    "(it then bounds their decode speed-up) unless --head quantizes it for the runs' rows\n"
    "(the float model's row stays float32, the baseline). A run computes from its packed\n"
    "codes where a kernel exists (INT8 per channel, INT4 per group of 32/64/128:\n"
    "\"packed\"); its other layers, and every layer with --simulated, use the run's\n"
    "dequantized weights in float32 (\"f32\"). Each model is warmed up untimed (a short\n"
    "prefill and two steps) before it is measured, so the order of the rows does not\n"
    "favour the later ones.\n"
    "\n"
    "  --model DIR         Hugging Face model folder\n"
    "  --run RUN           a run folder of that model; repeatable\n"
    "  --prompt-tokens P   prefill length, 1..32768 (default 64)\n"
    "  --gen-tokens G      decode steps, 1..4096 (default 16)\n"
    "  --repeats R         timed prefill + decode passes per model, 1..100 (default 1): the\n"
    "                      median is reported, the min..max range beside it\n"
    "  --threads N         compute threads, 1..256\n"
    "  --simulated         runs as dequantized float32 models (no packed kernels)\n"
    "  --activations A     float (default) or int8: packed layers decode with their input\n"
    "                      quantized to int8 per block of 32 (W8A8 / W4A8, VNNI)\n"
    "  --head H            the runs' output head: f32 (default, as every run leaves it),\n"
    "                      int8 (RTN per row, symmetric: rtn:int8:channel:sym) or int4\n"
    "                      (RTN g128 asym), on the packed kernels, quantized at load from\n"
    "                      the float32 head; a tied embedding keeps its float32 table for\n"
    "                      the input lookups. Also reported: the mean and max KL over the\n"
    "                      prompt positions of run + f32 head vs run + this head\n"
    "  --json              print the result as JSON\n";

std::string klText(double kl) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2e", kl);
    return text;
}

double mib(uint64_t bytes) {
    return double(bytes) / (1024.0 * 1024.0);
}

}  // namespace

int cmdBenchInfer(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(argv,
                    {"model", "run", "prompt-tokens", "gen-tokens", "repeats", "threads",
                     "activations", "head"},
                    {"json", "simulated"});
    args.allowPositional(0);
    ql::InferBenchRequest request;
    request.modelDir = modelFolderOption(args);
    request.runFolders = repeated(argv, "--run");
    request.promptTokens = args.intValue("prompt-tokens", 64);
    request.genTokens = args.intValue("gen-tokens", 16);
    request.repeats = args.intValue("repeats", 1);
    request.packed = !args.flag("simulated");
    request.int8Activations = int8ActivationsOption(args);
    if (request.int8Activations && !request.packed)
        throw ql::Error("--activations int8 needs the packed kernels (not --simulated)");
    request.head = ql::parseHeadFormat(args.value("head", "f32"));
    if (request.head != ql::HeadFormat::Float32 && !request.packed)
        throw ql::Error(std::string("--head ") + ql::headFormatName(request.head) +
                        " needs the packed kernels (not --simulated)");
    applyThreads(threadsOption(args));
    const ql::InferBenchResult r = ql::benchInference(request);
    if (args.flag("json")) {
        nlohmann::json rows = nlohmann::json::array();
        for (const ql::InferBenchRow& w : r.rows)
            rows.push_back(
                {{"name", w.name},
                 {"run", w.runFolder.empty() ? nlohmann::json() : nlohmann::json(w.runFolder)},
                 {"weights_as", w.weightsAs},
                 {"prefill_tokens_per_second", w.prefillTokensPerSecond},
                 {"decode_tokens_per_second", w.decodeTokensPerSecond},
                 {"prefill_tokens_per_second_range", {w.prefillMin, w.prefillMax}},
                 {"decode_tokens_per_second_range", {w.decodeMin, w.decodeMax}},
                 {"repeats", w.repeats},
                 {"weight_bytes", w.weightBytes},
                 {"kv_cache_bytes", w.kvCacheBytes},
                 {"weight_bytes_per_token", w.weightBytesPerToken},
                 {"head_bytes_per_token", w.headBytesPerToken},
                 {"head_format", w.headFormat},
                 {"head_tied", w.headTied},
                 {"head_kl_mean", w.headKlMean},
                 {"head_kl_max", w.headKlMax},
                 {"head_kl_positions", w.headKlPositions},
                 {"decode_cpu_seconds", w.decodeCpuSeconds},
                 {"bandwidth_limit_tokens_per_second", w.bandwidthLimitTokensPerSecond},
                 {"fraction_of_limit", w.fractionOfLimit},
                 {"fraction_of_limit_beside_steps", w.fractionOfLimitBeside},
                 {"read_bandwidth_beside_steps_bytes_per_second", w.readBesideBytesPerSecond},
                 {"peak_rss_bytes", w.peakRssBytes},
                 {"peak_rss_cumulative", w.peakIsCumulative},
                 {"cpu_seconds", w.cpuSeconds}});
        for (size_t i = 0; i < r.rows.size(); ++i)
            if (!r.rows[i].decodeStageSeconds.empty()) {
                nlohmann::json stages;
                for (const auto& [stage, seconds] : r.rows[i].decodeStageSeconds)
                    stages[stage] = seconds * 1e3;
                rows[i]["decode_stage_ms_per_step"] = stages;
            }
        const nlohmann::json j = {
            {"read_bandwidth_bytes_per_second", r.readBandwidthBytesPerSecond},
            {"read_bandwidth_lowest_bytes_per_second", r.readBandwidthLowestBytesPerSecond},
            {"read_probes", r.readProbes},
            {"read_probe_bytes", r.readProbeBytes},
            {"last_level_cache_bytes", r.lastLevelCacheBytes},
            {"threads", r.threads},
            {"int8_activations", request.int8Activations},
            {"head", ql::headFormatName(request.head)},
            {"prompt_tokens", request.promptTokens},
            {"gen_tokens", request.genTokens},
            {"repeats", request.repeats},
            {"models", rows}};
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf(
        "read bandwidth %.2f GB/s (%d threads; best of %d probes, before the first model and "
        "after each, the lowest %.2f GB/s; sums over %.0f MiB, last-level cache %.0f MiB as "
        "reported), prompt %d tokens, %d decode steps\n",
        r.readBandwidthBytesPerSecond / 1e9, r.threads, r.readProbes,
        r.readBandwidthLowestBytesPerSecond / 1e9, mib(r.readProbeBytes),
        mib(r.lastLevelCacheBytes), request.promptTokens, request.genTokens);
    std::printf("%-28s %9s %9s %10s %9s %9s %9s %9s %6s %6s %8s %8s %8s %7s %-16s %9s  %s\n",
                "model", "prefill/s", "decode/s", "weights", "KV cache", "peak RSS", "GB/token",
                "limit/s", "of lim", "beside", "x float", "lim x fl", "dec CPU", "CPU s", "head",
                "head KL", "weights as");
    const ql::InferBenchRow* base = r.rows.empty() ? nullptr : &r.rows.front();
    for (const ql::InferBenchRow& w : r.rows)
        std::printf(
            "%-28.28s %9.1f %9.2f %6.1f MiB %5.2f MiB %5.0f MiB %9.3f %9.2f %5.0f%% %5.0f%% "
            "%7.2fx %7.2fx %8.2f %7.1f %-16s %9s  %s\n",
            w.name.c_str(), w.prefillTokensPerSecond, w.decodeTokensPerSecond, mib(w.weightBytes),
            mib(w.kvCacheBytes), mib(w.peakRssBytes), double(w.weightBytesPerToken) / 1e9,
            w.bandwidthLimitTokensPerSecond, 100.0 * w.fractionOfLimit,
            100.0 * w.fractionOfLimitBeside, w.decodeTokensPerSecond / base->decodeTokensPerSecond,
            w.bandwidthLimitTokensPerSecond / base->bandwidthLimitTokensPerSecond,
            w.decodeCpuSeconds, w.cpuSeconds, w.headFormat.c_str(),
            w.headKlPositions ? klText(w.headKlMean).c_str() : "-", w.weightsAs.c_str());
    if (request.repeats > 1) {
        std::printf("median of %d passes each; min..max tokens/s:\n", request.repeats);
        for (const ql::InferBenchRow& w : r.rows)
            std::printf("  %-28.28s prefill %.1f..%.1f  decode %.2f..%.2f\n", w.name.c_str(),
                        w.prefillMin, w.prefillMax, w.decodeMin, w.decodeMax);
    }
    for (const ql::InferBenchRow& w : r.rows) {
        if (w.decodeStageSeconds.empty()) continue;
        std::printf("%s: ms per decode step by stage (QL_DECODE_PROFILE):", w.name.c_str());
        for (const auto& [stage, seconds] : w.decodeStageSeconds)
            std::printf(" %s %.2f", stage.c_str(), seconds * 1e3);
        std::printf("\n");
    }
    if (base)
        std::printf(
            "GB/token: weight bytes read per decode step (projections as stored, norms, one "
            "embedding row, the output head);\nlimit/s = read bandwidth / GB/token; of lim = "
            "decode / limit/s;\nbeside = the same against reads of %d x GB/token before and after "
            "each pass's %d steps (the reads' mean seconds / the\nsteps', median of the passes: "
            "the bandwidth of the same second or two); x float = decode vs the float model's;\n"
            "lim x fl = the same ratio at the bandwidth limit. peak RSS leaves out the reads' "
            "buffer (%.0f MiB).\n"
            "The float32 output head is %.3f GB/token%s. head KL = mean over the %d prompt "
            "positions of KL(run + f32 head || run + quantized head).\n",
            request.genTokens, request.genTokens, mib(r.readProbeBytes),
            double(base->headBytesPerToken) / 1e9,
            request.head == ql::HeadFormat::Float32
                ? ", read by every model alike (--head f32): a run's decode can be at most "
                  "\"lim x fl\" times the float model's"
                : "; the runs read their quantized head instead (a tied table stays resident "
                  "for the embedding lookups, counted in \"weights\")",
            request.promptTokens);
    return 0;
}

}  // namespace qlcli
