// GPTQ packing and dequantization (layout in gptq_checkpoint.h). Words are built as uint32
// and stored bit for bit as int32, as the Python packers' numpy uint32 -> int32 view does.
#include "io/gptq_checkpoint.h"

#include "base/error.h"
#include "io/dtype.h"

#include <cmath>

namespace ql {

namespace {

[[noreturn]] void fail(const std::string& layer, const std::string& field, const std::string& why) {
    throw Error("GPTQ layer '" + layer + "': field '" + field + "' " + why);
}

int perWord(int bits) {
    return 32 / bits;
}

void checkShape(int bits, int64_t out, int64_t in, const std::string& layer) {
    if (bits != 2 && bits != 4 && bits != 8)
        fail(layer, "bits", "is " + std::to_string(bits) + " (GPTQ packing supports 2, 4 or 8)");
    const int n = perWord(bits);
    if (in <= 0 || in % n != 0)
        fail(layer, "in_features",
             "is " + std::to_string(in) + ", not a positive multiple of " + std::to_string(n) +
                 " (" + std::to_string(n) + " " + std::to_string(bits) +
                 "-bit codes per int32 word)");
    if (out <= 0 || out % n != 0)
        fail(layer, "out_features",
             "is " + std::to_string(out) + ", not a positive multiple of " + std::to_string(n) +
                 " (qzeros packs " + std::to_string(n) + " zero points per int32 word)");
}

int zeroOffset(GptqZeroFormat f) {
    return f == GptqZeroFormat::V1 ? 1 : 0;
}

int32_t asInt32(uint32_t word) {
    return static_cast<int32_t>(word);  // two's complement bit pattern, as numpy's view
}

void checkGrid(const GptqGrid& g, GptqZeroFormat format, const std::string& layer) {
    checkShape(g.bits, g.outFeatures, g.inFeatures, layer);
    if (g.groupSize <= 0 || g.inFeatures % g.groupSize != 0)
        fail(layer, "group_size",
             "is " + std::to_string(g.groupSize) + ", which does not divide in_features " +
                 std::to_string(g.inFeatures));
    const size_t cells = size_t(g.outFeatures) * size_t(g.groups());
    if (g.codes.size() != size_t(g.outFeatures * g.inFeatures))
        fail(layer, "codes", "has a wrong size");
    if (g.scales.size() != cells) fail(layer, "scales", "has a wrong size");
    if (g.zeros.size() != cells) fail(layer, "zeros", "has a wrong size");
    const unsigned maxq = (1u << g.bits) - 1;
    for (uint8_t u : g.codes)
        if (u > maxq)
            fail(layer, "codes", "holds a code off the " + std::to_string(g.bits) + "-bit grid");
    for (size_t i = 0; i < cells; ++i) {
        if (g.zeros[i] > maxq) fail(layer, "zeros", "holds a zero point off the grid");
        if (g.zeros[i] < zeroOffset(format))
            fail(layer, "zeros",
                 "holds zero point 0 (row " + std::to_string(i / size_t(g.groups())) + ", group " +
                     std::to_string(i % size_t(g.groups())) +
                     "), which checkpoint_format \"gptq\" cannot store (it stores zero - 1); "
                     "use checkpoint format gptq_v2 or a symmetric recipe");
        const float h = halfToFloat(floatToHalf(g.scales[i]));
        if (!(h > 0.0f) || !std::isfinite(h))
            fail(layer, "scales",
                 "holds " + std::to_string(g.scales[i]) + ", which is not a positive finite fp16");
    }
}

}  // namespace

std::string gptqFormatName(GptqZeroFormat f) {
    return f == GptqZeroFormat::V1 ? "gptq" : "gptq_v2";
}

std::vector<int64_t> GptqTensors::qweightShape() const {
    return {inFeatures / perWord(bits), outFeatures};
}
std::vector<int64_t> GptqTensors::qzerosShape() const {
    return {groups, outFeatures / perWord(bits)};
}
std::vector<int64_t> GptqTensors::scalesShape() const {
    return {groups, outFeatures};
}

GptqTensors packGptq(const GptqGrid& g, GptqZeroFormat format, const std::string& layer) {
    checkGrid(g, format, layer);
    const int n = perWord(g.bits), bits = g.bits;
    const int64_t out = g.outFeatures, in = g.inFeatures, groups = g.groups();
    const uint32_t mask = (1u << bits) - 1;
    GptqTensors t;
    t.bits = bits, t.outFeatures = out, t.inFeatures = in, t.groups = groups;
    t.qweight.resize(size_t(in / n * out));
    for (int64_t r = 0; r < in / n; ++r)
        for (int64_t j = 0; j < out; ++j) {
            uint32_t word = 0;
            for (int k = 0; k < n; ++k)
                word |= uint32_t(g.codes[size_t(j * in + r * n + k)]) << (bits * k);
            t.qweight[size_t(r * out + j)] = asInt32(word);
        }
    const uint32_t offset = uint32_t(zeroOffset(format));
    t.qzeros.resize(size_t(groups * (out / n)));
    t.scales.resize(size_t(groups * out));
    for (int64_t k = 0; k < groups; ++k) {
        for (int64_t c = 0; c < out / n; ++c) {
            uint32_t word = 0;
            for (int s = 0; s < n; ++s) {
                const int64_t j = c * n + s;
                word |= ((uint32_t(g.zeros[size_t(j * groups + k)]) - offset) & mask) << (bits * s);
            }
            t.qzeros[size_t(k * (out / n) + c)] = asInt32(word);
        }
        for (int64_t j = 0; j < out; ++j)
            t.scales[size_t(k * out + j)] = floatToHalf(g.scales[size_t(j * groups + k)]);
    }
    t.gIdx.resize(size_t(in));
    for (int64_t i = 0; i < in; ++i) t.gIdx[size_t(i)] = int32_t(i / g.groupSize);
    return t;
}

std::vector<float> dequantizeGptq(const GptqTensors& t, GptqZeroFormat format,
                                  const std::string& layer) {
    checkShape(t.bits, t.outFeatures, t.inFeatures, layer);
    const int n = perWord(t.bits), bits = t.bits;
    const int64_t out = t.outFeatures, in = t.inFeatures, groups = t.groups;
    if (groups < 1 || groups > in)
        fail(layer, "scales",
             "has " + std::to_string(groups) + " groups (1.." + std::to_string(in) + ")");
    auto expect = [&](const char* field, size_t have, size_t want) {
        if (have != want)
            fail(layer, field,
                 "has " + std::to_string(have) + " values, expected " + std::to_string(want));
    };
    expect("qweight", t.qweight.size(), size_t(in / n * out));
    expect("qzeros", t.qzeros.size(), size_t(groups * (out / n)));
    expect("scales", t.scales.size(), size_t(groups * out));
    expect("g_idx", t.gIdx.size(), size_t(in));
    for (int32_t g : t.gIdx)
        if (g < 0 || g >= groups)
            fail(layer, "g_idx",
                 "holds group " + std::to_string(g) + " (0.." + std::to_string(groups - 1) + ")");
    const uint32_t mask = (1u << bits) - 1;
    const int offset = zeroOffset(format);
    std::vector<float> zeros(size_t(groups * out)), scales(size_t(groups * out));
    for (int64_t k = 0; k < groups; ++k)
        for (int64_t j = 0; j < out; ++j) {
            const uint32_t word = uint32_t(t.qzeros[size_t(k * (out / n) + j / n)]);
            zeros[size_t(k * out + j)] = float(int((word >> (bits * (j % n))) & mask) + offset);
            scales[size_t(k * out + j)] = halfToFloat(t.scales[size_t(k * out + j)]);
        }
    std::vector<float> w(size_t(out * in));
    for (int64_t i = 0; i < in; ++i) {
        const int64_t k = t.gIdx[size_t(i)];
        const int shift = bits * int(i % n);
        const int32_t* row = t.qweight.data() + (i / n) * out;
        for (int64_t j = 0; j < out; ++j) {
            const float u = float((uint32_t(row[j]) >> shift) & mask);
            // (u - zero) is an exact small integer: one float32 product, as QuantLens decodes
            w[size_t(j * in + i)] = (u - zeros[size_t(k * out + j)]) * scales[size_t(k * out + j)];
        }
    }
    return w;
}

}  // namespace ql
