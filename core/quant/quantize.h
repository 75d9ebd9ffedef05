// Round-to-nearest quantization on plain row-major float matrices, real packed
// buffers (INT8 as int8, INT4 two per byte, scales fp16, zeros at the weight's bit
// width), and the error metrics the reference values use.
#pragma once

#include "quant/recipe.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

// The quantization grid of a matrix: one (scale, zero) per row x group.
struct QuantGrid {
    int bits = 8;
    bool symmetric = true;
    int64_t rows = 0, cols = 0;
    int64_t groupSize = 0;      // columns per group; == cols for tensor/channel
    bool perTensor = false;     // one scale for the whole matrix
    std::vector<float> scales;  // [rows * groupsPerRow] (per-tensor: 1)
    std::vector<float> zeros;   // asym zero points as float integers; empty when sym

    int64_t groupsPerRow() const { return groupSize > 0 ? (cols + groupSize - 1) / groupSize : 1; }
    int qmin() const;  // sym: -2^(b-1); asym: 0
    int qmax() const;  // sym: 2^(b-1)-1; asym: 2^b-1
    float scaleAt(int64_t row, int64_t col) const;
    float zeroAt(int64_t row, int64_t col) const;
};

// A quantized matrix as it would be stored.
struct PackedTensor {
    QuantGrid grid;
    std::vector<uint8_t> data;         // int8 (bits > 4) or two nibbles per byte (bits <= 4)
    std::vector<uint16_t> scalesF16;   // fp16 scales
    std::vector<uint8_t> zerosPacked;  // zeros at the weight's bit width (asym only)
    uint64_t bytes() const { return data.size() + scalesF16.size() * 2 + zerosPacked.size(); }
};

struct ErrorMetrics {
    double sqnrDb = 0.0;  // 10 log10(sum w^2 / sum (w - w_hat)^2); +inf when exact
    double mse = 0.0;
    double maxAbsError = 0.0;
    double cosine = 0.0;
    uint64_t nonFinite = 0;  // NaN/Inf elements of w (excluded from the sums above)
};

// Grid for w [rows, cols] by the recipe's granularity/symmetry (min/max rule of
// ../shared/README.md). A group size that does not divide cols is rejected here:
// callers fall back to per-channel and record it.
QuantGrid computeGrid(const float* w, int64_t rows, int64_t cols, const Recipe& recipe);

// Arithmetic is float32 as in ../shared/README.md (bit-exact with a per-element float32
// implementation), rounding half to even; a zero-range group gets scale 1 (w_hat = 0).
// Non-finite inputs: ignored for the ranges; NaN/Inf pass through unchanged into w_hat; the
// code of a NaN is the zero point, of +-Inf the grid's end; ErrorMetrics cover finite elements.

// Quantize with a given grid: q codes (int32 for simplicity) and dequantized values.
// Either output may be null.
void quantizeWithGrid(const float* w, const QuantGrid& grid, int32_t* q, float* dequant);
// The codes of rows [row0, row0 + count) only (w: the whole [rows, cols] matrix; q: count *
// cols values), equal to quantizeWithGrid's for those rows; ql::Error outside the grid.
void quantizeRowsWithGrid(const float* w, const QuantGrid& grid, int64_t row0, int64_t count,
                          int32_t* q);

// Fused RTN: grid + quantize + dequantize + error metrics in one pass per row.
struct RtnResult {
    QuantGrid grid;
    std::vector<float> dequant;  // row-major [rows, cols]
    ErrorMetrics metrics;
};
RtnResult quantizeRtn(const float* w, int64_t rows, int64_t cols, const Recipe& recipe);

// Packing and unpacking (round-trips exactly). bits > 4: one byte per code (two's complement:
// int8 for sym, uint8 for asym); bits <= 4: two codes per byte, low nibble first, stored as
// q - qmin. Scales fp16 (round to nearest even). pack() throws ql::Error for codes off the grid.
// dequantize() uses what is stored (the fp16 scales), so it can differ from the float32 w_hat
// of quantizeRtn by the fp16 rounding of the scales (<= 2^-11 relative).
PackedTensor pack(const int32_t* q, const QuantGrid& grid);
// The code bytes of pack() for n codes of the grid's bit width (throws for a code off the
// grid); for bits <= 4 a run of an even count packs to whole bytes, so runs concatenate.
std::vector<uint8_t> packGridCodes(const int32_t* q, size_t n, const QuantGrid& grid);
std::vector<int32_t> unpackCodes(const PackedTensor& p);
// pack(q, grid).bytes() without the codes: the packed layout depends only on the grid.
uint64_t packedBytes(const QuantGrid& grid);
std::vector<float> dequantize(const PackedTensor& p);

ErrorMetrics errorMetrics(const float* w, const float* w_hat, size_t n);
// Cast to fp16/bf16 and back.
std::vector<float> castRoundTrip(const float* w, size_t n, QuantMethod castMethod);
// One value to fp16 / bf16 and back (round to nearest even; NaN stays NaN).
float fp16RoundTrip(float v);
float bf16RoundTripValue(float v);

}  // namespace ql
