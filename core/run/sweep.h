// Weights-only sweep: every selected layer of a checkpoint under several recipes at once,
// the per-layer numbers a weights-only `quantize` run of each recipe gives (no forward pass).
#pragma once

#include "base/progress.h"
#include "run/run.h"

#include <string>
#include <vector>

namespace ql {

struct SweepResult {
    std::string modelDir, architecture;
    std::vector<std::string> recipes;  // canonical text, in the order asked
    // layers[r][i]: recipe r, layer i (model order), as RunResult::layers of a weights-only
    // run of recipe r (same functions, so the same numbers bit for bit).
    std::vector<std::vector<LayerResult>> layers;
    double seconds = 0.0;
};

// Recipes that need no calibration or evaluation text: RTN (fused kernel), casts, NF4/FP4 and
// the llama.cpp formats; GPTQ, AWQ, LLM.int8() and activation sides are refused (ql::Error
// naming the recipe). Each layer is read from the checkpoint once per recipe (page cache).
// bins: histogram bins per layer (as RunConfig::histogramBins); 0: metrics only (grid, SQNR,
// MSE, max error, cosine, packed bytes), no histograms and no scales/zeros kept — about half
// the work for RTN, and a sweep's memory does not grow with the grids.
SweepResult sweepWeights(const std::string& modelDir, const std::vector<std::string>& recipes,
                         const LayerSelection& selection, int bins,
                         const ProgressReporter& progress = ProgressReporter(ProgressCallback()));

}  // namespace ql
