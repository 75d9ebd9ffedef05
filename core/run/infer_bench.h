// Inference speed and memory of the float model and of runs' quantized models (issue 11's
// bench-infer): prefill and KV-cached decode tokens/s, weight and KV-cache bytes, peak RSS,
// and the machine's measured read bandwidth (base/read_bandwidth.h) with the decode speed it
// allows.
//
// Until packed kernels are plugged in (ql::Linear::kernel), a run's layers are its
// dequantized weights in float32: the same bytes and speed as the float model, reported as
// "simulated-f32" so that no one reads them as quantized speed.
#pragma once

#include "base/progress.h"
#include "run/packed_install.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ql {

struct RunResult;

struct InferBenchRequest {
    std::string modelDir;
    std::vector<std::string> runFolders;
    std::vector<std::shared_ptr<const RunResult>> runs;  // in memory (the workbench's), after
    int promptTokens = 64;  // prefill length (fixed ids, the weights are what is measured)
    int genTokens = 16;     // decode steps after the prefill (greedy)
    // Each row: one untimed warm-up (a short prefill and two steps: thread pools, page faults,
    // caches — otherwise the first row measured pays them), then this many timed prefill +
    // decode passes, each with a fresh KV cache; the median is reported, min and max beside.
    int repeats = 1;
    // Runs compute from their packed codes (run/packed_install.h) where a kernel exists;
    // false: every run as its simulated (dequantized float32) model.
    bool packed = true;
    // Packed layers decode with int8 activations (installPackedKernels' int8Activations).
    bool int8Activations = false;
    // The runs' output head (the float model's row keeps float32: it is the baseline).
    // Quantized heads need the packed kernels (packed = true).
    HeadFormat head = HeadFormat::Float32;
};

struct InferBenchRow {
    std::string name;       // "float" or the run's label
    std::string runFolder;  // empty for the float model
    std::string weightsAs;  // "f32", "simulated-f32" or "packed (int4 g128 asym)", ...
    double prefillTokensPerSecond = 0.0;  // median of the repeats
    double decodeTokensPerSecond = 0.0;   // median of the repeats
    double prefillMin = 0.0, prefillMax = 0.0, decodeMin = 0.0, decodeMax = 0.0;  // tokens/s
    int repeats = 0;
    uint64_t weightBytes = 0;   // weights resident for inference
    uint64_t kvCacheBytes = 0;  // held after prompt + generated tokens (Decoder::cacheBytes)
    uint64_t weightBytesPerToken =
        0;  // read per decode step: projections, head, norms, 1 embedding row
    uint64_t headBytesPerToken = 0;  // of weightBytesPerToken: the output head as read
    std::string headFormat = "f32";  // "f32", "int8 channel sym", "int4 g128 asym"
    bool headTied = false;           // the head is the embedding's table (kept resident in
                                     // float32 for the input lookups: counted in weightBytes)
    // A quantized head's cost in accuracy: KL(run + f32 head || run + this head) of the
    // next-token distributions at each of the P prompt positions (teacher-forced on the
    // bench's prompt ids; the same hidden states through both heads, the quantized one in its
    // one-token decode path), mean and max. 0 and headKlPositions 0 for a float32 head.
    double headKlMean = 0.0, headKlMax = 0.0;
    int headKlPositions = 0;
    // Wall seconds per decode step by forward stage (model/stage_profile.h), on the calling
    // thread; filled only when QL_DECODE_PROFILE is set. Pairs of stage name and seconds.
    std::vector<std::pair<std::string, double>> decodeStageSeconds;
    double bandwidthLimitTokensPerSecond = 0.0;  // bandwidth / weightBytesPerToken
    double fractionOfLimit = 0.0;                // decode / limit
    // The limit beside the steps: before the first timed pass and after each, a read of the
    // bytes its G steps read (G x weightBytesPerToken, base/read_bandwidth.h PacedReader, on
    // the compute threads); per pass, the mean of the reads before and after it over its
    // decode seconds; the median of the passes. What the decode reached of the bandwidth the
    // machine gave within the same second or two, which the probes before and after a whole
    // row cannot tell on a machine whose bandwidth moves by 2x within minutes. (Reads
    // interleaved step by step slowed every step after one by 10-30 %: BENCHMARKS.md.)
    double fractionOfLimitBeside = 0.0;
    double readBesideBytesPerSecond = 0.0;  // the reads' rate (median)
    double decodeCpuSeconds = 0.0;  // process CPU (all threads) of the G decode steps (mean)
    // The process's peak while this model ran, less the buffer of the reads beside it
    // (cumulative if the kernel does not allow a reset; then peakIsCumulative).
    uint64_t peakRssBytes = 0;
    bool peakIsCumulative = false;
    double cpuSeconds = 0.0;  // process CPU time of this row (not of the reads beside it)
};

struct InferBenchResult {
    // base/read_bandwidth.h with the compute threads, over a buffer of at least 1 GiB and
    // twice the last-level cache: probed before the first model (best of 5 sums) and after
    // each (best of 2), since a shared machine's bandwidth moves by 2x within minutes. The
    // best of all probes is the limit every row is measured against; the lowest shows the
    // spread.
    double readBandwidthBytesPerSecond = 0.0;
    double readBandwidthLowestBytesPerSecond = 0.0;
    int readProbes = 0;
    uint64_t readProbeBytes = 0;       // the probe's buffer
    uint64_t lastLevelCacheBytes = 0;  // as the system reports it (0: unknown)
    int threads = 0;
    std::vector<InferBenchRow> rows;
};

// Throws ql::Error (bad settings, files) or ql::Cancelled.
InferBenchResult benchInference(const InferBenchRequest& request,
                                const ProgressCallback& progress = {});

}  // namespace ql
