// Recipe text form: METHOD[:BITS[:GRANULARITY[:SYMMETRY]]], case-insensitive.
// Omitted parts take defaults: bits int8, granularity channel, symmetry sym; so
// "rtn" == "rtn:int8:channel:sym" and "rtn:int4" == "rtn:int4:channel:sym".
// Casts ("fp16", "bf16") take no further parts. toString() always writes all parts.
#include "quant/recipe.h"

#include "base/error.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace ql {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

std::vector<std::string> splitColons(std::string_view s) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        const size_t colon = s.find(':', start);
        parts.push_back(
            lower(s.substr(start, colon == std::string_view::npos ? colon : colon - start)));
        if (colon == std::string_view::npos) break;
        start = colon + 1;
    }
    return parts;
}

[[noreturn]] void fail(std::string_view spec, const std::string& what) {
    throw Error("invalid quantization recipe '" + std::string(spec) + "': " + what);
}

// Parses a positive decimal integer without sign or trailing characters; -1 if invalid.
long parsePositive(const std::string& digits) {
    if (digits.empty() || digits.size() > 9) return -1;
    long v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v > 0 ? v : -1;
}

QuantMethod parseMethod(std::string_view spec, const std::string& s) {
    if (s == "rtn") return QuantMethod::Rtn;
    if (s == "gptq") return QuantMethod::Gptq;
    if (s == "awq") return QuantMethod::Awq;
    if (s == "fp16") return QuantMethod::Fp16;
    if (s == "bf16") return QuantMethod::Bf16;
    fail(spec, "unknown method '" + s + "' (expected rtn, gptq, awq, fp16 or bf16)");
}

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

}  // namespace

std::string methodName(QuantMethod m) {
    switch (m) {
        case QuantMethod::Rtn:
            return "rtn";
        case QuantMethod::Gptq:
            return "gptq";
        case QuantMethod::Awq:
            return "awq";
        case QuantMethod::Fp16:
            return "fp16";
        case QuantMethod::Bf16:
            return "bf16";
    }
    return "?";
}

std::string Recipe::toString() const {
    if (isCast()) return methodName(method);
    std::string gran = granularity == Granularity::Tensor    ? "tensor"
                       : granularity == Granularity::Channel ? "channel"
                                                             : "g" + std::to_string(groupSize);
    return methodName(method) + ":int" + std::to_string(bits) + ":" + gran + ":" +
           (symmetric ? "sym" : "asym");
}

Recipe Recipe::parse(std::string_view spec) {
    const std::vector<std::string> parts = splitColons(spec);
    if (parts[0].empty()) fail(spec, "missing method (e.g. rtn:int8:channel:sym)");
    for (size_t i = 1; i < parts.size(); ++i)
        if (parts[i].empty()) fail(spec, "empty part " + std::to_string(i + 1));
    if (parts.size() > 4) fail(spec, "too many parts (expected METHOD:BITS:GRANULARITY:SYMMETRY)");

    Recipe r;
    r.method = parseMethod(spec, parts[0]);
    if (r.isCast()) {
        if (parts.size() > 1)
            fail(spec, "'" + parts[0] + "' is a cast and takes no further parts, found '" +
                           parts[1] + "'");
        r.bits = 16;
        return r;
    }
    if (parts.size() > 1) r.bits = parseBits(spec, parts[1]);
    if (parts.size() > 2) parseGranularity(spec, parts[2], r);
    if (parts.size() > 3) r.symmetric = parseSymmetry(spec, parts[3]);
    return r;
}

}  // namespace ql
