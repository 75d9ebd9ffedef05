// SmoothQuant in the workbench (issue 8 part 3): the run panel's SmoothQuant box and the
// "W8A8 SmoothQuant" preset, a W8A8 SmoothQuant run through the background path on
// stories260k, and the model overview heat map of that run (cells = the run's metrics, a
// click selects the layer). With QUANTLENS_SHOTS_DIR set, screenshots of the overview at
// 1280×720 and 1600×1000 are written there (smooth-overview-WxH.png).
#include "app/gui/mainwindow.h"
#include "app/gui/runpanel.h"
#include "gui_helpers.h"
#include "quant/method_registry.h"
#include "testdata.h"
#include "widgets/channelranges.h"
#include "widgets/exportutils.h"
#include "widgets/histogramview.h"
#include "widgets/modeloverview.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QtTest>

#include <cmath>

using namespace ql;
using namespace guitest;

class TestGuiSmooth : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void smoothQuantFieldsAndPreset();
    void smoothQuantRunsInTheBackground();
    void overviewShowsTheRun();
    void channelRangesShowTheLayer();
    void cleanupTestCase();

private:
    RunPanel* panel() const { return w_->runPanel(); }
    std::unique_ptr<MainWindow> w_;
};

void TestGuiSmooth::initTestCase() {
    initGuiSuite();
    w_ = makeWindow(qltest::tempDir("test_gui_smooth_autosave"));
    w_->setClosePrompt(answer(MainWindow::CloseChoice::Discard));
}

// The box is offered exactly where the registry declares kOptSmoothQuant, writes "+sq:ALPHA",
// and is off for static activations (which Recipe::parse refuses with +sq).
void TestGuiSmooth::smoothQuantFieldsAndPreset() {
    RunPanel* p = panel();
    const QStringList names = RunPanel::presetNames();
    QVERIFY(names.contains("W8A8 SmoothQuant"));
    p->presetBox()->setCurrentIndex(names.indexOf("W8A8 SmoothQuant"));
    QCOMPARE(p->recipeText(), QString("rtn:int8:channel:sym+a8:token:sym+sq:0.5"));
    QCOMPARE(p->presetBox()->currentText(), QString("W8A8 SmoothQuant"));
    QVERIFY(p->isFieldShown(p->smoothBox()) && p->smoothBox()->isChecked());
    QVERIFY(p->smoothAlphaBox()->isEnabled());
    p->smoothAlphaBox()->setValue(0.8);
    QCOMPARE(p->recipeText(), QString("rtn:int8:channel:sym+a8:token:sym+sq:0.8"));
    QCOMPARE(p->presetBox()->currentText(), QString("Custom"));
    p->actGranularityBox()->setCurrentIndex(1);  // static: no SmoothQuant
    QVERIFY(!p->smoothBox()->isEnabled());
    QCOMPARE(p->recipeText(), QString("rtn:int8:channel:sym+a8:tensor:sym"));
    p->actGranularityBox()->setCurrentIndex(0);
    p->actBitsBox()->setValue(0);  // weights only + SmoothQuant
    QCOMPARE(p->recipeText(), QString("rtn:int8:channel:sym+sq:0.8"));
    for (const MethodSpec& m : methodRegistry()) {
        p->methodBox()->setCurrentIndex(p->methodBox()->findData(QString(m.name)));
        QCOMPARE(p->isFieldShown(p->smoothBox()), bool(m.options & kOptSmoothQuant));
        QCOMPARE(Recipe::parse(p->recipeText().toStdString()).smooth,
                 bool(m.options & kOptSmoothQuant));
    }
    p->setConfig(weightsOnly("rtn:int4:g32:asym+a8+sq:0.25"));
    QCOMPARE(p->recipeText(), QString("rtn:int4:g32:asym+a8:token:sym+sq:0.25"));
    p->setConfig(weightsOnly("gptq:int4:g32:asym"));
    QVERIFY(!p->smoothBox()->isChecked());
}

void TestGuiSmooth::smoothQuantRunsInTheBackground() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(openStories(*w_));
    RunPanel* p = panel();
    p->setConfig(smallConfig("rtn:int8:channel:sym"));
    p->presetBox()->setCurrentIndex(RunPanel::presetNames().indexOf("W8A8 SmoothQuant"));
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    QVERIFY(p->runButton()->isEnabled());
    p->runButton()->click();
    QVERIFY(w_->isRunning());
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));
    const RunPtr run = w_->runs().back();
    QCOMPARE(run->config.recipe, std::string("rtn:int8:channel:sym+a8:token:sym+sq:0.5"));
    QVERIFY2(QString::fromStdString(run->label).contains("SmoothQuant"), run->label.c_str());
    QCOMPARE(int(run->layers.size()), 35);
    for (const LayerResult& l : run->layers) {
        QCOMPARE(l.weightAfterSource, std::string("stored"));  // Q(W·s)/s, kept with s
        QVERIFY(std::isfinite(l.weightSqnrDb) && l.weightSqnrDb > 20.0);
        QVERIFY2(std::isfinite(l.activationSqnrDb) && l.activationSqnrDb > 10.0, l.name.c_str());
    }
    QVERIFY(run->perplexity.valid);
    QVERIFY(run->perplexity.pplQ < 1.05 * run->perplexity.pplFp);
}

// The heat map holds the current run's metric per (block, kind); a click on a cell selects
// that layer in every view; switching the metric redraws from the run.
void TestGuiSmooth::overviewShowsTheRun() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(!w_->runs().empty());
    const RunPtr run = w_->runs().back();
    w_->setChartTab(MainWindow::OverviewTab);
    ModelOverview* o = w_->modelOverview();
    QVERIFY(o->isVisible());
    QCOMPARE(o->colorMap()->data()->keySize(), 7);
    QCOMPARE(o->colorMap()->data()->valueSize(), 5);  // stories260k: 5 blocks
    const char* kinds[] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                           "gate_proj", "up_proj", "down_proj"};
    for (ModelOverview::Metric m :
         {ModelOverview::Metric::WeightSqnr, ModelOverview::Metric::ActivationSqnr,
          ModelOverview::Metric::OutputSqnr, ModelOverview::Metric::ActivationAbsMax}) {
        o->metricBox()->setCurrentIndex(int(m));
        QCOMPARE(o->metric(), m);
        for (const LayerResult& l : run->layers) {
            int k = 0;
            while (l.kind != kinds[k]) ++k;
            const double want = ModelOverview::metricValue(l, m);
            QVERIFY(std::isfinite(want));
            QCOMPARE(o->cellValue(l.block, k), want);
            QCOMPARE(o->layerAt(l.block, k), l.name);
        }
    }
    // No LLM.int8() in this run: the outlier fraction is transparent everywhere.
    o->setMetric(ModelOverview::Metric::OutlierFraction);
    QVERIFY(std::isnan(o->cellValue(0, 0)));
    o->setMetric(ModelOverview::Metric::WeightSqnr);
    QVERIFY(o->title().contains("Weight SQNR"));

    // A real mouse click on the centre of cell (block 2, down_proj).
    QSignalSpy clicked(o, &ModelOverview::layerClicked);
    o->replot();
    const QPoint at(int(o->xAxis->coordToPixel(6)), int(o->yAxis->coordToPixel(2)));
    QTest::mouseClick(o, Qt::LeftButton, Qt::NoModifier, at);
    QCOMPARE(clicked.count(), 1);
    const std::string down = "model.layers.2.mlp.down_proj";
    QCOMPARE(clicked.at(0).at(0).value<std::string>(), down);
    QCOMPARE(w_->histogramView()->layer(), down);
    QCOMPARE(o->dataCsv().count('\n'), 36);
    QCOMPARE(chartDataCsv(o), o->dataCsv());  // what "Export data as CSV" writes

    if (const QByteArray dir = qgetenv("QUANTLENS_SHOTS_DIR"); !dir.isEmpty()) {
        for (const QSize size : {QSize(1280, 720), QSize(1600, 1000)}) {
            w_->resize(size);
            QTest::qWait(200);
            o->replot();
            const QString file = QString("%1/smooth-overview-%2x%3.png")
                                     .arg(QString::fromLocal8Bit(dir))
                                     .arg(size.width())
                                     .arg(size.height());
            QVERIFY(w_->grab().save(file));
        }
        w_->resize(1280, 720);
    }
}

// The per-channel chart of the selected layer: the run's stored arrays by channel, sorted
// (largest first) and after smoothing (inputs / s, weight columns · s); threshold line at 6.
void TestGuiSmooth::channelRangesShowTheLayer() {
    QL_REQUIRE_DATA("models/stories260k");
    const RunPtr run = w_->runs().back();
    const LayerResult& l = run->layers[4];  // block 0 gate_proj
    w_->selectLayer(l.name);
    w_->setChartTab(MainWindow::ChannelsTab);
    ChannelRangesChart* c = w_->channelRanges();
    QVERIFY(c->isVisible());
    QVERIFY2(c->message().isEmpty(), qPrintable(c->message()));
    c->setSorted(false);
    c->setSmoothed(false);
    const auto values = [](QCPGraph* g) {
        std::vector<double> v;
        for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
            v.push_back(it->value);
        return v;
    };
    QCOMPARE(int64_t(c->inputAbsMaxGraph()->dataCount()), l.cols);
    QCOMPARE(int64_t(c->weightAbsMaxGraph()->dataCount()), l.cols);
    const std::vector<double> x = values(c->inputAbsMaxGraph());
    const std::vector<double> w = values(c->weightAbsMaxGraph());
    for (int64_t j = 0; j < l.cols; ++j) {
        QCOMPARE(x[size_t(j)], double(l.channelInputAbsMax[size_t(j)]));
        QCOMPARE(w[size_t(j)], double(l.channelWeightAbsMax[size_t(j)]));
    }
    QVERIFY(c->thresholdLine()->visible());
    QCOMPARE(c->threshold(), 6.0);
    QVERIFY(c->smoothedBox()->isEnabled());
    c->setSmoothed(true);
    const std::vector<double> xs = values(c->inputAbsMaxGraph());
    const std::vector<double> ws = values(c->weightAbsMaxGraph());
    for (int64_t j = 0; j < l.cols; ++j) {
        const double s = l.smoothScales[size_t(j)];
        QCOMPARE(xs[size_t(j)], double(l.channelInputAbsMax[size_t(j)]) / s);
        QCOMPARE(ws[size_t(j)], double(l.channelWeightAbsMax[size_t(j)]) * s);
    }
    c->setSorted(true);
    const std::vector<double> sorted = values(c->inputAbsMaxGraph());
    QVERIFY(std::is_sorted(sorted.rbegin(), sorted.rend()));
    QCOMPARE(c->dataCsv().count('\n'), int(l.cols) + 1);
    QCOMPARE(chartDataCsv(c), c->dataCsv());
    if (const QByteArray dir = qgetenv("QUANTLENS_SHOTS_DIR"); !dir.isEmpty()) {
        c->setSorted(false);
        for (bool smoothed : {false, true}) {
            c->setSmoothed(smoothed);
            for (const QSize size : {QSize(1280, 720), QSize(1600, 1000)}) {
                w_->resize(size);
                QTest::qWait(200);
                c->replot();
                const QString file = QString("%1/smooth-channels-%2-%3x%4.png")
                                         .arg(QString::fromLocal8Bit(dir))
                                         .arg(smoothed ? "after" : "before")
                                         .arg(size.width())
                                         .arg(size.height());
                QVERIFY(w_->grab().save(file));
            }
        }
        w_->resize(1280, 720);
    }
}

void TestGuiSmooth::cleanupTestCase() {
    w_.reset();
}

QTEST_MAIN(TestGuiSmooth)
#include "test_gui_smooth.moc"
