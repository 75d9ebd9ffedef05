// Runs: reference SQNR/perplexity, KL and agreement, activation/gradient capture,
// persistence, CSV, rebinning, cancellation and bad settings.
#include "base/error.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "quant/histogram.h"
#include "quant/quantize.h"
#include "run/run.h"
#include "run/run_internal.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <QDir>
#include <QObject>
#include <QTest>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>

using namespace ql;
namespace fs = std::filesystem;

namespace {

std::vector<int32_t> tokenizeText(const std::string& modelDir, const std::string& text) {
    return Tokenizer::load(modelDir)->encode(text);
}

const char* kSmall = "models/stories260k";
const char* kOther = "models/tinystories-656k";

RunConfig baseConfig(const char* model, const std::string& recipe) {
    RunConfig c;
    c.modelDir = qltest::dataPath(model);
    c.recipe = recipe;
    c.captureActivations = false;
    c.captureGradients = false;
    c.threads =
        1;  // tiny models: threads only add synchronisation (and CI runs suites in parallel)
    return c;
}

RunConfig fullConfig(const char* model, const std::string& recipe) {
    RunConfig c = baseConfig(model, recipe);
    c.calibrationText = qltest::dataPath("data/stories/calib.txt");
    c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    c.evalSeq = 256;
    c.captureActivations = true;
    c.captureGradients = true;
    return c;
}

// Runs used by several tests are computed once.
const RunResult& cachedRun(const std::string& key, const std::function<RunConfig()>& make) {
    static std::map<std::string, std::unique_ptr<RunResult>> cache;
    auto& slot = cache[key];
    if (!slot) slot = std::make_unique<RunResult>(runQuantization(make()));
    return *slot;
}

const RunResult& fullRun(const char* model, const std::string& recipe) {
    return cachedRun(std::string(model) + "|" + recipe, [&] { return fullConfig(model, recipe); });
}

uint64_t total(const Histogram& h) {
    uint64_t s = 0;
    for (auto c : h.counts) s += c;
    return s;
}

bool sameDouble(double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || a == b;
}

void compareHistogram(const Histogram& a, const Histogram& b, const char* what) {
    QVERIFY2(a.counts == b.counts, what);
    QVERIFY2(sameDouble(a.lo, b.lo) && sameDouble(a.hi, b.hi), what);
    const auto &s = a.stats, &t = b.stats;
    QVERIFY2(s.count == t.count && s.nanCount == t.nanCount && s.posInfCount == t.posInfCount &&
                 s.negInfCount == t.negInfCount && s.outliers == t.outliers &&
                 s.belowRange == t.belowRange && s.aboveRange == t.aboveRange,
             what);
    QVERIFY2(sameDouble(s.min, t.min) && sameDouble(s.max, t.max) && sameDouble(s.mean, t.mean) &&
                 sameDouble(s.std, t.std) && sameDouble(s.kurtosis, t.kurtosis),
             what);
}

void compareLayer(const LayerResult& a, const LayerResult& b) {
    QCOMPARE(a.name, b.name);
    QCOMPARE(a.block, b.block);
    QCOMPARE(a.kind, b.kind);
    QCOMPARE(a.rows, b.rows);
    QCOMPARE(a.cols, b.cols);
    QCOMPARE(a.method, b.method);
    QCOMPARE(a.fallback, b.fallback);
    QCOMPARE(a.fallbackReason, b.fallbackReason);
    for (auto [x, y] : {std::pair{a.weightSqnrDb, b.weightSqnrDb},
                        {a.outputSqnrDb, b.outputSqnrDb},
                        {a.mse, b.mse},
                        {a.maxAbsError, b.maxAbsError},
                        {a.cosine, b.cosine},
                        {a.gradientNormBefore, b.gradientNormBefore},
                        {a.gradientNormAfter, b.gradientNormAfter},
                        {a.seconds, b.seconds}})
        QVERIFY(sameDouble(x, y));
    QCOMPARE(a.parameters, b.parameters);
    QCOMPARE(a.bytesFp, b.bytesFp);
    QCOMPARE(a.bytesQ, b.bytesQ);
    compareHistogram(a.weightBefore, b.weightBefore, "weightBefore");
    compareHistogram(a.weightAfter, b.weightAfter, "weightAfter");
    compareHistogram(a.weightError, b.weightError, "weightError");
    compareHistogram(a.activationBefore, b.activationBefore, "activationBefore");
    compareHistogram(a.activationAfter, b.activationAfter, "activationAfter");
    compareHistogram(a.outputBefore, b.outputBefore, "outputBefore");
    compareHistogram(a.outputAfter, b.outputAfter, "outputAfter");
    compareHistogram(a.gradientBefore, b.gradientBefore, "gradientBefore");
    compareHistogram(a.gradientAfter, b.gradientAfter, "gradientAfter");
    QVERIFY(a.activationSampleBefore == b.activationSampleBefore);
    QVERIFY(a.activationSampleAfter == b.activationSampleAfter);
    QVERIFY(a.scales == b.scales);
    QVERIFY(a.zeros == b.zeros);
    QCOMPARE(a.groupSize, b.groupSize);
    QCOMPARE(a.perTensor, b.perTensor);
    QCOMPARE(a.bits, b.bits);
    QCOMPARE(a.symmetric, b.symmetric);
    QCOMPARE(a.weightAfterSource, b.weightAfterSource);
}

void compareRun(const RunResult& a, const RunResult& b) {
    QCOMPARE(a.id, b.id);
    QCOMPARE(a.label, b.label);
    QCOMPARE(a.modelName, b.modelName);
    QCOMPARE(a.architecture, b.architecture);
    QCOMPARE(a.createdAt, b.createdAt);
    QVERIFY(sameDouble(a.seconds, b.seconds));
    QCOMPARE(a.hasActivations, b.hasActivations);
    QCOMPARE(a.hasGradients, b.hasGradients);
    QCOMPARE(a.warnings, b.warnings);
    const RunConfig &c = a.config, &d = b.config;
    QCOMPARE(c.modelDir, d.modelDir);
    QCOMPARE(c.recipe, d.recipe);
    QCOMPARE(c.layers.include, d.layers.include);
    QCOMPARE(c.layers.exclude, d.layers.exclude);
    QCOMPARE(c.layers.kinds, d.layers.kinds);
    QCOMPARE(c.layers.minParameters, d.layers.minParameters);
    QCOMPARE(c.calibrationText, d.calibrationText);
    QCOMPARE(c.calibrationWindows, d.calibrationWindows);
    QCOMPARE(c.calibrationSeq, d.calibrationSeq);
    QCOMPARE(c.evaluationText, d.evaluationText);
    QCOMPARE(c.evalSeq, d.evalSeq);
    QCOMPARE(c.evalMaxWindows, d.evalMaxWindows);
    QCOMPARE(c.evalProtocol, d.evalProtocol);
    QCOMPARE(c.captureActivations, d.captureActivations);
    QCOMPARE(c.captureGradients, d.captureGradients);
    QCOMPARE(c.histogramBins, d.histogramBins);
    QCOMPARE(c.threads, d.threads);
    const PerplexitySummary &p = a.perplexity, &q = b.perplexity;
    QCOMPARE(p.valid, q.valid);
    QCOMPARE(p.scoredTokens, q.scoredTokens);
    QCOMPARE(p.windows, q.windows);
    QCOMPARE(p.seq, q.seq);
    QCOMPARE(p.protocol, q.protocol);
    for (auto [x, y] : {std::pair{p.pplFp, q.pplFp},
                        {p.pplQ, q.pplQ},
                        {p.klMean, q.klMean},
                        {p.klP50, q.klP50},
                        {p.klP90, q.klP90},
                        {p.klP99, q.klP99},
                        {p.klMax, q.klMax},
                        {p.top1Agreement, q.top1Agreement},
                        {p.tokensPerSecond, q.tokensPerSecond}})
        QVERIFY(sameDouble(x, y));
    const MemorySummary &m = a.memory, &n = b.memory;
    QCOMPARE(m.parametersTotal, n.parametersTotal);
    QCOMPARE(m.bytesFpTotal, n.bytesFpTotal);
    QCOMPARE(m.bytesQTotal, n.bytesQTotal);
    QCOMPARE(m.bytesFpQuantized, n.bytesFpQuantized);
    QCOMPARE(m.bytesQQuantized, n.bytesQQuantized);
    QCOMPARE(m.peakRssBytes, n.peakRssBytes);
    QCOMPARE(a.timings.size(), b.timings.size());
    for (size_t i = 0; i < a.timings.size(); ++i) {
        QCOMPARE(a.timings[i].phase, b.timings[i].phase);
        QCOMPARE(a.timings[i].seconds, b.timings[i].seconds);
    }
    QCOMPARE(a.layers.size(), b.layers.size());
    for (size_t i = 0; i < a.layers.size(); ++i) compareLayer(a.layers[i], b.layers[i]);
}

std::vector<std::string> csvLines(const std::string& csv) {
    std::vector<std::string> lines;
    std::istringstream in(csv);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

size_t fields(const std::string& line) {
    return size_t(std::count(line.begin(), line.end(), ',')) + 1;
}

bool siblingsLeft(const std::string& folder) {
    const fs::path p(folder);
    for (const auto& e : fs::directory_iterator(p.parent_path())) {
        const std::string name = e.path().filename().string();
        if (name.rfind(p.filename().string() + ".tmp-", 0) == 0 ||
            name.rfind(p.filename().string() + ".old-", 0) == 0)
            return true;
    }
    return false;
}

template <class F>
void expectError(F&& f, const char* what) {
    bool thrown = false;
    try {
        f();
    } catch (const Cancelled&) {
        QFAIL(what);
    } catch (const Error& e) {
        thrown = true;
        QVERIFY2(std::string(e.what()).size() > 5, what);
    }
    QVERIFY2(thrown, what);
}

}  // namespace

class TestRun : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void customTokenizer();
    void globAndSelection();
    void referenceInt8();
    void weightsOnlyMatchesModelPath();
    void llamacppProtocolMatchesEvaluatePerplexity();
    void int8CloseToFloatAndKl();
    void activationsShareBinsAndCount();
    void gradientsFinite();
    void saveLoadRoundTrip();
    void rebinMatchesRealData();
    void csvTables();
    void cancelLeavesNothing();
    void badSettings();
    void corruptRunFolders();
};

void TestRun::customTokenizer() {
    QL_REQUIRE_DATA(kSmall);
    RunConfig c = baseConfig(kSmall, "rtn:int8:channel:sym");
    c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    int calls = 0;
    setRunTokenizer([&](const std::string&, const std::string&) -> std::vector<int32_t> {
        ++calls;
        throw Error("custom tokenizer refuses");
    });
    bool thrown = false;
    try {
        runQuantization(c);
    } catch (const Error& e) {
        thrown = std::string(e.what()).find("custom tokenizer refuses") != std::string::npos;
    }
    QVERIFY(thrown);
    QCOMPARE(calls, 1);
    setRunTokenizer({});  // back to ql::Tokenizer
}

void TestRun::globAndSelection() {
    QVERIFY(globMatch("*", ""));
    QVERIFY(globMatch("model.layers.*.mlp.*", "model.layers.3.mlp.down_proj"));
    QVERIFY(!globMatch("model.layers.*.mlp.*", "model.layers.3.self_attn.q_proj"));
    QVERIFY(globMatch("*q_proj", "model.layers.10.self_attn.q_proj"));
    QVERIFY(globMatch("model.layers.?.*", "model.layers.1.x"));
    QVERIFY(!globMatch("model.layers.?.*", "model.layers.12.x"));
    QVERIFY(globMatch("a*b*c", "aXbYbZc"));
    QVERIFY(!globMatch("a*b*c", "aXbYbZ"));
    QVERIFY(!globMatch("abc", "abcd"));

    std::vector<LinearLayerInfo> all;
    for (int b = 0; b < 3; ++b)
        for (ProjKind k : {ProjKind::Q, ProjKind::K, ProjKind::V, ProjKind::O, ProjKind::Gate,
                           ProjKind::Up, ProjKind::Down}) {
            LinearLayerInfo l;
            l.block = b;
            l.kind = k;
            const bool attn =
                k == ProjKind::Q || k == ProjKind::K || k == ProjKind::V || k == ProjKind::O;
            l.name = "model.layers." + std::to_string(b) + (attn ? ".self_attn." : ".mlp.") +
                     projKindName(k);
            l.outFeatures = k == ProjKind::K ? 8 : 64;
            l.inFeatures = 64;
            all.push_back(l);
        }
    QCOMPARE(selectLayers(all, {}).size(), size_t(21));
    LayerSelection s;
    s.include = {"*.mlp.*"};
    s.exclude = {"model.layers.0.*"};
    QCOMPARE(selectLayers(all, s).size(), size_t(6));
    LayerSelection k;
    k.kinds = {"k_proj", "down_proj"};
    QCOMPARE(selectLayers(all, k).size(), size_t(6));
    LayerSelection m;
    m.minParameters = 64 * 64;
    QCOMPARE(selectLayers(all, m).size(), size_t(18));  // the small k_proj are skipped
    LayerSelection none;
    none.include = {"nothing*"};
    expectError([&] { selectLayers(all, none); }, "empty selection");
    LayerSelection badKind;
    badKind.kinds = {"qproj"};
    expectError([&] { selectLayers(all, badKind); }, "unknown kind");
}

void TestRun::referenceInt8() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("reference/model-reference.json");
    const auto ref =
        nlohmann::json::parse(qltest::readFile(qltest::dataPath("reference/model-reference.json")));
    nlohmann::json floatRef, quantRef;
    for (const auto& p : ref.at("stories260k").at("ppl"))
        (p.contains("recipe") ? quantRef : floatRef) = p;
    QCOMPARE(quantRef.at("recipe").get<std::string>(), std::string("rtn:int8:channel:sym"));

    RunConfig c = baseConfig(kSmall, "rtn:int8:channel:sym");
    c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    c.evalSeq = quantRef.at("seq").get<int>();
    const RunResult run = runQuantization(c);

    const auto& sqnr = quantRef.at("weight_sqnr_db");
    QCOMPARE(run.layers.size(), sqnr.size());
    for (const auto& l : run.layers) {
        QVERIFY2(sqnr.contains(l.name), l.name.c_str());
        const double expected = sqnr.at(l.name).get<double>();
        QVERIFY2(std::abs(l.weightSqnrDb - expected) <= 0.01,
                 qPrintable(QString::fromStdString(l.name) + ": " +
                            QString::number(l.weightSqnrDb) + " vs " + QString::number(expected)));
    }
    const auto& p = run.perplexity;
    QVERIFY(p.valid);
    QCOMPARE(p.scoredTokens, quantRef.at("scored_tokens").get<int64_t>());
    QVERIFY(std::abs(p.pplQ / quantRef.at("ppl").get<double>() - 1.0) <= 1e-4);
    QVERIFY(std::abs(p.pplFp / floatRef.at("ppl").get<double>() - 1.0) <= 1e-4);

    // pplFp is what evaluatePerplexity reports for the float model (same protocol), up to
    // float rounding: the block-streamed engine sums the log-sum-exp over vocabulary chunks
    // (online) where evaluatePerplexity takes it over the whole row (measured 3e-9).
    const auto model = Model::load(c.modelDir);
    PerplexityOptions o;
    o.seq = c.evalSeq;
    const auto fp =
        evaluatePerplexity(*model, tokenizeText(c.modelDir, qltest::readFile(c.evaluationText)), o);
    QVERIFY(std::abs(p.pplFp / fp.ppl - 1.0) <= 1e-7);
    QCOMPARE(p.scoredTokens, fp.scoredTokens);

    // Memory: int8 weights + one fp16 scale per row; bytesFp in the source dtype (F32).
    for (const auto& l : run.layers) {
        QCOMPARE(l.bytesFp, l.parameters * 4);
        QCOMPARE(l.bytesQ, l.parameters + uint64_t(l.rows) * 2);
    }
    const auto store = TensorStore::open(c.modelDir);
    QCOMPARE(run.memory.bytesFpTotal, store->totalBytes());
    QCOMPARE(run.memory.bytesQTotal,
             run.memory.bytesFpTotal - run.memory.bytesFpQuantized + run.memory.bytesQQuantized);
    QVERIFY(run.memory.peakRssBytes > 0);
    QCOMPARE(run.label, std::string("RTN INT8 channel sym"));
    QVERIFY(run.id.find("rtn-int8-channel-sym") != std::string::npos);
}

void TestRun::llamacppProtocolMatchesEvaluatePerplexity() {
    QL_REQUIRE_DATA(kOther);
    RunConfig c = baseConfig(kOther, "rtn:int8:channel:sym");
    c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    c.evalSeq = 128;
    c.evalProtocol = "llamacpp";
    c.layers.include = {"model.layers.1.*"};
    const RunResult run = runQuantization(c);
    QCOMPARE(run.layers.size(), size_t(7));
    const auto model = Model::load(c.modelDir);
    PerplexityOptions o;
    o.seq = c.evalSeq;
    o.protocol = PplProtocol::LlamaCpp;
    const auto fp =
        evaluatePerplexity(*model, tokenizeText(c.modelDir, qltest::readFile(c.evaluationText)), o);
    QCOMPARE(run.perplexity.protocol, std::string("llamacpp"));
    QCOMPARE(run.perplexity.scoredTokens, fp.scoredTokens);
    QCOMPARE(run.perplexity.windows, fp.windows);
    QVERIFY(std::abs(run.perplexity.pplFp / fp.ppl - 1.0) <= 1e-7);  // chunked head: see above
    // Only block 1 quantized: the quantized model is different but close.
    QVERIFY(run.perplexity.pplQ != run.perplexity.pplFp);
    QVERIFY(std::abs(run.perplexity.pplQ / run.perplexity.pplFp - 1.0) < 0.01);
}

void TestRun::weightsOnlyMatchesModelPath() {
    QL_REQUIRE_DATA(kSmall);
    // Weights-only (no model built) and model path (an evaluation text forces it) agree.
    RunConfig a = baseConfig(kSmall, "rtn:int4:g32:asym");
    const RunResult wo = runQuantization(a);
    RunConfig b = a;
    b.evaluationText = qltest::dataPath("data/stories/stories.txt");
    b.evalSeq = 256;
    b.evalMaxWindows = 1;
    const RunResult mp = runQuantization(b);
    QCOMPARE(wo.layers.size(), mp.layers.size());
    int fallbacks = 0;
    for (size_t i = 0; i < wo.layers.size(); ++i) {
        QCOMPARE(wo.layers[i].name, mp.layers[i].name);
        // the weights-only kernel sums in float over 8 values, then double: ~1e-7 relative
        QVERIFY(std::abs(wo.layers[i].weightSqnrDb - mp.layers[i].weightSqnrDb) <
                1e-6 * std::abs(mp.layers[i].weightSqnrDb));
        QCOMPARE(wo.layers[i].bytesQ, mp.layers[i].bytesQ);
        QCOMPARE(wo.layers[i].weightAfter.counts, mp.layers[i].weightAfter.counts);
        QCOMPARE(wo.layers[i].fallback, mp.layers[i].fallback);
        fallbacks += wo.layers[i].fallback;
        // Independent check of the weight SQNR against a naive loop.
        const auto store = TensorStore::open(a.modelDir);
        const auto w = store->readFloat(wo.layers[i].name + ".weight");
        const auto rtn = quantizeRtn(w.data(), wo.layers[i].rows, wo.layers[i].cols,
                                     Recipe::parse(wo.layers[i].method));
        double s = 0, e = 0;
        for (size_t j = 0; j < w.size(); ++j) {
            s += double(w[j]) * w[j];
            e += double(w[j] - rtn.dequant[j]) * (w[j] - rtn.dequant[j]);
        }
        QVERIFY(std::abs(10 * std::log10(s / e) - wo.layers[i].weightSqnrDb) < 1e-6);
    }
    // MLP 172 is not divisible by 32: down_proj falls back to per-channel in each block.
    QCOMPARE(fallbacks, 5);
    QVERIFY(!wo.warnings.empty());
}

void TestRun::int8CloseToFloatAndKl() {
    for (const char* model : {kSmall, kOther}) {
        QL_REQUIRE_DATA(model);
        const RunResult& i8 = fullRun(model, "rtn:int8:channel:sym");
        const RunResult& i4 = fullRun(model, "rtn:int4:channel:sym");
        for (const RunResult* r : {&i8, &i4}) {
            const auto& p = r->perplexity;
            QVERIFY(p.valid);
            QVERIFY(p.klMean >= 0 && p.klP50 >= 0 && p.klP50 <= p.klP90 && p.klP90 <= p.klP99 &&
                    p.klP99 <= p.klMax);
            QVERIFY(p.top1Agreement >= 0.0 && p.top1Agreement <= 1.0);
            QVERIFY(std::isfinite(p.pplQ) && p.pplQ > 1.0);
        }
        QVERIFY2(std::abs(i8.perplexity.pplQ / i8.perplexity.pplFp - 1.0) < 0.005, model);
        QVERIFY2(i4.perplexity.klMean > i8.perplexity.klMean, model);
        QVERIFY(i8.perplexity.top1Agreement >= i4.perplexity.top1Agreement);
        QCOMPARE(i8.perplexity.pplFp, i4.perplexity.pplFp);
        // Output SQNR, measured on the first evaluation windows (held out from any fit).
        QCOMPARE(i8.outputSqnrSource, std::string("evaluation"));
        for (const auto& l : i8.layers)
            QVERIFY(std::isfinite(l.outputSqnrDb) && l.outputSqnrDb > 20);
    }
}

void TestRun::activationsShareBinsAndCount() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult& run = fullRun(kSmall, "rtn:int4:channel:sym");
    QVERIFY(run.hasActivations);
    // Calibration tokens actually used: min(windows, tokens / seq) windows of seq tokens.
    const size_t tokens =
        tokenizeText(run.config.modelDir, qltest::readFile(run.config.calibrationText)).size();
    const uint64_t windows = std::min<uint64_t>(uint64_t(run.config.calibrationWindows),
                                                tokens / uint64_t(run.config.calibrationSeq));
    QVERIFY(windows >= 1);
    const uint64_t calibTokens = windows * uint64_t(run.config.calibrationSeq);
    for (const auto& l : run.layers) {
        for (auto [b, a] : {std::pair{&l.activationBefore, &l.activationAfter},
                            {&l.outputBefore, &l.outputAfter}}) {
            QCOMPARE(b->bins(), run.config.histogramBins);
            QCOMPARE(a->bins(), b->bins());
            QCOMPARE(a->lo, b->lo);
            QCOMPARE(a->hi, b->hi);
        }
        QCOMPARE(total(l.activationBefore), calibTokens * uint64_t(l.cols));
        QCOMPARE(total(l.activationAfter), calibTokens * uint64_t(l.cols));
        QCOMPARE(total(l.outputBefore), calibTokens * uint64_t(l.rows));
        QCOMPARE(total(l.outputAfter), calibTokens * uint64_t(l.rows));
        const size_t expectSample =
            size_t(std::min<uint64_t>(65536, calibTokens * uint64_t(l.cols)));
        QCOMPARE(l.activationSampleBefore.size(), expectSample);
        QCOMPARE(l.activationSampleAfter.size(), expectSample);
        // Samples are real values: inside the histogram range.
        for (float v : l.activationSampleBefore)
            QVERIFY(v >= l.activationBefore.lo && v <= l.activationBefore.hi);
    }
    // Block 0's q/k/v inputs are the same normed embeddings in both models (nothing
    // quantized precedes them): identical histograms.
    QCOMPARE(run.layers[0].activationBefore.counts, run.layers[0].activationAfter.counts);
    // A later layer sees the effect of quantization.
    QVERIFY(run.layers.back().activationBefore.counts != run.layers.back().activationAfter.counts);
}

void TestRun::gradientsFinite() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult& run = fullRun(kSmall, "rtn:int4:channel:sym");
    QVERIFY(run.hasGradients);
    bool anyDiffers = false;
    for (const auto& l : run.layers) {
        QVERIFY2(std::isfinite(l.gradientNormBefore) && l.gradientNormBefore > 0, l.name.c_str());
        QVERIFY2(std::isfinite(l.gradientNormAfter) && l.gradientNormAfter > 0, l.name.c_str());
        QCOMPARE(l.gradientBefore.lo, l.gradientAfter.lo);
        QCOMPARE(l.gradientBefore.hi, l.gradientAfter.hi);
        QCOMPARE(total(l.gradientBefore), l.parameters);
        QCOMPARE(total(l.gradientAfter), l.parameters);
        anyDiffers |= l.gradientNormBefore != l.gradientNormAfter;
    }
    QVERIFY(anyDiffers);
}

void TestRun::saveLoadRoundTrip() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult& run = fullRun(kSmall, "rtn:int4:channel:sym");
    const std::string folder = (qltest::tempDir("run-roundtrip") + "/run").toStdString();
    saveRun(run, folder);
    const RunResult loaded = loadRun(folder);
    compareRun(run, loaded);
    QCOMPARE(loaded.folder, folder);
    // Saving again over the existing folder replaces it and leaves no temporary sibling.
    saveRun(loaded, folder, Overwrite::ExistingRun);
    compareRun(run, loadRun(folder));
    QVERIFY(!siblingsLeft(folder));

    // GPTQ keeps its dequantized weights in the run folder (not recomputable from a grid).
    RunConfig g = fullConfig(kSmall, "gptq:int4:channel:sym");
    g.captureActivations = g.captureGradients = false;
    g.evaluationText.clear();
    const RunResult gptq = runQuantization(g);
    const std::string gfolder = (qltest::tempDir("run-roundtrip-gptq") + "/run").toStdString();
    saveRun(gptq, gfolder);
    const RunResult gl = loadRun(gfolder);
    compareRun(gptq, gl);
    for (const auto& l : gl.layers) {
        QCOMPARE(l.weightAfterSource, std::string("stored"));
        QVERIFY(fs::exists(storedWeightPath(gfolder, l.name)));
    }
}

void TestRun::rebinMatchesRealData() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult run = runQuantization(baseConfig(kSmall, "rtn:int4:g32:asym"));
    const auto store = TensorStore::open(run.config.modelDir);
    for (const auto& l : run.layers) {
        const auto w = store->readFloat(l.name + ".weight");
        const auto rtn = quantizeRtn(w.data(), l.rows, l.cols, Recipe::parse(l.method));
        std::vector<float> err(w.size());
        for (size_t i = 0; i < w.size(); ++i) err[i] = w[i] - rtn.dequant[i];
        const double lo = l.weightBefore.lo * 0.3, hi = l.weightBefore.hi * 0.2;
        const Histogram b = rebinWeights(run, l.name, "before", lo, hi, 50);
        const Histogram a = rebinWeights(run, l.name, "after", lo, hi, 50);
        const Histogram e = rebinWeights(run, l.name, "error", -1e-3, 1e-3, 40);
        QCOMPARE(b.counts, computeHistogram(w.data(), w.size(), lo, hi, 50).counts);
        QCOMPARE(a.counts, computeHistogram(rtn.dequant.data(), w.size(), lo, hi, 50).counts);
        QCOMPARE(e.counts, computeHistogram(err.data(), err.size(), -1e-3, 1e-3, 40).counts);
        // Full range reproduces the stored histogram exactly.
        QCOMPARE(rebinWeights(run, l.name, "after", l.weightAfter.lo, l.weightAfter.hi,
                              l.weightAfter.bins())
                     .counts,
                 l.weightAfter.counts);
    }
    expectError([&] { rebinWeights(run, "nope", "after", 0, 1, 10); }, "unknown layer");
    expectError([&] { rebinWeights(run, run.layers[0].name, "sideways", 0, 1, 10); }, "bad which");
    expectError([&] { rebinWeights(run, run.layers[0].name, "after", 1, 0, 10); }, "bad range");

    // GPTQ and AWQ: stored weights, in memory and after a save/load.
    for (const char* recipe : {"gptq:int8:channel:sym", "awq:int4:g32:asym"}) {
        RunConfig g = baseConfig(kSmall, recipe);
        g.calibrationText = qltest::dataPath("data/stories/calib.txt");
        const RunResult run2 = runQuantization(g);
        const RunResult rtn = runQuantization(
            baseConfig(kSmall, g.recipe.substr(g.recipe.find(':') + 1).insert(0, "rtn:")));
        const std::string folder = (qltest::tempDir("run-rebin-calibrated") + "/run").toStdString();
        saveRun(run2, folder);
        const RunResult loaded = loadRun(folder);
        for (size_t i = 0; i < run2.layers.size(); ++i) {
            const LayerResult& l = run2.layers[i];
            QCOMPARE(l.weightAfterSource, std::string("stored"));
            // Calibrated methods trade weight error for output error: same ballpark as RTN.
            QVERIFY2(std::abs(l.weightSqnrDb - rtn.layers[i].weightSqnrDb) < 6.0, l.name.c_str());
            QVERIFY(std::isfinite(l.outputSqnrDb));
            const Histogram mem = rebinWeights(run2, l.name, "after", l.weightAfter.lo,
                                               l.weightAfter.hi, l.weightAfter.bins());
            QCOMPARE(mem.counts, l.weightAfter.counts);
            const Histogram disk = rebinWeights(loaded, l.name, "error", l.weightError.lo,
                                                l.weightError.hi, l.weightError.bins());
            QCOMPARE(disk.counts, l.weightError.counts);
        }
    }
}

void TestRun::csvTables() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult& a = fullRun(kSmall, "rtn:int8:channel:sym");
    const RunResult& b = fullRun(kSmall, "rtn:int4:channel:sym");
    const auto layers = csvLines(layersCsv(a));
    QCOMPARE(layers.size(), a.layers.size() + 1);
    QVERIFY(layers[0].rfind("layer,", 0) == 0);
    for (const auto& line : layers) QCOMPARE(fields(line), fields(layers[0]));
    // weight_sqnr_db column holds the value with 4 decimals.
    const std::string first = layers[1];
    char expect[32];
    std::snprintf(expect, sizeof expect, ",%.4f,", a.layers[0].weightSqnrDb);
    QVERIFY(first.find(expect) != std::string::npos);

    const auto mem = csvLines(memoryCsv(a));
    QCOMPARE(mem.size(), a.layers.size() + 4);
    for (const auto& line : mem) QCOMPARE(fields(line), size_t(5));

    const auto ppl = csvLines(perplexityCsv({a, b}));
    QCOMPARE(ppl.size(), size_t(3));
    for (const auto& line : ppl) QCOMPARE(fields(line), fields(ppl[0]));

    const auto& l = a.layers[3];
    const auto hist = csvLines(histogramCsv(l.weightBefore, l.weightAfter));
    QCOMPARE(hist[0], std::string("bin_lo,bin_hi,count_before,count_after"));
    QCOMPARE(hist.size(), size_t(l.weightBefore.bins()) + 1);
    uint64_t sum = 0;
    for (size_t i = 1; i < hist.size(); ++i) {
        std::stringstream ss(hist[i]);
        std::string lo, hi, cb;
        std::getline(ss, lo, ',');
        std::getline(ss, hi, ',');
        std::getline(ss, cb, ',');
        sum += std::stoull(cb);
    }
    QCOMPARE(sum, total(l.weightBefore));
    expectError([&] { histogramCsv(l.weightBefore, l.activationBefore); }, "different bins");

    const auto cmp = csvLines(compareCsv(a, b));
    QCOMPARE(cmp.size(), a.layers.size() + 1);
    for (const auto& line : cmp) QCOMPARE(fields(line), fields(cmp[0]));
    QVERIFY(cmp[0].find("weight_sqnr_db_delta") != std::string::npos);

    const auto summary = nlohmann::json::parse(runSummaryJson(a));
    for (const char* key : {"recipe", "ppl_fp", "ppl_q", "kl_mean", "top1_agreement", "bytes_fp",
                            "bytes_q", "layers", "seconds"})
        QVERIFY2(summary.contains(key), key);
    QCOMPARE(summary.at("layers").size(), a.layers.size());
    QCOMPARE(summary.at("ppl_q").get<double>(), a.perplexity.pplQ);
    QVERIFY(summary.at("layers").begin()->contains("weight_sqnr_db"));
}

void TestRun::cancelLeavesNothing() {
    QL_REQUIRE_DATA(kSmall);
    RunConfig c = fullConfig(kSmall, "rtn:int4:channel:asym");
    c.evalMaxWindows = 2;
    int calls = 0;
    runQuantization(c, [&](const Progress&) {
        ++calls;
        return true;
    });
    QVERIFY(calls > 8);
    const std::string folder = (qltest::tempDir("run-cancel") + "/run").toStdString();
    for (int at : {1, 2, calls / 4, calls / 2, 3 * calls / 4, calls - 1}) {
        int n = 0;
        bool cancelled = false;
        try {
            const RunResult r = runQuantization(c, [&](const Progress&) { return ++n < at; });
            saveRun(r, folder);
        } catch (const Cancelled&) {
            cancelled = true;
        }
        QVERIFY2(cancelled, qPrintable(QString("cancel at call %1 of %2").arg(at).arg(calls)));
        QCOMPARE(n, at);  // stopped at once: no further progress calls
        QVERIFY(!fs::exists(folder));
        QVERIFY(!siblingsLeft(folder));
    }
}

void TestRun::badSettings() {
    QL_REQUIRE_DATA(kSmall);
    auto bad = [](std::function<void(RunConfig&)> edit, const char* what) {
        RunConfig c = baseConfig(kSmall, "rtn:int8:channel:sym");
        edit(c);
        expectError([&] { runQuantization(c); }, what);
    };
    bad([](RunConfig& c) { c.recipe = "rtn:int3:banana:sym"; }, "unknown recipe");
    bad([](RunConfig& c) { c.recipe = "magic:int4"; }, "unknown method");
    bad([](RunConfig& c) { c.calibrationWindows = 0; }, "zero windows");
    bad([](RunConfig& c) { c.calibrationSeq = 0; }, "zero calibration seq");
    bad([](RunConfig& c) { c.recipe = "gptq:int4:channel:sym"; }, "gptq without calibration");
    bad(
        [](RunConfig& c) {
            c.recipe = "gptq:int4:channel:sym";
            c.calibrationText = "/nonexistent/calib.txt";
        },
        "missing calibration file");
    bad(
        [](RunConfig& c) {
            c.calibrationText = qltest::dataPath("data/stories/calib.txt");
            c.calibrationSeq = 100000;
        },
        "calibration shorter than one window");
    bad(
        [](RunConfig& c) {
            c.evaluationText = qltest::dataPath("data/stories/stories.txt");
            c.evalSeq = 1000000;
        },
        "evaluation shorter than one window");
    bad([](RunConfig& c) { c.modelDir = "/nonexistent/model"; }, "missing model");
    bad([](RunConfig& c) { c.layers.include = {"nothing.*"}; }, "empty selection");
    bad([](RunConfig& c) { c.evalProtocol = "bogus"; }, "unknown protocol");
    bad([](RunConfig& c) { c.histogramBins = 0; }, "zero bins");
    // An empty calibration text.
    const std::string empty = (qltest::tempDir("run-bad") + "/empty.txt").toStdString();
    std::ofstream(empty).close();
    bad([&](RunConfig& c) { c.calibrationText = empty; }, "empty calibration text");
}

void TestRun::corruptRunFolders() {
    QL_REQUIRE_DATA(kSmall);
    const QString dir = qltest::tempDir("run-corrupt");
    expectError([&] { loadRun((dir + "/missing").toStdString()); }, "missing folder");
    expectError([&] { loadRun(dir.toStdString()); }, "no run.json");

    const RunResult run = runQuantization(baseConfig(kSmall, "rtn:int8:channel:sym"));
    const std::string folder = (dir + "/run").toStdString();
    saveRun(run, folder);
    const std::string json = qltest::readFile(folder + "/run.json");
    const std::string bin = qltest::readFile(folder + "/histograms.bin");
    auto write = [](const std::string& path, const std::string& data) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
    };
    write(folder + "/run.json", json.substr(0, json.size() / 2));
    expectError([&] { loadRun(folder); }, "truncated run.json");
    write(folder + "/run.json", "{\"format\": \"quantlens-run\", \"version\": 1}");
    expectError([&] { loadRun(folder); }, "run.json without fields");
    write(folder + "/run.json", json);
    write(folder + "/histograms.bin", bin.substr(0, bin.size() - 100));
    expectError([&] { loadRun(folder); }, "truncated histograms.bin");
    std::string wrong = bin;
    wrong[0] = 'X';
    write(folder + "/histograms.bin", wrong);
    expectError([&] { loadRun(folder); }, "bad magic");
    fs::remove(folder + "/histograms.bin");
    expectError([&] { loadRun(folder); }, "missing histograms.bin");
    write(folder + "/histograms.bin", bin);
    compareRun(run, loadRun(folder));
}

QTEST_GUILESS_MAIN(TestRun)
#include "test_run.moc"
