// Private to core/infer: the int8-activation decode path of PackedLinear (W8A8 / W4A8).
//
// Activations: each token's x is quantized once per call, symmetric int8 in blocks of
// kA8Block = 32 consecutive values (32 divides every group size the kernels take, 32/64/128;
// an INT8 row is one group, its last block may be partial): d_b = amax_b / 127,
// q_j = round-half-even(x_j * (127 / amax_b)) in [-127, 127], and the block's sum of q.
// A block of zeros, or of values too small to scale (amax <= 127 / FLT_MAX, where 127 / amax
// overflows), has d_b = 0 and q = 0.
//
// Weights: a second, row-interleaved copy of the codes, built by
// PackedLinear::setActivationMode(Int8), in tiles of 16 rows so that each 32-bit lane of a
// vector is one row and the activation side is a broadcast (no horizontal sums):
//  - INT8: per chunk of 4 columns, 16 lanes x 4 bytes = 64 bytes; the byte is the code as
//    u8 (asymmetric) or code + 128 (symmetric int8, so the u8 side of u8 x s8 holds it; zero
//    point 128);
//  - INT4: per chunk of 8 columns, 16 lanes x 4 bytes; byte i of a lane holds column i in its
//    low nibble and column i + 4 in its high nibble (u = q - qmin, 0..15).
// Columns are padded to a multiple of 32 and rows to a multiple of 16 with code 0 (padded
// activations are 0, padded rows are not stored).
//
// Per row and block b the integer dot I_b = sum_j u_j q_j - z_g * sum_j q_j is exact in
// int32 (|I_b| <= 255 * 127 * 32 * 2 < 2^31). The float part is, per row, in this order on
// every path (each step one rounding; no FMA: the file is built with -ffp-contract=off):
//     y = 0; for each group g: { acc = 0; for b in g: acc = acc + d_b * float(I_b);
//                                y = y + s_g * acc }
// so the scalar, AVX-VNNI (256) and AVX-512 VNNI paths give the same bits.
#pragma once

#include <cstdint>

namespace ql::infer::detail {

constexpr int kA8Block = 32;  // activation values per float scale
constexpr int kA8Tile = 16;   // rows per interleaved tile (one per 32-bit lane of a zmm)

struct A8View {
    const uint8_t* codes;    // [tiles][tileBytes]
    const float* scales;     // [tiles][groupsPerRow][16]
    const uint8_t* zeros;    // [tiles][groupsPerRow][16] asymmetric, else null
    int32_t symZero;         // zero point (code units) when `zeros` is null
    int64_t blocks;          // activation blocks per row (padded cols / 32)
    int64_t blocksPerGroup;  // INT4: group / 32; INT8: blocks
    int64_t groupsPerRow;
    int64_t tileBytes;
    int bits;
};

// One token's quantized activations (q padded with zeros to blocks * 32).
struct A8Act {
    const int8_t* q;
    const float* d;       // [blocks]
    const int32_t* bsum;  // [blocks]
};

// Quantizes x[0, cols) as described above into q[blocks * 32], d[blocks], bsum[blocks]:
// whole blocks 32 values at a time where activeIsa() is AVX-512, the same bits as the one value
// at a time of quantizeActivationsA8Scalar (the reference the tests hold it to).
void quantizeActivationsA8(const float* x, int64_t cols, int8_t* q, float* d, int32_t* bsum);
void quantizeActivationsA8Scalar(const float* x, int64_t cols, int8_t* q, float* d, int32_t* bsum);

// The codes of one whole tile's 16 rows in the row form's layout, row l at out + l * rowBytes
// (INT8: a byte per column, `flip` = 0x80 undoing the symmetric + 128; INT4: per 32 columns,
// column i in byte i's low nibble and 16 + i in its high one) — what the prefill path
// dequantizes from. Returns false, writing nothing, where activeIsa() is not AVX-512 or an INT8
// row's width is not a multiple of 16; the caller converts row by row then.
bool tileCodesToRows(const uint8_t* tile, int bits, int64_t cols, uint8_t flip, uint8_t* out,
                     int64_t rowBytes);

// y[r] for the rows of tiles [t0, t1), r < rows.
using GemvA8Fn = void (*)(const A8View& w, const A8Act& a, int64_t t0, int64_t t1, float* y,
                          int64_t rows);
void gemvA8Scalar(const A8View&, const A8Act&, int64_t, int64_t, float*, int64_t);
void gemvA8AvxVnni(const A8View&, const A8Act&, int64_t, int64_t, float*, int64_t);
void gemvA8Avx512Vnni(const A8View&, const A8Act&, int64_t, int64_t, float*, int64_t);

// The GEMV of activeA8Isa() (packed_linear_a8.cpp).
GemvA8Fn activeGemvA8();

}  // namespace ql::infer::detail
