// The recipe family of llama.cpp's formats (q8_0 .. q6_k): grammar, label, packed bytes, the
// recomputed weight, and what a layer whose rows the block does not divide gets instead.
//
// Row-length fallback, as llama-quantize's llama_tensor_get_type does it: Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0, then F16 when even that block (32) does not divide the row.
// Where llama-quantize differs from what QuantLens can do, QuantLens decides:
// - Q2_K and Q3_K fall back to IQ4_NL in llama-quantize; IQ4_NL is not implemented here, so
//   they fall back to Q4_0 (the same 18 bytes per 32 values), then F16.
// - The legacy formats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) are refused by llama-quantize for such
//   rows; here those layers fall back to F16, so that a run on any model completes.
#include "base/error.h"
#include "base/gguf_names.h"
#include "quant/ggml_mix.h"
#include "quant/ggml_quants.h"
#include "quant/method_families.h"
#include "quant/recipe_parts.h"

namespace ql::families {
namespace {

struct GgmlMethod {
    QuantMethod method;
    GgmlType type;
    int bits;  // nominal bits of the codes (the display's bit width)
};

constexpr GgmlMethod kMethods[] = {
    {QuantMethod::Q8_0, GgmlType::Q8_0, 8}, {QuantMethod::Q4_0, GgmlType::Q4_0, 4},
    {QuantMethod::Q4_1, GgmlType::Q4_1, 4}, {QuantMethod::Q5_0, GgmlType::Q5_0, 5},
    {QuantMethod::Q5_1, GgmlType::Q5_1, 5}, {QuantMethod::Q2_K, GgmlType::Q2_K, 2},
    {QuantMethod::Q3_K, GgmlType::Q3_K, 3}, {QuantMethod::Q4_K, GgmlType::Q4_K, 4},
    {QuantMethod::Q5_K, GgmlType::Q5_K, 5}, {QuantMethod::Q6_K, GgmlType::Q6_K, 6},
};

struct MixMethod {
    QuantMethod method;
    GgmlMix mix;
};

constexpr MixMethod kMixes[] = {
    {QuantMethod::Q2_K_Mix, GgmlMix::Q2_K}, {QuantMethod::Q3_K_S, GgmlMix::Q3_K_S},
    {QuantMethod::Q3_K_M, GgmlMix::Q3_K_M}, {QuantMethod::Q3_K_L, GgmlMix::Q3_K_L},
    {QuantMethod::Q4_K_S, GgmlMix::Q4_K_S}, {QuantMethod::Q4_K_M, GgmlMix::Q4_K_M},
    {QuantMethod::Q5_K_S, GgmlMix::Q5_K_S}, {QuantMethod::Q5_K_M, GgmlMix::Q5_K_M},
};

const MixMethod* mixOf(QuantMethod m) {
    for (const MixMethod& e : kMixes)
        if (e.method == m) return &e;
    return nullptr;
}

// The mix's type for tensors it gives no special treatment (a 256-wide attn_q, say).
GgmlType mixBaseType(GgmlMix mix) {
    return *ggmlMixChoice(mix, "blk.0.attn_q.weight", {256, 256}, GgmlMixModel{1, 1, true, true});
}

const GgmlMethod& entryOf(GgmlType t);

// A single format's entry; a mix answers with its base type's (bytes and weights of a mix
// recipe itself are those of its base type: each layer really gets ggmlForLayer's recipe).
const GgmlMethod& entryOf(QuantMethod m) {
    for (const GgmlMethod& e : kMethods)
        if (e.method == m) return e;
    if (const MixMethod* mix = mixOf(m)) return entryOf(mixBaseType(mix->mix));
    throw Error("method '" + methodName(m) + "' is not a llama.cpp format");
}

const GgmlMethod& entryOf(GgmlType t) {
    for (const GgmlMethod& e : kMethods)
        if (e.type == t) return e;
    throw Error("ggml type " + ggmlTypeName(t) + " is not a recipe");
}

int blockOf(GgmlType t) {
    return int(ggmlTypeTraits(uint32_t(t))->blockValues);
}

Recipe recipeOf(GgmlType t) {
    Recipe r;
    r.method = entryOf(t).method;
    r.bits = entryOf(t).bits;
    r.blockSize = blockOf(t);
    return r;
}

// llama-quantize's replacement for a k-quant whose 256 does not divide the row (see above).
GgmlType fallbackType(GgmlType t) {
    switch (t) {
        case GgmlType::Q4_K:
            return GgmlType::Q5_0;
        case GgmlType::Q5_K:
            return GgmlType::Q5_1;
        case GgmlType::Q6_K:
            return GgmlType::Q8_0;
        case GgmlType::Q2_K:
        case GgmlType::Q3_K:
            return GgmlType::Q4_0;  // llama-quantize: IQ4_NL (not implemented here)
        default:
            return t;
    }
}

}  // namespace

void parseGgml(std::string_view spec, const std::vector<std::string>& parts, Recipe& r) {
    if (parts.size() > 1)
        recipe_parts::fail(spec, "'" + parts[0] + "' is a llama.cpp format and takes no further " +
                                     "parts, found '" + parts[1] + "'");
    const GgmlMethod& e = entryOf(r.method);
    r.bits = e.bits;
    r.blockSize = blockOf(e.type);
}

std::string printGgml(const Recipe& r) {
    return methodName(r.method);
}

std::string labelGgml(const Recipe& r) {
    if (const MixMethod* mix = mixOf(r.method))
        return ggmlMixName(mix->mix) + (mix->mix == GgmlMix::Q2_K ? " mix" : "");
    return ggmlTypeName(entryOf(r.method).type);
}

ShapedRecipe ggmlForRowLength(const Recipe& r, int64_t cols) {
    const GgmlType asked = entryOf(r.method).type;
    if (mixOf(r.method)) return ggmlForRowLength(recipeOf(asked), cols);
    if (cols % blockOf(asked) == 0) return {r, {}};
    const std::string rows = "rows of " + std::to_string(cols) + " values are not a multiple of " +
                             ggmlTypeName(asked) + "'s block of " + std::to_string(blockOf(asked));
    const GgmlType next = fallbackType(asked);
    if (next != asked && cols % blockOf(next) == 0)
        return {recipeOf(next), rows + ": " + ggmlTypeName(next)};
    return {Recipe::parse("fp16"), rows + ": F16"};
}

// The mix's type for the layer (llama-quantize's llama_tensor_get_type via ggml_mix.h), then
// the row-length fallback of that type. A layer the mix has no rule for gets the base type.
ShapedRecipe ggmlForLayer(const Recipe& r, const LayerPlace& place) {
    const MixMethod* mix = mixOf(r.method);
    if (!mix) return ggmlForRowLength(r, place.cols);
    const std::optional<std::string> name = ggufLinearName(place.name);
    const GgmlMixModel model{place.blocks, place.gqa, true, false};
    const std::optional<GgmlType> chosen =
        name ? ggmlMixChoice(mix->mix, *name, {place.cols, place.rows}, model) : std::nullopt;
    return ggmlForRowLength(recipeOf(chosen ? *chosen : entryOf(r.method).type), place.cols);
}

uint64_t bytesGgml(const Recipe& r, int64_t rows, int64_t cols) {
    const Recipe applied = ggmlForRowLength(r, cols).recipe;
    if (applied.method == QuantMethod::Fp16) return uint64_t(rows) * uint64_t(cols) * 2;
    return ggmlTensorBytes(entryOf(applied.method).type, rows, cols);
}

// The weight as llama.cpp would dequantize it. w holds whole rows whose length the recipe's
// block divides (the caller applied recipeForRowLength), so one flat pass equals row by row.
std::vector<float> recomputeGgml(const Recipe& r, const float* w, size_t n) {
    const GgmlType t = entryOf(r.method).type;
    const std::vector<uint8_t> q = ggmlQuantize(t, w, 1, int64_t(n));
    return ggmlDequantize(t, q.data(), int64_t(n));
}

}  // namespace ql::families
