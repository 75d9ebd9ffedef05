#include "run/infer_bench.h"

#include "base/error.h"
#include "base/process_env.h"
#include "base/read_bandwidth.h"
#include "model/decoder.h"
#include "model/generate.h"
#include "model/model.h"
#include "run/packed_install.h"
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

// "packed (int4 g128 asym)" when every linear the run quantized computes from its codes;
// "packed 150 + f32 46" when some stay float32 (their formats have no kernel).
std::string weightsAs(const PackedInstallReport& p) {
    std::string format;
    int floatLayers = 0;
    for (const PackedLayerInstall& l : p.layers) {
        if (l.packed && format.empty()) format = l.format;
        if (l.packed && l.format != format) format = "mixed";
        if (!l.packed && l.simulated) ++floatLayers;
    }
    if (p.packedLayers == 0) return "simulated-f32 (no packable layer)";
    if (floatLayers == 0) return "packed (" + format + ")";
    return "packed " + std::to_string(p.packedLayers) + " (" + format + ") + f32 " +
           std::to_string(floatLayers);
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
    const double decodeCpu0 = cpuSeconds();
    for (int i = 0; i < r.genTokens; ++i) {
        logits = decoder.feed({argmaxToken(logits)});
        rep.report("bench", double(i + 1) / r.genTokens);
    }
    row.decodeTokensPerSecond = double(r.genTokens) / std::max(now() - t0, 1e-9);
    row.decodeCpuSeconds = cpuSeconds() - decodeCpu0;
    row.kvCacheBytes = decoder.cacheBytes();
    row.weightBytes = model.summary().bytesInMemory;
    row.weightBytesPerToken = bytesPerToken(model);
    row.headBytesPerToken =
        uint64_t(model.config().vocabSize) * uint64_t(model.config().hiddenSize) * sizeof(float);
    row.peakRssBytes = peakResidentBytes();
    row.cpuSeconds = cpuSeconds() - cpu0;
    return row;
}

}  // namespace

InferBenchResult benchInference(const InferBenchRequest& r, const ProgressCallback& progress) {
    if (r.promptTokens < 1 || r.promptTokens > 32768)
        throw Error("--prompt-tokens must be in 1..32768");
    if (r.genTokens < 1 || r.genTokens > 4096) throw Error("--gen-tokens must be in 1..4096");
    std::vector<std::shared_ptr<const RunResult>> runs;
    for (const std::string& folder : r.runFolders)
        runs.push_back(std::make_shared<const RunResult>(loadRun(folder)));
    for (const auto& run : r.runs) {
        if (!run) throw Error("internal: an empty run was given to bench");
        runs.push_back(run);
    }
    auto model = Model::load(r.modelDir);
    for (const auto& run : runs) checkRunFitsModel(*model, *run);  // before any measuring
    if (r.promptTokens + r.genTokens > model->config().maxPositions)
        throw Error(
            "--prompt-tokens + --gen-tokens is more than the model's max_position_embeddings (" +
            std::to_string(model->config().maxPositions) + ")");
    InferBenchResult result;
    result.threads = at::get_num_threads();
    const ProgressReporter rep(progress);
    // Between passes the GUI's Cancel is asked (a pass: ~0.03 s idle, longer when loaded).
    const ReadBandwidth bw = probeReadBandwidth(result.threads, 5, [&] { rep.checkCancelled(); });
    result.readBandwidthBytesPerSecond = bw.bytesPerSecond;
    result.readProbeBytes = bw.bufferBytes;
    result.lastLevelCacheBytes = bw.lastLevelCacheBytes;
    const int models = 1 + int(runs.size());
    for (int m = 0; m < models; ++m) {
        const RunResult* run = m > 0 ? runs[size_t(m - 1)].get() : nullptr;
        rep.checkCancelled();
        PackedInstallReport packed;
        if (run && r.packed) {
            model.reset();  // one model in memory at a time: each row's peak is its own
            model = Model::load(r.modelDir);
            packed = installPackedKernels(model->transformer(), *run, r.int8Activations);
        } else if (run) {
            applyRunWeights(*model, *run);
        }
        InferBenchRow row =
            benchOne(*model, r, rep.sub(double(m) / models, double(m + 1) / models));
        row.name = !run ? "float" : (run->label.empty() ? run->config.recipe : run->label);
        row.runFolder = !run                                  ? std::string()
                        : size_t(m - 1) < r.runFolders.size() ? r.runFolders[size_t(m - 1)]
                                                              : run->folder;
        row.weightsAs = !run ? "f32" : !r.packed ? "simulated-f32" : weightsAs(packed);
        if (run && r.packed && r.int8Activations && packed.packedLayers > 0)
            row.weightsAs += ", int8 activations";
        // Released float32 weights are neither resident nor read per token: their codes are.
        row.weightBytes = row.weightBytes - packed.floatBytesReleased + packed.packedBytes;
        row.weightBytesPerToken =
            row.weightBytesPerToken - packed.floatBytesReleased + packed.packedBytes;
        row.bandwidthLimitTokensPerSecond =
            result.readBandwidthBytesPerSecond / double(row.weightBytesPerToken);
        row.fractionOfLimit = row.decodeTokensPerSecond / row.bandwidthLimitTokensPerSecond;
        result.rows.push_back(row);
        if (run && !r.packed) model->restoreWeights();
    }
    return result;
}

}  // namespace ql
