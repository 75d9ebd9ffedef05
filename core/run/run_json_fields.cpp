#include "run/run_json_fields.h"

#include "base/error.h"

#include <cmath>

namespace ql {

bool jsonWholeNumber(const nlohmann::json& v, bool& negative, uint64_t& magnitude) {
    if (v.is_number_unsigned()) {
        negative = false;
        magnitude = v.get<uint64_t>();
        return true;
    }
    if (v.is_number_integer()) {
        const int64_t i = v.get<int64_t>();
        negative = i < 0;
        magnitude = negative ? uint64_t(0) - uint64_t(i) : uint64_t(i);
        return true;
    }
    if (!v.is_number_float()) return false;
    const double d = v.get<double>();
    constexpr double kExact = 9007199254740992.0;  // 2^53
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > kExact) return false;
    negative = d < 0;
    magnitude = uint64_t(std::fabs(d));
    return true;
}

void badIntField(const std::string& field, const nlohmann::json& v, const std::string& lo,
                 const std::string& hi) {
    std::string got = v.dump();
    if (got.size() > 40) got = got.substr(0, 37) + "...";
    throw Error("field '" + field + "' must be a whole number from " + lo + " to " + hi + ", got " +
                got);
}

}  // namespace ql
