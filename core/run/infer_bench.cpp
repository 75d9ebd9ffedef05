#include "run/infer_bench.h"

#include "base/error.h"
#include "base/process_env.h"
#include "model/decoder.h"
#include "model/generate.h"
#include "model/model.h"
#include "run/run.h"
#include "run/run_model.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <ctime>

namespace ql {

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

double cpuSeconds() {
    return double(std::clock()) / CLOCKS_PER_SEC;
}

// Float32 bytes read by one decode step: every projection and norm, the output head and
// one embedding row (a tied head is the embedding: read once, as the head).
uint64_t bytesPerToken(const Model& model) {
    const ModelConfig& c = model.config();
    uint64_t elements = 0;
    for (const LinearLayerInfo& l : model.linears())
        elements +=
            uint64_t(l.outFeatures * l.inFeatures) + (l.hasBias ? uint64_t(l.outFeatures) : 0);
    elements += uint64_t(c.vocabSize) * uint64_t(c.hiddenSize);          // head
    elements += uint64_t(c.hiddenSize) * uint64_t(2 * c.numLayers + 2);  // norms + embedding row
    if (c.qkNorm) elements += uint64_t(2 * c.numLayers) * uint64_t(c.headDim);
    return elements * sizeof(float);
}

InferBenchRow benchOne(const Model& model, const InferBenchRequest& r,
                       const ProgressReporter& rep) {
    InferBenchRow row;
    row.peakIsCumulative = !resetPeakResident();
    const double cpu0 = cpuSeconds();
    std::vector<int32_t> prompt;
    const int64_t vocab = model.config().vocabSize;
    for (int i = 0; i < r.promptTokens; ++i)
        prompt.push_back(int32_t((int64_t(i) * 7919 + 13) % vocab));
    Decoder decoder(model);
    double t0 = now();
    std::vector<float> logits = decoder.feed(prompt);
    row.prefillTokensPerSecond = double(r.promptTokens) / std::max(now() - t0, 1e-9);
    rep.checkCancelled();
    t0 = now();
    for (int i = 0; i < r.genTokens; ++i) {
        logits = decoder.feed({argmaxToken(logits)});
        rep.report("bench", double(i + 1) / r.genTokens);
    }
    row.decodeTokensPerSecond = double(r.genTokens) / std::max(now() - t0, 1e-9);
    row.kvCacheBytes = decoder.cacheBytes();
    row.weightBytes = model.summary().bytesInMemory;
    row.weightBytesPerToken = bytesPerToken(model);
    row.peakRssBytes = peakResidentBytes();
    row.cpuSeconds = cpuSeconds() - cpu0;
    return row;
}

}  // namespace

double measureReadBandwidth() {
    at::NoGradGuard noGrad;
    const int64_t n = int64_t(64) << 20;  // 256 MiB of float32, far beyond any cache
    const at::Tensor buffer = at::ones({n}, at::kFloat);
    buffer.sum().item<float>();  // pages touched, threads started
    double best = 0.0;
    for (int pass = 0; pass < 3; ++pass) {
        const double t0 = now();
        buffer.sum().item<float>();
        best = std::max(best, double(n) * sizeof(float) / std::max(now() - t0, 1e-9));
    }
    return best;
}

InferBenchResult benchInference(const InferBenchRequest& r, const ProgressCallback& progress) {
    if (r.promptTokens < 1 || r.promptTokens > 32768)
        throw Error("--prompt-tokens must be in 1..32768");
    if (r.genTokens < 1 || r.genTokens > 4096) throw Error("--gen-tokens must be in 1..4096");
    std::vector<RunResult> runs;
    for (const std::string& folder : r.runFolders) runs.push_back(loadRun(folder));
    const auto model = Model::load(r.modelDir);
    if (r.promptTokens + r.genTokens > model->config().maxPositions)
        throw Error(
            "--prompt-tokens + --gen-tokens is more than the model's max_position_embeddings (" +
            std::to_string(model->config().maxPositions) + ")");
    InferBenchResult result;
    result.threads = at::get_num_threads();
    const ProgressReporter rep(progress);
    result.readBandwidthBytesPerSecond = measureReadBandwidth();
    const int models = 1 + int(runs.size());
    for (int m = 0; m < models; ++m) {
        if (m > 0) applyRunWeights(*model, runs[size_t(m - 1)]);
        InferBenchRow row =
            benchOne(*model, r, rep.sub(double(m) / models, double(m + 1) / models));
        row.name = m == 0 ? "float"
                          : (runs[size_t(m - 1)].label.empty() ? runs[size_t(m - 1)].config.recipe
                                                               : runs[size_t(m - 1)].label);
        row.runFolder = m == 0 ? std::string() : r.runFolders[size_t(m - 1)];
        row.weightsAs = m == 0 ? "f32" : "simulated-f32";
        row.bandwidthLimitTokensPerSecond =
            result.readBandwidthBytesPerSecond / double(row.weightBytesPerToken);
        row.fractionOfLimit = row.decodeTokensPerSecond / row.bandwidthLimitTokensPerSecond;
        result.rows.push_back(row);
    }
    model->restoreWeights();
    return result;
}

}  // namespace ql
