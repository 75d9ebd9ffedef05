#include "run/infer_bench.h"

#include "base/error.h"
#include "base/process_env.h"
#include "base/read_bandwidth.h"
#include "model/decoder.h"
#include "model/generate.h"
#include "model/model.h"
#include "model/stage_profile.h"
#include "model/transformer.h"
#include "run/packed_install.h"
#include "run/run.h"
#include "run/run_model.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
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

// The bytes a row holds and reads per decode step: the float32 model's, less the float32
// weights a run's packed layers and quantized head released, plus their codes.
void countBytes(const Model& model, const PackedInstallReport& packed, const HeadInstall& head,
                InferBenchRow& row) {
    row.weightBytes = model.summary().bytesInMemory;
    row.weightBytesPerToken = bytesPerToken(model);
    row.headBytesPerToken =
        uint64_t(model.config().vocabSize) * uint64_t(model.config().hiddenSize) * sizeof(float);
    row.headTied = model.transformer().headTiedToEmbedding();
    // Released float32 weights are neither resident nor read per token: their codes are.
    row.weightBytes = row.weightBytes - packed.floatBytesReleased + packed.packedBytes;
    row.weightBytesPerToken =
        row.weightBytesPerToken - packed.floatBytesReleased + packed.packedBytes;
    if (head.packedBytes > 0) {
        // A step reads the head's codes instead of its float32 table; a tied table stays
        // resident for the embedding lookups (floatBytesReleased 0), one row read per step.
        row.headFormat = head.format;
        row.weightBytes = row.weightBytes - head.floatBytesReleased + head.packedBytes;
        row.weightBytesPerToken = row.weightBytesPerToken - head.floatBytes + head.packedBytes;
        row.headBytesPerToken = head.packedBytes;
    }
}

// The prompt every row is fed: fixed ids spread over the vocabulary (the weights, not the
// text, are what is measured).
std::vector<int32_t> promptOf(const Model& model, int tokens) {
    std::vector<int32_t> prompt;
    const int64_t vocab = model.config().vocabSize;
    for (int i = 0; i < tokens; ++i) prompt.push_back(int32_t((int64_t(i) * 7919 + 13) % vocab));
    return prompt;
}

// Quantizes the head (installQuantizedHead) and measures what it costs on the prompt: the
// hidden states of the run's model before the head, once, then every position through the
// float32 head (before the install) and through the quantized one one position at a time
// (the one-token decode path a generated token takes, int8 activations included).
HeadInstall installHeadMeasured(Model& model, const InferBenchRequest& r, InferBenchRow& row) {
    Transformer& net = model.transformer();
    const std::vector<int32_t> prompt = promptOf(model, r.promptTokens);
    const int64_t vocab = model.config().vocabSize, P = int64_t(prompt.size());
    at::Tensor hidden, before;
    {
        at::NoGradGuard noGrad;
        std::vector<int64_t> ids(prompt.begin(), prompt.end());
        hidden = net.embed(at::tensor(ids, at::kLong).view({1, P}));
        for (int b = 0; b < model.config().numLayers; ++b) hidden = net.block(b, hidden);
        before = net.head(hidden).contiguous();
    }
    const HeadInstall head = installQuantizedHead(net, r.head, r.int8Activations);
    at::NoGradGuard noGrad;
    for (int64_t t = 0; t < P; ++t) {
        const at::Tensor after = net.head(hidden.narrow(1, t, 1)).contiguous();
        const float* f = before.data_ptr<float>() + t * vocab;
        const float* q = after.data_ptr<float>();
        const std::vector<float> f32Row(f, f + vocab);
        // The generation comparison's KL (model/generate.h), one position at a time.
        const double kl =
            compareNextTokens({f32Row}, {std::vector<float>(q, q + vocab)}, {argmaxToken(f32Row)})
                .front()
                .kl;
        row.headKlMean += kl / double(P);
        row.headKlMax = std::max(row.headKlMax, kl);
    }
    row.headKlPositions = int(P);
    return head;
}

// Untimed: what the first row would otherwise pay alone (thread pools, first touches of
// the weights, kernel set-up).
void warmUp(const Model& model, const std::vector<int32_t>& prompt) {
    Decoder decoder(model);
    const size_t n = std::min<size_t>(prompt.size(), 8);
    std::vector<float> logits = decoder.feed({prompt.begin(), prompt.begin() + std::ptrdiff_t(n)});
    for (int i = 0; i < 2; ++i) logits = decoder.feed({argmaxToken(logits)});
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Reads of the bytes G decode steps read (row.weightBytesPerToken x G), in G calls so that
// Cancel is asked between them. Returns the wall seconds.
double readStepsBytes(PacedReader& reader, const InferBenchRequest& r, const InferBenchRow& row,
                      const ProgressReporter& rep) {
    double seconds = 0.0;
    for (int i = 0; i < r.genTokens; ++i) {
        rep.checkCancelled();
        seconds += reader.secondsToRead(row.weightBytesPerToken);
    }
    return seconds;
}

// The row's bytes (weightBytesPerToken) are counted before: the reads beside the timed
// passes read them.
InferBenchRow benchOne(const Model& model, const InferBenchRequest& r, int threads,
                       const ProgressReporter& rep, InferBenchRow row) {
    // Allocated before the peak is reset; its bytes are taken off the row's peak below.
    PacedReader reader(threads);
    row.peakIsCumulative = !resetPeakResident();
    const double cpu0 = cpuSeconds();
    const std::vector<int32_t> prompt = promptOf(model, r.promptTokens);
    warmUp(model, prompt);
    std::vector<double> prefill, decode;
    std::vector<double> stages;
    double decodeCpu = 0.0;
    // Reads of a pass's bytes before the first pass and after each (fractionOfLimitBeside).
    // Their CPU time is the bench's, not the model's: left out of the row's.
    double readCpu = 0.0;
    const auto readPass = [&] {
        const double c0 = cpuSeconds(), seconds = readStepsBytes(reader, r, row, rep);
        readCpu += cpuSeconds() - c0;
        return seconds;
    };
    std::vector<double> reads{readPass()}, besides;
    for (int k = 0; k < r.repeats; ++k) {
        Decoder decoder(model);
        double t0 = now();
        std::vector<float> logits = decoder.feed(prompt);
        prefill.push_back(double(r.promptTokens) / std::max(now() - t0, 1e-9));
        rep.checkCancelled();
        if (stageProfiling()) takeStageSeconds();  // the prefill's stages are not a step's
        t0 = now();
        const double decodeCpu0 = cpuSeconds();
        for (int i = 0; i < r.genTokens; ++i) {
            logits = decoder.feed({argmaxToken(logits)});
            rep.report("bench", double(k * r.genTokens + i + 1) / (r.repeats * r.genTokens));
        }
        const double decodeSeconds = std::max(now() - t0, 1e-9);
        decode.push_back(double(r.genTokens) / decodeSeconds);
        decodeCpu += cpuSeconds() - decodeCpu0;
        reads.push_back(readPass());
        besides.push_back(0.5 * (reads[size_t(k)] + reads[size_t(k) + 1]) / decodeSeconds);
        if (stageProfiling()) {
            const std::vector<double> seconds = takeStageSeconds();
            stages.resize(seconds.size(), 0.0);
            for (size_t s = 0; s < seconds.size(); ++s) stages[s] += seconds[s];
        }
        row.kvCacheBytes = decoder.cacheBytes();
    }
    row.repeats = r.repeats;
    row.prefillTokensPerSecond = median(prefill);
    row.decodeTokensPerSecond = median(decode);
    row.prefillMin = *std::min_element(prefill.begin(), prefill.end());
    row.prefillMax = *std::max_element(prefill.begin(), prefill.end());
    row.decodeMin = *std::min_element(decode.begin(), decode.end());
    row.decodeMax = *std::max_element(decode.begin(), decode.end());
    row.decodeCpuSeconds = decodeCpu / r.repeats;
    if (reader.floatsSummed() > 0.0) {  // every float is 1: the reads did happen
        row.fractionOfLimitBeside = median(besides);
        row.readBesideBytesPerSecond =
            double(row.weightBytesPerToken) * r.genTokens / std::max(median(reads), 1e-9);
    }
    for (size_t s = 0; s < stages.size(); ++s)
        row.decodeStageSeconds.emplace_back(stageName(Stage(s)),
                                            stages[s] / double(r.genTokens * r.repeats));
    const uint64_t peak = peakResidentBytes();
    row.peakRssBytes = peak - std::min(peak, reader.bufferBytes());
    row.cpuSeconds = cpuSeconds() - cpu0 - readCpu;
    return row;
}

}  // namespace

InferBenchResult benchInference(const InferBenchRequest& r, const ProgressCallback& progress) {
    if (r.promptTokens < 1 || r.promptTokens > 32768)
        throw Error("--prompt-tokens must be in 1..32768");
    if (r.genTokens < 1 || r.genTokens > 4096) throw Error("--gen-tokens must be in 1..4096");
    if (r.repeats < 1 || r.repeats > 100) throw Error("--repeats must be in 1..100");
    if (r.head != HeadFormat::Float32 && !r.packed)
        throw Error(std::string("--head ") + headFormatName(r.head) +
                    " needs the packed kernels (not --simulated)");
    std::vector<std::shared_ptr<const RunResult>> runs;
    for (const std::string& folder : r.runFolders)
        runs.push_back(std::make_shared<const RunResult>(loadRun(folder)));
    for (const auto& run : r.runs) {
        if (!run) throw Error("internal: an empty run was given to bench");
        runs.push_back(run);
    }
    auto model = Model::load(r.modelDir);
    for (const auto& run : runs) checkRunFitsModel(*model, *run);  // before any measuring
    if (!runs.empty()) checkHeadFormat(r.head, model->config().hiddenSize);
    if (r.promptTokens + r.genTokens > model->config().maxPositions)
        throw Error(
            "--prompt-tokens + --gen-tokens is more than the model's max_position_embeddings (" +
            std::to_string(model->config().maxPositions) + ")");
    InferBenchResult result;
    result.threads = at::get_num_threads();
    const ProgressReporter rep(progress);
    // Between passes the GUI's Cancel is asked (a pass: ~0.03 s idle, longer when loaded).
    const auto probe = [&](int passes) {
        const ReadBandwidth bw =
            probeReadBandwidth(result.threads, passes, [&] { rep.checkCancelled(); });
        result.readBandwidthBytesPerSecond =
            std::max(result.readBandwidthBytesPerSecond, bw.bytesPerSecond);
        result.readBandwidthLowestBytesPerSecond =
            result.readProbes == 0
                ? bw.bytesPerSecond
                : std::min(result.readBandwidthLowestBytesPerSecond, bw.bytesPerSecond);
        ++result.readProbes;
        result.readProbeBytes = bw.bufferBytes;
        result.lastLevelCacheBytes = bw.lastLevelCacheBytes;
    };
    probe(5);
    const int models = 1 + int(runs.size());
    for (int m = 0; m < models; ++m) {
        const RunResult* run = m > 0 ? runs[size_t(m - 1)].get() : nullptr;
        rep.checkCancelled();
        PackedInstallReport packed;
        InferBenchRow row;
        HeadInstall head;
        if (run && r.packed) {
            model.reset();  // one model in memory at a time: each row's peak is its own
            // ... and what the heap kept of the previous row goes back to the system before
            // the next row's peak is reset (measured: an INT4 row after an INT8 one showed
            // 130-180 MB of the INT8 row's freed memory as its own).
            malloc_trim(0);
            model = Model::load(r.modelDir);
            packed = installPackedKernels(model->transformer(), *run, r.int8Activations);
            if (r.head != HeadFormat::Float32) head = installHeadMeasured(*model, r, row);
        } else if (run) {
            applyRunWeights(*model, *run);
        }
        countBytes(*model, packed, head, row);
        row = benchOne(*model, r, result.threads,
                       rep.sub(double(m) / models, double(m + 1) / models), std::move(row));
        row.name = !run ? "float" : (run->label.empty() ? run->config.recipe : run->label);
        row.runFolder = !run                                  ? std::string()
                        : size_t(m - 1) < r.runFolders.size() ? r.runFolders[size_t(m - 1)]
                                                              : run->folder;
        row.weightsAs = !run ? "f32" : !r.packed ? "simulated-f32" : describeInstall(packed);
        if (run && r.packed && r.int8Activations && packed.packedLayers > 0)
            row.weightsAs += ", int8 activations";
        result.rows.push_back(row);
        if (run && !r.packed) model->restoreWeights();
        probe(2);
    }
    // Every row against the best probe of the whole bench (the machine's own rate).
    for (InferBenchRow& row : result.rows) {
        row.bandwidthLimitTokensPerSecond =
            result.readBandwidthBytesPerSecond / double(row.weightBytesPerToken);
        row.fractionOfLimit = row.decodeTokensPerSecond / row.bandwidthLimitTokensPerSecond;
    }
    return result;
}

}  // namespace ql
