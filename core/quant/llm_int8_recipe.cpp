// The recipe grammar, label and bytes of LLM.int8() (bitsandbytes Linear8bitLt, inference
// layout): llm_int8[:tT]. Weights int8 per output row, scale = absmax / 127 (bnb's
// "vector-wise" CB/SCB), stored as int8 codes + one fp32 scale per row; activations int8
// per token (absmax / 127) with the input columns that reach |x| >= T (default 6.0, bnb's
// llm_int8_threshold) in any token of a window kept in fp16. t0: no decomposition.
#include "quant/method_families.h"
#include "quant/method_registry.h"
#include "quant/recipe_parts.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace ql::families {

void parseLlmInt8(std::string_view spec, const std::vector<std::string>& parts, Recipe& r) {
    using recipe_parts::fail;
    r.bits = 8;
    r.granularity = Granularity::Channel;
    r.symmetric = true;
    r.actBits = 8;
    r.actPerToken = true;
    r.actSymmetric = true;
    r.outlierThreshold = 6.0;
    if (parts.size() > 2) fail(spec, "too many parts (expected llm_int8[:tT], e.g. llm_int8:t6)");
    if (parts.size() < 2) return;
    const std::string& p = parts[1];
    const char* begin = p.c_str() + 1;
    char* end = nullptr;
    const double t = p.size() > 1 && p[0] == 't' ? std::strtod(begin, &end) : -1.0;
    if (t < 0 || !std::isfinite(t) || end != p.c_str() + p.size() || t > 1e6)
        fail(spec, "bad outlier threshold '" + p +
                       "' (expected tT with T a number >= 0, e.g. t6 or t3.5; t0: no "
                       "decomposition)");
    r.outlierThreshold = t;
}

std::string printLlmInt8(const Recipe& r) {
    char t[32];
    std::snprintf(t, sizeof t, "%g", r.outlierThreshold);
    return methodName(r.method) + ":t" + t;
}

std::string labelLlmInt8(const Recipe& r) {
    char t[32];
    std::snprintf(t, sizeof t, "%g", r.outlierThreshold);
    return std::string("LLM.int8() t") + t;
}

uint64_t bytesLlmInt8(const Recipe&, int64_t rows, int64_t cols) {
    return uint64_t(rows) * uint64_t(cols) + uint64_t(rows) * 4;
}

}  // namespace ql::families
