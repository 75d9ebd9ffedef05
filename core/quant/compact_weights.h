// The quantized weight of one layer in the form it is stored: integer codes packed at the
// weight's bit width plus the grid (scales/zeros) and, for AWQ, the per-input-channel
// scales. Decoding gives back exactly (bit for bit) the float32 weight the quantizer put
// in the model. Used for GPTQ/AWQ after-weights that cannot be recomputed from the
// checkpoint by the grid alone: kept in memory by a run and written to its folder
// (weights/<layer>.qlw) instead of float32 copies (8x smaller at INT4).
#pragma once

#include "quant/quantize.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

struct CompactWeights {
    QuantGrid grid;              // bits, symmetry, rows, cols, group size, scales, zeros
    std::vector<uint8_t> codes;  // packed as ql::pack: bits <= 4 two per byte, else one
    // AWQ: the model's weight is Q(W diag(s)) diag(1/s) (or Q(W diag(s)) with s folded into
    // the norm); columnDivisor[j] = s[j] divides column j on decode. Empty: no division.
    std::vector<float> columnDivisor;

    int64_t rows() const { return grid.rows; }
    int64_t cols() const { return grid.cols; }
    uint64_t bytes() const;  // codes + scales + zeros + divisors as held in memory

    // Exactly the float32 values the quantizer produced: (q - zero) * scale (float32, the
    // same expression as quantizeWithGrid), then / columnDivisor[j] when present.
    std::vector<float> decode() const;
    void decodeInto(float* out) const;  // rows * cols floats
};

// From codes (row-major int32, on `grid`) and the optional AWQ divisors. Throws ql::Error
// when a code is off the grid.
CompactWeights compactFromCodes(const QuantGrid& grid, const std::vector<int32_t>& codes,
                                const std::vector<float>& columnDivisor = {});

// Quantizes w ([rows, cols] float32) on `grid` straight into the packed form: the codes of
// compactFromCodes(grid, codes of quantizeWithGrid), byte for byte, without a weight-sized
// int32 or float buffer (a few rows at a time).
CompactWeights compactFromWeights(const float* w, const QuantGrid& grid);

// File form (little-endian, bounded by rows*cols and the header; a hostile or truncated
// file gives one ql::Error naming the file and field). Crash-safe write as the run folder:
// written and fsync'ed in place (writeFileDurable), inside saveRun's temporary folder that
// is renamed into place whole. The file layout is described in compact_weights.cpp.
void writeCompactWeights(const std::string& path, const CompactWeights& w);
CompactWeights readCompactWeights(const std::string& path);
// The grid alone (scales and zero points; the codes are neither read nor checked): what a
// loaded run draws its quantization levels from. Same errors as readCompactWeights.
QuantGrid readCompactGrid(const std::string& path);

}  // namespace ql
