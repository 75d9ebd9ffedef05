// CSV tables and the CLI's JSON summary of runs. Numbers: %.6g, dB with 4 decimals;
// non-finite values are written as nan / inf / -inf.
#include "base/error.h"
#include "run/run.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <functional>
#include <set>
#include <sstream>

namespace ql {

namespace {

std::string g6(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char b[40];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}

std::string db4(double v) {
    if (!std::isfinite(v)) return g6(v);
    char b[40];
    std::snprintf(b, sizeof b, "%.4f", v);
    return b;
}

std::string u64(uint64_t v) {
    return std::to_string(v);
}

std::string quoted(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string joinRow(const std::vector<std::string>& cells) {
    std::string row;
    for (size_t i = 0; i < cells.size(); ++i) row += (i ? "," : "") + cells[i];
    return row + "\n";
}

double ratio(uint64_t fp, uint64_t q) {
    return q ? double(fp) / double(q) : 0.0;
}

nlohmann::json jnum(double v) {
    if (std::isfinite(v)) return v;
    return nullptr;
}

}  // namespace

std::string layersCsv(const RunResult& run) {
    std::string out = joinRow({"layer",
                               "block",
                               "kind",
                               "rows",
                               "cols",
                               "parameters",
                               "method",
                               "fallback",
                               "weight_sqnr_db",
                               "output_sqnr_db",
                               "mse",
                               "max_abs_error",
                               "cosine",
                               "bytes_fp",
                               "bytes_q",
                               "compression",
                               "gradient_norm_before",
                               "gradient_norm_after",
                               "seconds",
                               "activation_sqnr_db",
                               "outlier_column_fraction",
                               "output_sqnr_plain_db",
                               "output_sqnr_source"});
    // Which windows output SQNR was measured on (outputSqnrSourceText), on every row so
    // that a filtered or pasted excerpt still says it.
    const std::string source =
        quoted(run.outputSqnrSource.empty() ? std::string("none") : run.outputSqnrSource);
    for (const auto& l : run.layers) {
        out += joinRow({quoted(l.name),
                        std::to_string(l.block),
                        l.kind,
                        std::to_string(l.rows),
                        std::to_string(l.cols),
                        u64(l.parameters),
                        quoted(l.method),
                        l.fallback ? "1" : "0",
                        db4(l.weightSqnrDb),
                        db4(l.outputSqnrDb),
                        g6(l.mse),
                        g6(l.maxAbsError),
                        g6(l.cosine),
                        u64(l.bytesFp),
                        u64(l.bytesQ),
                        g6(ratio(l.bytesFp, l.bytesQ)),
                        g6(l.gradientNormBefore),
                        g6(l.gradientNormAfter),
                        g6(l.seconds),
                        db4(l.activationSqnrDb),
                        g6(l.outlierColumnFraction),
                        db4(l.outputSqnrPlainDb),
                        source});
    }
    return out;
}

std::string memoryCsv(const RunResult& run) {
    const MemorySummary& m = run.memory;
    std::string out = joinRow({"item", "parameters", "bytes_fp", "bytes_q", "compression"});
    uint64_t quantizedParams = 0;
    for (const auto& l : run.layers) {
        quantizedParams += l.parameters;
        out += joinRow({quoted(l.name), u64(l.parameters), u64(l.bytesFp), u64(l.bytesQ),
                        g6(ratio(l.bytesFp, l.bytesQ))});
    }
    const uint64_t otherParams = m.parametersTotal - std::min(m.parametersTotal, quantizedParams);
    const uint64_t otherBytes = m.bytesFpTotal - std::min(m.bytesFpTotal, m.bytesFpQuantized);
    out += joinRow({"quantized layers", u64(quantizedParams), u64(m.bytesFpQuantized),
                    u64(m.bytesQQuantized), g6(ratio(m.bytesFpQuantized, m.bytesQQuantized))});
    out += joinRow({"other tensors", u64(otherParams), u64(otherBytes), u64(otherBytes), g6(1.0)});
    out += joinRow({"whole model", u64(m.parametersTotal), u64(m.bytesFpTotal), u64(m.bytesQTotal),
                    g6(ratio(m.bytesFpTotal, m.bytesQTotal))});
    return out;
}

std::string perplexityCsv(const std::vector<RunResult>& runs) {
    std::string out = joinRow({"run", "label", "recipe", "protocol", "seq", "windows",
                               "scored_tokens", "ppl_fp", "ppl_q", "delta_ppl", "kl_mean", "kl_p50",
                               "kl_p90", "kl_p99", "kl_max", "top1_agreement"});
    for (const auto& r : runs) {
        const PerplexitySummary& p = r.perplexity;
        if (!p.valid) {
            out += joinRow({quoted(r.id), quoted(r.label), quoted(r.config.recipe), "", "", "", "",
                            "", "", "", "", "", "", "", "", ""});
            continue;
        }
        out += joinRow({quoted(r.id), quoted(r.label), quoted(r.config.recipe), p.protocol,
                        std::to_string(p.seq), std::to_string(p.windows),
                        std::to_string(p.scoredTokens), g6(p.pplFp), g6(p.pplQ),
                        g6(p.pplQ - p.pplFp), g6(p.klMean), g6(p.klP50), g6(p.klP90), g6(p.klP99),
                        g6(p.klMax), g6(p.top1Agreement)});
    }
    return out;
}

std::string histogramCsv(const Histogram& before, const Histogram& after) {
    if (before.counts.size() != after.counts.size() || before.lo != after.lo ||
        before.hi != after.hi)
        throw Error("histograms to export side by side must share their bins");
    std::string out = joinRow({"bin_lo", "bin_hi", "count_before", "count_after"});
    const double w = before.binWidth();
    for (size_t i = 0; i < before.counts.size(); ++i) {
        const double lo = before.lo + double(i) * w;
        const double hi = i + 1 == before.counts.size() ? before.hi : before.lo + double(i + 1) * w;
        out += joinRow({g6(lo), g6(hi), u64(before.counts[i]), u64(after.counts[i])});
    }
    return out;
}

std::string compareCsv(const RunResult& a, const RunResult& b) {
    struct Metric {
        const char* name;
        std::function<double(const LayerResult&)> get;
        bool db;
    };
    const std::vector<Metric> metrics = {
        {"weight_sqnr_db", [](const LayerResult& l) { return l.weightSqnrDb; }, true},
        {"output_sqnr_db", [](const LayerResult& l) { return l.outputSqnrDb; }, true},
        {"activation_sqnr_db", [](const LayerResult& l) { return l.activationSqnrDb; }, true},
        {"mse", [](const LayerResult& l) { return l.mse; }, false},
        {"cosine", [](const LayerResult& l) { return l.cosine; }, false},
        {"bytes_q", [](const LayerResult& l) { return double(l.bytesQ); }, false},
        {"gradient_norm_after", [](const LayerResult& l) { return l.gradientNormAfter; }, false}};
    std::vector<std::string> header = {"layer", "method_a", "method_b"};
    for (const auto& m : metrics) {
        header.push_back(std::string(m.name) + "_a");
        header.push_back(std::string(m.name) + "_b");
        header.push_back(std::string(m.name) + "_delta");
    }
    std::string out = joinRow(header);
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const auto* run : {&a, &b})
        for (const auto& l : run->layers)
            if (seen.insert(l.name).second) names.push_back(l.name);
    for (const auto& name : names) {
        const LayerResult* la = a.layer(name);
        const LayerResult* lb = b.layer(name);
        std::vector<std::string> row = {quoted(name), la ? quoted(la->method) : "",
                                        lb ? quoted(lb->method) : ""};
        for (const auto& m : metrics) {
            auto fmt = [&](double v) { return m.db ? db4(v) : g6(v); };
            row.push_back(la ? fmt(m.get(*la)) : "");
            row.push_back(lb ? fmt(m.get(*lb)) : "");
            row.push_back(la && lb ? fmt(m.get(*lb) - m.get(*la)) : "");
        }
        out += joinRow(row);
    }
    return out;
}

std::string runSummaryJson(const RunResult& run) {
    using nlohmann::json;
    const PerplexitySummary& p = run.perplexity;
    json layers = json::object();
    for (const auto& l : run.layers) {
        layers[l.name] = {{"weight_sqnr_db", jnum(l.weightSqnrDb)},
                          {"output_sqnr_db", jnum(l.outputSqnrDb)},
                          {"activation_sqnr_db", jnum(l.activationSqnrDb)},
                          {"outlier_column_fraction", jnum(l.outlierColumnFraction)},
                          {"outlier_columns", l.outlierColumns},
                          {"output_sqnr_plain_db", jnum(l.outputSqnrPlainDb)},
                          {"mse", jnum(l.mse)},
                          {"cosine", jnum(l.cosine)},
                          {"bytes_fp", l.bytesFp},
                          {"bytes_q", l.bytesQ},
                          {"method", l.method},
                          {"fallback", l.fallback}};
        if (run.hasGradients) {
            layers[l.name]["gradient_norm_before"] = jnum(l.gradientNormBefore);
            layers[l.name]["gradient_norm_after"] = jnum(l.gradientNormAfter);
        }
    }
    json timings = json::object(), peaks = json::object();
    for (const auto& t : run.timings) {
        timings[t.phase] = t.seconds;
        if (t.peakBytes) peaks[t.phase] = t.peakBytes;
    }
    json j = {{"id", run.id},
              {"label", run.label},
              {"model", run.modelName},
              {"architecture", run.architecture},
              {"recipe", run.config.recipe},
              {"ppl_fp", p.valid ? jnum(p.pplFp) : json(nullptr)},
              {"ppl_q", p.valid ? jnum(p.pplQ) : json(nullptr)},
              {"kl_mean", p.valid ? jnum(p.klMean) : json(nullptr)},
              {"kl_p99", p.valid ? jnum(p.klP99) : json(nullptr)},
              {"top1_agreement", p.valid ? jnum(p.top1Agreement) : json(nullptr)},
              {"protocol", p.valid ? json(p.protocol) : json(nullptr)},
              {"eval_seq", p.seq},
              {"scored_tokens", p.scoredTokens},
              {"bytes_fp", run.memory.bytesFpTotal},
              {"bytes_q", run.memory.bytesQTotal},
              {"bytes_fp_quantized", run.memory.bytesFpQuantized},
              {"bytes_q_quantized", run.memory.bytesQQuantized},
              {"parameters", run.memory.parametersTotal},
              {"peak_rss_bytes", run.memory.peakRssBytes},
              {"has_activations", run.hasActivations},
              {"has_gradients", run.hasGradients},
              {"layers", layers},
              {"timings", timings},
              {"phase_peak_bytes", peaks},
              {"warnings", run.warnings},
              {"calibration_windows_used", run.calibrationWindowsUsed},
              {"calibration_windows_held_out", run.calibrationWindowsHeldOut},
              {"calibration_tokens", run.calibrationTokens},
              {"output_sqnr_source", run.outputSqnrSource},
              {"output_sqnr_windows", run.outputSqnrWindows},
              {"seconds", run.seconds}};
    return j.dump(2);
}

}  // namespace ql
