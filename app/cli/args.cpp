#include "args.h"

#include "base/error.h"

#include <cstdlib>

namespace qlcli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& valueOptions,
           const std::set<std::string>& flagOptions) {
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a.rfind("--", 0) != 0 || a == "--") {
            positional_.push_back(a);
            continue;
        }
        std::string name = a.substr(2), value;
        const auto eq = name.find('=');
        const bool inlineValue = eq != std::string::npos;
        if (inlineValue) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        if (flagOptions.count(name) && !inlineValue) {
            flags_.insert(name);
        } else if (valueOptions.count(name)) {
            if (!inlineValue) {
                if (i + 1 >= argv.size()) throw ql::Error("option --" + name + " needs a value");
                value = argv[++i];
            }
            values_[name] = value;
        } else {
            throw ql::Error("unknown option --" + name + " (see --help)");
        }
    }
}

void Args::allowPositional(size_t max) const {
    if (positional_.size() > max)
        throw ql::Error("unexpected argument '" + positional_[max] + "' (see --help)");
}

std::string Args::value(const std::string& name, const std::string& fallback) const {
    const auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

std::string Args::required(const std::string& name) const {
    const auto it = values_.find(name);
    if (it == values_.end() || it->second.empty())
        throw ql::Error("missing required option --" + name + " (see --help)");
    return it->second;
}

int Args::intValue(const std::string& name, int fallback) const {
    const auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    const long v = std::strtol(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < -2147483647L || v > 2147483647L)
        throw ql::Error("option --" + name + " expects an integer, got '" + it->second + "'");
    return int(v);
}

double Args::doubleValue(const std::string& name, double fallback) const {
    const auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end != '\0')
        throw ql::Error("option --" + name + " expects a number, got '" + it->second + "'");
    return v;
}

}  // namespace qlcli
