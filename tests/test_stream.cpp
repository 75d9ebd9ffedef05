// The block-streamed engine against the whole-model reference path (QL_ENGINE=whole), on
// both shared models: perplexity, KL, agreement, every layer's metrics and output SQNR,
// and every histogram's counts (weights, activations, outputs, gradients). The two paths
// batch windows and apply the output head differently, so float sums differ in the last
// bits: tolerances below are stated per quantity.
#include "base/error.h"
#include "quant/recipe.h"
#include "run/run.h"
#include "run/run_estimate.h"
#include "testdata.h"

#include <QObject>
#include <QTest>

#include <cmath>
#include <cstdlib>
#include <string>

using namespace ql;

namespace {

// Whether the run ends with ql::Cancelled (any other error propagates and fails the test).
bool endsCancelled(const RunConfig& c, const ProgressCallback& cb) {
    try {
        runQuantization(c, cb);
    } catch (const Cancelled&) {
        return true;
    }
    return false;
}

RunConfig fullConfig(const QString& model, const std::string& recipe, bool withEval) {
    RunConfig c;
    c.modelDir = qltest::dataPath(model);
    c.recipe = recipe;
    c.calibrationText = qltest::dataPath("data/stories/calib.txt");
    if (withEval) c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    c.evalSeq = 256;
    c.captureActivations = true;
    c.captureGradients = true;
    c.threads = 1;
    return c;
}

RunResult runWith(const char* engine, const RunConfig& c) {
    setenv("QL_ENGINE", engine, 1);
    RunResult r = runQuantization(c);
    unsetenv("QL_ENGINE");
    return r;
}

// Counts may move between neighbouring bins for values within float rounding of an edge:
// at most 0.1 % of the values (plus 2) change bins; totals and out-of-range counts agree.
// rounding: the run fake-quantizes activations. The engines batch windows differently, so
// an input within float rounding of a rounding boundary may land on the neighbouring level
// in one engine: one step (1/127 of the token's range) instead of one ulp, which moves the
// extremes downstream of it (measured: up to ~1 % of a range on stories260k). Then ranges
// agree to 2 % and up to 5 % of values move.
void compareHistograms(const Histogram& a, const Histogram& b, const std::string& what,
                       bool rounding = false) {
    const std::string& at = what;
    QVERIFY2(a.counts.size() == b.counts.size(), at.c_str());
    QVERIFY2(!a.counts.empty(), (at + ": empty histogram").c_str());
    const double width = std::max(std::fabs(a.hi - a.lo), 1e-30);
    const double rangeTol = rounding ? 2e-2 : 1e-5;
    QVERIFY2(
        std::fabs(a.lo - b.lo) <= rangeTol * width && std::fabs(a.hi - b.hi) <= rangeTol * width,
        (at + ": ranges differ").c_str());
    uint64_t moved = 0, total = 0;
    for (size_t i = 0; i < a.counts.size(); ++i) {
        moved += a.counts[i] > b.counts[i] ? a.counts[i] - b.counts[i] : b.counts[i] - a.counts[i];
        total += a.counts[i];
    }
    QVERIFY2(a.stats.count == b.stats.count, (at + ": value counts differ").c_str());
    QVERIFY2(
        double(moved) <= 2.0 * ((rounding ? 0.05 : 0.001) * double(total) + 2.0),
        (at + ": " + std::to_string(moved) + " of " + std::to_string(total) + " moved").c_str());
}

void near(double a, double b, double relative, const std::string& what) {
    const bool ok = (std::isinf(a) && a == b) || std::fabs(a - b) <= relative * std::fabs(b);
    QVERIFY2(ok, (what + ": " + std::to_string(a) + " vs " + std::to_string(b)).c_str());
}

}  // namespace

// roundsActivations: the recipe fake-quantizes activations. A rounding decision flipped by
// float rounding (compareHistograms) changes a value by a step, not an ulp: activation and
// output histograms are compared with compareHistograms' wider bounds, the quantized
// model's gradient norms to 2 % (measured: up to 1 % on stories260k), gradient histograms
// not at all. SQNR, perplexity and KL keep their bounds.
void compareLayers(const RunResult& s, const RunResult& w, bool roundsActivations = false) {
    QCOMPARE(s.outputSqnrSource, w.outputSqnrSource);
    QCOMPARE(s.outputSqnrWindows, w.outputSqnrWindows);
    QVERIFY(s.hasActivations && s.hasGradients);
    QCOMPARE(s.layers.size(), w.layers.size());
    for (size_t i = 0; i < s.layers.size(); ++i) {
        const LayerResult& a = s.layers[i];
        const LayerResult& b = w.layers[i];
        QCOMPARE(a.name, b.name);
        near(a.weightSqnrDb, b.weightSqnrDb, 1e-9, a.name + " weight SQNR");
        // 0.01 dB: the exactness bound for SQNR.
        QVERIFY2(std::fabs(a.outputSqnrDb - b.outputSqnrDb) <= 0.01,
                 (a.name + " output SQNR " + std::to_string(a.outputSqnrDb) + " vs " +
                  std::to_string(b.outputSqnrDb))
                     .c_str());
        // LLM.int8(): the same windows decomposed; the fraction of columns may move with a
        // value on the threshold, by at most 1 % of the columns of a window.
        QCOMPARE(a.outlierWindows, b.outlierWindows);
        QVERIFY(std::isnan(a.outlierColumnFraction) == std::isnan(b.outlierColumnFraction));
        if (a.outlierWindows > 0) {
            QVERIFY(std::fabs(a.outlierColumnFraction - b.outlierColumnFraction) <= 0.01);
            QVERIFY2(std::fabs(a.outputSqnrPlainDb - b.outputSqnrPlainDb) <= 0.01,
                     (a.name + " plain output SQNR").c_str());
        }
        // Activation side: the same windows and the same inputs in both paths.
        QCOMPARE(std::isnan(a.activationSqnrDb), std::isnan(b.activationSqnrDb));
        if (!std::isnan(a.activationSqnrDb))
            QVERIFY2(std::fabs(a.activationSqnrDb - b.activationSqnrDb) <= 0.01,
                     (a.name + " activation SQNR " + std::to_string(a.activationSqnrDb) + " vs " +
                      std::to_string(b.activationSqnrDb))
                         .c_str());
        compareHistograms(a.weightBefore, b.weightBefore, a.name + " weights before");
        compareHistograms(a.weightAfter, b.weightAfter, a.name + " weights after");
        compareHistograms(a.activationBefore, b.activationBefore, a.name + " act before",
                          roundsActivations);
        compareHistograms(a.activationAfter, b.activationAfter, a.name + " act after",
                          roundsActivations);
        compareHistograms(a.outputBefore, b.outputBefore, a.name + " out before",
                          roundsActivations);
        compareHistograms(a.outputAfter, b.outputAfter, a.name + " out after", roundsActivations);
        near(a.gradientNormBefore, b.gradientNormBefore, 1e-4, a.name + " grad norm fp");
        if (roundsActivations) {
            near(a.gradientNormAfter, b.gradientNormAfter, 0.02, a.name + " grad norm q");
            continue;
        }
        compareHistograms(a.gradientBefore, b.gradientBefore, a.name + " grad before");
        compareHistograms(a.gradientAfter, b.gradientAfter, a.name + " grad after");
        near(a.gradientNormAfter, b.gradientNormAfter, 1e-4, a.name + " grad norm q");
    }
}

class TestStream : public QObject {
    Q_OBJECT
private slots:
    void matchesWholeModel_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<bool>("withEval");  // without: output SQNR on held-out calibration
        const QString small = "models/stories260k", other = "models/tinystories-656k";
        QTest::newRow("260k rtn int4 g32") << small << "rtn:int4:g32:asym" << true;
        QTest::newRow("260k gptq int4 g32") << small << "gptq:int4:g32:asym" << true;
        QTest::newRow("260k gptq held-out") << small << "gptq:int4:g32:asym" << false;
        QTest::newRow("656k rtn int8 channel") << other << "rtn:int8:channel:sym" << true;
        QTest::newRow("656k awq int4 g32") << other << "awq:int4:g32:asym" << true;
        QTest::newRow("656k rtn int4 held-out") << other << "rtn:int4:g32:sym" << false;
        QTest::newRow("656k nf4 b64 dq bf16") << other << "nf4:b64:dq:bf16" << true;
        QTest::newRow("656k w8a8 per token") << other << "rtn:int8:channel:sym+a8" << true;
        QTest::newRow("260k w4a8 static held-out")
            << small << "rtn:int4:g32:asym+a8:tensor:asym" << false;
        QTest::newRow("260k w4a8 token held-out")
            << small << "rtn:int4:g32:asym+a8:token:asym" << false;
        QTest::newRow("656k llm_int8 t1") << other << "llm_int8:t1" << true;
        QTest::newRow("260k gptq w4a8 asym token")
            << small << "gptq:int4:g32:asym+a8:token:asym" << true;
        QTest::newRow("656k w8a8 smoothquant") << other << "rtn:int8:channel:sym+a8+sq" << true;
        QTest::newRow("260k w4a8 sq 0.8 held-out")
            << small << "rtn:int4:g32:asym+a8:token:asym+sq:0.8" << false;
        QTest::newRow("260k gptq w4a8 sq") << small << "gptq:int4:g32:asym+a8+sq" << true;
        QTest::newRow("656k gptq w4 sq 0.7 held-out")
            << other << "gptq:int4:g32:sym+sq:0.7" << false;
        QTest::newRow("656k nf4 w4a8 sq") << other << "nf4:b64+a8+sq" << true;
        QTest::newRow("260k q4_k sq") << small << "q4_k+sq" << true;
    }
    void matchesWholeModel() {
        QFETCH(QString, model);
        QFETCH(QString, recipe);
        QFETCH(bool, withEval);
        QL_REQUIRE_DATA(model);
        QL_REQUIRE_DATA("data/stories/calib.txt");
        const RunConfig c = fullConfig(model, recipe.toStdString(), withEval);
        const RunResult s = runWith("stream", c);
        const RunResult w = runWith("whole", c);
        QCOMPARE(s.perplexity.valid, withEval);
        QCOMPARE(w.perplexity.valid, withEval);
        compareLayers(s, w, Recipe::parse(recipe.toStdString()).quantizesActivations());
        if (!withEval) return;
        QCOMPARE(s.perplexity.scoredTokens, w.perplexity.scoredTokens);
        near(s.perplexity.pplFp, w.perplexity.pplFp, 1e-6, "ppl fp");
        near(s.perplexity.pplQ, w.perplexity.pplQ, 1e-6, "ppl q");
        near(s.perplexity.klMean, w.perplexity.klMean, 1e-4, "KL mean");
        near(s.perplexity.klP99, w.perplexity.klP99, 1e-3, "KL p99");
        // An argmax may flip only between logits equal to float rounding: 1 in 1000.
        QVERIFY(std::fabs(s.perplexity.top1Agreement - w.perplexity.top1Agreement) <= 1e-3);
    }

    // The progress bar only moves forward, from the load to 100 %, on both engines and
    // with every phase present or not (the streamed engine once began at 5 % after the
    // tokenizer had reported 16 %).
    void progressNeverGoesBack_data() {
        QTest::addColumn<QString>("engine");
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<bool>("withEval");
        QTest::addColumn<bool>("withCalibration");
        for (const char* e : {"stream", "whole"}) {
            const std::string n(e);
            QTest::newRow((n + " rtn eval").c_str()) << e << "rtn:int4:g32:asym" << true << true;
            QTest::newRow((n + " gptq held-out").c_str())
                << e << "gptq:int4:g32:asym" << false << true;
            QTest::newRow((n + " rtn eval only").c_str())
                << e << "rtn:int8:channel:sym" << true << false;
            QTest::newRow((n + " rtn bare").c_str())
                << e << "rtn:int8:channel:sym" << false << false;
        }
    }
    void progressNeverGoesBack() {
        QFETCH(QString, engine);
        QFETCH(QString, recipe);
        QFETCH(bool, withEval);
        QFETCH(bool, withCalibration);
        QL_REQUIRE_DATA("models/stories260k");
        RunConfig c = fullConfig("models/stories260k", recipe.toStdString(), withEval);
        if (!withCalibration) c.calibrationText.clear();
        std::vector<std::pair<double, std::string>> seen;
        const ProgressCallback cb = [&](const Progress& p) {
            if (!p.phase.empty()) seen.emplace_back(p.fraction, p.phase);
            return true;
        };
        setenv("QL_ENGINE", qPrintable(engine), 1);
        runQuantization(c, cb);
        unsetenv("QL_ENGINE");
        QVERIFY(seen.size() >= 3);
        for (size_t i = 1; i < seen.size(); ++i)
            QVERIFY2(seen[i].first >= seen[i - 1].first - 1e-12,
                     qPrintable(QString("%1 at %2 after %3 at %4")
                                    .arg(QString::fromStdString(seen[i].second))
                                    .arg(seen[i].first)
                                    .arg(QString::fromStdString(seen[i - 1].second))
                                    .arg(seen[i - 1].first)));
        QCOMPARE(seen.front().second, std::string("load"));
        QVERIFY(seen.back().first > 0.999);
    }

    // The prediction grows with what the run holds, and a run that cannot fit is refused
    // up front naming the prediction and the setting to change.
    void estimateFollowsTheSettings() {
        QL_REQUIRE_DATA("models/stories260k");
        RunConfig c = fullConfig("models/stories260k", "rtn:int4:g32:asym", true);
        const RunEstimate full = estimateRun(c);
        QVERIFY(full.modelPath && full.peakBytes > 0 && full.matmulFlops > 0);
        RunConfig fewer = c;
        fewer.captureGradients = false;
        QVERIFY(estimateRun(fewer).matmulFlops < full.matmulFlops);
        RunConfig longer = c;
        longer.evalSeq = 512;
        longer.evalMaxWindows = 64;
        QVERIFY(estimateRun(longer).peakBytes > full.peakBytes);
        RunConfig gptq = c;
        gptq.recipe = "gptq:int4:g32:asym";
        QVERIFY(estimateRun(gptq).peakBytes > full.peakBytes);  // Hessians, stored codes
        RunConfig weightsOnly;
        weightsOnly.modelDir = c.modelDir;
        weightsOnly.recipe = "rtn:int8:channel:sym";
        QVERIFY(!estimateRun(weightsOnly).modelPath);

        setenv("QL_MEMORY_AVAILABLE_MB", "1", 1);
        const RunEstimate tight = estimateRun(c);
        QVERIFY(!tight.fits());
        QVERIFY(!tight.advice.empty());
        QString error;
        try {
            runQuantization(c);
        } catch (const Error& e) {
            error = e.what();
        }
        unsetenv("QL_MEMORY_AVAILABLE_MB");
        QVERIFY2(error.contains("not enough memory") && error.contains("predicted peak memory") &&
                     error.contains(QString::fromStdString(tight.advice)),
                 qPrintable(error));
    }

    // Cancelling inside the model load (the weights' NaN/Inf scan asks once per tensor
    // chunk): at the k-th check after "loading" the run ends with ql::Cancelled, the
    // callback is not asked again, and no later phase (tokenize, blocks) is ever reported.
    void cancelInsideLoadStopsTheLoad_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("k");
        for (const char* m : {"models/stories260k", "models/tinystories-656k"})
            for (int k : {1, 2, 15})
                QTest::newRow((std::string(m).substr(7) + " check " + std::to_string(k)).c_str())
                    << QString(m) << k;
    }
    void cancelInsideLoadStopsTheLoad() {
        QFETCH(QString, model);
        QFETCH(int, k);
        QL_REQUIRE_DATA(model);
        const RunConfig c = fullConfig(model, "gptq:int4:g32:asym", true);
        bool loading = false;
        int checks = 0, afterCancel = 0;
        std::string laterPhase;
        const ProgressCallback cb = [&](const Progress& p) {
            if (checks >= k) ++afterCancel;
            if (p.phase == "load") loading = true;
            if (!p.phase.empty() && p.phase != "load") laterPhase = p.phase;
            if (!loading || !p.phase.empty()) return true;  // a report, not a check
            return ++checks < k;
        };
        QVERIFY(endsCancelled(c, cb));
        QCOMPARE(checks, k);
        QCOMPARE(afterCancel, 0);
        QVERIFY2(laterPhase.empty(), ("reported after the load: " + laterPhase).c_str());
    }

    // Cancelling during the gradient phase, at the k-th check after it began (inside a
    // block's forward recomputation or inside its backward pass, where checks run in
    // autograd hooks), ends the run with ql::Cancelled, not another error, and the
    // callback is not asked again (a cancellation that autograd wrapped is recognized by
    // the reporter's own record).
    void cancelInsideGradientsIsACancel() {
        QL_REQUIRE_DATA("models/stories260k");
        const RunConfig c = fullConfig("models/stories260k", "rtn:int4:g32:asym", true);
        for (int k = 1; k <= 40; k += 6) {
            bool inGradients = false;
            int checks = 0, afterCancel = 0;
            const ProgressCallback cb = [&](const Progress& p) {
                if (p.phase == "gradients") inGradients = true;
                if (!inGradients) return true;
                if (checks >= k) ++afterCancel;
                return ++checks < k;
            };
            QVERIFY2(endsCancelled(c, cb), std::to_string(k).c_str());
            QVERIFY2(afterCancel == 0, std::to_string(k).c_str());
        }
    }
};

QTEST_GUILESS_MAIN(TestStream)
#include "test_stream.moc"
