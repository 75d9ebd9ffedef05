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
    "                                 [--gen-tokens G] [--threads N] [--simulated]\n"
    "                                 [--activations float|int8] [--json]\n"
    "\n"
    "Per model (the float model in float32, then each run): prefill tokens/s (P tokens in\n"
    "one pass), KV-cached decode tokens/s (G greedy steps), bytes of the weights resident\n"
    "and of the KV cache, peak RSS while it ran; and the machine's read bandwidth (a sum\n"
    "over >= 1 GiB, beyond the last-level cache), the decode speed it allows (bandwidth /\n"
    "weight bytes read per token) and the fraction of it reached; decode speed and its\n"
    "bandwidth limit relative to the float model's. The float32 output head is never\n"
    "quantized, so it bounds a run's decode speed-up. A run computes from its packed\n"
    "codes where a kernel exists (INT8 per channel, INT4 per group of 32/64/128:\n"
    "\"packed\"); its other layers, and every layer with --simulated, use the run's\n"
    "dequantized weights in float32 (\"f32\").\n"
    "\n"
    "  --model DIR         Hugging Face model folder\n"
    "  --run RUN           a run folder of that model; repeatable\n"
    "  --prompt-tokens P   prefill length, 1..32768 (default 64)\n"
    "  --gen-tokens G      decode steps, 1..4096 (default 16)\n"
    "  --threads N         compute threads, 1..256\n"
    "  --simulated         runs as dequantized float32 models (no packed kernels)\n"
    "  --activations A     float (default) or int8: packed layers decode with their input\n"
    "                      quantized to int8 per block of 32 (W8A8 / W4A8, VNNI)\n"
    "  --json              print the result as JSON\n";

double mib(uint64_t bytes) {
    return double(bytes) / (1024.0 * 1024.0);
}

}  // namespace

int cmdBenchInfer(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(argv, {"model", "run", "prompt-tokens", "gen-tokens", "threads", "activations"},
                    {"json", "simulated"});
    args.allowPositional(0);
    ql::InferBenchRequest request;
    request.modelDir = modelFolderOption(args);
    request.runFolders = repeated(argv, "--run");
    request.promptTokens = args.intValue("prompt-tokens", 64);
    request.genTokens = args.intValue("gen-tokens", 16);
    request.packed = !args.flag("simulated");
    const std::string activations = args.value("activations", "float");
    if (activations != "float" && activations != "int8")
        throw ql::Error("--activations must be float or int8, not '" + activations + "'");
    if (activations == "int8" && !request.packed)
        throw ql::Error("--activations int8 needs the packed kernels (not --simulated)");
    request.int8Activations = activations == "int8";
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
                 {"weight_bytes", w.weightBytes},
                 {"kv_cache_bytes", w.kvCacheBytes},
                 {"weight_bytes_per_token", w.weightBytesPerToken},
                 {"head_bytes_per_token", w.headBytesPerToken},
                 {"decode_cpu_seconds", w.decodeCpuSeconds},
                 {"bandwidth_limit_tokens_per_second", w.bandwidthLimitTokensPerSecond},
                 {"fraction_of_limit", w.fractionOfLimit},
                 {"peak_rss_bytes", w.peakRssBytes},
                 {"peak_rss_cumulative", w.peakIsCumulative},
                 {"cpu_seconds", w.cpuSeconds}});
        const nlohmann::json j = {
            {"read_bandwidth_bytes_per_second", r.readBandwidthBytesPerSecond},
            {"read_probe_bytes", r.readProbeBytes},
            {"last_level_cache_bytes", r.lastLevelCacheBytes},
            {"threads", r.threads},
            {"int8_activations", request.int8Activations},
            {"prompt_tokens", request.promptTokens},
            {"gen_tokens", request.genTokens},
            {"models", rows}};
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf(
        "read bandwidth %.2f GB/s (%d threads, best of 5 sums over %.0f MiB; last-level cache "
        "%.0f MiB as reported), prompt %d tokens, %d decode steps\n",
        r.readBandwidthBytesPerSecond / 1e9, r.threads, mib(r.readProbeBytes),
        mib(r.lastLevelCacheBytes), request.promptTokens, request.genTokens);
    std::printf("%-28s %9s %9s %10s %9s %9s %9s %9s %6s %8s %8s %8s %7s  %s\n", "model",
                "prefill/s", "decode/s", "weights", "KV cache", "peak RSS", "GB/token", "limit/s",
                "of lim", "x float", "lim x fl", "dec CPU", "CPU s", "weights as");
    const ql::InferBenchRow* base = r.rows.empty() ? nullptr : &r.rows.front();
    for (const ql::InferBenchRow& w : r.rows)
        std::printf(
            "%-28.28s %9.1f %9.2f %6.1f MiB %5.2f MiB %5.0f MiB %9.3f %9.2f %5.0f%% %7.2fx "
            "%7.2fx %8.2f %7.1f  %s\n",
            w.name.c_str(), w.prefillTokensPerSecond, w.decodeTokensPerSecond, mib(w.weightBytes),
            mib(w.kvCacheBytes), mib(w.peakRssBytes), double(w.weightBytesPerToken) / 1e9,
            w.bandwidthLimitTokensPerSecond, 100.0 * w.fractionOfLimit,
            w.decodeTokensPerSecond / base->decodeTokensPerSecond,
            w.bandwidthLimitTokensPerSecond / base->bandwidthLimitTokensPerSecond,
            w.decodeCpuSeconds, w.cpuSeconds, w.weightsAs.c_str());
    if (base)
        std::printf(
            "GB/token: weight bytes read per decode step (projections as stored, norms, one "
            "embedding row, the output head);\nlimit/s = read bandwidth / GB/token; x float = "
            "decode vs the float model's; lim x fl = the same ratio at the bandwidth limit.\n"
            "The output head (%.3f GB/token, float32) is read by every model alike: no run "
            "quantizes it, so a run's decode can be at most \"lim x fl\" times the float "
            "model's.\n",
            double(base->headBytesPerToken) / 1e9);
    return 0;
}

}  // namespace qlcli
