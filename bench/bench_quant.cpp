// Quantization kernels on the largest Qwen2.5-1.5B matrix shapes, random normal data:
// histogram GB/s (ours vs at::histc vs a naive loop) and fused RTN quantize + dequantize
// + SQNR GB/s (ours vs the same computed with plain libtorch ops). GB/s = input bytes / s.
// Usage: bench_quant [threads=2] [repeats=3] [small: skip the 151936 x 1536 embedding]
#include "base/parallel.h"
#include "quant/histogram.h"
#include "quant/quantize.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

// CPU seconds of the whole process (all threads) of the last timed run: on a shared,
// loaded machine wall time depends on the neighbours, CPU time much less.
double gLastCpu = 0;

double cpuNow() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Best wall time of `repeats` runs; gLastCpu = CPU time of that best run.
double seconds(const std::function<void()>& fn, int repeats) {
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
        const double c0 = cpuNow();
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        const auto t1 = std::chrono::steady_clock::now();
        const double wall = std::chrono::duration<double>(t1 - t0).count();
        if (wall < best) best = wall, gLastCpu = cpuNow() - c0;
    }
    return best;
}

// "x GB/s (y GB/cpu-s)"
std::string rate(double gb, double wall) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%6.2f GB/s (%5.2f GB/cpu-s)", gb / wall, gb / gLastCpu);
    return buf;
}

std::vector<float> randomNormal(size_t n, int threads) {
    std::vector<float> w(n);
    ql::parallelChunks(n, threads, [&](int c, size_t b, size_t e) {
        std::mt19937 rng(1234u + unsigned(c));
        std::normal_distribution<float> nd(0.0f, 0.02f);
        for (size_t i = b; i < e; ++i) w[i] = nd(rng);
    });
    return w;
}

// Counts only, one thread, a division per element: the loop one would write first.
std::vector<uint64_t> naiveHistogram(const float* x, size_t n, double lo, double hi, int bins) {
    std::vector<uint64_t> counts(size_t(bins), 0);
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(x[i]) || x[i] < lo || x[i] > hi) continue;
        const int b = int((x[i] - lo) / (hi - lo) * bins);
        ++counts[size_t(std::min(b, bins - 1))];
    }
    return counts;
}

// RTN with plain libtorch ops; returns the SQNR in dB.
double torchRtn(const at::Tensor& w, int bits, int64_t group, bool symmetric) {
    const int64_t rows = w.size(0), cols = w.size(1);
    const at::Tensor g = w.view({rows, cols / group, group});
    at::Tensor deq;
    if (symmetric) {
        const double qmax = (1 << (bits - 1)) - 1;
        const at::Tensor scale = g.abs().amax(-1, true).div_(qmax);
        deq = g.div(scale).round_().clamp_(-qmax - 1, qmax).mul_(scale);
    } else {
        const double qmax = (1 << bits) - 1;
        const at::Tensor mn = g.amin(-1, true).clamp_max_(0), mx = g.amax(-1, true).clamp_min_(0);
        const at::Tensor scale = (mx - mn).div_(qmax);
        const at::Tensor zero = mn.neg().div_(scale).round_();
        deq = g.div(scale).round_().add_(zero).clamp_(0, qmax).sub_(zero).mul_(scale);
    }
    const double signal = g.pow(2).sum().item<double>();
    const double noise = g.sub(deq).pow_(2).sum().item<double>();
    return 10 * std::log10(signal / noise);
}

void benchShape(int64_t rows, int64_t cols, int threads, int repeats) {
    const size_t n = size_t(rows * cols);
    const double gb = double(n) * 4 / 1e9;
    std::vector<float> w = randomNormal(n, threads);
    std::printf("\n[%lld x %lld] %.2f GB float32, %d threads\n", (long long)rows, (long long)cols,
                gb, threads);

    {
        std::vector<float> copy(n, 1.0f);  // touched before timing
        const double tCopy =
            seconds([&] { std::memcpy(copy.data(), w.data(), n * sizeof(float)); }, repeats);
        std::printf("reference: memcpy (1 thread)      %s\n", rate(gb, tCopy).c_str());
    }
    ql::Range range;
    const double tRange = seconds([&] { range = ql::finiteRange(w.data(), n, threads); }, repeats);
    std::printf("finiteRange                 ours %s\n", rate(gb, tRange).c_str());
    const int bins = 2048;
    ql::Histogram h;
    const double tOurs = seconds(
        [&] { h = ql::computeHistogram(w.data(), n, range.lo, range.hi, bins, threads); }, repeats);
    std::printf("histogram %d bins         ours %s  (kurtosis %.4f, outliers %llu)\n", bins,
                rate(gb, tOurs).c_str(), h.stats.kurtosis, (unsigned long long)h.stats.outliers);
    const at::Tensor t = at::from_blob(w.data(), {rows, cols}, at::kFloat);
    at::Tensor th;
    const double tTorch =
        seconds([&] { th = at::histc(t, bins, range.lo, range.hi); }, std::min(repeats, 2));
    std::printf("                       at::histc %s\n", rate(gb, tTorch).c_str());
    std::vector<uint64_t> naive;
    const double tNaive =
        seconds([&] { naive = naiveHistogram(w.data(), n, range.lo, range.hi, bins); }, 1);
    std::printf("             naive loop (1 thread) %s\n", rate(gb, tNaive).c_str());

    struct Case {
        const char* spec;
        int bits;
        int64_t group;
        bool sym;
    };
    for (const Case& c :
         {Case{"rtn:int8:channel:sym", 8, cols, true}, Case{"rtn:int4:g128:asym", 4, 128, false}}) {
        const ql::Recipe recipe = ql::Recipe::parse(c.spec);
        double ours = 0;
        const double tq = seconds(
            [&] { ours = ql::quantizeRtn(w.data(), rows, cols, recipe).metrics.sqnrDb; }, repeats);
        std::printf("RTN %-20s    ours %s  SQNR %.4f dB\n", c.spec, rate(gb, tq).c_str(), ours);
        double theirs = 0;
        const double tt =
            seconds([&] { theirs = torchRtn(t, c.bits, c.group, c.sym); }, std::min(repeats, 2));
        std::printf("                    libtorch ops %s  SQNR %.4f dB\n", rate(gb, tt).c_str(),
                    theirs);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
    const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
    ql::setComputeThreadsForKernels(threads);
    at::set_num_threads(threads);
    const bool withEmbedding = argc <= 3 || std::string(argv[3]) != "small";
    benchShape(8960, 1536, threads, repeats);
    benchShape(1536, 8960, threads, repeats);
    if (withEmbedding) benchShape(151936, 1536, threads, repeats);
    return 0;
}
