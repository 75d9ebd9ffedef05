// Synthetic RunResults for the widget suites (test_models, test_widgets): no model or
// shared data needed, every value known to the test.
#pragma once

#include "widgets/resultutils.h"

#include <memory>
#include <string>
#include <vector>

namespace qltest {

using namespace ql;

inline Histogram makeHistogram(double lo, double hi, std::vector<uint64_t> counts) {
    Histogram h;
    h.lo = lo;
    h.hi = hi;
    h.counts = std::move(counts);
    return h;
}

// A run whose layer i has weight SQNR sqnr[i]; bytes and perplexity derived from `scale`.
inline RunPtr makeRun(const std::string& label, const std::vector<double>& sqnr,
                      double scale = 1.0) {
    RunResult r;
    r.id = label;
    r.label = label;
    r.config.recipe = "rtn:int8:channel:sym";
    const char* kinds[] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                           "gate_proj", "up_proj", "down_proj"};
    for (size_t i = 0; i < sqnr.size(); ++i) {
        LayerResult l;
        l.block = int(i / 7);
        l.kind = kinds[i % 7];
        l.name = "model.layers." + std::to_string(l.block) + (i % 7 < 4 ? ".self_attn." : ".mlp.") +
                 l.kind;
        l.rows = 64;
        l.cols = 48 + int64_t(i);
        l.method = r.config.recipe;
        l.fallback = i % 7 == 6;
        l.fallbackReason = "group size does not divide 172";
        l.weightSqnrDb = sqnr[i];
        l.outputSqnrDb = sqnr[i] - 1.5;
        l.mse = 1e-5 * double(i + 1) * scale;
        l.maxAbsError = 0.01 * double(i + 1);
        l.cosine = 0.9999;
        l.parameters = uint64_t(l.rows * l.cols);
        l.bytesFp = l.parameters * 4;
        l.bytesQ = uint64_t(double(l.parameters) * scale) + 128;
        l.weightBefore = makeHistogram(-1, 1, {1, 5, 20 + i, 40, 20, 5, 1, 0});
        l.weightAfter = makeHistogram(-1, 1, {0, 6, 22, 38, 21, 4, 1, 1});
        l.weightError = makeHistogram(-0.01, 0.01, {3, 10, 3, 1});
        l.activationBefore = makeHistogram(-4, 4, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
        l.activationAfter = makeHistogram(-4, 4, {2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11});
        l.gradientBefore = makeHistogram(-0.1, 0.1, {4, 8, 4});
        l.gradientAfter = makeHistogram(-0.1, 0.1, {5, 7, 4});
        l.scales = std::vector<float>(size_t(l.rows), 0.01f);
        l.groupSize = l.cols;
        l.bits = 8;
        r.layers.push_back(l);
        r.memory.bytesFpQuantized += l.bytesFp;
        r.memory.bytesQQuantized += l.bytesQ;
    }
    r.memory.parametersTotal = 260032;
    r.memory.bytesFpTotal = 260032 * 4;
    r.memory.bytesQTotal = 500000;
    r.memory.peakRssBytes = 123456789;
    r.perplexity.valid = true;
    r.perplexity.pplFp = 4.45611;
    r.perplexity.pplQ = 4.45611 * (1 + 0.01 * scale);
    r.perplexity.klMean = 0.002 * scale;
    r.perplexity.top1Agreement = 0.97;
    r.perplexity.scoredTokens = 4335;
    r.perplexity.protocol = "gptq";
    r.perplexity.seq = 256;
    r.perplexity.windows = 17;
    return std::make_shared<const RunResult>(std::move(r));
}

}  // namespace qltest
