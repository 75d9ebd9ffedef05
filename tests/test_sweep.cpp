// Weights-only sweeps and the fused run path on the shared models: a sweep's per-layer numbers
// equal the weights-only runs of each recipe exactly; the fused RTN layer analysis equals the
// unfused one (quantizeWeightOnly + analyzeLayer) — grid, ranges, counts exact, metric sums to
// 1e-6 relative — and the reference SQNRs of ../shared; bad recipes are refused by name.
#include "base/error.h"
#include "io/dtype.h"
#include "io/model_config.h"
#include "run/run.h"
#include "run/run_internal.h"
#include "run/sweep.h"
#include "testdata.h"

#include <nlohmann/json.hpp>

#include <QTest>

#include <cmath>
#include <cstring>

using namespace ql;

namespace {

const char* kSmall = "models/stories260k";
const char* kTiny = "models/tinystories-656k";

bool relClose(double a, double b, double tol) {
    if (std::isinf(a) || std::isinf(b)) return a == b;
    return std::fabs(a - b) <= tol * std::max(1.0, std::max(std::fabs(a), std::fabs(b)));
}

void expectSameHist(const Histogram& a, const Histogram& b) {
    QCOMPARE(a.lo, b.lo);
    QCOMPARE(a.hi, b.hi);
    QVERIFY(a.counts == b.counts);
    QCOMPARE(a.stats.mean, b.stats.mean);
    QCOMPARE(a.stats.std, b.stats.std);
    QCOMPARE(a.stats.outliers, b.stats.outliers);
}

// Every number a sweep reports, bit for bit; histograms only when `histograms`.
void expectSameLayer(const LayerResult& a, const LayerResult& b, bool histograms = true) {
    QCOMPARE(a.name, b.name);
    QCOMPARE(a.method, b.method);
    QCOMPARE(a.fallback, b.fallback);
    QCOMPARE(a.weightSqnrDb, b.weightSqnrDb);
    QCOMPARE(a.mse, b.mse);
    QCOMPARE(a.maxAbsError, b.maxAbsError);
    QCOMPARE(a.cosine, b.cosine);
    QCOMPARE(a.bytesQ, b.bytesQ);
    QCOMPARE(a.bytesFp, b.bytesFp);
    if (!histograms) {  // metrics only: no grid kept either
        QVERIFY(a.scales.empty() && a.zeros.empty());
        return;
    }
    QVERIFY(a.scales == b.scales);
    expectSameHist(a.weightBefore, b.weightBefore);
    expectSameHist(a.weightAfter, b.weightAfter);
    expectSameHist(a.weightError, b.weightError);
}

RunConfig weightsOnly(const char* model, const std::string& recipe) {
    RunConfig c;
    c.modelDir = qltest::dataPath(model);
    c.recipe = recipe;
    c.captureActivations = false;
    c.captureGradients = false;
    return c;
}

}  // namespace

class TestSweep : public QObject {
    Q_OBJECT
private slots:
    void sweepEqualsRuns_data();
    void sweepEqualsRuns();
    void fusedEqualsUnfused_data();
    void fusedEqualsUnfused();
    void referenceSqnr();
    void badRecipes();
};

void TestSweep::sweepEqualsRuns_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("recipes");
    // stories260k's 172-wide MLP rows: g32/g128 fall back per channel, q4_0 to f16
    QTest::newRow("stories260k rtn+nf4+q4_0")
        << kSmall << "rtn:int8:channel:sym,rtn:int4:g32:asym,rtn:int4:g128:sym,nf4,q4_0";
    QTest::newRow("tinystories-656k rtn+fp16")
        << kTiny << "rtn:int4:g128:asym,rtn:int3:g64:asym,rtn:int8:tensor:sym,fp16";
}

void TestSweep::sweepEqualsRuns() {
    QFETCH(QString, model);
    QFETCH(QString, recipes);
    QL_REQUIRE_DATA(model);
    std::vector<std::string> list;
    for (const QString& r : recipes.split(',')) list.push_back(r.toStdString());
    const SweepResult s = sweepWeights(qltest::dataPath(model), list, LayerSelection{}, 128);
    // bins 0: the metrics alone (pass 1 of the fused kernel), the same numbers bit for bit
    const SweepResult m = sweepWeights(qltest::dataPath(model), list, LayerSelection{}, 0);
    QCOMPARE(s.layers.size(), list.size());
    QCOMPARE(m.layers.size(), list.size());
    for (size_t r = 0; r < list.size(); ++r) {
        const RunResult run = runQuantization(weightsOnly(qPrintable(model), list[r]));
        QCOMPARE(s.layers[r].size(), run.layers.size());
        QCOMPARE(m.layers[r].size(), run.layers.size());
        QVERIFY(!run.layers.empty());
        for (size_t i = 0; i < run.layers.size(); ++i) {
            expectSameLayer(s.layers[r][i], run.layers[i]);
            expectSameLayer(m.layers[r][i], run.layers[i], /*histograms=*/false);
            QCOMPARE(m.layers[r][i].weightBefore.bins(), 0);
            QCOMPARE(m.layers[r][i].weightError.bins(), 0);
            QVERIFY(s.layers[r][i].weightError.bins() == 128);
        }
    }
}

void TestSweep::fusedEqualsUnfused_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("recipe");
    for (const char* m : {kSmall, kTiny})
        for (const char* r : {"rtn:int8:channel:sym", "rtn:int4:g32:asym", "rtn:int4:g64:sym",
                              "rtn:int2:tensor:asym"})
            QTest::addRow("%s %s", m, r) << m << r;
}

void TestSweep::fusedEqualsUnfused() {
    QFETCH(QString, model);
    QFETCH(QString, recipe);
    QL_REQUIRE_DATA(model);
    const std::string dir = qltest::dataPath(model);
    const ModelConfig cfg = loadModelConfig(dir + "/config.json");
    const auto store = TensorStore::open(dir);
    const Recipe r = Recipe::parse(recipe.toStdString());
    int fallbacks = 0;
    for (const LinearLayerInfo& info : checkpointLinears(*store, cfg.numLayers)) {
        const TensorInfo& t = store->get(info.name + ".weight");
        std::vector<float> w(size_t(t.numel()));
        convertToFloat(t.dtype, store->data(t), w.size(), w.data());
        LayerQuantization lq;
        quantizeWeightOnly(lq, layerPlace(cfg, info), w, r);
        const LayerResult ref = analyzeLayer(info, t, w, lq, 256, true);
        const LayerResult f =
            analyzeRtnLayer(info, t, tensorRows(*store, t, info.inFeatures), r, 256);
        QCOMPARE(f.method, ref.method);
        QCOMPARE(f.fallback, ref.fallback);
        fallbacks += f.fallback;
        QVERIFY(f.scales == ref.scales && f.zeros == ref.zeros);
        QCOMPARE(f.bytesQ, ref.bytesQ);
        QCOMPARE(f.weightAfterSource, ref.weightAfterSource);
        // float partial sums of 8 values in the fused kernel: ~1e-7 relative
        QVERIFY(relClose(f.weightSqnrDb, ref.weightSqnrDb, 1e-6));
        QVERIFY(relClose(f.mse, ref.mse, 1e-6));
        QVERIFY(relClose(f.cosine, ref.cosine, 1e-6));
        QCOMPARE(f.maxAbsError, ref.maxAbsError);
        const Histogram* fh[3] = {&f.weightBefore, &f.weightAfter, &f.weightError};
        const Histogram* rh[3] = {&ref.weightBefore, &ref.weightAfter, &ref.weightError};
        for (int k = 0; k < 3; ++k) {
            QCOMPARE(fh[k]->lo, rh[k]->lo);
            QCOMPARE(fh[k]->hi, rh[k]->hi);
            QVERIFY(fh[k]->counts == rh[k]->counts);
            QCOMPARE(fh[k]->stats.count, rh[k]->stats.count);
            QCOMPARE(fh[k]->stats.min, rh[k]->stats.min);
            QCOMPARE(fh[k]->stats.max, rh[k]->stats.max);
            QCOMPARE(fh[k]->stats.outliers, rh[k]->stats.outliers);
            // block moments summed in another order: float sums of 256-value blocks
            QVERIFY(relClose(fh[k]->stats.std, rh[k]->stats.std, 1e-6));
            QVERIFY(std::fabs(fh[k]->stats.kurtosis - rh[k]->stats.kurtosis) <= 1e-4);
        }
    }
    // stories260k's 172-wide rows do not take g32/g64: the fallback is exercised
    if (model == kSmall && recipe.contains(":g")) QVERIFY(fallbacks > 0);
}

void TestSweep::referenceSqnr() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("reference/model-reference.json");
    const auto ref =
        nlohmann::json::parse(qltest::readFile(qltest::dataPath("reference/model-reference.json")));
    nlohmann::json quantRef;
    for (const auto& p : ref.at("stories260k").at("ppl"))
        if (p.contains("recipe")) quantRef = p;
    QCOMPARE(quantRef.at("recipe").get<std::string>(), std::string("rtn:int8:channel:sym"));
    const SweepResult s =
        sweepWeights(qltest::dataPath(kSmall), {"rtn:int8:channel:sym"}, LayerSelection{}, 64);
    const auto& sqnr = quantRef.at("weight_sqnr_db");
    QCOMPARE(s.layers[0].size(), sqnr.size());
    for (const auto& l : s.layers[0]) {
        QVERIFY2(sqnr.contains(l.name), l.name.c_str());
        // the reference file gives its values to 0.01 dB (as test_run's referenceInt8)
        QVERIFY2(std::fabs(l.weightSqnrDb - sqnr.at(l.name).get<double>()) <= 0.01, l.name.c_str());
    }
}

void TestSweep::badRecipes() {
    QL_REQUIRE_DATA(kSmall);
    const std::string dir = qltest::dataPath(kSmall);
    for (const char* bad :
         {"gptq:int4:g128:asym", "rtn:int8:channel:sym+a8", "llm_int8", "rtn:int9"}) {
        bool threw = false;
        try {
            sweepWeights(dir, {"rtn:int8:channel:sym", bad}, LayerSelection{}, 64);
        } catch (const Error& e) {
            threw = true;
            QVERIFY2(std::string(e.what()).find(std::string(bad).substr(0, 4)) != std::string::npos,
                     e.what());
        }
        QVERIFY2(threw, bad);
    }
    QVERIFY_THROWS_EXCEPTION(Error, sweepWeights(dir, {}, LayerSelection{}, 64));
    QVERIFY_THROWS_EXCEPTION(Error,
                             sweepWeights(dir + "/nope", {"rtn:int8"}, LayerSelection{}, 64));
}

QTEST_GUILESS_MAIN(TestSweep)
#include "test_sweep.moc"
