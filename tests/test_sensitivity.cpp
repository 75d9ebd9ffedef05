// Measured sensitivity (run/sensitivity.h) against independent runs: the one-in sensitivity
// of a unit is the KL / perplexity of a run that quantizes only that unit (--include), and
// leave-one-out the run that quantizes everything else (--exclude), on the same evaluation
// windows; block passes are counted; Spearman against hand-computed values.
#include "base/error.h"
#include "run/run.h"
#include "run/sensitivity.h"
#include "testdata.h"

#include <QObject>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>

using namespace ql;

namespace {

constexpr int kSeq = 128, kWindows = 4;

SensitivityConfig sensitivityConfig(const QString& model, const std::string& recipe,
                                    SensitivityUnit unit, SensitivityMode mode) {
    SensitivityConfig c;
    c.modelDir = qltest::dataPath(model);
    c.recipe = recipe;
    c.unit = unit;
    c.mode = mode;
    c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    c.calibrationText = qltest::dataPath("data/stories/calib.txt");
    c.calibrationWindows = 4;
    c.evalSeq = kSeq;
    c.evalWindows = kWindows;
    c.threads = 1;
    return c;
}

// The run an independent user would make: the same windows, only `include` (or all but
// `exclude`) quantized; the default (streamed) engine.
PerplexitySummary runKl(const SensitivityConfig& s, const std::vector<std::string>& include,
                        const std::vector<std::string>& exclude) {
    RunConfig c;
    c.modelDir = s.modelDir;
    c.recipe = s.recipe;
    c.layers.include = include;
    c.layers.exclude = exclude;
    c.evaluationText = s.evaluationText;
    c.evalSeq = s.evalSeq;
    c.evalMaxWindows = s.evalWindows;
    if (Recipe::parse(s.recipe).method == QuantMethod::Gptq) {
        c.calibrationText = s.calibrationText;
        c.calibrationWindows = s.calibrationWindows;
        c.calibrationSeq = s.calibrationSeq;
    }
    c.captureActivations = c.captureGradients = false;
    c.threads = 1;
    return runQuantization(c).perplexity;
}

// KL is summed in float in both, in different orders (the run batches its windows the same
// way, so the difference is last-bit): 1e-6 absolute plus 1e-4 relative.
void near(double a, double b, const std::string& what) {
    QVERIFY2(std::fabs(a - b) <= 1e-6 + 1e-4 * std::fabs(b),
             (what + ": " + std::to_string(a) + " vs " + std::to_string(b)).c_str());
}

}  // namespace

class TestSensitivity : public QObject {
    Q_OBJECT
private slots:
    void spearmanAgainstHandValues() {
        // Ranks x: 1 2 3 4 5, y: 5 6 7 8 7 -> ranks 1 2 3.5 5 3.5. rho = 0.8207826816681233
        // (computed by hand: sum d^2 formula does not hold with ties; Pearson of ranks).
        const double rho = spearmanCorrelation({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7});
        QVERIFY2(std::fabs(rho - 0.8207826816681233) < 1e-12, std::to_string(rho).c_str());
        QCOMPARE(spearmanCorrelation({1, 2, 3}, {30, 20, 10}), -1.0);
        QCOMPARE(spearmanCorrelation({1, std::nan(""), 3, 4}, {1, 100, 2, 3}), 1.0);
        QVERIFY(std::isnan(spearmanCorrelation({1, 1, 1}, {1, 2, 3})));
        QVERIFY(std::isnan(spearmanCorrelation({1}, {1})));
    }

    void unitsAndModesParse() {
        QCOMPARE(parseSensitivityUnit("kind"), SensitivityUnit::Kind);
        QCOMPARE(parseSensitivityMode("leave-one-out"), SensitivityMode::LeaveOneOut);
        QString error;
        try {
            parseSensitivityUnit("head");
        } catch (const Error& e) {
            error = e.what();
        }
        QVERIFY2(error.contains("'head'") && error.contains("layer, block or kind"),
                 qPrintable(error));
    }

    void matchesRuns_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<int>("unit");
        QTest::addColumn<int>("mode");
        QTest::addColumn<int>("checkUnits");  // how many units to re-run (each a run)
        const QString small = "models/stories260k", other = "models/tinystories-656k";
        const int layer = int(SensitivityUnit::Layer), block = int(SensitivityUnit::Block),
                  kind = int(SensitivityUnit::Kind);
        const int oneIn = int(SensitivityMode::OneIn), loo = int(SensitivityMode::LeaveOneOut);
        QTest::newRow("260k rtn int4 layer one-in")
            << small << "rtn:int4:g32:asym" << layer << oneIn << 6;
        QTest::newRow("260k rtn int4 block leave-one-out")
            << small << "rtn:int4:g32:asym" << block << loo << 3;
        QTest::newRow("656k rtn int4 kind one-in")
            << other << "rtn:int4:g32:sym" << kind << oneIn << 3;
        QTest::newRow("656k rtn int3 layer leave-one-out")
            << other << "rtn:int3:g32:asym" << layer << loo << 3;
        QTest::newRow("260k gptq block one-in")
            << small << "gptq:int4:g32:asym" << block << oneIn << 1;
    }
    void matchesRuns() {
        QFETCH(QString, model);
        QFETCH(QString, recipe);
        QFETCH(int, unit);
        QFETCH(int, mode);
        QFETCH(int, checkUnits);
        QL_REQUIRE_DATA(model);
        QL_REQUIRE_DATA("data/stories/stories.txt");
        QL_REQUIRE_DATA("data/stories/calib.txt");
        const SensitivityConfig c = sensitivityConfig(model, recipe.toStdString(),
                                                      SensitivityUnit(unit), SensitivityMode(mode));
        const SensitivityResult s = measureSensitivity(c);
        QCOMPARE(s.windows, kWindows);
        QVERIFY(!s.units.empty());
        const bool loo = SensitivityMode(mode) == SensitivityMode::LeaveOneOut;
        if (loo) {
            const PerplexitySummary all = runKl(c, {}, {});
            near(s.fullyQuantized.klMean, all.klMean, "fully quantized KL mean");
            near(s.fullyQuantized.pplQ, all.pplQ, "fully quantized ppl");
        }
        // checkUnits units spread over the model (first and last included): each is a run.
        const int n = int(s.units.size());
        const int k = std::min(checkUnits, n);
        for (int i = 0; i < k; ++i) {
            const int u = k == 1 ? 0 : i * (n - 1) / (k - 1);
            const UnitSensitivity& us = s.units[size_t(u)];
            const PerplexitySummary r = loo ? runKl(c, {}, us.layers) : runKl(c, us.layers, {});
            near(us.klMean, r.klMean, us.unit + " KL mean");
            near(us.klP99, r.klP99, us.unit + " KL p99");
            near(us.pplQ, r.pplQ, us.unit + " ppl");
            near(s.pplFp, r.pplFp, "ppl fp");
            if (!loo) near(us.deltaKlMean, r.klMean, us.unit + " delta KL");
            QVERIFY2(us.klMean >= 0 && std::isfinite(us.weightSqnrDb), us.unit.c_str());
        }
        // Each variant recomputed only from its first quantized block on.
        const int blocks = model.contains("260k") ? 5 : 2;
        int64_t passes = blocks;    // the float pass
        if (loo) passes += blocks;  // fully quantized: every block has selected layers
        for (const UnitSensitivity& us : s.units) passes += blocks - us.firstBlock;
        QCOMPARE(s.blockPasses, passes);
        if (!loo && SensitivityUnit(unit) == SensitivityUnit::Layer)
            QCOMPARE(s.blockPasses, int64_t(blocks + 7 * blocks * (blocks + 1) / 2));
        QVERIFY(s.blockPasses <= s.blockPassesFull);
        // The layers each unit says fell back are those a run of the recipe reports (stories
        // 260k's 172-wide down_proj rows under g32), with the reason.
        RunConfig w;
        w.modelDir = c.modelDir;
        w.recipe = recipe.startsWith("gptq") ? "rtn" + recipe.mid(4).toStdString() : c.recipe;
        w.captureActivations = w.captureGradients = false;
        w.threads = 1;
        std::map<std::string, std::string> fell;
        for (const LayerResult& l : runQuantization(w).layers)
            if (l.fallback) fell[l.name] = l.fallbackReason;
        QCOMPARE(!fell.empty(), model.contains("260k"));
        size_t marked = 0;
        for (const UnitSensitivity& us : s.units) {
            std::vector<std::string> expected;
            for (const std::string& l : us.layers)
                if (fell.count(l)) expected.push_back(l);
            QCOMPARE(us.fallbackLayers, expected);
            // (The wording differs between the engine's paths; both name group and row.)
            const QString why = QString::fromStdString(us.fallbackReason);
            QCOMPARE(why.isEmpty(), expected.empty());
            QVERIFY2(expected.empty() || (why.contains("group size 32") && why.contains("172")),
                     qPrintable(why));
            marked += expected.size();
        }
        QCOMPARE(marked, fell.size());
    }

    void badSettingsGiveOneError() {
        QL_REQUIRE_DATA("models/stories260k");
        SensitivityConfig c = sensitivityConfig("models/stories260k", "rtn:int8+a8",
                                                SensitivityUnit::Layer, SensitivityMode::OneIn);
        QString error;
        try {
            measureSensitivity(c);
        } catch (const Error& e) {
            error = e.what();
        }
        QVERIFY2(error.contains("activation side"), qPrintable(error));
        c.recipe = "rtn:int4";
        c.evaluationText.clear();
        error.clear();
        try {
            measureSensitivity(c);
        } catch (const Error& e) {
            error = e.what();
        }
        QVERIFY2(error.contains("evaluation text"), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TestSensitivity)
#include "test_sensitivity.moc"
