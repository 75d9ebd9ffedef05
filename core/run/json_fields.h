// Typed, range-checked reading of JSON objects from files the user may have edited or
// damaged (run.json). Every failure is one ql::Error sentence naming the file, the field
// path (e.g. "layers[3].bits") and what is expected; never nlohmann's own text, and
// never a silent narrowing (1e300 or -1 read into an int or a size).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

class JsonFields {
public:
    // `value` must outlive this object. `path` is the field path of `value` ("" = root).
    JsonFields(const nlohmann::json& value, std::string file, std::string path = {});

    const nlohmann::json& at(const char* key) const;              // present, any type
    bool has(const char* key) const { return v_.contains(key); }  // for optional fields
    JsonFields object(const char* key) const;
    std::vector<JsonFields> objects(const char* key) const;  // array of objects
    std::string str(const char* key) const;
    std::vector<std::string> strings(const char* key) const;
    bool flag(const char* key) const;
    int64_t integer(const char* key, int64_t lo, int64_t hi) const;
    int toInt(const char* key, int lo, int hi) const { return int(integer(key, lo, hi)); }
    uint64_t count(const char* key) const;  // a non-negative integer up to 2^63 - 1
    // A number, or "nan"/"inf"/"-inf" (how non-finite values are written).
    double number(const char* key) const;

    // "run file 'F': field 'P.key' <what>" as a ql::Error.
    [[noreturn]] void fail(const char* key, const std::string& what) const;
    std::string fieldPath(const char* key) const;

private:
    const nlohmann::json& v_;
    std::string file_;
    std::string path_;
};

}  // namespace ql
