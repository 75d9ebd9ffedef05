// bench_a8_compute: how fast the int8-activation decode kernels compute when memory is not
// the limit, against the rate of the instruction they are built on, in one run (issue 11).
//  1. the VNNI instruction's rate: independent VPDPBUSD (AVX-512, 64 u8 x s8 products each,
//     the activations broadcast from memory as in the kernels), one thread;
//  2. the kernels on one layer that stays in L2 (one thread, the same call 2000 times):
//     GB/s of weight bytes and the fraction of (1) in weights per second;
//  3. the read bandwidth (base/read_bandwidth.h) with 1 and 2 threads;
//  4. what (2) and (3) give for a layer read from memory by 2 threads: the kernel's rate
//     times 2 against the probe; "no overlap" = 1 / (1/compute + 1/memory), the rate when
//     a thread either computes or waits for memory, "full overlap" = min(compute, memory).
// Usage: bench_a8_compute [COLS=896]
#include "base/process_env.h"
#include "base/read_bandwidth.h"
#include "bench_packed_layer.h"
#include "bench_timing.h"
#include "infer/packed_linear.h"
#include "quant/compact_weights.h"
#include "quant/quantize.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QL_BENCH_VNNI 1
#endif

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

#ifdef QL_BENCH_VNNI
// VPDPBUSD per second on one thread: 8 independent accumulators (more than latency x
// throughput), the s8 side broadcast from memory as the kernels do.
__attribute__((target("avx512f,avx512vnni"))) double vnniPerSecond() {
    alignas(64) static uint8_t u[64];
    alignas(64) static int8_t q[256];
    for (int i = 0; i < 64; ++i) u[i] = uint8_t(i * 7);
    for (int i = 0; i < 256; ++i) q[i] = int8_t(i * 3 - 100);
    const long n = 20000000;
    double best = 1e30;
    int32_t sink = 0;
    for (int rep = 0; rep < 5; ++rep) {
        __m512i a[8];
        for (__m512i& x : a) x = _mm512_set1_epi32(0);
        const __m512i v = _mm512_load_si512(u);
        const double t0 = now();
        for (long i = 0; i < n; ++i) {
            const int8_t* qq = q + (i & 7) * 32;
            asm volatile("" : "+r"(qq));  // a fresh address each pass, as a kernel's block
            for (int k = 0; k < 8; ++k) {
                int32_t w;
                std::memcpy(&w, qq + 4 * k, 4);
                a[k] = _mm512_dpbusd_epi32(a[k], v, _mm512_set1_epi32(w));
            }
        }
        best = std::min(best, now() - t0);
        __m512i s = a[0];
        for (int k = 1; k < 8; ++k) s = _mm512_add_epi32(s, a[k]);
        alignas(64) int32_t lanes[16];
        _mm512_store_si512(lanes, s);
        for (int32_t v : lanes) sink += v;
    }
    if (sink == 42) std::printf(" ");
    return double(n) * 8.0 / best;
}
#endif

ql::infer::PackedLinear layer(int bits, int64_t rows, int64_t cols) {
    std::vector<float> w(size_t(rows * cols));
    for (size_t i = 0; i < w.size(); ++i)
        w[i] = float(int64_t(i * 2654435761u % 2001) - 1000) / 1000.0f;
    ql::infer::PackedLinear l = qlbench::packedRtnLayer(w, rows, cols, bits);
    l.setActivationMode(ql::infer::ActivationMode::Int8);
    return l;
}

// Best of 15 passes of 2000 calls: weight bytes per second on the calling thread.
double l2Rate(const ql::infer::PackedLinear& l) {
    std::vector<float> x(size_t(l.inFeatures()));
    std::vector<float> y(size_t(l.outFeatures()));
    for (size_t j = 0; j < x.size(); ++j) x[j] = float(int64_t(j * 7 % 13) - 6);
    double best = 1e30;
    for (int rep = 0; rep < 15; ++rep) {
        const double t0 = now();
        for (int i = 0; i < 2000; ++i) l.forward(x.data(), 1, y.data());
        best = std::min(best, now() - t0);
    }
    return double(l.bytes()) * 2000.0 / best;
}

}  // namespace

int main(int argc, char** argv) {
    ql::ensurePassiveOpenMpWait(argv);
    const int64_t cols = argc > 1 ? std::atoll(argv[1]) : 896;
    std::printf("bench_a8_compute: load %s, kernels %s\n", qlbench::loadavg().c_str(),
                ql::infer::a8IsaName(ql::infer::activeA8Isa()));
    double vnni = 0.0;
#ifdef QL_BENCH_VNNI
    if (__builtin_cpu_supports("avx512vnni")) vnni = vnniPerSecond();
#endif
    if (vnni > 0)
        std::printf("1. VPDPBUSD zmm, one thread: %.2f G/s = %.1f G weights/s\n", vnni / 1e9,
                    vnni * 64 / 1e9);
    else
        std::printf("1. no AVX-512 VNNI on this CPU: the instruction's rate is not measured\n");

    at::set_num_threads(1);  // one thread: the layer stays in this core's L2
    struct Row {
        const char* name;
        int bits;
        int64_t rows;
    };
    // ~240 KB each: in L2 (512 KB-1 MB per core on current x86).
    const Row rows[] = {{"int8 channel sym", 8, 256}, {"int4 g128 asym", 4, 512}};
    double computeGBs[2] = {};
    std::printf("2. kernels in L2, one thread, %lld columns:\n", static_cast<long long>(cols));
    for (int i = 0; i < 2; ++i) {
        const ql::infer::PackedLinear l = layer(rows[i].bits, rows[i].rows, cols);
        computeGBs[i] = l2Rate(l) / 1e9;
        const double weightsPerByte = rows[i].bits == 8 ? 1.0 : 2.0;
        std::printf("   %-17s %4lld x %lld (%3.0f KB): %6.1f GB/s", rows[i].name,
                    static_cast<long long>(rows[i].rows), static_cast<long long>(cols),
                    double(l.bytes()) / 1024.0, computeGBs[i]);
        if (vnni > 0)
            std::printf(", %.0f %% of the instruction's rate",
                        100.0 * computeGBs[i] * weightsPerByte / (vnni * 64 / 1e9));
        std::printf("\n");
    }
    const double m1 = ql::probeReadBandwidth(1).bytesPerSecond / 1e9;
    const double m2 = ql::probeReadBandwidth(2).bytesPerSecond / 1e9;
    std::printf("3. read bandwidth: 1 thread %.1f GB/s, 2 threads %.1f GB/s\n", m1, m2);
    std::printf("4. a layer from memory, 2 threads (compute = 2 x one thread's rate in L2):\n");
    for (int i = 0; i < 2; ++i) {
        const double c = 2.0 * computeGBs[i];
        const double serial = 1.0 / (1.0 / c + 1.0 / m2);
        std::printf(
            "   %-17s compute %6.1f GB/s; no overlap %5.1f GB/s (%3.0f %% of the read "
            "bandwidth), full overlap %5.1f GB/s (%3.0f %%)\n",
            rows[i].name, c, serial, 100.0 * serial / m2, std::min(c, m2),
            100.0 * std::min(c, m2) / m2);
    }
    std::printf("load at end %s\n", qlbench::loadavg().c_str());
}
