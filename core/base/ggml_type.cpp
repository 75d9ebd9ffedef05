// The ggml type table (see ggml_type.h). Block sizes are the published block structures of
// ggml-common.h, e.g. Q4_0 = fp16 scale + 16 bytes of nibbles = 18 bytes per 32 values.
#include "base/ggml_type.h"

#include <limits>

namespace ql {

namespace {

struct Row {
    uint32_t type;
    GgmlTypeTraits traits;
};

constexpr Row kTypes[] = {
    {0, {"F32", 1, 4}},         {1, {"F16", 1, 2}},         {2, {"Q4_0", 32, 18}},
    {3, {"Q4_1", 32, 20}},      {6, {"Q5_0", 32, 22}},      {7, {"Q5_1", 32, 24}},
    {8, {"Q8_0", 32, 34}},      {9, {"Q8_1", 32, 36}},      {10, {"Q2_K", 256, 84}},
    {11, {"Q3_K", 256, 110}},   {12, {"Q4_K", 256, 144}},   {13, {"Q5_K", 256, 176}},
    {14, {"Q6_K", 256, 210}},   {15, {"Q8_K", 256, 292}},   {16, {"IQ2_XXS", 256, 66}},
    {17, {"IQ2_XS", 256, 74}},  {18, {"IQ3_XXS", 256, 98}}, {19, {"IQ1_S", 256, 50}},
    {20, {"IQ4_NL", 32, 18}},   {21, {"IQ3_S", 256, 110}},  {22, {"IQ2_S", 256, 82}},
    {23, {"IQ4_XS", 256, 136}}, {24, {"I8", 1, 1}},         {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}},        {27, {"I64", 1, 8}},        {28, {"F64", 1, 8}},
    {29, {"IQ1_M", 256, 56}},   {30, {"BF16", 1, 2}},       {34, {"TQ1_0", 256, 54}},
    {35, {"TQ2_0", 256, 66}},
};

}  // namespace

std::optional<GgmlTypeTraits> ggmlTypeTraits(uint32_t type) {
    for (const Row& r : kTypes)
        if (r.type == type) return r.traits;
    return std::nullopt;
}

std::string ggmlTypeName(uint32_t type) {
    const auto t = ggmlTypeTraits(type);
    return t ? std::string(t->name) : "type " + std::to_string(type);
}

std::string ggmlTypeName(GgmlType type) {
    return ggmlTypeName(uint32_t(type));
}

std::optional<uint64_t> ggmlBytes(GgmlType type, uint64_t values) {
    const auto t = ggmlTypeTraits(uint32_t(type));
    if (!t || values % t->blockValues != 0) return std::nullopt;
    const uint64_t blocks = values / t->blockValues;
    if (blocks > std::numeric_limits<uint64_t>::max() / t->blockBytes) return std::nullopt;
    return blocks * t->blockBytes;
}

}  // namespace ql
