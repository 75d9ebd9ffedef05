#include "run/json_fields.h"

#include "base/error.h"

#include <cmath>
#include <limits>

namespace ql {

using nlohmann::json;

namespace {

// The value as the user wrote it, cut short: enough to find it in the file.
std::string shown(const json& v) {
    std::string s = v.is_string() ? "\"" + v.get_ref<const std::string&>() + "\"" : v.type_name();
    if (v.is_number() || v.is_boolean() || v.is_null()) s = v.dump();
    return s.size() > 40 ? s.substr(0, 40) + "..." : s;
}

}  // namespace

JsonFields::JsonFields(const json& value, std::string file, std::string path)
    : v_(value), file_(std::move(file)), path_(std::move(path)) {
    if (!v_.is_object())
        throw Error("run file '" + file_ + "': " +
                    (path_.empty() ? std::string("the top level") : "field '" + path_ + "'") +
                    " must be a JSON object, not " + shown(v_));
}

std::string JsonFields::fieldPath(const char* key) const {
    return path_.empty() ? std::string(key) : path_ + "." + key;
}

void JsonFields::fail(const char* key, const std::string& what) const {
    throw Error("run file '" + file_ + "': field '" + fieldPath(key) + "' " + what);
}

const json& JsonFields::at(const char* key) const {
    const auto it = v_.find(key);
    if (it == v_.end()) fail(key, "is missing");
    return *it;
}

JsonFields JsonFields::object(const char* key) const {
    return {at(key), file_, fieldPath(key)};
}

std::vector<JsonFields> JsonFields::objects(const char* key) const {
    const json& a = at(key);
    if (!a.is_array()) fail(key, "must be an array, not " + shown(a));
    std::vector<JsonFields> out;
    out.reserve(a.size());
    for (size_t i = 0; i < a.size(); ++i)
        out.emplace_back(a[i], file_, fieldPath(key) + "[" + std::to_string(i) + "]");
    return out;
}

std::string JsonFields::str(const char* key) const {
    const json& v = at(key);
    if (!v.is_string()) fail(key, "must be a string, not " + shown(v));
    return v.get<std::string>();
}

std::vector<std::string> JsonFields::strings(const char* key) const {
    const json& a = at(key);
    if (!a.is_array()) fail(key, "must be an array of strings, not " + shown(a));
    std::vector<std::string> out;
    for (const json& s : a) {
        if (!s.is_string()) fail(key, "must be an array of strings, but holds " + shown(s));
        out.push_back(s.get<std::string>());
    }
    return out;
}

bool JsonFields::flag(const char* key) const {
    const json& v = at(key);
    if (!v.is_boolean()) fail(key, "must be true or false, not " + shown(v));
    return v.get<bool>();
}

int64_t JsonFields::integer(const char* key, int64_t lo, int64_t hi) const {
    const json& v = at(key);
    const std::string expected =
        "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    if (v.is_number_unsigned()) {
        const auto u = v.get<uint64_t>();
        if (u > uint64_t(std::numeric_limits<int64_t>::max()) || int64_t(u) > hi || int64_t(u) < lo)
            fail(key, expected + ", not " + shown(v));
        return int64_t(u);
    }
    // A whole number written as a float (256.0, from another writer) is that integer; the
    // range test on the double comes first so that 1e300 never reaches a cast.
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (!(d >= double(lo) && d <= double(hi)) || d != std::floor(d) ||
            d >= 9223372036854775808.0)
            fail(key, expected + ", not " + shown(v));
        return int64_t(d);
    }
    if (!v.is_number_integer()) fail(key, expected + ", not " + shown(v));
    const auto i = v.get<int64_t>();
    if (i < lo || i > hi) fail(key, expected + ", not " + shown(v));
    return i;
}

uint64_t JsonFields::count(const char* key) const {
    return uint64_t(integer(key, 0, std::numeric_limits<int64_t>::max()));
}

double JsonFields::number(const char* key) const {
    const json& v = at(key);
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        if (s == "nan") return std::nan("");
        if (s == "inf") return HUGE_VAL;
        if (s == "-inf") return -HUGE_VAL;
    }
    fail(key, "must be a number (or \"nan\", \"inf\", \"-inf\"), not " + shown(v));
}

}  // namespace ql
