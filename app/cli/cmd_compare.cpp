// quantlens-cli compare: two run folders side by side (CSV tables with deltas B - A).
#include "args.h"
#include "base/atomic_write.h"
#include "base/error.h"
#include "base/output_folder.h"
#include "commands.h"
#include "run/run.h"
#include "run/run_compare.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace qlcli {

namespace {

const char* kUsage =
    "Usage: quantlens-cli compare RUN_A RUN_B --out DIR [--force] [--json]\n"
    "\n"
    "Writes layers.csv (per-layer metrics of A and B and B - A), perplexity.csv and\n"
    "memory.csv into DIR and prints a short summary. DIR must be new or empty; an earlier\n"
    "compare output there is replaced only with --force. Every file is written crash-safely.\n"
    "Runs of different models, or measured under different perplexity or calibration\n"
    "settings, are compared all the same with a note saying what differs (\"caveats\" in\n"
    "--json): their deltas then mix those differences with the quantization's.\n";

std::string memoryCompareCsv(const ql::RunResult& a, const ql::RunResult& b) {
    auto row = [](const char* item, uint64_t fpA, uint64_t qA, uint64_t qB) {
        return std::string(item) + "," + std::to_string(fpA) + "," + std::to_string(qA) + "," +
               std::to_string(qB) + "," + std::to_string(int64_t(qB) - int64_t(qA)) + "\n";
    };
    std::string out = "item,bytes_fp,bytes_q_a,bytes_q_b,bytes_q_delta\n";
    out += row("quantized layers", a.memory.bytesFpQuantized, a.memory.bytesQQuantized,
               b.memory.bytesQQuantized);
    out += row("whole model", a.memory.bytesFpTotal, a.memory.bytesQTotal, b.memory.bytesQTotal);
    out += row("peak rss", 0, a.memory.peakRssBytes, b.memory.peakRssBytes);
    return out;
}

double meanWeightSqnr(const ql::RunResult& r) {
    double s = 0.0;
    int n = 0;
    for (const auto& l : r.layers)
        if (std::isfinite(l.weightSqnrDb)) s += l.weightSqnrDb, ++n;
    return n ? s / n : 0.0;
}

nlohmann::json side(const ql::RunResult& r) {
    auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
    const bool p = r.perplexity.valid;
    return {{"id", r.id},
            {"label", r.label},
            {"recipe", r.config.recipe},
            {"ppl_fp", p ? num(r.perplexity.pplFp) : nlohmann::json()},
            {"ppl_q", p ? num(r.perplexity.pplQ) : nlohmann::json()},
            {"kl_mean", p ? num(r.perplexity.klMean) : nlohmann::json()},
            {"mean_weight_sqnr_db", meanWeightSqnr(r)},
            {"bytes_q", r.memory.bytesQTotal},
            {"layers", r.layers.size()}};
}

}  // namespace

int cmdCompare(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(argv, {"out"}, {"json", "force"});
    if (args.positional().size() != 2)
        throw ql::Error("compare needs two run folders: RUN_A RUN_B (see --help)");
    const std::string outDir = args.required("out");
    if (ql::checkOutputFolder(outDir) == ql::OutputFolder::Ours && !args.flag("force"))
        throw ql::Error("'" + outDir + "' already holds QuantLens output; pass --force to " +
                        "replace it");
    const ql::RunResult a = ql::loadRun(args.positional()[0]);
    const ql::RunResult b = ql::loadRun(args.positional()[1]);
    ql::claimOutputFolder(outDir, "quantlens-compare");
    ql::writeFileAtomic(outDir + "/layers.csv", ql::compareCsv(a, b));
    ql::writeFileAtomic(outDir + "/perplexity.csv", ql::perplexityCsv({a, b}));
    ql::writeFileAtomic(outDir + "/memory.csv", memoryCompareCsv(a, b));
    const std::vector<std::string> caveats = ql::comparisonCaveats(a, b);

    if (args.flag("json")) {
        const nlohmann::json j = {{"a", side(a)},
                                  {"b", side(b)},
                                  {"caveats", caveats},
                                  {"out", outDir},
                                  {"files", {"layers.csv", "perplexity.csv", "memory.csv"}}};
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    for (const auto* r : {&a, &b}) {
        std::printf("%s  %-24s mean weight SQNR %7.2f dB  bytes %llu", r == &a ? "A" : "B",
                    r->label.c_str(), meanWeightSqnr(*r),
                    (unsigned long long)r->memory.bytesQTotal);
        if (r->perplexity.valid)
            std::printf("  ppl %.5f -> %.5f  KL %.6g", r->perplexity.pplFp, r->perplexity.pplQ,
                        r->perplexity.klMean);
        std::printf("\n");
    }
    for (const std::string& c : caveats) std::printf("note: %s\n", c.c_str());
    std::printf("tables written to %s (layers.csv, perplexity.csv, memory.csv)\n", outDir.c_str());
    return 0;
}

}  // namespace qlcli
