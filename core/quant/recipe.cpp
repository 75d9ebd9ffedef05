// Recipe text form: METHOD[:PART...], case-insensitive. The method word picks the registry
// entry (quant/method_registry.h), whose grammar reads the remaining parts and writes the
// canonical form (toString() always writes all parts).
#include "quant/recipe.h"

#include "base/error.h"
#include "quant/method_registry.h"
#include "quant/recipe_parts.h"

#include <algorithm>
#include <cctype>

namespace ql {

namespace recipe_parts {

[[noreturn]] void fail(std::string_view spec, const std::string& what) {
    throw Error("invalid quantization recipe '" + std::string(spec) + "': " + what);
}

long parsePositive(const std::string& digits) {
    if (digits.empty() || digits.size() > 9) return -1;
    long v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v > 0 ? v : -1;
}

std::vector<std::string> splitColons(std::string_view s) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        const size_t colon = s.find(':', start);
        std::string part(s.substr(start, colon == std::string_view::npos ? colon : colon - start));
        std::transform(part.begin(), part.end(), part.begin(),
                       [](unsigned char c) { return char(std::tolower(c)); });
        parts.push_back(std::move(part));
        if (colon == std::string_view::npos) break;
        start = colon + 1;
    }
    return parts;
}

}  // namespace recipe_parts

std::string methodName(QuantMethod m) {
    return methodSpec(m).name;
}

bool Recipe::isCast() const {
    return methodSpec(method).afterSource == AfterSource::Cast;
}

std::string Recipe::toString() const {
    return methodSpec(method).print(*this);
}

Recipe Recipe::parse(std::string_view spec) {
    using recipe_parts::fail;
    const std::vector<std::string> parts = recipe_parts::splitColons(spec);
    if (parts[0].empty()) fail(spec, "missing method (e.g. rtn:int8:channel:sym)");
    for (size_t i = 1; i < parts.size(); ++i)
        if (parts[i].empty()) fail(spec, "empty part " + std::to_string(i + 1));
    const MethodSpec* m = findMethod(parts[0]);
    if (!m) fail(spec, "unknown method '" + parts[0] + "' (expected " + knownMethodNames() + ")");
    Recipe r;
    r.method = m->id;
    m->parse(spec, parts, r);
    return r;
}

}  // namespace ql
