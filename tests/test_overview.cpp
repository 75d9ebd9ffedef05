// The model overview's adjustable thresholds and its table of flagged layers, and the
// activation clip range drawn in the histograms (issue 8, "Views").
#include "runfixtures.h"
#include "testdata.h"
#include "widgets/exportutils.h"
#include "widgets/histogramview.h"
#include "widgets/modeloverview.h"
#include "widgets/overviewview.h"
#include "widgets/tableview.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace ql;
using qltest::makeRun;
using Metric = ModelOverview::Metric;

namespace {

const char* kModel = "models/tinystories-656k";
const char* kCalib = "data/stories/calib.txt";

// Weight SQNR per layer of 2 blocks (14 layers): known values around 20 dB, one exact
// layer (+inf, never flagged); output SQNR is 1.5 dB lower (runfixtures.h).
// Input absmax of layer i: max((i + 1) / 2, 0.7 i), i.e. 0.5 1 1.5 2.1 2.8 3.5 4.2 4.9 5.6
// 6.3 7 7.7 8.4 9.1.
RunPtr sqnrRun() {
    RunResult r = *makeRun("ovw", {25, 19.5, 30, 12, 20, 21, 18, 40, 7, 22, 19.9, 35,
                                   std::numeric_limits<double>::infinity(), 28});
    for (size_t i = 0; i < r.layers.size(); ++i) {
        HistogramStats& s = r.layers[i].activationBefore.stats;
        s.count = 100;
        s.min = -0.5 * double(i + 1);
        s.max = 0.7 * double(i);
    }
    return std::make_shared<const RunResult>(std::move(r));
}

// The metric recomputed from LayerResult fields, not through ModelOverview::metricValue.
double independentValue(const LayerResult& l, Metric m) {
    switch (m) {
        case Metric::WeightSqnr:
            return l.weightSqnrDb;
        case Metric::OutputSqnr:
            return l.outputSqnrDb;
        case Metric::ActivationAbsMax:
            if (l.activationBefore.stats.count == 0) return std::nan("");
            return std::max(-l.activationBefore.stats.min, l.activationBefore.stats.max);
        default:
            return std::nan("");
    }
}

int independentCount(const RunResult& run, Metric m, double threshold, bool below) {
    int n = 0;
    for (const LayerResult& l : run.layers) {
        const double v = independentValue(l, m);
        if (std::isfinite(v) && (below ? v < threshold : v > threshold)) ++n;
    }
    return n;
}

RunConfig config(const std::string& recipe) {
    RunConfig c;
    c.modelDir = qltest::dataPath(kModel);
    c.recipe = recipe;
    c.calibrationText = qltest::dataPath(kCalib);
    c.calibrationWindows = 4;  // one held out: the static range is fit on the other three
    c.calibrationSeq = 64;
    c.captureActivations = true;
    c.captureGradients = false;
    c.threads = 1;
    return c;
}

RunPtr shared(RunResult run) {
    return std::make_shared<const RunResult>(std::move(run));
}

}  // namespace

class TestOverview : public QObject {
    Q_OBJECT
private slots:
    void flaggedCountFollowsThreshold_data();
    void flaggedCountFollowsThreshold();
    void thresholdPerMetricAndDefaults();
    void clickingFlaggedRowSelectsLayer();
    void flaggedTableExportsCsv();
    void clipLinesAtStoredValues_data();
    void clipLinesAtStoredValues();
    void clipRangeSavedAndOldRunsRead();
};

void TestOverview::flaggedCountFollowsThreshold_data() {
    QTest::addColumn<int>("metric");
    QTest::addColumn<double>("threshold");
    QTest::addColumn<bool>("below");
    QTest::addColumn<int>("expected");  // by hand from sqnrRun()'s values
    QTest::newRow("weight < 20") << int(Metric::WeightSqnr) << 20.0 << true << 5;
    QTest::newRow("weight < 10") << int(Metric::WeightSqnr) << 10.0 << true << 1;
    QTest::newRow("weight < 30") << int(Metric::WeightSqnr) << 30.0 << true << 10;
    QTest::newRow("weight < 0") << int(Metric::WeightSqnr) << 0.0 << true << 0;
    QTest::newRow("output < 20") << int(Metric::OutputSqnr) << 20.0 << true << 7;
    QTest::newRow("input absmax > 6") << int(Metric::ActivationAbsMax) << 6.0 << false << 5;
    QTest::newRow("input absmax > 4") << int(Metric::ActivationAbsMax) << 4.0 << false << 8;
    QTest::newRow("input absmax > 0") << int(Metric::ActivationAbsMax) << 0.0 << false << 14;
}

void TestOverview::flaggedCountFollowsThreshold() {
    QFETCH(int, metric);
    QFETCH(double, threshold);
    QFETCH(bool, below);
    QFETCH(int, expected);
    const RunPtr run = sqnrRun();
    ModelOverview o;
    QAbstractItemModelTester tester(o.flaggedModel(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    o.setRun(run);
    o.setMetric(Metric(metric));
    QCOMPARE(ModelOverview::flagsBelow(Metric(metric)), below);
    o.thresholdBox()->setValue(threshold);  // as the user sets it
    QCOMPARE(o.threshold(), threshold);
    QCOMPARE(independentCount(*run, Metric(metric), threshold, below), expected);
    QCOMPARE(int(o.flagged().size()), expected);
    QCOMPARE(o.flaggedModel()->rowCount(), expected);
    QCOMPARE(o.markedCellCount(), expected);
    QVERIFY2(o.title().contains(QString("%1 flagged").arg(expected)), qPrintable(o.title()));
    // Worst first, and every flagged value is the layer's own.
    for (size_t i = 0; i < o.flagged().size(); ++i) {
        const FlaggedLayer& f = o.flagged()[i];
        const LayerResult* l = findLayer(*run, f.name);
        QVERIFY(l);
        QCOMPARE(f.value, independentValue(*l, Metric(metric)));
        QCOMPARE(f.block, l->block);
        QCOMPARE(f.kind, l->kind);
        if (i > 0)
            QVERIFY(below ? o.flagged()[i - 1].value <= f.value
                          : o.flagged()[i - 1].value >= f.value);
    }
}

void TestOverview::thresholdPerMetricAndDefaults() {
    ModelOverview o;
    o.setRun(sqnrRun());
    QCOMPARE(o.threshold(), 20.0);  // SQNR default
    QCOMPARE(int(o.flagged().size()), 5);
    QCOMPARE(o.flagged().front().value, 7.0);  // worst first
    o.setThreshold(25.0);
    o.setMetric(Metric::ActivationAbsMax);
    QCOMPARE(o.threshold(), 6.0);  // LLM.int8()'s outlier threshold
    QVERIFY(o.thresholdBox()->prefix().contains('>'));
    QCOMPARE(ModelOverview::defaultThreshold(Metric::OutlierFraction), 0.01);
    o.setMetric(Metric::WeightSqnr);
    QCOMPARE(o.threshold(), 25.0);  // kept per metric
    QCOMPARE(o.thresholdBox()->value(), 25.0);
    QCOMPARE(o.thresholdBox()->suffix(), QString(" dB"));
    QCOMPARE(int(o.flagged().size()), 8);  // 25 itself is not below 25
    // Infinite SQNR (exact) and NaN are never flagged, whatever the threshold.
    QVERIFY(!ModelOverview::isFlagged(std::numeric_limits<double>::infinity(), Metric::WeightSqnr,
                                      1e9));
    QVERIFY(!ModelOverview::isFlagged(std::nan(""), Metric::WeightAbsMax, -1e9));
}

void TestOverview::clickingFlaggedRowSelectsLayer() {
    OverviewView view;
    view.resize(1200, 500);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    ModelOverview* o = view.chart();
    o->setRun(sqnrRun());
    QCOMPARE(view.flaggedLabel()->text(), QString("5 layers below 20 dB"));
    QCOMPARE(o->thresholdBox()->parentWidget()->parentWidget(), &view);  // in the side panel
    QSignalSpy clicked(o, &ModelOverview::layerClicked);
    TableView* table = view.flaggedTable();
    for (int row : {0, 3}) {
        const QModelIndex index = table->model()->index(row, 0);
        const QRect cell = table->visualRect(index);
        QVERIFY(!cell.isEmpty());
        QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, cell.center());
        QCOMPARE(clicked.count(), 1);
        const std::string name = clicked.takeFirst().at(0).value<std::string>();
        QCOMPARE(name, o->flagged()[size_t(row)].name);
    }
    // The worst layer (7 dB) is block 1's k_proj (index 8): what a click on its cell gives.
    QCOMPARE(o->flagged().front().name, o->layerAt(1, 1));
}

void TestOverview::flaggedTableExportsCsv() {
    ModelOverview o;
    o.setRun(sqnrRun());
    const QStringList lines = modelToCsv(*o.flaggedModel()).trimmed().split('\n');
    QCOMPARE(lines.size(), 1 + 5);
    QCOMPARE(lines[0], QString("layer,block,kind,Weight SQNR (dB)"));
    QCOMPARE(lines[1], QString("model.layers.1.self_attn.k_proj,1,k_proj,7"));
}

void TestOverview::clipLinesAtStoredValues_data() {
    QTest::addColumn<QString>("recipe");
    QTest::addColumn<bool>("drawn");
    QTest::addColumn<QString>("note");
    QTest::newRow("w8a8 tensor sym") << "rtn:int8:channel:sym+a8:tensor:sym" << true << "";
    QTest::newRow("w8a8 tensor asym") << "rtn:int8:channel:sym+a8:tensor:asym" << true << "";
    QTest::newRow("w8a8 per token") << "rtn:int8:channel:sym+a8" << false << "per token";
    QTest::newRow("weights only") << "rtn:int8:channel:sym" << false << "";
}

// Static ranges are fit on the float model's inputs of the 3 fit windows; the captured
// "before" histogram covers all 4, so the range lies within its [min, max].
void TestOverview::clipLinesAtStoredValues() {
    QL_REQUIRE_DATA(kModel);
    QL_REQUIRE_DATA(kCalib);
    QFETCH(QString, recipe);
    QFETCH(bool, drawn);
    QFETCH(QString, note);
    const RunPtr run = shared(runQuantization(config(recipe.toStdString())));
    QVERIFY(run->hasActivations);
    const bool sym = recipe.endsWith(":sym") && drawn;
    for (const LayerResult& l : run->layers) {
        QCOMPARE(std::isfinite(l.activationClipLo), drawn);
        QCOMPARE(std::isfinite(l.activationClipHi), drawn);
        if (!drawn) continue;
        const Histogram& h = l.activationBefore;
        QVERIFY2(l.activationClipLo <= 0 && l.activationClipHi >= 0 &&
                     l.activationClipLo < l.activationClipHi,
                 l.name.c_str());
        const double absmax = std::max(-h.stats.min, h.stats.max);
        if (sym) {
            // [-128, 127] · absmax / 127: the upper end is the calibrated absmax.
            QVERIFY(std::fabs(l.activationClipLo + l.activationClipHi * 128.0 / 127.0) <=
                    1e-6 * l.activationClipHi);
            QVERIFY2(l.activationClipHi <= absmax * (1 + 1e-6), l.name.c_str());
        } else {
            // 255 steps of (hi - lo) / 255 around a rounded zero: within half a step of the
            // calibrated [min, max], which lies inside the captured one.
            const double step = (l.activationClipHi - l.activationClipLo) / 255.0;
            QVERIFY2(l.activationClipLo >= std::min(h.stats.min, 0.0) - step, l.name.c_str());
            QVERIFY2(l.activationClipHi <= std::max(h.stats.max, 0.0) + step, l.name.c_str());
        }
    }
    HistogramView view;
    view.resize(1000, 600);
    view.setRun(run);
    for (const LayerResult& l : run->layers) {
        view.setLayer(l.name);
        HistogramChart* chart = view.activationChart();
        QCOMPARE(chart->hasClipRange(), drawn);
        QCOMPARE(chart->clipLegendGraph()->visible() &&
                     chart->legend->hasItemWithPlottable(chart->clipLegendGraph()),
                 drawn);
        if (drawn) {
            QCOMPARE(chart->clipLine(0), l.activationClipLo);
            QCOMPARE(chart->clipLine(1), l.activationClipHi);
            QVERIFY(chart->xAxis->range().contains(l.activationClipLo));
            QVERIFY(chart->xAxis->range().contains(l.activationClipHi));
            QVERIFY(chart->clipLegendGraph()->name().contains("clip range"));
            QVERIFY(chart->clipNote().isEmpty());
        } else if (note.isEmpty()) {
            QVERIFY2(chart->clipNote().isEmpty(), qPrintable(chart->clipNote()));
        } else {
            QVERIFY2(chart->clipNote().contains(note), qPrintable(chart->clipNote()));
        }
    }
    if (!drawn || !sym) return;
    // The whole-model engine calibrates on the same windows: the same ranges.
    qputenv("QL_ENGINE", "whole");
    const RunResult whole = runQuantization(config(recipe.toStdString()));
    qunsetenv("QL_ENGINE");
    QCOMPARE(whole.layers.size(), run->layers.size());
    for (size_t i = 0; i < whole.layers.size(); ++i) {
        QCOMPARE(whole.layers[i].activationClipLo, run->layers[i].activationClipLo);
        QCOMPARE(whole.layers[i].activationClipHi, run->layers[i].activationClipHi);
    }
}

// run.json keeps the range; a run.json written before (no such fields) loads with none.
void TestOverview::clipRangeSavedAndOldRunsRead() {
    QL_REQUIRE_DATA(kModel);
    QL_REQUIRE_DATA(kCalib);
    RunResult r = runQuantization(config("rtn:int8:channel:sym+a8:tensor"));
    QVERIFY(std::isfinite(r.layers[0].activationClipHi));
    r.layers[1].activationClipLo = r.layers[1].activationClipHi = std::nan("");
    QTemporaryDir dir;
    const std::string folder = dir.filePath("run").toStdString();
    saveRun(r, folder);
    const RunResult back = loadRun(folder);
    QCOMPARE(back.layers[0].activationClipLo, r.layers[0].activationClipLo);
    QCOMPARE(back.layers[0].activationClipHi, r.layers[0].activationClipHi);
    QVERIFY(std::isnan(back.layers[1].activationClipLo));
    QVERIFY(std::isnan(back.layers[1].activationClipHi));
    // Remove the fields as an older QuantLens wrote the file.
    const std::string path = folder + "/run.json";
    std::stringstream text;
    text << std::ifstream(path).rdbuf();
    QString json = QString::fromStdString(text.str());
    const int before = json.size();
    json.remove(QRegularExpression("\"activation_clip_(lo|hi)\":\\s*[^,}]+,?"));
    QVERIFY(json.size() < before);
    QVERIFY(!json.contains("activation_clip"));
    std::ofstream(path) << json.toStdString();
    const RunResult old = loadRun(folder);
    QVERIFY(std::isnan(old.layers[0].activationClipLo));
    QVERIFY(std::isnan(old.layers[0].activationClipHi));
    QCOMPARE(old.layers[0].weightSqnrDb, r.layers[0].weightSqnrDb);
}

QTEST_MAIN(TestOverview)
#include "test_overview.moc"
