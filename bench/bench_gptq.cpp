// GPTQ seconds per layer: (1) the seven projections of one Qwen2.5-1.5B block at real
// shapes, random weights and random calibration activations (16 x 256 tokens), int4 g128
// asym; (2) quantizeLayers with GPTQ on the shared story models (if a folder is given).
// (3) with --awq, AWQ's scale search on the same synthetic block. (4) with --factor
// N[,N...], the inverse-Hessian factor of an N-input layer: the three LAPACK calls of the
// reference (potrf, potri, potrf) against upperFactorOfInverse (one Cholesky, one
// triangular inverse, in panels with a cancellation check after each): seconds, GFLOP/s
// next to this machine's float32 GEMM rate, the longest time between cancellation checks,
// and how far the two factors differ.
// Usage: bench_gptq [--threads N] [--skip-synthetic] [--awq] [--factor N,...]
//                   [MODEL_DIR CALIB_TXT ...]
#include "base/progress.h"
#include "methods/awq.h"
#include "methods/gptq.h"
#include "methods/inverse_factor.h"
#include "methods/method_common.h"
#include "methods/quantize_layers.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

double seconds(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Shape {
    const char* name;
    int64_t out, in;
};

void syntheticQwenBlock() {
    // Qwen2.5-1.5B: hidden 1536, 12 heads / 2 KV heads of 128, MLP 8960.
    const Shape shapes[] = {{"q_proj", 1536, 1536},    {"k_proj", 256, 1536},
                            {"v_proj", 256, 1536},     {"o_proj", 1536, 1536},
                            {"gate_proj", 8960, 1536}, {"up_proj", 8960, 1536},
                            {"down_proj", 1536, 8960}};
    ql::Recipe recipe;
    recipe.method = ql::QuantMethod::Gptq;
    recipe.bits = 4;
    recipe.granularity = ql::Granularity::Group;
    recipe.groupSize = 128;
    recipe.symmetric = false;
    const ql::ProgressReporter none{ql::ProgressCallback{}};
    auto gen = at::detail::createCPUGenerator(1);
    double total = 0.0;
    std::printf("synthetic qwen2.5-1.5b block, gptq:int4:g128:asym, 4096 calibration tokens\n");
    std::printf("%-10s %12s %10s %10s %10s\n", "layer", "shape", "H s", "gptq s", "SQNR dB");
    for (const Shape& s : shapes) {
        const at::Tensor w = at::randn({s.out, s.in}, gen) * 0.02;
        const at::Tensor x = at::randn({16, 256, s.in}, gen);
        auto t0 = std::chrono::steady_clock::now();
        ql::InputStats stats;
        stats.add(x, 1);
        const at::Tensor h = stats.gram * (2.0 / double(stats.rows));
        const double tH = seconds(t0);
        t0 = std::chrono::steady_clock::now();
        const ql::GridQuant q = ql::gptqQuantize(w, h, recipe, ql::GptqOptions{}, none);
        const double tQ = seconds(t0);
        total += tH + tQ;
        const std::string shape = std::to_string(s.out) + "x" + std::to_string(s.in);
        std::printf("%-10s %12s %10.2f %10.2f %10.2f\n", s.name, shape.c_str(), tH, tQ,
                    ql::outputSqnrDb(w, q.dequant, stats));
        std::fflush(stdout);
    }
    std::printf("block total %.1f s (x28 blocks = %.0f s for the whole model)\n\n", total,
                total * 28);
}

// AWQ scale search (20 grid points) on the same block, grouped by shared input.
void syntheticQwenBlockAwq() {
    struct Group {
        const char* name;
        std::vector<int64_t> outs;
        int64_t in;
    };
    const Group groups[] = {{"q/k/v", {1536, 256, 256}, 1536},
                            {"o", {1536}, 1536},
                            {"gate/up", {8960, 8960}, 1536},
                            {"down", {1536}, 8960}};
    ql::Recipe recipe;
    recipe.method = ql::QuantMethod::Awq;
    recipe.bits = 4;
    recipe.granularity = ql::Granularity::Group;
    recipe.groupSize = 128;
    recipe.symmetric = false;
    auto gen = at::detail::createCPUGenerator(2);
    double total = 0.0;
    std::printf("synthetic qwen2.5-1.5b block, awq:int4:g128:asym, 20 grid points, 4096 tokens\n");
    for (const Group& g : groups) {
        std::vector<at::Tensor> ws;
        for (int64_t out : g.outs) ws.push_back(at::randn({out, g.in}, gen) * 0.02);
        // activations with uneven channel magnitudes
        const at::Tensor x = at::randn({16, 256, g.in}, gen) * at::exp(at::randn({g.in}, gen));
        ql::InputStats stats;
        stats.add(x, 1);
        const auto t0 = std::chrono::steady_clock::now();
        const ql::AwqResult r = ql::awqSearch(ws, stats, recipe, 20);
        const double t = seconds(t0);
        total += t;
        std::printf("%-8s search %.2f s (alpha %.2f)\n", g.name, t, r.alpha);
        std::fflush(stdout);
    }
    std::printf("block total %.1f s\n\n", total);
}

}  // namespace

extern "C" {
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info);
}

namespace {

// The factor as the previous code computed it: three LAPACK calls on H's storage.
bool threeCallFactor(float* a, int n) {
    int info = 0;
    spotrf_("L", &n, a, &n, &info);
    if (info == 0) spotri_("L", &n, a, &n, &info);
    if (info == 0) spotrf_("L", &n, a, &n, &info);
    for (int64_t r = 1; r < n; ++r) std::fill(a + r * n, a + r * n + r, 0.0f);
    return info == 0;
}

void inverseFactor(int64_t n) {
    auto gen = at::detail::createCPUGenerator(3);
    const at::Tensor b = at::randn({n, 512}, gen);
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor h = b.mm(b.t()) / 512.0;
    const double gemmRate = 2.0 * double(n) * double(n) * 512 / seconds(t0) / 1e9;
    h.diagonal().add_(0.1);
    at::Tensor old = h.clone();
    t0 = std::chrono::steady_clock::now();
    const bool okOld = threeCallFactor(old.data_ptr<float>(), int(n));
    const double tOld = seconds(t0);
    double maxGap = 0.0;
    int checks = 0;
    auto last = std::chrono::steady_clock::now();
    const ql::ProgressReporter timing([&](const ql::Progress&) {
        maxGap = std::max(maxGap, seconds(last));
        last = std::chrono::steady_clock::now();
        return ++checks, true;
    });
    t0 = last = std::chrono::steady_clock::now();
    const bool okNew = ql::upperFactorOfInverse(h.data_ptr<float>(), n, timing);
    const double tNew = seconds(t0);
    const double n3 = double(n) * double(n) * double(n) / 1e9;
    const double diff = (h - old).abs().max().item<double>() / old.abs().max().item<double>();
    std::printf(
        "factor n=%lld: GEMM %.1f GFLOP/s | potrf+potri+potrf %.2f s (%.1f GFLOP/s)%s | "
        "panelled %.2f s (%.1f GFLOP/s, %.0f %% of GEMM)%s, %d checks, longest gap "
        "%.3f s | max difference %.2g of max |U|\n",
        (long long)n, gemmRate, tOld, 4.0 / 3.0 * n3 / tOld, okOld ? "" : " FAILED", tNew,
        2.0 / 3.0 * n3 / tNew, 100.0 * 2.0 / 3.0 * n3 / tNew / gemmRate, okNew ? "" : " FAILED",
        checks, maxGap, diff);
    std::fflush(stdout);
}

void sharedModel(const std::string& dir, const std::string& calibPath) {
    auto model = ql::Model::load(dir);
    const auto tok = ql::Tokenizer::load(dir);
    std::ifstream in(calibPath);
    std::stringstream ss;
    ss << in.rdbuf();
    const auto ids = tok->encode(ss.str());
    ql::QuantizeLayersOptions o;
    for (size_t w = 0; w < 8 && (w + 1) * 128 <= ids.size(); ++w)
        o.calibration.emplace_back(ids.begin() + w * 128, ids.begin() + (w + 1) * 128);
    std::vector<std::string> names;
    for (const auto& l : model->linears()) names.push_back(l.name);
    ql::Recipe recipe;
    recipe.method = ql::QuantMethod::Gptq;
    recipe.bits = 4;
    recipe.granularity = ql::Granularity::Group;
    recipe.groupSize = 32;
    recipe.symmetric = false;
    const auto t0 = std::chrono::steady_clock::now();
    const auto rs =
        ql::quantizeLayers(*model, names, recipe, o, ql::ProgressReporter{ql::ProgressCallback{}});
    const double total = seconds(t0);
    double inLayers = 0.0;
    for (const auto& r : rs) inLayers += r.seconds;
    std::printf(
        "%s: gptq:int4:g32:asym, %zu x 128 calibration tokens, %zu layers: total %.3f s "
        "(%.4f s per layer, of which GPTQ itself %.4f s)\n",
        dir.c_str(), o.calibration.size(), rs.size(), total, total / rs.size(),
        inLayers / rs.size());
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 2;
    bool synthetic = true, awq = false;
    std::vector<int64_t> factorSizes;
    std::vector<std::string> rest;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--skip-synthetic"))
            synthetic = false;
        else if (!std::strcmp(argv[i], "--awq"))
            awq = true;
        else if (!std::strcmp(argv[i], "--factor") && i + 1 < argc) {
            std::stringstream list(argv[++i]);
            for (std::string item; std::getline(list, item, ',');)
                factorSizes.push_back(std::stoll(item));
        } else
            rest.push_back(argv[i]);
    }
    ql::setComputeThreads(threads);
    std::printf("threads %d\n", threads);
    if (synthetic) syntheticQwenBlock();
    if (awq) syntheticQwenBlockAwq();
    for (int64_t n : factorSizes) inverseFactor(n);
    for (size_t i = 0; i + 1 < rest.size(); i += 2) sharedModel(rest[i], rest[i + 1]);
    return 0;
}
