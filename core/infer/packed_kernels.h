// Private to core/infer: the inner loops of PackedLinear, one set per instruction set.
//
// Code layout (what PackedLinear::fromCompact builds):
//  - INT8: one byte per weight, row-major; int8 two's complement when symmetric (zero 0),
//    uint8 when asymmetric.
//  - INT4: u = q - qmin (0..15), row-major in blocks of 32 weights: byte i of a block's 16
//    holds weight i in its low nibble and weight i + 16 in its high nibble, so a vector
//    load, a mask and a shift give 16 consecutive weights each (no interleaving shuffles).
// A weight is (u - zero) * scale with zero = the group's zero point in code units.
#pragma once

#include <cstdint>

namespace ql::infer::detail {

struct PackedView {
    const uint8_t* codes;
    const float* scales;   // [rows * groupsPerRow]
    const uint8_t* zeros;  // asym zero points (code units) or null
    float symZero;         // zero when `zeros` is null
    int64_t cols, group, groupsPerRow, rowBytes;
    int bits;
    bool signedCodes;  // INT8 symmetric
    float zeroAt(int64_t idx) const { return zeros ? float(zeros[idx]) : symZero; }
};

// Tokens handled per pass over the codes in the decode kernels.
constexpr int kTokenBlock = 4;

// y[t * ldy + r] = sum_j W[r, j] x[t * cols + j] for rows [r0, r1), t < tokens (<= 4).
// xsum[t * groupsPerRow + g] = sum of x over group g (for the zero points).
using GemvFn = void (*)(const PackedView& w, const float* x, const float* xsum, int tokens,
                        int64_t r0, int64_t r1, float* y, int64_t ldy);
// out[(r - r0) * cols + j] = W[r, j] (/ divisor[j] when divisor is not null), bit for bit as
// CompactWeights::decode.
using DequantFn = void (*)(const PackedView& w, int64_t r0, int64_t r1, const float* divisor,
                           float* out);

void gemvBaseline(const PackedView&, const float*, const float*, int, int64_t, int64_t, float*,
                  int64_t);
void dequantBaseline(const PackedView&, int64_t, int64_t, const float*, float*);
void gemvAvx2(const PackedView&, const float*, const float*, int, int64_t, int64_t, float*,
              int64_t);
void dequantAvx2(const PackedView&, int64_t, int64_t, const float*, float*);
void gemvAvx512(const PackedView&, const float*, const float*, int, int64_t, int64_t, float*,
                int64_t);
void dequantAvx512(const PackedView&, int64_t, int64_t, const float*, float*);

// The GEMV of activeIsa() (packed_linear.cpp).
GemvFn activeGemv();

}  // namespace ql::infer::detail
