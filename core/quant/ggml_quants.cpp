// The public entry points of quant/ggml_quants.h: type checks and the per-type dispatch.
#include "quant/ggml_quants.h"

#include "base/error.h"
#include "base/parallel.h"
#include "quant/ggml_blocks.h"

#include <cstring>

namespace ql {

namespace {

struct Codec {
    GgmlType type;
    void (*quantize)(const float*, uint8_t*, int64_t);
    void (*dequantize)(const uint8_t*, float*, int64_t);
};

void quantizeF32(const float* x, uint8_t* y, int64_t n) {
    std::memcpy(y, x, size_t(n) * 4);
}
void dequantizeF32(const uint8_t* x, float* y, int64_t n) {
    std::memcpy(y, x, size_t(n) * 4);
}
void quantizeF16(const float* x, uint8_t* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) ggml::putHalf(y + 2 * i, x[i]);
}
void dequantizeF16(const uint8_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = ggml::getHalf(x + 2 * i);
}

const Codec kCodecs[] = {
    {GgmlType::F32, quantizeF32, dequantizeF32},
    {GgmlType::F16, quantizeF16, dequantizeF16},
    {GgmlType::Q8_0, ggml::quantizeQ8_0, ggml::dequantizeQ8_0},
    {GgmlType::Q4_0, ggml::quantizeQ4_0, ggml::dequantizeQ4_0},
    {GgmlType::Q4_1, ggml::quantizeQ4_1, ggml::dequantizeQ4_1},
    {GgmlType::Q5_0, ggml::quantizeQ5_0, ggml::dequantizeQ5_0},
    {GgmlType::Q5_1, ggml::quantizeQ5_1, ggml::dequantizeQ5_1},
    {GgmlType::Q2_K, ggml::quantizeQ2_K, ggml::dequantizeQ2_K},
    {GgmlType::Q3_K, ggml::quantizeQ3_K, ggml::dequantizeQ3_K},
    {GgmlType::Q4_K, ggml::quantizeQ4_K, ggml::dequantizeQ4_K},
    {GgmlType::Q5_K, ggml::quantizeQ5_K, ggml::dequantizeQ5_K},
    {GgmlType::Q6_K, ggml::quantizeQ6_K, ggml::dequantizeQ6_K},
};

const Codec& codecOf(GgmlType t) {
    for (const Codec& c : kCodecs)
        if (c.type == t) return c;
    throw Error("ggml type " + ggmlTypeName(t) + " cannot be quantized or dequantized here");
}

uint32_t blockOf(GgmlType t) {
    return ggmlTypeTraits(uint32_t(t))->blockValues;
}

void checkRow(GgmlType t, int64_t rows, int64_t cols) {
    codecOf(t);
    if (rows < 0 || cols < 0 || cols % blockOf(t) != 0)
        throw Error("a " + std::to_string(rows) + " x " + std::to_string(cols) +
                    " weight cannot be stored as " + ggmlTypeName(t) + ": rows of " +
                    std::to_string(cols) + " values are not a multiple of its block of " +
                    std::to_string(blockOf(t)));
}

}  // namespace

bool ggmlQuantizable(GgmlType t) {
    for (const Codec& c : kCodecs)
        if (c.type == t) return true;
    return false;
}

const std::vector<GgmlType>& ggmlBlockTypes() {
    static const std::vector<GgmlType> types = {
        GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
        GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
    return types;
}

uint64_t ggmlTensorBytes(GgmlType t, int64_t rows, int64_t cols) {
    checkRow(t, rows, cols);
    return *ggmlBytes(t, uint64_t(rows) * uint64_t(cols));
}

std::vector<uint8_t> ggmlQuantize(GgmlType t, const float* x, int64_t rows, int64_t cols) {
    std::vector<uint8_t> out(size_t(ggmlTensorBytes(t, rows, cols)));
    // Blocks never cross rows (cols is a multiple of the block) and each depends on its own
    // values only, so any split into whole blocks equals ggml's row-by-row quantization.
    const Codec& c = codecOf(t);
    const auto traits = *ggmlTypeTraits(uint32_t(t));
    parallelChunks(size_t(rows * cols) / traits.blockValues, 0, [&](int, size_t b0, size_t b1) {
        c.quantize(x + b0 * traits.blockValues, out.data() + b0 * traits.blockBytes,
                   int64_t((b1 - b0) * traits.blockValues));
    });
    return out;
}

std::vector<float> ggmlDequantize(GgmlType t, const uint8_t* data, int64_t n) {
    checkRow(t, 1, n);
    std::vector<float> out(static_cast<size_t>(n));
    const Codec& c = codecOf(t);
    const auto traits = *ggmlTypeTraits(uint32_t(t));
    parallelChunks(size_t(n) / traits.blockValues, 0, [&](int, size_t b0, size_t b1) {
        c.dequantize(data + b0 * traits.blockBytes, out.data() + b0 * traits.blockValues,
                     int64_t((b1 - b0) * traits.blockValues));
    });
    return out;
}

uint16_t ggmlFp32ToFp16(float f) {
    return ggml::fp16(f);
}

float ggmlFp16ToFp32(uint16_t h) {
    return ggml::fp32(h);
}

}  // namespace ql
