// Checked reads of run.json numbers: a field that is missing, not a number, not a whole
// number or outside the range of what it stores is a ql::Error naming the field ("field
// 'perplexity.windows' must be a whole number from 0 to 2147483647, got 1e+300"), never a
// wrapped value. loadRun adds the file name.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>

namespace ql {

// The whole number in `v` as sign + magnitude; false when `v` is not an exact whole
// number (floats beyond 2^53 are not exact and are refused).
bool jsonWholeNumber(const nlohmann::json& v, bool& negative, uint64_t& magnitude);

// Throws the error for field `where` + key: "must be a whole number from lo to hi".
[[noreturn]] void badIntField(const std::string& field, const nlohmann::json& v,
                              const std::string& lo, const std::string& hi);

// obj[key] as T in [lo, hi] (by default T's whole range); `where` is the enclosing object
// for messages ("perplexity"). The bounds must lie within T.
template <class T>
T intField(const nlohmann::json& obj, const char* key, const std::string& where,
           int64_t lo = int64_t(std::numeric_limits<T>::min()),
           uint64_t hi = uint64_t(std::numeric_limits<T>::max())) {
    const nlohmann::json& v = obj.at(key);
    bool negative = false;
    uint64_t m = 0;
    if (jsonWholeNumber(v, negative, m)) {
        // Compared as magnitudes: no value is ever converted outside its type.
        if (negative && lo < 0 && m - 1 <= uint64_t(-(lo + 1))) return T(-int64_t(m - 1) - 1);
        if (!negative && (lo <= 0 || m >= uint64_t(lo)) && m <= hi) return T(m);
    }
    badIntField(where.empty() ? key : where + "." + key, v, std::to_string(lo), std::to_string(hi));
}

}  // namespace ql
