// Predicted peak memory and matrix-product FLOPs of a run of the block-streamed engine
// (stream_engine.cpp), from the model's shapes and the settings. The memory model follows
// what the engine holds in each phase; BENCHMARKS.md compares it with measured peaks.
#include "run/run_estimate.h"

#include "base/error.h"
#include "io/dtype.h"
#include "io/gguf_model.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "methods/quantize_layers.h"
#include "quant/method_registry.h"
#include "quant/recipe.h"
#include "run/run_internal.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace ql {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
// Libraries (libtorch, Qt, OpenBLAS), the tokenizer and allocator slack, measured as the
// peak of a run of the smallest shared model.
constexpr double kBaseBytes = 450.0 * 1024 * 1024;

struct Shapes {
    double H = 0, I = 0, L = 0, heads = 0, kvHeads = 0, headDim = 0, vocab = 0;
    double blockParams = 0;       // linear weights of one block
    double selectedParams = 0;    // selected linear weights, whole model
    double largestSelected = 0;   // the largest selected layer
    double largestIn = 0;         // its widest input (GPTQ Hessian)
    double selectedPerBlock = 0;  // the most selected weights in one block
};

Shapes shapesOf(const ModelConfig& c, const std::vector<LinearLayerInfo>& selected) {
    Shapes s;
    s.H = c.hiddenSize;
    s.I = c.intermediateSize;
    s.L = c.numLayers;
    s.heads = c.numHeads;
    s.kvHeads = c.numKvHeads;
    s.headDim = c.headDim;
    s.vocab = double(c.vocabSize);
    const double q = s.heads * s.headDim, kv = s.kvHeads * s.headDim;
    s.blockParams = s.H * q + 2 * s.H * kv + q * s.H + 3 * s.H * s.I;
    std::vector<double> perBlock(size_t(c.numLayers), 0.0);
    for (const auto& l : selected) {
        const double n = double(l.outFeatures) * double(l.inFeatures);
        s.selectedParams += n;
        if (n > s.largestSelected) s.largestSelected = n;
        s.largestIn = std::max(s.largestIn, double(l.inFeatures));
        if (l.block >= 0 && size_t(l.block) < perBlock.size()) perBlock[size_t(l.block)] += n;
    }
    for (double b : perBlock) s.selectedPerBlock = std::max(s.selectedPerBlock, b);
    return s;
}

// Matrix-product FLOPs of one block's forward pass over `tokens` tokens in windows of T.
double blockFlops(const Shapes& s, double tokens, double T) {
    return tokens * (2.0 * s.blockParams + 4.0 * T * s.headDim * s.heads);
}

// Float32 bytes of a forward pass's working set in one block: attention scores and the
// MLP's intermediate tensors (gate, up, their product, and a temporary).
double forwardWorking(const Shapes& s, double windows, double T) {
    const double tokens = windows * T;
    return windows * s.heads * T * T * 4 * 2 + tokens * (8 * s.H + 4 * s.I) * 4;
}

std::string gib(double bytes) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", bytes / kGiB);
    return b;
}

}  // namespace

RunEstimate estimateRun(const RunConfig& c, double gemmRate) {
    const ModelConfig cfg = loadModelConfigOf(c.modelDir);
    const auto store = TensorStore::open(c.modelDir);
    const auto selected = selectLayers(checkpointLinears(*store, cfg.numLayers), c.layers);
    const Recipe recipe = Recipe::parse(c.recipe);
    const Shapes s = shapesOf(cfg, selected);
    RunEstimate e;
    e.availableBytes = memAvailableBytes();
    e.gemmFlopsPerSecond = gemmRate;
    const bool calib = !c.calibrationText.empty(), eval = !c.evaluationText.empty();
    const bool fit = recipe.needsCalibration();
    e.modelPath = calib || eval || fit;
    if (!e.modelPath) {
        // Weights-only: one layer's float, quantized and code copies at a time.
        e.peakPhase = "quantize";
        e.peakParts = {{"libraries", uint64_t(kBaseBytes)},
                       {"one layer", uint64_t(s.largestSelected * 4 * 5)}};
        e.peakBytes = uint64_t(kBaseBytes + s.largestSelected * 20);
        return e;
    }
    const double Nc = calib ? c.calibrationWindows : 0, Tc = c.calibrationSeq;
    const double Te = c.evalSeq > 0 ? c.evalSeq : std::min(2048, cfg.maxPositions);
    // Unknown window count (all of the text): assume 16 for memory, as the default.
    const double Ne = eval ? (c.evalMaxWindows > 0 ? c.evalMaxWindows : 16) : 0;
    const bool acts = c.captureActivations && calib, grads = c.captureGradients && calib;
    const double G = grads ? std::min(4.0, Nc) : 0;
    const double heldOut = eval || Nc < 2 ? 0 : std::max(1.0, std::floor(Nc / 4));
    const double fitTokens = (Nc - heldOut) * Tc;
    const double bits = recipe.isCast() ? 16 : recipe.bits;
    const double group = recipe.granularity == Granularity::Group ? recipe.groupSize : 1e9;

    // Stored after-weights (GPTQ/AWQ): codes at the bit width + float scales and zeros, in
    // memory unless the run spills them to disk (RunConfig::spillFolder).
    const double stored =
        fit && c.spillFolder.empty() ? s.selectedParams * (bits / 8 + 8 / std::min(group, s.H)) : 0;
    const double hidden = 2 * (Nc * Tc + Ne * Te) * s.H * 4;
    const double kept = acts ? 2 * Nc * Tc * s.H * 4 : 0;  // block inputs for the counts
    const double gradInputs = 2 * s.L * G * Tc * s.H * 4;  // checkpoints for the backward
    const double block = s.blockParams * 4;                // float weights of one block
    // The block's quantized weights, and while one layer is quantized and analyzed its
    // int32 codes and the error array (the float and quantized weights are the model's
    // own tensors); GPTQ/AWQ work on one more float copy.
    const double quantBlock = s.selectedPerBlock * 4 + s.largestSelected * 4 * (fit ? 3 : 2);
    const double calibPerBatch =
        Nc > 0 ? std::min(Nc, std::max(1.0, std::floor(double(kCalibrationBatchTokens) / Tc))) : 0;
    const double working =
        std::max(forwardWorking(s, calibPerBatch, Tc), forwardWorking(s, std::min(4.0, Ne), Te));
    // GPTQ: the Gram matrix of the stage's inputs and the Hessian, factorized in place;
    // the 4096-row input sample of output SQNR / AWQ.
    const double solver = fit ? 2 * s.largestIn * s.largestIn * 4 + 4096 * s.largestIn * 4 : 0;

    const double scored = Ne * (Te - 1);
    const double chunkFloats = double(int64_t(4) << 20);  // stream_head.cpp kChunkFloats
    const double head = eval ? 2 * scored * s.H * 4 * 2 + 2 * 6 * chunkFloats * 4 : 0;
    const double autograd = G * Tc * (10 * s.H + 6 * s.I) * 4 + G * s.heads * Tc * Tc * 4 * 3;
    const double backward = grads ? 2 * block + 2 * s.selectedPerBlock * 4 + autograd : 0;

    struct Phase {
        const char* name;
        std::vector<std::pair<std::string, double>> parts;
    };
    const std::vector<Phase> phases = {
        {"blocks",
         {{"block weights", block},
          {"quantized block", quantBlock},
          {"hidden states", hidden + kept},
          {"gradient checkpoints", gradInputs},
          {"forward working set", working},
          {"GPTQ/AWQ solver", solver},
          {"stored weights", stored}}},
        {"output head",
         {{"hidden states", hidden},
          {"gradient checkpoints", gradInputs},
          {"head chunks", head},
          {"stored weights", stored}}},
        {"gradients",
         {{"gradient checkpoints", gradInputs},
          {"block weights and gradients", backward},
          {"stored weights", stored}}},
    };
    double peak = 0;
    for (const Phase& p : phases) {
        double total = kBaseBytes;
        for (const auto& part : p.parts) total += part.second;
        if (total <= peak) continue;
        peak = total;
        e.peakPhase = p.name;
        e.peakParts = {{"libraries", uint64_t(kBaseBytes)}};
        for (const auto& part : p.parts)
            if (part.second > 0) e.peakParts.emplace_back(part.first, uint64_t(part.second));
    }
    e.peakBytes = peak >= 1.8e19 ? UINT64_MAX : uint64_t(peak);

    // FLOPs: both streams over calibration and evaluation windows, the second (counting)
    // pass over calibration, GPTQ/AWQ statistics (one block pass per stage), output SQNR's
    // float product, the head in chunks, and the backward (recompute + 2x) of both streams.
    const double sqnrTokens = eval ? std::min(Ne * Te, std::max(Te, 4096.0)) : heldOut * Tc;
    const bool stats = fit || (calib && sqnrTokens == 0);
    double flops = s.L * (blockFlops(s, 2 * Nc * Tc, Tc) + blockFlops(s, 2 * Ne * Te, Te));
    if (acts) flops += s.L * blockFlops(s, 2 * Nc * Tc, Tc);
    if (stats) flops += s.L * 4 * blockFlops(s, fitTokens, Tc);
    flops += 2 * s.selectedParams * sqnrTokens;
    flops += 2 * 2 * scored * s.H * s.vocab;
    if (grads) {
        flops += 3 * 2 * 2 * G * (Tc - 1) * s.H * s.vocab;
        flops += 2 * 3 * s.L * blockFlops(s, G * Tc, Tc);
    }
    e.matmulFlops = flops;
    if (gemmRate > 0) e.seconds = flops / gemmRate;

    if (!e.fits()) {
        // The biggest part that a setting controls.
        if (grads && gradInputs + backward > hidden)
            e.advice = "turn off gradients (--no-gradients)";
        else if (eval && Ne * Te > Nc * Tc)
            e.advice = "evaluate fewer windows (--max-windows) or shorter ones (--seq)";
        else if (calib)
            e.advice =
                "use fewer calibration windows (--calib-windows) or shorter ones (--calib-seq)";
        else
            e.advice = "select fewer layers";
    }
    return e;
}

double measureGemmRate() {
    at::NoGradGuard noGrad;
    const at::Tensor a = at::randn({512, 1536}), b = at::randn({1536, 4096});
    at::Tensor c = at::matmul(a, b);  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    int runs = 0;
    double seconds = 0;
    do {
        c = at::matmul(a, b);
        ++runs;
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (seconds < 0.25);
    return 2.0 * 512 * 1536 * 4096 * runs / seconds;
}

std::string describeEstimate(const RunEstimate& e) {
    std::string text =
        "predicted peak memory " + gib(double(e.peakBytes)) + " GiB (" + e.peakPhase + ":";
    for (size_t i = 0; i < e.peakParts.size(); ++i)
        text += (i ? ", " : " ") + e.peakParts[i].first + " " + gib(double(e.peakParts[i].second));
    text += ")";
    if (e.availableBytes != UINT64_MAX)
        text += ", available " + gib(double(e.availableBytes)) + " GiB";
    if (e.seconds > 0) {
        char b[160];
        std::snprintf(b, sizeof b, "; %.1f TFLOP of matrix products at %.0f GFLOP/s = %.0f s",
                      e.matmulFlops / 1e12, e.gemmFlopsPerSecond / 1e9, e.seconds);
        text += b;
    }
    return text;
}

void checkEstimateFits(const RunEstimate& e, const std::string& modelDir) {
    const char* skip = std::getenv("QL_SKIP_MEMORY_CHECK");
    if ((skip && std::string(skip) == "1") || e.fits()) return;
    throw Error("not enough memory for this run of '" + modelDir + "': " + describeEstimate(e) +
                "; " + e.advice);
}

}  // namespace ql
