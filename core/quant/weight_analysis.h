// Weights-only analysis of a round-to-nearest recipe at memory speed: the grid, the error
// metrics and the three histograms (weight before, after, error) of one weight matrix,
// streamed tile by tile without materializing the dequantized weight or the error.
#pragma once

#include "quant/histogram.h"
#include "quant/quantize.h"

#include <cstdint>
#include <functional>

namespace ql {

// Writes rows [row0, row0 + count) of a [rows, cols] weight as float32 into dst (count * cols
// values, row-major). Called from several threads at once, for disjoint rows.
using RowSource = std::function<void(int64_t row0, int64_t count, float* dst)>;

struct WeightAnalysis {
    QuantGrid grid;
    ErrorMetrics metrics;
    Range weightRange;  // finite min/max of the weight (valid = false: no finite value)
    // before/after binned on the union of their finite ranges, error on its own (as
    // analyzeLayer: binnableRange of the finite ranges).
    Histogram before, after, error;
};

// The numbers analyzeLayer gives for an RTN integer recipe (quantizeWeightOnly + analyzeLayer):
// the same grid, the same w_hat and error bit for bit, hence the same ranges and bin counts;
// metric sums and histogram moments are summed in another order (double sums: relative
// difference ~1e-12; moments as computeHistogram's float blocks: ~1e-6). Two passes over the
// weight: 1. grid, metrics, finite ranges; 2. bins and moments of all three streams; then
// the few blocks whose extremes may hold outliers (|x - mean| > 6 std) are recomputed.
// The recipe must be an RTN grid whose group divides cols (callers apply the per-channel
// fallback), else ql::Error. threads <= 0: computeThreads(). bins == 0: pass 1 only — the
// grid, metrics and weightRange, no histograms (what a sweep shows), at about half the cost.
WeightAnalysis analyzeRtnWeights(const RowSource& source, int64_t rows, int64_t cols,
                                 const Recipe& recipe, int bins, int threads = 0);
WeightAnalysis analyzeRtnWeights(const float* w, int64_t rows, int64_t cols, const Recipe& recipe,
                                 int bins, int threads = 0);

}  // namespace ql
