// bench_run: end-to-end run time and memory on a (synthetic) model, weights only:
// quantize every decoder projection, SQNR, histograms, real packed bytes; no perplexity,
// activations or gradients. Generates the synthetic model first if the folder is absent.
//
//   bench_run [MODEL_DIR=/tmp/ql-synth-1.5b] [RECIPE=rtn:int4:g128:asym] [THREADS=0] [OUT_DIR]
#include "base/error.h"
#include "model/model.h"
#include "model/synth.h"
#include "model/tensor_pool.h"
#include "run/run.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

double seconds(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double cpuSeconds() {
    std::ifstream in("/proc/self/stat");
    std::string skip;
    for (int i = 0; i < 13; ++i) in >> skip;
    long utime = 0, stime = 0;
    in >> utime >> stime;
    return double(utime + stime) / 100.0;  // USER_HZ
}

}  // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : "/tmp/ql-synth-1.5b";
    const std::string recipe = argc > 2 ? argv[2] : "rtn:int4:g128:asym";
    const int threads = argc > 3 ? std::atoi(argv[3]) : 0;
    const std::string out = argc > 4 ? argv[4] : "/tmp/ql-bench-run";
    try {
        if (!std::filesystem::exists(dir + "/config.json")) {
            std::printf("generating synthetic qwen2.5-1.5b into %s ...\n", dir.c_str());
            ql::SynthOptions o;
            o.preset = "qwen2.5-1.5b";
            o.outDir = dir;
            ql::synthesizeModel(o);
        }
        ql::setComputeThreads(threads);
        ql::installTensorPool();
        ql::RunConfig c;
        c.modelDir = dir;
        c.recipe = recipe;
        c.captureActivations = false;
        c.captureGradients = false;
        c.threads = threads;
        const double cpu0 = cpuSeconds();
        const auto t0 = std::chrono::steady_clock::now();
        const ql::RunResult run = ql::runQuantization(c);
        const double wall = seconds(t0), cpu = cpuSeconds() - cpu0;
        const auto t1 = std::chrono::steady_clock::now();
        ql::saveRun(run, out);
        const double save = seconds(t1);

        uint64_t params = 0;
        double sqnr = 0;
        for (const auto& l : run.layers) {
            params += l.parameters;
            sqnr += l.weightSqnrDb;
        }
        std::printf("model %s, recipe %s, threads %d\n", dir.c_str(), recipe.c_str(), threads);
        std::printf("layers %zu, quantized parameters %llu, mean weight SQNR %.3f dB\n",
                    run.layers.size(), (unsigned long long)params,
                    sqnr / double(run.layers.size()));
        for (const auto& t : run.timings)
            std::printf("  %-10s %8.2f s\n", t.phase.c_str(), t.seconds);
        std::printf("run wall %.2f s, cpu %.2f s, %.1f M params/s wall; save %.2f s\n", wall, cpu,
                    double(params) / wall / 1e6, save);
        std::printf("bytes fp %.3f GB -> q %.3f GB (quantized layers %.3f -> %.3f GB)\n",
                    run.memory.bytesFpTotal / 1e9, run.memory.bytesQTotal / 1e9,
                    run.memory.bytesFpQuantized / 1e9, run.memory.bytesQQuantized / 1e9);
        std::printf("peak RSS %.1f MB\n", run.memory.peakRssBytes / 1e6);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_run: %s\n", e.what());
        return 1;
    }
}
