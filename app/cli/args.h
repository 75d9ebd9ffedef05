// Minimal command-line parsing for quantlens-cli: positional arguments, --flag,
// --key value and --key=value. Unknown options are an error.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace qlcli {

class Args {
public:
    // valueOptions: options that take a value; flagOptions: boolean switches.
    // Throws ql::Error for an unknown option or a missing value.
    Args(const std::vector<std::string>& argv, const std::set<std::string>& valueOptions,
         const std::set<std::string>& flagOptions);

    bool flag(const std::string& name) const { return flags_.count(name) > 0; }
    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string value(const std::string& name, const std::string& fallback = {}) const;
    std::string required(const std::string& name) const;  // throws ql::Error if absent
    int intValue(const std::string& name, int fallback) const;  // throws on non-integer
    double doubleValue(const std::string& name, double fallback) const;
    const std::vector<std::string>& positional() const { return positional_; }
    // Throws ql::Error "unexpected argument 'X' (see --help)" when more than `max`
    // positional arguments were given.
    void allowPositional(size_t max) const;

private:
    std::map<std::string, std::string> values_;
    std::set<std::string> flags_;
    std::vector<std::string> positional_;
};

} // namespace qlcli
