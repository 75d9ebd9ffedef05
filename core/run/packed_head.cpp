// installQuantizedHead: the float32 output head -> RTN codes (quant/quantize.h) ->
// PackedLinear -> Transformer::setHeadKernel.
#include "base/error.h"
#include "infer/packed_linear.h"
#include "model/transformer.h"
#include "quant/compact_weights.h"
#include "quant/quantize.h"
#include "quant/recipe.h"
#include "run/packed_install.h"

#include <algorithm>
#include <memory>

namespace ql {

namespace {

// Rows quantized per pass: the int32 codes and the dequantized scratch of quantizeWithGrid
// exist for one slice at a time (8 KiB rows x 896 x 8 bytes ~ 59 MiB at Qwen2.5-0.5B, not the
// whole 151936-row head's 1.1 GB), so the install adds little to the bench's peak RSS.
constexpr int64_t kRowsPerSlice = 8192;

const char* recipeOf(HeadFormat f) {
    return f == HeadFormat::Int8 ? "rtn:int8:channel:sym" : "rtn:int4:g128:asym";
}

// Rows [r0, r0 + n) of `grid` as a grid of their own (the scales and zero points of those rows).
QuantGrid rowSlice(const QuantGrid& grid, int64_t r0, int64_t n) {
    QuantGrid s = grid;
    s.rows = n;
    const auto per = size_t(grid.groupsPerRow());
    s.scales.assign(grid.scales.begin() + ptrdiff_t(size_t(r0) * per),
                    grid.scales.begin() + ptrdiff_t(size_t(r0 + n) * per));
    if (!grid.zeros.empty())
        s.zeros.assign(grid.zeros.begin() + ptrdiff_t(size_t(r0) * per),
                       grid.zeros.begin() + ptrdiff_t(size_t(r0 + n) * per));
    return s;
}

// The codes of `w` [rows, cols] on the recipe's RTN grid, packed as CompactWeights holds them.
// Slices of whole rows: every slice has an even number of codes, so INT4's two-per-byte
// packing of the slices concatenates to that of the whole matrix.
CompactWeights rtnCodes(const float* w, int64_t rows, int64_t cols, const Recipe& recipe) {
    CompactWeights out;
    out.grid = computeGrid(w, rows, cols, recipe);
    std::vector<int32_t> codes;
    for (int64_t r0 = 0; r0 < rows; r0 += kRowsPerSlice) {
        const int64_t n = std::min(kRowsPerSlice, rows - r0);
        const QuantGrid slice = rowSlice(out.grid, r0, n);
        codes.resize(size_t(n) * size_t(cols));
        quantizeWithGrid(w + r0 * cols, slice, codes.data(), nullptr);
        const CompactWeights part = compactFromCodes(slice, codes);
        out.codes.insert(out.codes.end(), part.codes.begin(), part.codes.end());
    }
    return out;
}

}  // namespace

const char* headFormatName(HeadFormat format) {
    switch (format) {
        case HeadFormat::Float32:
            return "f32";
        case HeadFormat::Int8:
            return "int8";
        case HeadFormat::Int4:
            return "int4";
    }
    return "?";
}

HeadFormat parseHeadFormat(const std::string& text) {
    for (HeadFormat f : {HeadFormat::Float32, HeadFormat::Int8, HeadFormat::Int4})
        if (text == headFormatName(f)) return f;
    throw Error("--head must be f32, int8 or int4, not '" + text + "'");
}

void checkHeadFormat(HeadFormat format, int64_t hiddenSize) {
    if (format == HeadFormat::Int4 && hiddenSize % 128 != 0)
        throw Error(
            "an int4 g128 output head needs a hidden size that 128 divides (this model's is " +
            std::to_string(hiddenSize) + ")");
}

HeadInstall installQuantizedHead(Transformer& net, HeadFormat format, bool int8Activations) {
    if (net.residency() != Residency::Resident)
        throw Error("a quantized output head needs the model loaded resident, not streamed");
    if (net.hasHeadKernel()) throw Error("the output head is quantized already");
    const ModelConfig& c = net.config();
    HeadInstall report;
    report.tied = net.headTiedToEmbedding();
    report.floatBytes = uint64_t(c.vocabSize) * uint64_t(c.hiddenSize) * sizeof(float);
    report.format = headFormatName(HeadFormat::Float32);
    if (format == HeadFormat::Float32) return report;
    checkHeadFormat(format, c.hiddenSize);
    std::shared_ptr<const infer::PackedLinear> packed;
    {
        const at::Tensor w = net.headRows(0, c.vocabSize).to(at::kFloat).contiguous();
        const CompactWeights codes = rtnCodes(w.data_ptr<float>(), c.vocabSize, c.hiddenSize,
                                              Recipe::parse(recipeOf(format)));
        auto layer = std::make_shared<infer::PackedLinear>(
            infer::PackedLinear::fromCompact(codes, "lm_head"));
        if (int8Activations) layer->setActivationMode(infer::ActivationMode::Int8);
        packed = std::move(layer);
    }
    report.format = format == HeadFormat::Int8 ? "int8 channel sym" : "int4 g128 asym";
    report.packedBytes = packed->bytes();
    report.floatBytesReleased = report.tied ? 0 : report.floatBytes;
    net.setHeadKernel(
        [packed](const float* x, int64_t tokens, float* y) { packed->forward(x, tokens, y); });
    return report;
}

}  // namespace ql
