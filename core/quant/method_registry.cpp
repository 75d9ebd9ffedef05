// The method table, and the integer-grid and cast families (codebook4_recipe.cpp holds the
// bitsandbytes 4-bit family). A new method: its code, its family functions, one row below.
#include "quant/method_registry.h"

#include "base/error.h"
#include "quant/method_families.h"
#include "quant/quantize.h"
#include "quant/recipe_parts.h"

#include <cctype>

namespace ql {

// llama.cpp's formats: recomputed from the weight ("codebook"-like: deterministic in it), no
// options but "+sq", each with its row-length fallback (quant/ggml_recipe.cpp).
#define GGML_ROW(id, word)                                                                       \
    {                                                                                            \
        QuantMethod::id, word, word, false, AfterSource::Codebook, 2, parseGgml, printGgml,      \
            labelGgml, bytesGgml, recomputeGgml, kOptSmoothQuant, ggmlForRowLength, false, true, \
            nullptr                                                                              \
    }

// llama-quantize's mixes: as the formats, plus the per-layer choice of type (ggml_recipe.cpp).
#define MIX_ROW(id, word)                                                                        \
    {                                                                                            \
        QuantMethod::id, word, word, false, AfterSource::Codebook, 2, parseGgml, printGgml,      \
            labelGgml, bytesGgml, recomputeGgml, kOptSmoothQuant, ggmlForRowLength, false, true, \
            ggmlForLayer                                                                         \
    }

const std::vector<MethodSpec>& methodRegistry() {
    using namespace families;
    static const std::vector<MethodSpec> table = {
        {QuantMethod::Rtn, "rtn", "rtn[:intB[:tensor|channel|gN[:sym|asym]]]", false,
         AfterSource::Grid, 2, parseInteger, printInteger, labelInteger, bytesInteger, nullptr,
         kIntegerGridOptions | kOptSmoothQuant, nullptr, false, false, nullptr},
        {QuantMethod::Gptq, "gptq", "gptq[:intB[:tensor|channel|gN[:sym|asym]]]", true,
         AfterSource::Stored, 10, parseInteger, printInteger, labelInteger, bytesInteger, nullptr,
         kIntegerGridOptions | kOptSmoothQuant, nullptr, false, false, nullptr},
        {QuantMethod::Awq, "awq", "awq[:intB[:tensor|channel|gN[:sym|asym]]]", true,
         AfterSource::Stored, 10, parseInteger, printInteger, labelInteger, bytesInteger, nullptr,
         kIntegerGridOptions, nullptr, false, false, nullptr},
        {QuantMethod::Fp16, "fp16", "fp16", false, AfterSource::Cast, 2, parseCast, printCast,
         labelCast, bytesCast, recomputeCast, 0, nullptr, false, false, nullptr},
        {QuantMethod::Bf16, "bf16", "bf16", false, AfterSource::Cast, 2, parseCast, printCast,
         labelCast, bytesCast, recomputeCast, 0, nullptr, false, false, nullptr},
        {QuantMethod::Nf4, "nf4", "nf4[:bN][:dq][:fp32|fp16|bf16]", false, AfterSource::Codebook, 2,
         parseCodebook4, printCodebook4, labelCodebook4, bytesCodebook4, recomputeCodebook4,
         kCodebook4Options | kOptSmoothQuant, nullptr, false, true, nullptr},
        {QuantMethod::Fp4, "fp4", "fp4[:bN][:dq][:fp32|fp16|bf16]", false, AfterSource::Codebook, 2,
         parseCodebook4, printCodebook4, labelCodebook4, bytesCodebook4, recomputeCodebook4,
         kCodebook4Options | kOptSmoothQuant, nullptr, false, true, nullptr},
        {QuantMethod::LlmInt8, "llm_int8", "llm_int8[:tT]", false, AfterSource::Grid, 2,
         parseLlmInt8, printLlmInt8, labelLlmInt8, bytesLlmInt8, nullptr, kOptOutlierThreshold,
         nullptr, true, true, nullptr},
        GGML_ROW(Q8_0, "q8_0"),
        GGML_ROW(Q4_0, "q4_0"),
        GGML_ROW(Q4_1, "q4_1"),
        GGML_ROW(Q5_0, "q5_0"),
        GGML_ROW(Q5_1, "q5_1"),
        GGML_ROW(Q2_K, "q2_k"),
        GGML_ROW(Q3_K, "q3_k"),
        GGML_ROW(Q4_K, "q4_k"),
        GGML_ROW(Q5_K, "q5_k"),
        GGML_ROW(Q6_K, "q6_k"),
        MIX_ROW(Q2_K_Mix, "q2_k_mix"),
        MIX_ROW(Q3_K_S, "q3_k_s"),
        MIX_ROW(Q3_K_M, "q3_k_m"),
        MIX_ROW(Q3_K_L, "q3_k_l"),
        MIX_ROW(Q4_K_S, "q4_k_s"),
        MIX_ROW(Q4_K_M, "q4_k_m"),
        MIX_ROW(Q5_K_S, "q5_k_s"),
        MIX_ROW(Q5_K_M, "q5_k_m"),
    };
    return table;
}

const MethodSpec& methodSpec(QuantMethod m) {
    for (const MethodSpec& s : methodRegistry())
        if (s.id == m) return s;
    throw Error("quantization method " + std::to_string(int(m)) + " is not registered");
}

const MethodSpec* findMethod(std::string_view name) {
    for (const MethodSpec& s : methodRegistry())
        if (name == s.name) return &s;
    return nullptr;
}

std::string knownMethodNames() {
    const auto& t = methodRegistry();
    std::string out;
    for (size_t i = 0; i < t.size(); ++i)
        out += std::string(i == 0 ? "" : i + 1 == t.size() ? " or " : ", ") + t[i].name;
    return out;
}

ShapedRecipe recipeForRowLength(const Recipe& r, int64_t cols) {
    const MethodSpec& spec = methodSpec(r.method);
    if (spec.forRowLength) return spec.forRowLength(r, cols);
    return {r, {}};
}

ShapedRecipe recipeForLayer(const Recipe& r, const LayerPlace& place) {
    const MethodSpec& spec = methodSpec(r.method);
    if (spec.forLayer) return spec.forLayer(r, place);
    return recipeForRowLength(r, place.cols);
}

std::string afterSourceName(AfterSource s) {
    switch (s) {
        case AfterSource::Grid:
            return "grid";
        case AfterSource::Cast:
            return "cast";
        case AfterSource::Codebook:
            return "codebook";
        case AfterSource::Stored:
            return "stored";
    }
    return "?";
}

const std::vector<std::string>& afterSourceNames() {
    // "checkpoint": the layer's weight is re-read from RunConfig::checkpoint (no method of
    // the table produces it; runs comparing a quantized file with its original).
    static const std::vector<std::string> names = {"grid", "cast", "codebook", "stored",
                                                   "checkpoint"};
    return names;
}

namespace families {
namespace {

using recipe_parts::fail;
using recipe_parts::parsePositive;

int parseBits(std::string_view spec, const std::string& s) {
    const long bits = s.rfind("int", 0) == 0 ? parsePositive(s.substr(3)) : -1;
    if (bits < 2 || bits > 8)
        fail(spec, "bad bit width '" + s + "' (expected int2 .. int8, e.g. int8 or int4)");
    return int(bits);
}

void parseGranularity(std::string_view spec, const std::string& s, Recipe& r) {
    if (s == "tensor") {
        r.granularity = Granularity::Tensor;
    } else if (s == "channel") {
        r.granularity = Granularity::Channel;
    } else {
        const long n = s.size() > 1 && s[0] == 'g' ? parsePositive(s.substr(1)) : -1;
        if (n <= 0)
            fail(spec, "bad granularity '" + s +
                           "' (expected tensor, channel or gN with N > 0, e.g. g128)");
        r.granularity = Granularity::Group;
        r.groupSize = int(n);
    }
}

bool parseSymmetry(std::string_view spec, const std::string& s) {
    if (s == "sym") return true;
    if (s == "asym") return false;
    fail(spec, "bad symmetry '" + s + "' (expected sym or asym)");
}

std::string granularityText(const Recipe& r) {
    return r.granularity == Granularity::Tensor    ? "tensor"
           : r.granularity == Granularity::Channel ? "channel"
                                                   : "g" + std::to_string(r.groupSize);
}

}  // namespace

void parseInteger(std::string_view spec, const std::vector<std::string>& parts, Recipe& r) {
    if (parts.size() > 4) fail(spec, "too many parts (expected METHOD:BITS:GRANULARITY:SYMMETRY)");
    if (parts.size() > 1) r.bits = parseBits(spec, parts[1]);
    if (parts.size() > 2) parseGranularity(spec, parts[2], r);
    if (parts.size() > 3) r.symmetric = parseSymmetry(spec, parts[3]);
}

std::string printInteger(const Recipe& r) {
    return methodName(r.method) + ":int" + std::to_string(r.bits) + ":" + granularityText(r) + ":" +
           (r.symmetric ? "sym" : "asym");
}

std::string labelInteger(const Recipe& r) {
    std::string m = methodName(r.method);
    for (char& c : m) c = char(std::toupper(static_cast<unsigned char>(c)));
    return m + " INT" + std::to_string(r.bits) + " " + granularityText(r) +
           (r.symmetric ? " sym" : " asym");
}

uint64_t bytesInteger(const Recipe& r, int64_t rows, int64_t cols) {
    const uint64_t n = uint64_t(rows) * uint64_t(cols);
    const uint64_t perRow =
        r.granularity == Granularity::Group && r.groupSize > 0
            ? (uint64_t(cols) + uint64_t(r.groupSize) - 1) / uint64_t(r.groupSize)
            : 1;
    const uint64_t groups = r.granularity == Granularity::Tensor ? 1 : uint64_t(rows) * perRow;
    const auto atBits = [&](uint64_t count) { return r.bits > 4 ? count : (count + 1) / 2; };
    return atBits(n) + groups * 2 + (r.symmetric ? 0 : atBits(groups));
}

void parseCast(std::string_view spec, const std::vector<std::string>& parts, Recipe& r) {
    if (parts.size() > 1)
        fail(spec,
             "'" + parts[0] + "' is a cast and takes no further parts, found '" + parts[1] + "'");
    r.bits = 16;
}

std::string printCast(const Recipe& r) {
    return methodName(r.method);
}

std::string labelCast(const Recipe& r) {
    return r.method == QuantMethod::Fp16 ? "FP16" : "BF16";
}

uint64_t bytesCast(const Recipe&, int64_t rows, int64_t cols) {
    return uint64_t(rows) * uint64_t(cols) * 2;
}

std::vector<float> recomputeCast(const Recipe& r, const float* w, size_t n) {
    return castRoundTrip(w, n, r.method);
}

}  // namespace families
}  // namespace ql
