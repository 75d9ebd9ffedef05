// Predicted peak memory and time of a run before it starts (the CLI's --dry-run, the
// GUI's run panel, and the refusal of a run that cannot fit). Plain types; no torch.
#pragma once

#include "run/run.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ql {

struct RunEstimate {
    bool modelPath = false;  // a forward pass is needed (calibration or evaluation)
    uint64_t peakBytes = 0;  // predicted peak resident set size
    std::string peakPhase;   // where the peak is: "blocks", "output head", "gradients", ...
    std::vector<std::pair<std::string, uint64_t>> peakParts;  // what the peak holds
    double matmulFlops = 0.0;         // matrix-product FLOPs of the run (forward, backward, head)
    double gemmFlopsPerSecond = 0.0;  // measured float32 GEMM rate (0: not measured)
    double seconds = 0.0;             // matmulFlops / rate (+ GPTQ/AWQ solver not included)
    uint64_t availableBytes = 0;      // MemAvailable (UINT64_MAX: unknown)
    // When the peak exceeds what is available: the setting that would make it fit.
    std::string advice;
    bool fits() const { return availableBytes == UINT64_MAX || peakBytes <= availableBytes; }
};

// From config.json and the checkpoint header only (nothing is converted). Uses the asked
// window counts (a short text gives fewer). Throws ql::Error for an unreadable model.
// gemmFlopsPerSecond > 0: also predicts the time.
RunEstimate estimateRun(const RunConfig& config, double gemmFlopsPerSecond = 0.0);

// Float32 GEMM rate of this machine with the current compute threads (FLOP/s), measured
// on a [512 x 1536] x [1536 x 4096] product for about a quarter of a second.
double measureGemmRate();

// "peak 2.6 GiB (blocks: weights 0.4 + hidden states 0.2 + ...), about 9 min"
std::string describeEstimate(const RunEstimate& e);

// Throws ql::Error (one sentence: prediction, what is available, what to change) when the
// estimate does not fit. QL_SKIP_MEMORY_CHECK=1 skips it.
void checkEstimateFits(const RunEstimate& e, const std::string& modelDir);

}  // namespace ql
