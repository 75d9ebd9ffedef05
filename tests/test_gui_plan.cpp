// The Plan tab (issue 10) on stories260k: two candidates measured from the GUI on the
// background thread; the Pareto chart's predicted points equal the plan inputs' sums and
// the knapsack's plans; a planned point's "Run this plan" fills the run panel with exactly
// the plan's recipe and overrides, runs it on the plan's windows, and its measured KL joins
// the chart; settings refused with the reason.
#include "app/gui/mainwindow.h"
#include "app/gui/planpage.h"
#include "app/gui/runpanel.h"
#include "gui_helpers.h"
#include "testdata.h"
#include "widgets/exportutils.h"
#include "widgets/paretochart.h"

#include <QClipboard>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGuiApplication>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QtTest>

#include <cmath>

using namespace ql;
using namespace guitest;

class TestGuiPlan : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void candidatesRefusedWithTheReason();
    void measureAndPlan();
    void runThisPlanInOneClick();
    void copyForLlamaCpp();
    void cleanupTestCase();

private:
    PlanPage* page() const { return w_->planPage(); }
    std::unique_ptr<MainWindow> w_;
};

void TestGuiPlan::initTestCase() {
    initGuiSuite();
    w_ = makeWindow(qltest::tempDir("test_gui_plan_autosave"));
    w_->setClosePrompt(answer(MainWindow::CloseChoice::Discard));
    w_->setChartTab(MainWindow::PlanTab);
    QVERIFY(!page()->measureButton()->isEnabled());
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA("data/stories/stories.txt");
    QVERIFY(openStories(*w_));
}

void TestGuiPlan::candidatesRefusedWithTheReason() {
    page()->setCandidates("fp16");
    QVERIFY(!page()->measureButton()->isEnabled());
    QVERIFY2(page()->statusLabel()->text().contains("at least two"),
             qPrintable(page()->statusLabel()->text()));
    page()->setCandidates("gptq:int4:g128:asym, awq:int4:g128:asym");
    QVERIFY(page()->statusLabel()->text().contains("at most one gptq/awq"));
    page()->setCandidates("fp16, bogus");
    QVERIFY(page()->statusLabel()->text().startsWith("Candidates: "));
    QVERIFY(!w_->startPlan());
    page()->setCandidates("rtn:int4:g32:asym, rtn:int8:channel:sym");
    QVERIFY(page()->measureButton()->isEnabled());
    QCOMPARE(page()->budgetRecipeBox()->count(), 2);
}

// Predicted points: each uniform candidate's Σ ΔKL and bits/weight, and the plans of the
// sweep (each within its budget, no plan dominated by a uniform candidate it costs no more
// than: the knapsack's optimum is never worse than a feasible uniform assignment).
void TestGuiPlan::measureAndPlan() {
    QVERIFY(w_->summary());
    w_->runPanel()->setConfig(weightsOnly("rtn:int4:g32:asym"));
    QVERIFY(!w_->startPlan());  // no evaluation text
    QVERIFY(page()->statusLabel()->text().contains("needs an evaluation text"));
    w_->runPanel()->setConfig(smallConfig("rtn:int4:g32:asym"));
    page()->windowsBox()->setValue(2);
    page()->seqBox()->setValue(128);
    page()->budgetRecipeBox()->setCurrentIndex(0);  // int4 g32 + 10 %
    page()->budgetExtraBox()->setValue(10.0);
    QSignalSpy finished(w_.get(), &MainWindow::planFinished);
    QTest::mouseClick(page()->measureButton(), Qt::LeftButton);
    QVERIFY(w_->isPlanning());
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 240000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));

    const PlanInputsPtr in = page()->inputs();
    QVERIFY(in);
    QCOMPARE(int(in->layers.size()), 35);
    // q, o 64x64; k, v 32x64; gate, up 172x64; down 64x172; five blocks.
    QCOMPARE(in->parameters, uint64_t(5 * (2 * 4096 + 2 * 2048 + 3 * 172 * 64)));
    const ParetoData& d = page()->chart()->data();
    QCOMPARE(int(d.uniformPredicted.size()), 2);
    for (size_t c = 0; c < 2; ++c) {
        double loss = 0;
        uint64_t bytes = 0;
        for (const PlanLayer& l : in->layers) loss += l.loss[c], bytes += l.bytes[c];
        QCOMPARE(d.uniformPredicted[c].kl, loss);
        QCOMPARE(d.uniformPredicted[c].bitsPerWeight, 8.0 * double(bytes) / double(in->parameters));
    }
    // INT8 costs more than INT4 g32 and hurts less.
    QVERIFY(d.uniformPredicted[1].bitsPerWeight > d.uniformPredicted[0].bitsPerWeight);
    QVERIFY(d.uniformPredicted[1].kl < d.uniformPredicted[0].kl);
    QVERIFY(d.measuredOn.startsWith("2 × 128 tokens of stories.txt"));
    QVERIFY(page()->chart()->title().contains(d.measuredOn));

    const std::vector<PlanResult>& plans = page()->plans();
    QVERIFY(plans.size() >= 2);
    QCOMPARE(d.planPredicted.size(), plans.size());
    for (size_t i = 0; i < plans.size(); ++i) {
        QCOMPARE(d.planPredicted[i].kl, plans[i].predictedLoss);
        for (const ParetoPoint& u : d.uniformPredicted)
            if (u.bitsPerWeight <= d.planPredicted[i].bitsPerWeight + 1e-12)
                QVERIFY(plans[i].predictedLoss <= u.kl + 1e-12);
    }
    // The plan at the budget is selected, and within it.
    QVERIFY(page()->budgetPlan() >= 0);
    QCOMPARE(page()->selectedPlan(), page()->budgetPlan());
    const uint64_t budget = page()->budgetBytes();
    QCOMPARE(budget, uint64_t(double(in->uniformBytes(0)) * 1.10));
    QVERIFY(plans[size_t(page()->budgetPlan())].bytes <= budget);
    QVERIFY(page()->runPlanButton()->isEnabled());
    QVERIFY(page()->planLabel()->text().contains("(at the budget)"));
    QCOMPARE(d.planMeasured.size(), size_t(0));  // nothing run yet
}

// Click a planned point: the run panel gets exactly the plan's recipe and overrides (and
// the plan's windows), the run starts, and its measured KL joins the chart at that plan.
void TestGuiPlan::runThisPlanInOneClick() {
    const PlanInputsPtr in = page()->inputs();
    QVERIFY(in);
    const int k = page()->budgetPlan();
    page()->selectPlan(-1);
    QVERIFY(!page()->runPlanButton()->isEnabled());
    page()->chart()->selectPlan(k);  // what clicking its point does
    QCOMPARE(page()->selectedPlan(), k);
    const PlanRun expected = planRun(*in, page()->plans()[size_t(k)]);
    QVERIFY(!expected.overrides.empty());

    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    QTest::mouseClick(page()->runPlanButton(), Qt::LeftButton);
    QVERIFY(w_->isRunning());
    const RunConfig c = w_->runPanel()->config();
    QCOMPARE(c.recipe, Recipe::parse(expected.recipe).toString());
    QCOMPARE(c.overrides.size(), expected.overrides.size());
    for (size_t i = 0; i < c.overrides.size(); ++i) {
        QCOMPARE(c.overrides[i].pattern, expected.overrides[i].pattern);
        QCOMPARE(c.overrides[i].recipe, expected.overrides[i].recipe);
    }
    QCOMPARE(c.evalSeq, 128);
    QCOMPARE(c.evalMaxWindows, 2);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 240000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));

    const RunResult& run = *w_->runs().back();
    QCOMPARE(run.config.overrides.size(), expected.overrides.size());
    // Every planned layer got the plan's candidate.
    QVERIFY(runMatchesPlan(run, *in, page()->plans()[size_t(k)].choice));
    const ParetoData& d = page()->chart()->data();
    QCOMPARE(d.planMeasured.size(), size_t(1));
    QCOMPARE(d.planMeasured[0].plan, k);
    QCOMPARE(d.planMeasured[0].kl, run.perplexity.klMean);
    QCOMPARE(d.planMeasured[0].bitsPerWeight, d.planPredicted[size_t(k)].bitsPerWeight);
    // The run's own bytes agree with the plan's.
    uint64_t bytes = 0;
    for (const LayerResult& l : run.layers) bytes += l.bytesQ;
    QCOMPARE(bytes, page()->plans()[size_t(k)].bytes);

    const QString dir = qltest::tempDir("test_gui_plan_export");
    QVERIFY(exportPlot(page()->chart(), dir + "/pareto.png", QSize(800, 500)).ok);
    QCOMPARE(QImage(dir + "/pareto.png").size(), QSize(800, 500));
    QCOMPARE(w_->chartName(page()->chart()).stem, QString("plan_pareto"));
}

// "Copy for llama.cpp": off with the measured RTN candidates (the tooltip names one), on
// with llama.cpp-type candidates, and the clipboard then holds the selected plan's
// llama-quantize command (one --tensor-type per planned layer).
void TestGuiPlan::copyForLlamaCpp() {
    const PlanInputsPtr rtn = page()->inputs();
    QVERIFY(rtn);
    QVERIFY(page()->selectedPlan() >= 0);
    QVERIFY(!page()->copyLlamaButton()->isEnabled());
    QVERIFY2(page()->copyLlamaButton()->toolTip().contains("rtn:int4:g32:asym"),
             qPrintable(page()->copyLlamaButton()->toolTip()));
    auto ggml = std::make_shared<PlanInputs>(*rtn);
    ggml->candidates = {"q4_0", "q8_0"};
    page()->setInputs(ggml);
    page()->selectPlan(int(page()->plans().size()) - 1);
    QVERIFY(page()->copyLlamaButton()->isEnabled());
    QGuiApplication::clipboard()->clear();
    QTest::mouseClick(page()->copyLlamaButton(), Qt::LeftButton);
    const QString text = QGuiApplication::clipboard()->text();
    const LlamaQuantizePlan expected =
        llamaQuantizePlan(*ggml, page()->plans()[size_t(page()->selectedPlan())]);
    QCOMPARE(text, QString::fromStdString(expected.command));
    QCOMPARE(text.count("--tensor-type"), 35);
    QVERIFY(text.startsWith("llama-quantize --tensor-type '^blk\\.0\\.attn_q\\.weight$="));
    page()->setInputs(rtn);  // as before
}

void TestGuiPlan::cleanupTestCase() {
    w_.reset();
}

QTEST_MAIN(TestGuiPlan)
#include "test_gui_plan.moc"
