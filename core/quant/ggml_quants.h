// llama.cpp's quantization formats, bit for bit: the legacy block formats Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1 (blocks of 32 values) and the k-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (super-blocks
// of 256 values with quantized sub-block scales), plus F16/F32. Quantization follows ggml's
// scalar reference path without an importance matrix (what llama-quantize writes without
// --imatrix), so the bytes equal llama-quantize's; written from the published block layouts
// (ggml-common.h) and algorithms (ggml-quants.c). fp16 conversion is ggml's (round to nearest
// even). Torch-free.
#pragma once

#include "base/ggml_type.h"

#include <cstdint>
#include <vector>

namespace ql {

// The types quantize/dequantize below accept: F32, F16, the five legacy and five k-quant types.
bool ggmlQuantizable(GgmlType t);
// The ten block types as their recipe names, "q8_0" .. "q6_k" (lower case).
const std::vector<GgmlType>& ggmlBlockTypes();

// Bytes of a rows x cols weight in type t; throws ql::Error when cols is not a multiple of t's
// block or t is not quantizable.
uint64_t ggmlTensorBytes(GgmlType t, int64_t rows, int64_t cols);

// Quantizes a row-major rows x cols float32 matrix row by row (each row of `cols` values, ggml's
// ne0) into t's blocks, concatenated: exactly the tensor data llama-quantize writes. Throws
// ql::Error when cols is not a multiple of t's block size.
std::vector<uint8_t> ggmlQuantize(GgmlType t, const float* x, int64_t rows, int64_t cols);

// The float32 values of n quantized values (n a multiple of t's block), as ggml dequantizes.
std::vector<float> ggmlDequantize(GgmlType t, const uint8_t* data, int64_t n);

// ggml's fp16 conversions (IEEE binary16, round to nearest even; NaN -> 0x7E00 with its sign).
uint16_t ggmlFp32ToFp16(float f);
float ggmlFp16ToFp32(uint16_t h);

}  // namespace ql
