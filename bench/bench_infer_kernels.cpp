// bench_infer_kernels: packed INT8/INT4 linear layers (core/infer) against float32 on the
// same machine in the same run (issue 11 targets):
//  1. read bandwidth, 1 and 2 threads (base/read_bandwidth.h: >= 1 GiB, beyond the
//     last-level cache the system reports), and the float32 sgemm
//     rate (at::mm, 128 tokens x 1536 x 8960);
//  2. decode (1 token): per format and layer shape, the layer run over enough distinct
//     copies that the weights come from memory (>= 384 MiB per pass, as in a real model's
//     token); GB/s of weight bytes read, fraction of the 2-thread read bandwidth, speedup
//     over float32 GEMV (the faster of at::mm of 1 x in by Wᵀ and at::mv);
//  3. prefill (128 tokens): GFLOP/s of the packed layer against float32 sgemm of the same
//     shape.
//  4. the same decode with int8 activations (PackedLinear::setActivationMode(Int8), W8A8 /
//     W4A8 by VNNI; issue 11): a second table, with the speedup over float32 GEMV and over
//     the float-activation packed path of the same run (the same weight bytes are read), and
//     the prefill of the Int8-mode layer (its rows converted back) against float32.
// Speedups are given by wall time and by CPU time (all threads) of the best run: on a
// shared machine the CPU-time ratio is the cost of the work itself.
//   bench_infer_kernels [THREADS=2] [PREFILL_TOKENS=128] [prefill|decode|kernel] [avx2|baseline]
// "prefill" as the third argument runs only part 3 (seconds of CPU instead of a minute),
// "decode" only parts 1 and 2, "kernel" part 2 with cache-resident weights (the same copy
// every call: the GEMV's compute rate; "of read bw" then means nothing); a fourth argument
// caps the kernels' instruction set.
#include "base/parallel.h"
#include "base/process_env.h"
#include "base/read_bandwidth.h"
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

struct Format {
    const char* name;
    int bits, group;  // group 0: per channel
    bool symmetric;
};
const Format kFormats[] = {{"int8 channel sym", 8, 0, true},
                           {"int8 channel asym", 8, 0, false},
                           {"int4 g128 sym", 4, 128, true},
                           {"int4 g128 asym", 4, 128, false},
                           {"int4 g32 asym", 4, 32, false}};

struct Shape {
    const char* name;
    int64_t out, in;
};
const Shape kShapes[] = {{"0.5B up   4864x896", 4864, 896},
                         {"0.5B down 896x4864", 896, 4864},
                         {"1.5B up   8960x1536", 8960, 1536},
                         {"1.5B down 1536x8960", 1536, 8960}};

std::vector<float> randomMatrix(int64_t rows, int64_t cols) {
    std::vector<float> w(size_t(rows * cols));
    ql::parallelChunks(w.size(), 2, [&](int c, size_t b, size_t e) {
        std::mt19937 rng(99u + unsigned(c));
        std::normal_distribution<float> nd(0.0f, 0.02f);
        for (size_t i = b; i < e; ++i) w[i] = nd(rng);
    });
    return w;
}

ql::CompactWeights compact(const std::vector<float>& w, const Shape& s, const Format& f) {
    ql::Recipe r;
    r.method = ql::QuantMethod::Rtn;
    r.bits = f.bits;
    r.granularity = f.group ? ql::Granularity::Group : ql::Granularity::Channel;
    r.groupSize = f.group;
    r.symmetric = f.symmetric;
    const ql::QuantGrid g = ql::computeGrid(w.data(), s.out, s.in, r);
    std::vector<int32_t> q(w.size());
    ql::quantizeWithGrid(w.data(), g, q.data(), nullptr);
    return ql::compactFromCodes(g, q);
}

// Copies of a layer whose weights add up to >= 384 MiB: one pass reads them from memory.
int64_t copiesFor(uint64_t layerBytes) {
    const uint64_t target = uint64_t(384) << 20;
    return int64_t((target + layerBytes - 1) / layerBytes);
}

// decode: the weights of each call come from memory (distinct copies); else from the cache
// (the same copy each call: the kernels' compute rate).
void shapeRows(const Shape& s, double readGBs, int prefillTokens, bool decode, bool prefill,
               std::vector<std::string>& a8rows) {
    const std::vector<float> w = randomMatrix(s.out, s.in);
    const auto f32 = at::TensorOptions().dtype(at::kFloat);
    const at::Tensor x1 = at::randn({1, s.in}, f32);
    const at::Tensor xp = at::randn({prefillTokens, s.in}, f32);
    at::Tensor y1 = at::empty({1, s.out}, f32), yp = at::empty({prefillTokens, s.out}, f32);

    // float32: GEMV over copies, sgemm on one.
    const uint64_t floatBytes = w.size() * 4;
    const int64_t nf = decode || !prefill ? copiesFor(floatBytes) : 1;
    std::vector<at::Tensor> fw;
    for (int64_t k = 0; k < nf; ++k)
        fw.push_back(decode || k == 0
                         ? at::from_blob(const_cast<float*>(w.data()), {s.out, s.in}, f32).clone()
                         : fw[0]);
    // float32 GEMV: the faster of at::mm (what at::linear runs) and at::mv (sgemv).
    const at::Tensor xv = x1.view({s.in});
    at::Tensor yv = y1.view({s.out});
    const double tmm = best(
        [&] {
            for (auto& t : fw) at::mm_out(y1, x1, t.t());
        },
        3);
    const double cpuMm = gCpu;
    const double tmv = best(
        [&] {
            for (auto& t : fw) at::mv_out(yv, t, xv);
        },
        3);
    const double tf = std::min(tmm, tmv) / double(nf);
    const double cpuF = (tmv < tmm ? gCpu : cpuMm) / double(nf);
    std::printf("%s f32 GEMV: at::mm %.3f ms/layer, at::mv %.3f ms/layer\n", s.name,
                tmm / double(nf) * 1e3, tmv / double(nf) * 1e3);
    const double tfp = prefill ? best([&] { at::mm_out(yp, xp, fw[0].t()); }, 5) : 1.0;
    const double cpuFp = gCpu;
    const double flops = 2.0 * double(prefillTokens) * double(s.out) * double(s.in);
    fw.clear();
    std::printf("| %s | f32 | %.3f | %.2f | %.0f%% | %.3f | 1 | 1 | %.1f | 1 | 1 | 4 |\n", s.name,
                tf * 1e3, double(floatBytes) / tf / 1e9,
                100.0 * double(floatBytes) / tf / 1e9 / readGBs, cpuF * 1e3, flops / tfp / 1e9);

    for (const Format& f : kFormats) {
        const ql::CompactWeights c = compact(w, s, f);
        ql::infer::PackedLinear one = ql::infer::PackedLinear::fromCompact(c, s.name);
        const int64_t np = decode || !prefill ? copiesFor(one.bytes()) : 1;
        std::vector<ql::infer::PackedLinear> copies(size_t(decode ? np : 1), one);
        std::vector<const ql::infer::PackedLinear*> layers;
        for (int64_t k = 0; k < np; ++k) layers.push_back(&copies[decode ? size_t(k) : 0]);
        const double td = best(
                              [&] {
                                  for (const auto* l : layers)
                                      l->forward(x1.data_ptr<float>(), 1, y1.data_ptr<float>());
                              },
                              3) /
                          double(np);
        const double cpuD = gCpu / double(np);
        const double tp = prefill ? best(
                                        [&] {
                                            one.forward(xp.data_ptr<float>(), prefillTokens,
                                                        yp.data_ptr<float>());
                                        },
                                        5)
                                  : 1.0;
        const double cpuP = prefill ? gCpu : 1.0;
        const double gbs = double(one.bytes()) / td / 1e9;
        if (decode || !prefill) {
            for (auto& l : copies) l.setActivationMode(ql::infer::ActivationMode::Int8);
            const double t8 = best(
                                  [&] {
                                      for (const auto* l : layers)
                                          l->forward(x1.data_ptr<float>(), 1, y1.data_ptr<float>());
                                  },
                                  3) /
                              double(np);
            const double cpu8 = gCpu / double(np);
            const double gbs8 = double(copies[0].bytes()) / t8 / 1e9;
            // Prefill of an Int8-mode layer converts its rows back from the interleaved form
            // (the only form it holds) panel by panel before the sgemm.
            const double tp8 = prefill
                                   ? best(
                                         [&] {
                                             copies[0].forward(xp.data_ptr<float>(), prefillTokens,
                                                               yp.data_ptr<float>());
                                         },
                                         5)
                                   : 0.0;
            char row[512];
            std::snprintf(row, sizeof row,
                          "| %s | %s | %.3f | %.2f | %.0f%% | %.3f | %.2fx | %.2fx | %.2fx | "
                          "%.2fx | %.2fx |\n",
                          s.name, f.name, t8 * 1e3, gbs8, 100.0 * gbs8 / readGBs, cpu8 * 1e3,
                          tf / t8, cpuF / cpu8, td / t8, cpuD / cpu8, prefill ? tfp / tp8 : 0.0);
            a8rows.push_back(row);
        }
        std::printf(
            "| | %s | %.3f | %.2f | %.0f%% | %.3f | %.2fx | %.2fx | %.1f | %.2fx | %.2fx | %.3f "
            "|\n",
            f.name, td * 1e3, gbs, 100.0 * gbs / readGBs, cpuD * 1e3, tf / td, cpuF / cpuD,
            flops / tp / 1e9, tfp / tp, cpuFp / cpuP, double(one.bytes()) / double(w.size()));
    }
}

}  // namespace

int main(int argc, char** argv) {
    // As quantlens-cli and the GUI run: OpenMP workers sleep instead of spinning after a
    // parallel region (the packed kernels' OpenMP pool would otherwise spin against
    // OpenBLAS's threads in the next sgemm: prefill measured 0.44-0.70x f32 with spinning).
    ql::ensurePassiveOpenMpWait(argv);
    const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
    const int prefillTokens = argc > 2 ? std::atoi(argv[2]) : 128;
    // Prefill only: decode is timed on one copy (cache-resident, not meaningful) and the
    // read bandwidth is skipped.
    const std::string mode = argc > 3 ? argv[3] : "";
    const bool decode = mode != "prefill" && mode != "kernel";
    const bool prefill = mode != "decode" && mode != "kernel";
    if (argc > 4)
        ql::infer::setMaxInferIsa(std::string(argv[4]) == "avx2" ? ql::infer::Isa::Avx2
                                                                 : ql::infer::Isa::Baseline);
    at::set_num_threads(threads);
    ql::setComputeThreadsForKernels(threads);
    const double c0 = cpuNow();
    std::printf("bench_infer_kernels: %d threads, path %s, load %s\n", threads,
                ql::infer::isaName(ql::infer::activeIsa()), loadavg().c_str());
    const double read1 = decode ? ql::probeReadBandwidth(1).bytesPerSecond / 1e9 : 1.0;
    const double read2 = decode ? ql::probeReadBandwidth(2).bytesPerSecond / 1e9 : 1.0;
    std::printf(
        "read bandwidth: 1 thread %.2f GB/s, 2 threads %.2f GB/s (best of 5 sums over %.0f MiB; "
        "last-level cache %.0f MiB as reported)\n",
        read1, read2, double(ql::readProbeBytes()) / 1048576.0,
        double(ql::lastLevelCacheBytes()) / 1048576.0);
    if (prefill) {
        const auto f32 = at::TensorOptions().dtype(at::kFloat);
        const at::Tensor a = at::randn({128, 1536}, f32), b = at::randn({8960, 1536}, f32);
        at::Tensor y = at::empty({128, 8960}, f32);
        const double t = best([&] { at::mm_out(y, a, b.t()); }, 5);
        std::printf("float32 sgemm (at::mm 128x1536 by 1536x8960): %.1f GFLOP/s\n",
                    2.0 * 128 * 1536 * 8960 / t / 1e9);
    }
    const double bw = threads >= 2 ? read2 : read1;
    std::printf(
        "\n| layer [out x in] | weights | decode ms/layer | GB/s | of read bw | decode cpu ms | "
        "speedup (wall) | speedup (cpu) | prefill GFLOP/s | vs f32 (wall) | vs f32 (cpu) | "
        "B/weight |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    std::vector<std::string> a8rows;
    for (const Shape& s : kShapes) shapeRows(s, bw, prefillTokens, decode, prefill, a8rows);
    if (!a8rows.empty()) {
        std::printf(
            "\nint8 activations (path %s): decode of the same layers, same weight bytes\n"
            "| layer [out x in] | weights | a8 decode ms/layer | GB/s | of read bw | a8 cpu ms | "
            "vs f32 (wall) | vs f32 (cpu) | vs float-act packed (wall) | vs float-act (cpu) | "
            "a8 prefill vs f32 (wall) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n",
            ql::infer::a8IsaName(ql::infer::activeA8Isa()));
        for (const std::string& r : a8rows) std::fputs(r.c_str(), stdout);
    }
    std::printf("load at end %s, total cpu %.1f s\n", loadavg().c_str(), cpuNow() - c0);
    return 0;
}
