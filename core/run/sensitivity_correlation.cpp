// Spearman rank correlation, and each proxy's with the measured sensitivity (sensitivity.h).
#include "run/sensitivity.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

namespace ql {

namespace {

std::vector<double> ranks(const std::vector<double>& v) {
    std::vector<size_t> order(v.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
        const double average = 0.5 * double(i + j) + 1.0;
        for (size_t k = i; k <= j; ++k) r[order[k]] = average;
        i = j + 1;
    }
    return r;
}

}  // namespace

double spearmanCorrelation(const std::vector<double>& x, const std::vector<double>& y) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (x.size() != y.size()) return nan;
    std::vector<double> a, b;
    for (size_t i = 0; i < x.size(); ++i)
        if (!std::isnan(x[i]) && !std::isnan(y[i])) a.push_back(x[i]), b.push_back(y[i]);
    if (a.size() < 2) return nan;
    const std::vector<double> ra = ranks(a), rb = ranks(b);
    const double n = double(a.size()), mean = (n + 1.0) / 2.0;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < ra.size(); ++i) {
        sab += (ra[i] - mean) * (rb[i] - mean);
        saa += (ra[i] - mean) * (ra[i] - mean);
        sbb += (rb[i] - mean) * (rb[i] - mean);
    }
    if (saa == 0 || sbb == 0) return nan;
    return sab / std::sqrt(saa * sbb);
}

std::vector<ProxyCorrelation> proxyCorrelations(const std::vector<UnitSensitivity>& units) {
    struct Proxy {
        const char* name;
        const char* label;
        bool negated;
        std::function<double(const UnitSensitivity&)> value;
    };
    const Proxy proxies[] = {
        {"weight_sqnr_db", "-weight SQNR", true, [](const auto& u) { return u.weightSqnrDb; }},
        {"weight_error_sq", "weight err", false, [](const auto& u) { return u.weightErrorSq; }},
        {"output_sqnr_db", "-output SQNR", true, [](const auto& u) { return u.outputSqnrDb; }},
        {"fisher_error", "Fisher err", false, [](const auto& u) { return u.fisherError; }},
        {"hessian_error", "Hessian err", false, [](const auto& u) { return u.hessianError; }},
        {"input_kurtosis", "kurtosis", false, [](const auto& u) { return u.inputKurtosis; }},
    };
    std::vector<double> dkl;
    for (const UnitSensitivity& u : units) dkl.push_back(u.deltaKlMean);
    std::vector<ProxyCorrelation> out;
    for (const Proxy& p : proxies) {
        std::vector<double> x;
        for (const UnitSensitivity& u : units) x.push_back(p.negated ? -p.value(u) : p.value(u));
        out.push_back({p.name, p.label, p.negated, spearmanCorrelation(x, dkl)});
    }
    return out;
}

}  // namespace ql
