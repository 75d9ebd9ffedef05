// core-private helpers shared by RTN, GPTQ and AWQ: recipe fallback, grid-based
// quantization of ATen matrices, calibration statistics of one layer input and the
// output-error energy ||dW X||^2 computed from them.
#pragma once

#include "base/progress.h"
#include "quant/quantize.h"
#include "quant/recipe.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

// A recipe that can be applied to a matrix with `cols` columns. A group size that does
// not divide the row falls back to per-channel at the same bit width (reason recorded).
struct ResolvedRecipe {
    Recipe recipe;
    bool fallback = false;
    std::string reason;
};
ResolvedRecipe resolveRecipe(const Recipe& recipe, int64_t cols);

// The recipe with per-channel granularity (used for the grid of one group of columns).
Recipe channelRecipe(const Recipe& recipe);

// A quantized matrix: grid, codes [rows, cols] and dequantized values.
struct GridQuant {
    QuantGrid grid;
    std::vector<int32_t> codes;  // row-major
    at::Tensor dequant;          // [rows, cols] float32
};

// A codes buffer of n elements (contents unspecified), the one last given back with
// recycleCodes when its capacity suffices: a fresh vector of a layer's codes (55 MB for a
// 1.5B down_proj) is mapped and faulted in page by page, layer after layer; it was the
// largest source of page faults of a streamed run's blocks phase. Thread-safe.
std::vector<int32_t> codesBuffer(size_t n);
// Keeps `codes`' memory for the next codesBuffer (the larger of it and the one kept).
void recycleCodes(std::vector<int32_t>&& codes);
// Frees the kept buffer (at the end of a phase that quantizes).
void dropRecycledCodes();

// Round-to-nearest on the recipe's grid (computeGrid + quantizeWithGrid of the quant
// library, so GPTQ/AWQ share RTN's formulas and rounding exactly).
GridQuant rtnQuantize(const at::Tensor& weight, const Recipe& recipe);

// Statistics of the calibration inputs X [n, in] one group of linears sees.
struct InputStats {
    at::Tensor gram;    // sum over rows of x^T x, [in, in] float32
    at::Tensor absSum;  // sum over rows of |x|, [in] float32
    at::Tensor absMax;  // max over rows of |x|, [in] float32 (SmoothQuant)
    at::Tensor sample;  // a strided subsample of the rows, [m, in] float32
    int64_t rows = 0;   // rows accumulated into gram/absSum

    // Adds the rows of input [.., in]; keeps rows whose global index % stride == 0.
    // `progress` (may be null) is asked for cancellation between the Gram matrix's column
    // panels: for an 8960-input layer the whole product is seconds of CPU.
    void add(const at::Tensor& input, int64_t sampleStride,
             const ProgressReporter* progress = nullptr);
    bool empty() const { return rows == 0; }
};

// ||delta X^T||^2 over the calibration rows (delta [out, in]). Uses the Gram matrix
// (all rows) unless the row sample is smaller than `in`, then the sample (cheaper);
// the choice depends only on shapes, so ratios of energies of one layer are consistent.
double outputErrorEnergy(const at::Tensor& delta, const InputStats& stats);

// gram += xᵀx for x [n, in], in column panels of kGramPanel with a cancellation check
// before each: only the upper triangle is multiplied (half the flops), the lower is its
// mirror, so gram stays exactly symmetric.
constexpr int64_t kGramPanel = 512;
void addGram(at::Tensor& gram, const at::Tensor& x, const ProgressReporter* progress);

// 10 log10(energy(W) / energy(W - W_hat)); +inf when exact.
double outputSqnrDb(const at::Tensor& weight, const at::Tensor& dequant, const InputStats& stats);

// Row-major copy of a [rows, cols] float tensor.
std::vector<float> toVector(const at::Tensor& t);

}  // namespace ql
