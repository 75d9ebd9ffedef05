// bench_whatif: the machine's memory bandwidth next to the weights-only kernels' throughput,
// and a weights-only sweep of a (synthetic) checkpoint after it is in the page cache.
//  1. memcpy (512 MiB) and read bandwidth (base/read_bandwidth.h: >= 1 GiB, beyond the
//     last-level cache), 1 and 2 threads;
//  2. computeHistogram (2048 bins + stats) and the fused RTN analysis (grid, SQNR/MSE/max/
//     cosine, three 2048-bin histograms) on the largest Qwen2.5-1.5B matrix, GB/s of float32
//     input and the fraction of the 2-thread read bandwidth, in each vector path;
//  3. with MODEL_DIR: the weights-only analysis of the first recipe (three 128-bin histograms,
//     as a run), then the metrics-only sweep of the first N recipes (wall, CPU seconds, load).
//   bench_whatif [THREADS=2] [MODEL_DIR] [N_RECIPES=1]
#include "base/parallel.h"
#include "base/read_bandwidth.h"
#include "bench_timing.h"
#include "quant/histogram.h"
#include "quant/simd.h"
#include "quant/weight_analysis.h"
#include "run/run.h"
#include "run/sweep.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

using qlbench::best;
using qlbench::cpuNow;
using qlbench::gCpu;
using qlbench::loadavg;

namespace {

struct Bandwidth {
    double copy1 = 0, copy2 = 0, read1 = 0, read2 = 0;
};

Bandwidth measureBandwidth() {
    const size_t n = size_t(128) << 20;  // 512 MiB of float
    std::vector<float> a(n, 1.0f), b(n, 2.0f);
    const double gb = double(n) * 4 / 1e9;
    Bandwidth bw;
    for (int t : {1, 2}) {
        const double tc = best(
            [&] {
                ql::parallelChunks(n, t, [&](int, size_t s, size_t e) {
                    std::memcpy(b.data() + s, a.data() + s, (e - s) * 4);
                });
            },
            3);
        (t == 1 ? bw.copy1 : bw.copy2) = gb / tc;
        (t == 1 ? bw.read1 : bw.read2) = ql::probeReadBandwidth(t).bytesPerSecond / 1e9;
    }
    std::printf("memory: memcpy 1 thread %.2f GB/s, 2 threads %.2f GB/s (bytes copied / s)\n",
                bw.copy1, bw.copy2);
    std::printf("        read   1 thread %.2f GB/s, 2 threads %.2f GB/s\n", bw.read1, bw.read2);
    return bw;
}

void kernels(int threads, const Bandwidth& bw) {
    const int64_t rows = 8960, cols = 1536;
    const size_t n = size_t(rows * cols);
    const double gb = double(n) * 4 / 1e9;
    std::vector<float> w(n);
    ql::parallelChunks(n, threads, [&](int c, size_t b, size_t e) {
        std::mt19937 rng(1234u + unsigned(c));
        std::normal_distribution<float> nd(0.0f, 0.02f);
        for (size_t i = b; i < e; ++i) w[i] = nd(rng);
    });
    std::printf("\n[%lld x %lld] %.3f GB float32, %d threads, CPU: %s\n", (long long)rows,
                (long long)cols, gb, threads, ql::simd::kernelPathName(ql::simd::cpuKernelPath()));
    const ql::Range r = ql::finiteRange(w.data(), n, threads);
    const double th =
        best([&] { ql::computeHistogram(w.data(), n, r.lo, r.hi, 2048, threads); }, 3);
    std::printf(
        "histogram 2048 bins + stats        %6.2f GB/s (%.2f GB/cpu-s)  %.2f of 2-thread read\n",
        gb / th, gb / gCpu, gb / th / bw.read2);
    // The histogram's own work without the memory read: one thread over a 512 KiB slice
    // (in L2), as often as the matrix has such slices; its ns per value bound a stream of
    // the fused analysis, whose values come from registers.
    const size_t slice = 131072, reps = n / slice;
    const double tc = best(
        [&] {
            for (size_t k = 0; k < reps; ++k)
                ql::computeHistogram(w.data(), slice, r.lo, r.hi, 2048, 1);
        },
        3);
    const double perValue = tc / double(reps * slice);  // seconds per value, one thread
    std::printf("histogram 2048 bins + stats, in cache, 1 thread: %.3f ns per value\n",
                perValue * 1e9);
    for (const char* spec : {"rtn:int8:channel:sym", "rtn:int4:g128:asym"}) {
        const ql::Recipe recipe = ql::Recipe::parse(spec);
        const double t1 =
            best([&] { ql::analyzeRtnWeights(w.data(), rows, cols, recipe, 0, threads); }, 3);
        std::printf("pass 1 only (grid + metrics) %-20s %6.2f GB/s (%.2f GB/cpu-s)\n", spec,
                    gb / t1, gb / gCpu);
        // What the fused analysis cannot beat, from this run's own parts: the weight and
        // the error are binned value by value (each at best a histogram of its own values
        // from cache), w_hat too unless it has <= 16 levels (level counts); the error's bins
        // need its range first, i.e. a pass that quantizes everything (pass 1).
        const int streams = recipe.bits <= 4 ? 2 : 3;
        const double binning = streams * perValue * double(n) / threads;  // perfect scaling
        std::printf(
            "bound %-20s %d streams binned in cache %6.2f GB/s; + pass 1 %6.2f GB/s (fused "
            "can be no faster)\n",
            spec, streams, gb / binning, gb / (t1 + binning));
    }
    for (const char* spec : {"rtn:int8:channel:sym", "rtn:int4:g128:asym"})
        for (int p = int(ql::simd::cpuKernelPath()); p >= 0; --p) {
            ql::simd::setMaxKernelPath(ql::simd::KernelPath(p));
            const ql::Recipe recipe = ql::Recipe::parse(spec);
            double sqnr = 0;
            const double t = best(
                [&] {
                    sqnr = ql::analyzeRtnWeights(w.data(), rows, cols, recipe, 2048, threads)
                               .metrics.sqnrDb;
                },
                3);
            std::printf(
                "fused %-20s %-8s %6.2f GB/s (%.2f GB/cpu-s)  %.2f of 2-thread read"
                "  SQNR %.4f dB\n",
                spec, ql::simd::kernelPathName(ql::simd::KernelPath(p)), gb / t, gb / gCpu,
                gb / t / bw.read2, sqnr);
        }
    ql::simd::setMaxKernelPath(ql::simd::KernelPath::Avx512);
}

void sweep(const std::string& dir, int count) {
    const std::vector<std::string> all = {
        "rtn:int4:g128:asym", "rtn:int8:channel:sym", "rtn:int4:g32:asym",    "rtn:int4:g128:sym",
        "rtn:int3:g128:asym", "rtn:int8:g128:sym",    "rtn:int4:channel:sym", "rtn:int2:g64:asym"};
    const std::vector<std::string> recipes(
        all.begin(), all.begin() + std::min<size_t>(size_t(count), all.size()));
    // Warm the page cache (and check the model) with one cheap pass first.
    ql::LayerSelection sel;
    std::printf("\nload before: %s\n", loadavg().c_str());
    ql::sweepWeights(dir, {"rtn:int8:channel:sym"}, sel, 0);
    ql::SweepResult s;
    // What a weights-only run computes per layer: grid, metrics, three 128-bin histograms.
    double wall = best([&] { s = ql::sweepWeights(dir, {recipes[0]}, sel, 128); }, 1);
    uint64_t params = 0;
    for (const auto& l : s.layers[0]) params += l.parameters;
    std::printf(
        "weights-only analysis, %s (grid, metrics, 3 histograms of 128 bins), %zu layers, "
        "%.3f G parameters: wall %.2f s, CPU %.2f s (load after: %s)\n",
        recipes[0].c_str(), s.layers[0].size(), double(params) / 1e9, wall, gCpu,
        loadavg().c_str());
    // What the GUI's live preview runs after a recipe change (PreviewJob::previewConfig):
    // a weights-only runQuantization, model opened and checked, 128-bin histograms.
    ql::RunConfig preview;
    preview.modelDir = dir;
    preview.recipe = recipes.size() > 1 ? recipes[1] : recipes[0];
    preview.captureActivations = preview.captureGradients = false;
    ql::RunResult run;
    wall = best([&] { run = ql::runQuantization(preview); }, 1);
    std::printf("preview as the GUI runs it, %s: wall %.2f s, CPU %.2f s (load after: %s)\n",
                preview.recipe.c_str(), wall, gCpu, loadavg().c_str());
    // What `sweep` and the GUI's sweep view compute: grid and metrics of every recipe.
    wall = best([&] { s = ql::sweepWeights(dir, recipes, sel, 0); }, 1);
    std::printf("sweep of %zu recipe(s), metrics only: wall %.2f s, CPU %.2f s (load after: %s)\n",
                recipes.size(), wall, gCpu, loadavg().c_str());
}

}  // namespace

int main(int argc, char** argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
    ql::setComputeThreadsForKernels(threads);
    std::printf("load: %s\n", loadavg().c_str());
    const Bandwidth bw = measureBandwidth();
    kernels(threads, bw);
    if (argc > 2) sweep(argv[2], argc > 3 ? std::atoi(argv[3]) : 1);
    return 0;
}
