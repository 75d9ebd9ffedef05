// bitsandbytes 4-bit blockwise quantization (QLoRA's NF4 and bnb's FP4), torch-free.
//
// The weight is flattened row-major and cut into blocks of `blockSize` elements (the last one
// may be shorter; blocks span rows as in bnb). Per block absmax = max |w| (float32); each
// element is scaled x = w * (1 / absmax) (float32, the reciprocal first, as bnb's kernels) and
// mapped to the nearest of 16 code values. Ties (x exactly on a pivot between two values) go
// as bnb's CUDA decision trees send them: NF4 to the lower value, FP4 to the smaller
// magnitude; the pivots are bnb's own float constants. Codes are packed two per byte, the
// first element in the high nibble. Dequantized: value[code] * absmax in float32, then
// rounded to the compute dtype (fp32 / fp16 / bf16, round to nearest even).
//
// Double quantization (bnb compress_statistics): offset = mean of the absmax values (float32,
// summed in double), absmax - offset quantized blockwise to 8 bits in blocks of 256 with
// bnb's signed dynamic map (create_dynamic_map: 256 sorted values), nearest value, ties to
// the lower index (bnb's argmin). Dequantized absmax = map[q] * absmax2 + offset (float32).
//
// Our decisions where bnb is undefined: a block whose absmax is 0 codes every element as the
// code of 0 (bnb divides by 0); non-finite elements are ignored for absmax, coded as 0 (NaN)
// or +-1 (+-Inf) and passed through unchanged into the dequantized weight (as RTN here).
#pragma once

#include "quant/recipe.h"

#include <array>
#include <cstdint>
#include <vector>

namespace ql {

enum class Codebook4 { Nf4, Fp4 };

// The 16 values of a code, indexed by the 4-bit code (FP4 in bnb's bit order: sign bit 3).
const std::array<float, 16>& codebookValues(Codebook4 c);
// The code of a scaled value x (|x| <= 1 expected; clamps beyond).
uint8_t nearestCode4(Codebook4 c, float x);
// bnb's signed 8-bit dynamic map (256 values, ascending) used for double quantization.
const std::array<float, 256>& dynamicMap8();
uint8_t nearestDynamic8(float x);

constexpr int kDoubleQuantBlock = 256;  // absmax values per second-level block (bnb)

struct Blockwise4 {
    Codebook4 codebook = Codebook4::Nf4;
    int64_t blockSize = 64;
    bool doubleQuant = false;
    ComputeDtype dtype = ComputeDtype::Fp32;
    uint64_t count = 0;                // elements
    std::vector<uint8_t> packed;       // ceil(count / 2) bytes, high nibble first
    std::vector<float> absmax;         // per block, float32 (empty with doubleQuant)
    std::vector<uint8_t> absmaxCodes;  // doubleQuant: per block, 8-bit dynamic codes
    std::vector<float> absmax2;        // doubleQuant: per 256 blocks, float32
    float offset = 0.0f;               // doubleQuant: mean of the absmax values

    uint64_t blocks() const { return (count + uint64_t(blockSize) - 1) / uint64_t(blockSize); }
    uint8_t code(uint64_t i) const { return i % 2 ? packed[i / 2] & 0xF : packed[i / 2] >> 4; }
    std::vector<float> scales() const;  // the absmax each block dequantizes with
    uint64_t bytes() const;             // the packed layout as held
};

// Bytes of the packed layout for n elements: ceil(n/2) code bytes + 4 bytes per block, or with
// double quantization 1 byte per block + 4 per 256 blocks + 4 (offset). The 16-entry and
// 256-entry code tables are shared constants, not counted per layer.
uint64_t blockwise4Bytes(uint64_t n, int64_t blockSize, bool doubleQuant);

Blockwise4 quantizeBlockwise4(const float* w, uint64_t n, Codebook4 c, int64_t blockSize,
                              bool doubleQuant, ComputeDtype dtype);
// The dequantized weight (compute dtype values as float32); non-finite elements of
// `original` (if given) pass through.
std::vector<float> dequantizeBlockwise4(const Blockwise4& q, const float* original = nullptr);

// Rounds a float32 value to the compute dtype and back.
float roundToDtype(float v, ComputeDtype d);

}  // namespace ql
