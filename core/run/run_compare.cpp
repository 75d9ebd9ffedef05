#include "run/run_compare.h"

#include <filesystem>

namespace ql {

namespace {

std::string fileName(const std::string& path) {
    return path.empty() ? std::string("none") : std::filesystem::path(path).filename().string();
}

struct Field {
    const char* name;
    std::string a, b;
};

std::string differences(const std::vector<Field>& fields) {
    std::string out;
    for (const Field& f : fields) {
        if (f.a == f.b) continue;
        if (!out.empty()) out += ", ";
        out += std::string(f.name) + " " + f.a + " vs " + f.b;
    }
    return out;
}

// Two texts with one file name in different folders: the paths tell them apart.
Field textField(const char* name, const std::string& a, const std::string& b) {
    const bool sameName = fileName(a) == fileName(b);
    return {name, sameName ? a : fileName(a), sameName ? b : fileName(b)};
}

std::string modelOf(const RunResult& r) {
    return r.modelName.empty() ? r.config.modelDir : r.modelName;
}

}  // namespace

std::string evaluationDifference(const RunResult& a, const RunResult& b) {
    const PerplexitySummary &pa = a.perplexity, &pb = b.perplexity;
    return differences(
        {{"model", a.config.modelDir, b.config.modelDir},
         textField("evaluation text", a.config.evaluationText, b.config.evaluationText),
         {"protocol", pa.protocol, pb.protocol},
         {"seq", std::to_string(pa.seq), std::to_string(pb.seq)},
         {"windows", std::to_string(pa.windows), std::to_string(pb.windows)}});
}

std::string calibrationDifference(const RunResult& a, const RunResult& b) {
    const RunConfig &ca = a.config, &cb = b.config;
    if (ca.calibrationText.empty() || cb.calibrationText.empty()) return {};
    auto shape = [](const RunConfig& c) {
        return std::to_string(c.calibrationWindows) + " × " + std::to_string(c.calibrationSeq);
    };
    return differences({{"model", ca.modelDir, cb.modelDir},
                        textField("calibration text", ca.calibrationText, cb.calibrationText),
                        {"windows × length", shape(ca), shape(cb)}});
}

std::vector<std::string> comparisonCaveats(const RunResult& a, const RunResult& b) {
    std::vector<std::string> out;
    if (a.config.modelDir != b.config.modelDir)
        out.push_back("A and B quantized different models (" + modelOf(a) + " vs " + modelOf(b) +
                      "): layers are matched by name only and their deltas mix the models' " +
                      "differences with the quantization's.");
    if (a.perplexity.valid && b.perplexity.valid) {
        const std::string d = evaluationDifference(a, b);
        if (!d.empty())
            out.push_back("perplexity was measured under different settings (" + d +
                          "): compare each run's delta to its own float perplexity, not " +
                          "the two quantized perplexities.");
    } else if (a.perplexity.valid != b.perplexity.valid) {
        out.push_back(std::string("only ") + (a.perplexity.valid ? "A" : "B") +
                      " was evaluated: there is no perplexity to compare.");
    }
    const std::string c = calibrationDifference(a, b);
    if (!c.empty())
        out.push_back("output SQNR was measured on different calibration inputs (" + c +
                      "): per-layer output SQNR deltas are not like for like.");
    return out;
}

}  // namespace ql
