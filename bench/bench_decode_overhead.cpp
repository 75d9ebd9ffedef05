// The fixed cost of a decode step (issue 11, BENCHMARKS.md "Decode step's fixed cost"):
//  1. a parallel region with nothing to do (infer::runOnThreads, libtorch's OpenMP pool with
//     passive waits as quantlens-cli runs it) after 0-100 µs of one-thread work, and a
//     packed call that reads almost nothing (16 x 896 INT8);
//  2. the ATen ops of a one-token block step on 0.5B shapes, each alone;
//  3. a block's q/k/v and gate/up as separate packed calls against one group call
//     (PackedLinear::forwardGroup), over copies of the layers that add up to >= 256 MiB so
//     that every pass reads them from memory;
//  4. one layer's one-token call by size (int8 activations, INT4 g128 at 896 and 4864 columns,
//     the 0.5B INT8 head), over ≥ 384 MiB of copies, beside the read probe with the same
//     threads: how far a call of each size gets towards the machine's read rate.
// Usage: bench_decode_overhead [threads=2]. Medians of repeated runs (robust to other load).
#include "base/parallel.h"
#include "base/process_env.h"
#include "base/read_bandwidth.h"
#include "bench_packed_layer.h"
#include "bench_timing.h"
#include "infer/packed_linear.h"
#include "quant/compact_weights.h"
#include "quant/quantize.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

volatile float gSink;

void busy(double seconds) {
    const double end = now() + seconds;
    float a = 1.0f;
    while (now() < end) a *= 1.0000001f;
    gSink = a;
}

// Median microseconds of fn over n runs, each after `gap` seconds of one-thread work.
double medianUs(const std::function<void()>& fn, int n, double gap = 0.0) {
    std::vector<double> t;
    for (int i = 0; i < n; ++i) {
        if (gap > 0) busy(gap);
        const double t0 = now();
        fn();
        t.push_back(now() - t0);
    }
    std::nth_element(t.begin(), t.begin() + n / 2, t.end());
    return t[size_t(n / 2)] * 1e6;
}

ql::infer::PackedLinear layer(int64_t rows, int64_t cols, int bits, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::vector<float> w(size_t(rows * cols));
    for (float& v : w) v = nd(rng);
    return qlbench::packedRtnLayer(w, rows, cols, bits);
}

struct GroupShape {
    const char* name;
    std::vector<int64_t> rows;
    int64_t cols;
};

void groupVersusSeparate(const GroupShape& s, int bits, bool a8) {
    std::vector<ql::infer::PackedLinear> one;
    for (size_t i = 0; i < s.rows.size(); ++i) {
        one.push_back(layer(s.rows[i], s.cols, bits, unsigned(7 + i)));
        if (a8) one.back().setActivationMode(ql::infer::ActivationMode::Int8);
    }
    uint64_t bytes = 0;
    for (const auto& l : one) bytes += l.bytes();
    const size_t copies = std::max<size_t>(1, (uint64_t(256) << 20) / bytes);
    std::vector<std::vector<ql::infer::PackedLinear>> sets(copies, one);
    std::vector<float> x(size_t(s.cols));
    for (size_t j = 0; j < x.size(); ++j) x[j] = float(j % 7) - 3.0f;
    std::vector<std::vector<float>> y;
    std::vector<float*> ys;
    for (int64_t r : s.rows) y.emplace_back(size_t(r));
    for (auto& v : y) ys.push_back(v.data());
    const auto separate = [&] {
        for (const auto& set : sets)
            for (size_t i = 0; i < set.size(); ++i) set[i].forward(x.data(), 1, ys[i]);
    };
    const auto grouped = [&] {
        std::vector<const ql::infer::PackedLinear*> ptrs(s.rows.size());
        for (const auto& set : sets) {
            for (size_t i = 0; i < set.size(); ++i) ptrs[i] = &set[i];
            ql::infer::PackedLinear::forwardGroup(ptrs, x.data(), ys.data());
        }
    };
    double sep = 1e30, grp = 1e30;
    for (int r = 0; r < 7; ++r) {  // alternated, best of each
        sep = std::min(sep, qlbench::best(separate, 1));
        grp = std::min(grp, qlbench::best(grouped, 1));
    }
    const double perSep = sep / double(copies) * 1e6, perGrp = grp / double(copies) * 1e6;
    std::printf(
        "  %-22s %s %-3s %6.1f KB: separate %7.1f us (%5.1f GB/s), group %7.1f us (%5.1f "
        "GB/s), %.2fx\n",
        s.name, bits == 8 ? "int8 ch sym " : "int4 g128 asym", a8 ? "a8" : "f32",
        double(bytes) / 1024.0, perSep, double(bytes) / perSep / 1e3, perGrp,
        double(bytes) / perGrp / 1e3, perSep / perGrp);
}

// Part 4: one layer of `rows` x `cols` in int8-activation mode, called on one token over
// copies of it (each call reads its copy from memory); best of 5 passes.
void callBySize(int64_t rows, int64_t cols, int bits) {
    ql::infer::PackedLinear one = layer(rows, cols, bits, 11);
    one.setActivationMode(ql::infer::ActivationMode::Int8);
    const uint64_t bytes = one.bytes();
    const size_t copies = std::max<size_t>(2, (uint64_t(384) << 20) / bytes);
    const std::vector<ql::infer::PackedLinear> sets(copies, one);
    std::vector<float> x(static_cast<size_t>(cols));
    for (size_t j = 0; j < x.size(); ++j) x[j] = float(j % 7) - 3.0f;
    std::vector<float> y(static_cast<size_t>(rows), 0.0f);
    double pass = 1e30;
    for (int r = 0; r < 5; ++r)
        pass = std::min(pass, qlbench::best(
                                  [&] {
                                      for (const auto& l : sets) l.forward(x.data(), 1, y.data());
                                  },
                                  1));
    const double us = pass / double(copies) * 1e6;
    std::printf("  %6ld x %-4ld %s %8.1f KB: %7.2f us per call (%5.1f GB/s)\n", long(rows),
                long(cols), bits == 8 ? "int8 ch sym  " : "int4 g128 asym", double(bytes) / 1024.0,
                us, double(bytes) / us / 1e3);
}

}  // namespace

int main(int argc, char** argv) {
    ql::ensurePassiveOpenMpWait(argv);  // as quantlens-cli
    const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
    at::set_num_threads(threads);
    ql::setComputeThreadsForKernels(threads);
    at::NoGradGuard noGrad;
    std::printf("threads %d, load %s\n", threads, qlbench::loadavg().c_str());

    std::printf("1. parallel regions (runOnThreads(%d), empty), median of 2000:\n", threads);
    for (double gapUs : {0.0, 5.0, 20.0, 100.0})
        std::printf("  after %5.0f us of one-thread work: %6.1f us\n", gapUs,
                    medianUs([&] { ql::infer::runOnThreads(threads, [](int64_t) {}); }, 2000,
                             gapUs * 1e-6));
    {
        const ql::infer::PackedLinear tiny = layer(16, 896, 8, 3);
        std::vector<float> x(896, 0.5f), y(16);
        std::printf("  packed 16 x 896 INT8 call (14 KB, one thread): %6.1f us\n",
                    medianUs([&] { tiny.forward(x.data(), 1, y.data()); }, 2000, 5e-6));
    }

    std::printf("2. ATen ops of a one-token 0.5B block step, median of 5000:\n");
    const at::Tensor h = at::randn({1, 1, 896}), w = at::randn({896});
    const at::Tensor q = at::randn({1, 14, 1, 64}), k = at::randn({1, 2, 160, 64});
    const at::Tensor cosT = at::randn({1, 64}), sinT = at::randn({1, 64});
    const at::Tensor g = at::randn({1, 1, 4864}), u = at::randn({1, 1, 4864});
    const std::pair<const char*, std::function<void()>> ops[] = {
        {"rmsNorm (pow, mean, add, rsqrt, mul, mul)",
         [&] { (void)(w * (h * at::rsqrt(h.pow(2).mean(-1, true) + 1e-6))); }},
        {"residual add", [&] { (void)(h + h); }},
        {"silu(gate) * up (4864)", [&] { (void)(at::silu(g) * u); }},
        {"RoPE of q (narrow x2, neg, cat, mul x2, add)",
         [&] {
             const at::Tensor rot = at::cat({-q.narrow(-1, 32, 32), q.narrow(-1, 0, 32)}, -1);
             (void)(q * cosT + rot * sinT);
         }},
        {"attention, 14 heads over 160 keys",
         [&] {
             const at::Tensor s = at::matmul(q.reshape({1, 2, 7, 64}), k.transpose(-2, -1)) * 0.125;
             (void)at::matmul(at::softmax(s, -1), k).view({1, 14, 1, 64});
         }},
        {"KV concatenation (160 positions)",
         [&] {
             (void)at::cat({k, k.narrow(2, 0, 1)}, 2);
         }},
    };
    for (const auto& [name, fn] : ops) std::printf("  %-46s %6.2f us\n", name, medianUs(fn, 5000));

    std::printf("3. q/k/v and gate/up: separate packed calls vs one group call (per block):\n");
    const GroupShape shapes[] = {{"0.5B q/k/v 896->896,128,128", {896, 128, 128}, 896},
                                 {"0.5B gate/up 896->2x4864", {4864, 4864}, 896},
                                 {"1.5B q/k/v 1536->1536,256,256", {1536, 256, 256}, 1536},
                                 {"1.5B gate/up 1536->2x8960", {8960, 8960}, 1536}};
    for (const GroupShape& s : shapes)
        for (int bits : {8, 4})
            for (bool a8 : {false, true}) groupVersusSeparate(s, bits, a8);

    std::printf("4. one layer's one-token call by size (int8 activations), best of 5 passes:\n");
    std::printf("  read probe, %d threads: %.1f GB/s\n", threads,
                ql::probeReadBandwidth(threads).bytesPerSecond / 1e9);
    for (int64_t rows : {128, 512, 1024, 2048, 4864, 9728, 19456}) callBySize(rows, 896, 4);
    for (int64_t rows : {896, 1792, 3584}) callBySize(rows, 4864, 4);
    callBySize(151936, 896, 8);  // the 0.5B INT8 head
    std::printf("  read probe, %d threads: %.1f GB/s\n", threads,
                ql::probeReadBandwidth(threads).bytesPerSecond / 1e9);
    std::printf("load %s\n", qlbench::loadavg().c_str());
}
