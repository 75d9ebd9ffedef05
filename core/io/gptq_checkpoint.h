// The GPTQ checkpoint layout of one quantized linear, as AutoGPTQ / GPTQModel / optimum
// (transformers) and vLLM store and load it, for a weight W [out, in]:
//   qweight  int32 [in * bits / 32, out]: the unsigned codes u of W^T packed along the input
//            dimension, 32 / bits per word, the lowest input index in the lowest bits;
//   qzeros   int32 [groups, out * bits / 32]: the zero points packed along the output
//            dimension the same way; checkpoint_format "gptq" stores zero - 1 (the loader
//            adds 1 back), "gptq_v2" (GPTQModel) stores the zero itself;
//   scales   fp16  [groups, out];
//   g_idx    int32 [in]: the group of every input channel (i / group_size without act-order).
// The dequantized weight is W[j][i] = (u[j][i] - zero[g][j]) * scale[g][j], g = g_idx[i].
// Symmetric grids are stored as unsigned codes around zero = 2^(bits-1), as GPTQ does.
// Only bit widths that divide 32 (2, 4, 8) pack this way; 3-bit is not supported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

// The zero-point convention of checkpoint_format: "gptq" (v1) stores zero - 1.
enum class GptqZeroFormat { V1, V2 };
std::string gptqFormatName(GptqZeroFormat f);  // "gptq" / "gptq_v2"

// One linear's quantization on the unsigned grid 0..2^bits-1, in QuantLens's row-major
// layout: codes [out, in], scales and zeros [out, groups] (group k of row j at j*groups + k).
struct GptqGrid {
    int bits = 4;
    int64_t outFeatures = 0, inFeatures = 0;
    int64_t groupSize = 0;       // input channels per group; == inFeatures for channel-wise
    std::vector<uint8_t> codes;  // u in 0..2^bits-1
    std::vector<uint8_t> zeros;  // 0..2^bits-1 (symmetric: 2^(bits-1))
    std::vector<float> scales;   // float32, rounded to fp16 when packed

    int64_t groups() const { return groupSize > 0 ? inFeatures / groupSize : 0; }
};

// The four tensors of one linear in the checkpoint (row-major, shapes above).
struct GptqTensors {
    int bits = 4;
    int64_t outFeatures = 0, inFeatures = 0, groups = 0;
    std::vector<int32_t> qweight, qzeros, gIdx;
    std::vector<uint16_t> scales;  // fp16 bits

    std::vector<int64_t> qweightShape() const;
    std::vector<int64_t> qzerosShape() const;
    std::vector<int64_t> scalesShape() const;
};

// Packs a grid (ql::Error naming `layer` and the field when it cannot be stored: bits not
// 2/4/8, in or out not a multiple of 32/bits, group size not dividing in, a scale that is
// not a positive finite fp16, a code or zero off the grid, or zero 0 with format "gptq",
// which stores zero - 1 and cannot hold -1).
GptqTensors packGptq(const GptqGrid& grid, GptqZeroFormat format, const std::string& layer);

// The dequantized weight [out, in] row-major in float32: (u - zero) * float(scale fp16).
// Checks sizes and g_idx values (ql::Error naming `layer` and the field).
std::vector<float> dequantizeGptq(const GptqTensors& t, GptqZeroFormat format,
                                  const std::string& layer);

}  // namespace ql
