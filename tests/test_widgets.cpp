// Charts and views of widgets/ driven through the real widgets on synthetic runs: every
// comparison of numbers is like with like (issue 12), category labels are all drawn,
// chart settings work, the layer table shows what the user chooses, the compare view
// names and shows what it compares, and every chart exports its data as CSV.
#include "runfixtures.h"
#include "testdata.h"
#include "widgets/comparisonview.h"
#include "widgets/exportutils.h"
#include "widgets/histogramchart.h"
#include "widgets/histogramview.h"
#include "widgets/layerchart.h"
#include "widgets/layertablemodel.h"
#include "widgets/perplexitytablemodel.h"
#include "widgets/plotstyle.h"
#include "widgets/summarycharts.h"
#include "widgets/tableroles.h"
#include "widgets/tableview.h"

#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QHeaderView>
#include <QImage>
#include <QLabel>
#include <QMenu>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QtTest>

#include <cmath>

using namespace ql;
using qltest::makeHistogram;
using qltest::makeRun;

namespace {

// A run evaluated with the given settings; ppl float / quantized as given.
RunPtr withEval(const RunPtr& base, const std::string& label, double pplFp, double pplQ, int seq,
                const std::string& protocol = "gptq",
                const std::string& text = "/data/stories.txt") {
    RunResult r = *base;
    r.id = r.label = label;
    r.config.evaluationText = text;
    r.perplexity.pplFp = pplFp;
    r.perplexity.pplQ = pplQ;
    r.perplexity.seq = seq;
    r.perplexity.protocol = protocol;
    return std::make_shared<const RunResult>(std::move(r));
}

RunPtr withCalibration(const RunPtr& base, const std::string& label, int windows) {
    RunResult r = *base;
    r.id = r.label = label;
    r.config.calibrationText = "/data/calib.txt";
    r.config.calibrationWindows = windows;
    return std::make_shared<const RunResult>(std::move(r));
}

QMap<double, QString> ticks(QCustomPlot* plot) {
    const auto t = plot->xAxis->ticker().dynamicCast<QCPAxisTickerText>();
    return t ? t->ticks() : QMap<double, QString>();
}

std::vector<double> barValues(QCPBars* bars) {
    std::vector<double> v;
    for (int i = 0; i < bars->dataCount(); ++i) v.push_back(bars->data()->at(i)->value);
    return v;
}

QCPBars* barsNamed(QCustomPlot* plot, const QString& name) {
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (plot->plottable(i)->name() == name) return qobject_cast<QCPBars*>(plot->plottable(i));
    return nullptr;
}

std::vector<double> sqnrRamp(int n, double worst = -1) {
    std::vector<double> v;
    for (int i = 0; i < n; ++i) v.push_back(30 + 0.1 * i);
    if (worst >= 0) v[size_t(worst)] = 3.0;
    return v;
}

// Whether the tick label at `key` is painted: render, blank that label, render again.
bool labelDrawn(QCustomPlot* plot, double key, QSize size) {
    const auto t = plot->xAxis->ticker().dynamicCast<QCPAxisTickerText>();
    const QImage with = plot->toPixmap(size.width(), size.height()).toImage();
    const QString text = t->ticks().value(key);
    t->addTick(key, "");
    const QImage without = plot->toPixmap(size.width(), size.height()).toImage();
    t->addTick(key, text);
    return with != without;
}

}  // namespace

class TestWidgets : public QObject {
    Q_OBJECT
private slots:
    void perplexityChartComparesLikeWithLike_data();
    void perplexityChartComparesLikeWithLike();
    void agreementChartGroupsSettings();
    void compareSummaryLikeWithLike();
    void outputSqnrDeltaOnlyOnSameCalibration();
    void rotatedAxesDrawLastLabel();
    void sparseTicksKeepLastAndWorstLayer();
    void thresholdLinesLabelledAndSettable();
    void binsAboveStoredAreNoted();
    void layerTableChoosesRunsAndMetrics();
    void compareChartsNameLayerAndHonourLog();
    void compareShowsMissingCaptures();
    void compareTableSortsAndOverlayHasFloat();
    void chartsExportTheirDataAsCsv();
    void int8LevelsOnlyWhenResolvable();
    void perplexityTableNamesSettings();
    void chartsRenderWithManyRuns();
};

void TestWidgets::perplexityChartComparesLikeWithLike_data() {
    QTest::addColumn<int>("seqB");
    QTest::addColumn<QString>("protocolB");
    QTest::addColumn<QString>("textB");
    QTest::addColumn<int>("floatBars");
    QTest::addColumn<QString>("floatLabelB");  // the float bar names what differs
    QTest::newRow("same settings") << 256 << "gptq"
                                   << "/data/stories.txt" << 1 << "float";
    QTest::newRow("seq differs") << 512 << "gptq"
                                 << "/data/stories.txt" << 2 << "float\nseq 512";
    QTest::newRow("protocol differs") << 256 << "llamacpp"
                                      << "/data/stories.txt" << 2 << "float\nllamacpp protocol";
    QTest::newRow("text differs") << 256 << "gptq"
                                  << "/data/wiki.txt" << 2 << "float\nwiki.txt";
}

// INT4 at seq 256 (float 4.000), INT8 at the row's setting (float 3.906 when it differs):
// against the first float bar INT8 would look 2.4 % worse; against its own, 0.06 %.
void TestWidgets::perplexityChartComparesLikeWithLike() {
    QFETCH(int, seqB);
    QFETCH(QString, protocolB);
    QFETCH(QString, textB);
    QFETCH(int, floatBars);
    QFETCH(QString, floatLabelB);
    const RunPtr base = makeRun("x", {30, 31});
    const double fpB = floatBars == 1 ? 4.0 : 3.906;
    const RunPtr a = withEval(base, "INT4", 4.0, 4.2, 256);
    const RunPtr b = withEval(base, "INT8", fpB, fpB * 1.0006, seqB, protocolB.toStdString(),
                              textB.toStdString());
    SummaryCharts charts;
    charts.setRuns({a, b}, a);
    QCustomPlot* plot = charts.perplexityChart();
    const std::vector<double> floats = barValues(barsNamed(plot, "float"));
    QCOMPARE(int(floats.size()), floatBars);
    QCOMPARE(floats.front(), 4.0);
    QCOMPARE(floats.back(), fpB);
    QCOMPARE(barValues(barsNamed(plot, "quantized")), (std::vector<double>{4.2, fpB * 1.0006}));
    // The labels as built (drawn broken into lines that fit between the bars).
    const QStringList labels = charts.perplexityTicks()->fullTicks().values();
    const QString labelB = labels.filter("INT8").value(0);
    QVERIFY2(labelB.contains("+0.06 %"), qPrintable(labelB));
    QVERIFY2(labels.filter("INT4").value(0).contains("+5.00 %"), qPrintable(labels.join('|')));
    QCOMPARE(labels.filter("float").size(), floatBars);
    if (floatBars == 2) {
        // Each float bar names its setting; the title says runs sit next to their own.
        QCOMPARE(labels.filter("float").last(), floatLabelB);
        QVERIFY(charts.perplexityTitle().contains("2 evaluation settings"));
    } else {
        QVERIFY2(charts.perplexityTitle().contains("gptq protocol · seq 256"),
                 qPrintable(charts.perplexityTitle()));
    }
}

void TestWidgets::agreementChartGroupsSettings() {
    const RunPtr base = makeRun("x", {30});
    const RunPtr a = withEval(base, "A", 4.0, 4.1, 256), b = withEval(base, "B", 3.9, 3.95, 512),
                 c = withEval(base, "C", 4.0, 4.3, 256);
    SummaryCharts charts;
    charts.setRuns({a, b, c}, a);
    // Grouped by setting: A and C side by side, then B; labels carry the setting.
    const QStringList labels = charts.agreementTicks()->fullTicks().values();
    QCOMPARE(labels.size(), 3);
    QVERIFY(labels[0].startsWith("A\n") && labels[1].startsWith("C\n"));
    QVERIFY2(labels[2].startsWith("B\n") && labels[2].contains("seq 512"), qPrintable(labels[2]));
    QVERIFY(charts.agreementTitle().contains("2 evaluation settings"));
}

void TestWidgets::compareSummaryLikeWithLike() {
    const RunPtr base = makeRun("x", {30, 31});
    ComparisonView view;
    view.setRuns({withEval(base, "INT4", 4.0, 4.2, 256), withEval(base, "INT8", 4.0, 4.0024, 256)});
    QString text = view.summaryText();
    QVERIFY2(text.contains("float 4.000") && text.contains("B − A = -0.198"), qPrintable(text));
    view.setRuns({withEval(base, "INT4", 4.0, 4.2, 256),
                  withEval(base, "INT8", 3.906, 3.906 * 1.0006, 512)});
    text = view.summaryText();
    QVERIFY2(text.contains("different settings (seq 256 vs 512)"), qPrintable(text));
    QVERIFY2(!text.contains("B − A"), qPrintable(text));
    QVERIFY2(text.contains("+0.06 %") && text.contains("+5.00 %"), qPrintable(text));
}

void TestWidgets::outputSqnrDeltaOnlyOnSameCalibration() {
    const RunPtr base = makeRun("x", {30, 31, 32});
    const RunPtr a = withCalibration(base, "A", 16), b = withCalibration(base, "B", 7);
    ComparisonView view;
    view.setRuns({a, b});
    ComparisonTableModel* m = view.tableModel();
    const int outDelta = ComparisonTableModel::column(ComparisonTableModel::OutputSqnr,
                                                      ComparisonTableModel::PartDelta);
    const int wDelta = ComparisonTableModel::column(ComparisonTableModel::WeightSqnr,
                                                    ComparisonTableModel::PartDelta);
    QVERIFY(!m->outputSqnrComparable());
    QCOMPARE(m->index(0, outDelta).data().toString(), QString("n/a"));
    QVERIFY(m->index(0, outDelta).data(Qt::ToolTipRole).toString().contains("16 × 256 vs"));
    QVERIFY(
        m->headerData(outDelta, Qt::Horizontal, Qt::ToolTipRole).toString().contains("7 × 256"));
    QCOMPARE(m->index(0, wDelta).data(SortRole).toDouble(), 0.0);  // weights still compare
    QVERIFY(view.summaryText().contains("different calibration inputs"));
    LayerChart chart;
    chart.setRuns({a, b});
    QVERIFY(chart.title().contains("different calibration inputs"));
    view.setRuns({a, withCalibration(base, "B", 16)});
    QVERIFY(m->outputSqnrComparable());
    QCOMPARE(m->index(0, outDelta).data(SortRole).toDouble(), 0.0);
    chart.setRuns({a, withCalibration(base, "B", 16)});
    QVERIFY(!chart.title().contains("different calibration inputs"));
    QVERIFY(!chart.title().contains("different models"));
    // Runs of another model: layers are matched by name only, and both views say so.
    RunResult other = *withCalibration(base, "Other", 16);
    other.config.modelDir = "/models/other";
    other.modelName = "other";
    chart.setRuns({a, std::make_shared<const RunResult>(other)});
    QVERIFY(chart.title().contains("2 different models"));
    view.setRuns({a, std::make_shared<const RunResult>(other)});
    QVERIFY2(
        view.summaryText().contains("different models") && view.summaryText().contains("vs other)"),
        qPrintable(view.summaryText()));
}

// QCustomPlot skips labels that would cross the widget edge: the last (often worst)
// layer of a 60° axis was never labelled.
void TestWidgets::rotatedAxesDrawLastLabel() {
    const RunPtr run = makeRun("INT8 channel RTN", sqnrRamp(35));
    LayerChart chart;
    chart.setRuns({run});
    const QSize size(900, 420);
    QVERIFY(labelDrawn(&chart, 34, size));
    QVERIFY(labelDrawn(&chart, 0, size));
    SummaryCharts charts;
    charts.setRuns({run}, run);
    QVERIFY(labelDrawn(charts.memoryChart(), 34, size));
}

void TestWidgets::sparseTicksKeepLastAndWorstLayer() {
    const RunPtr run = makeRun("A", sqnrRamp(105, 52));
    LayerChart chart;
    chart.setRuns({run});
    const QMap<double, QString> t = ticks(&chart);
    QVERIFY(t.size() < 60);
    QCOMPARE(t.value(104), QString("14.down_proj"));
    QCOMPARE(t.value(52), QString("7.o_proj"));
    QVERIFY(!t.contains(51) && !t.contains(53) && !t.contains(103));
    SummaryCharts charts;
    charts.setRuns({run}, run);
    QVERIFY(ticks(charts.memoryChart()).contains(104));
}

void TestWidgets::thresholdLinesLabelledAndSettable() {
    LayerChart chart;
    chart.setRuns({makeRun("A", {35, 25, 15})});
    QCOMPARE(chart.thresholds(), (std::vector<double>{10, 20, 30}));
    QCOMPARE(int(chart.thresholdLabels().size()), 3);
    QCOMPARE(chart.thresholdLabels()[0]->text(), QString("critical below 10 dB"));
    QCOMPARE(chart.thresholdLabels()[2]->text(), QString("good from 30 dB"));
    QCOMPARE(chart.thresholdLabels()[1]->position->coords().y(), 20.0);
    // The chart's own setting: spin boxes in the "dB lines" button's menu.
    QVERIFY(chart.thresholdButton()->menu());
    QCOMPARE(int(chart.thresholdEditors().size()), 3);
    chart.thresholdEditors()[2]->setValue(40);
    QCOMPARE(chart.thresholds(), (std::vector<double>{10, 20, 40}));
    QCOMPARE(chart.thresholdLines()[2]->point1->coords().y(), 40.0);
    QCOMPARE(chart.thresholdLabels()[2]->text(), QString("good from 40 dB"));
    chart.setRuns({makeRun("A", {35, 25, 15}), makeRun("B", {5})});  // survives a rebuild
    QCOMPARE(chart.thresholdLines()[2]->point1->coords().y(), 40.0);
    chart.thresholdButton()->menu()->actions().last()->trigger();  // reset
    QCOMPARE(chart.thresholds(), (std::vector<double>{10, 20, 30}));
    QCOMPARE(chart.thresholdEditors()[2]->value(), 30.0);
}

void TestWidgets::binsAboveStoredAreNoted() {
    HistogramView view;
    const RunPtr run = makeRun("A", {30});  // activations stored with 12 bins, gradients 3
    view.setRun(run);
    view.setLayer(run->layers[0].name);
    view.setBinCount(512);
    QCOMPARE(view.activationChart()->beforeBars()->dataCount(), 12);
    QVERIFY(!view.binsNote()->isHidden());
    QVERIFY2(view.binsNote()->text().contains("act./grad.: 3 bins stored"),
             qPrintable(view.binsNote()->text()));
    QVERIFY2(view.activationChart()->title().contains("(12 stored bins; 512 asked)"),
             qPrintable(view.activationChart()->title()));
    QVERIFY(view.binsBox()->toolTip().contains("stored"));
    // Exported images stand alone: every title names the layer and the run.
    const QString where = QString::fromStdString(run->layers[0].name) + " · A";
    for (HistogramChart* c :
         {view.weightChart(), view.errorChart(), view.activationChart(), view.gradientChart()})
        QVERIFY2(c->title().contains(where), qPrintable(c->title()));
    view.setBinCount(8);  // fewer bins merge stored ones: nothing to note for activations
    QCOMPARE(view.activationChart()->beforeBars()->dataCount(), 6);
    QVERIFY(!view.activationChart()->title().contains("stored"));
    view.setBinCount(2);  // clamped to 8 by the control
    view.setLayer("none");
    QVERIFY(view.binsNote()->isHidden());
}

void TestWidgets::layerTableChoosesRunsAndMetrics() {
    LayerTableModel model;
    const RunList runs = {makeRun("A", {35, 35}), makeRun("B", {25, 25}), makeRun("C", {5, 15}),
                          makeRun("D", {12, 12})};
    model.setRuns(runs);
    QCOMPARE(model.columnCount(), 5 + 4 * 8);  // fixed columns + runs x metrics
    QSortFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    TableView view;
    view.setModel(&proxy);
    QCOMPARE(view.horizontalHeader()->contextMenuPolicy(), Qt::CustomContextMenu);
    auto toggle = [&](const QString& text) {
        QMenu menu;
        view.buildHeaderMenu(&menu);
        for (QAction* a : menu.actions())
            if (a->text() == text) return a->trigger();
        QFAIL(qPrintable("no menu entry " + text));
    };
    toggle("A");
    toggle("B");
    for (const char* m : {"Act SQNR dB", "MSE", "Max |err|", "Cosine", "Method", "Fallback"})
        toggle(m);
    QCOMPARE(model.columnCount(), LayerTableModel::FixedColumnCount + 2 * 2);
    QCOMPARE(model.tintRun(), 2);
    QCOMPARE(model.headerData(LayerTableModel::FixedColumnCount, Qt::Horizontal).toString(),
             QString("C\nW SQNR dB"));
    QCOMPARE(model.columnOf(3, LayerTableModel::OutputSqnr), LayerTableModel::FixedColumnCount + 3);
    QCOMPARE(model.columnOf(0, LayerTableModel::WeightSqnr), -1);
    QCOMPARE(
        proxy.index(1, model.columnOf(3, LayerTableModel::WeightSqnr)).data(SortRole).toDouble(),
        12.0);
    // Rows are tinted by C (the first shown run), not by the hidden A; the header says so.
    QCOMPARE(model.index(0, LayerTableModel::ColLayer).data(Qt::BackgroundRole).value<QColor>(),
             sqnrColor(SqnrLevel::Critical, false));
    QCOMPARE(model.index(1, LayerTableModel::ColLayer).data(Qt::BackgroundRole).value<QColor>(),
             sqnrColor(SqnrLevel::Warning, false));
    QVERIFY(model.headerData(0, Qt::Horizontal, Qt::ToolTipRole).toString().contains("of C"));
    // The choice survives new runs (hidden by id); a new run is shown.
    RunList more = runs;
    more.push_back(makeRun("E", {40, 40}));
    model.setRuns(more);
    QCOMPARE(model.columnCount(), LayerTableModel::FixedColumnCount + 3 * 2);
    toggle("A");
    QCOMPARE(model.tintRun(), 0);
    QVERIFY(model.headerData(0, Qt::Horizontal, Qt::ToolTipRole).toString().contains("of A"));
}

void TestWidgets::compareChartsNameLayerAndHonourLog() {
    const RunPtr a = makeRun("INT8", {40, 41}), b = makeRun("INT4", {20, 19}, 0.25);
    ComparisonView view;
    view.setRuns({a, b});
    view.setLayer(a->layers[1].name);
    for (HistogramChart* c : {view.chartA(), view.chartB(), view.overlayChart()})
        QVERIFY2(c->title().contains("model.layers.0.self_attn.k_proj"), qPrintable(c->title()));
    QVERIFY(view.chartA()->title().startsWith("A: INT8"));
    view.logScaleBox()->setChecked(true);  // the user ticks Log counts
    for (HistogramChart* c : {view.chartA(), view.chartB(), view.overlayChart()})
        QCOMPARE(c->yAxis->scaleType(), QCPAxis::stLogarithmic);
    view.setKind(ComparisonView::Activations);  // stays logarithmic on a new kind
    QCOMPARE(view.chartB()->yAxis->scaleType(), QCPAxis::stLogarithmic);
    // Ctrl+E exports what is on screen: the overlay once it is shown.
    QCOMPARE(view.currentExportWidget(), static_cast<QCustomPlot*>(view.chartA()));
    view.setOverlay(true);
    QCOMPARE(view.currentExportWidget(), static_cast<QCustomPlot*>(view.overlayChart()));
    view.setOverlay(false);
    QCOMPARE(view.currentExportWidget(), static_cast<QCustomPlot*>(view.chartA()));
}

void TestWidgets::compareShowsMissingCaptures() {
    RunResult noCaptures = *makeRun("RTN", {40, 41});
    for (LayerResult& l : noCaptures.layers) {
        l.activationBefore = l.activationAfter = l.gradientBefore = l.gradientAfter = {};
        l.outputBefore = l.outputAfter = {};
    }
    const RunPtr a = makeRun("GPTQ", {40, 41}), b = std::make_shared<RunResult>(noCaptures);
    ComparisonView view;
    view.setRuns({a, b});
    view.setLayer(a->layers[0].name);
    view.setKind(ComparisonView::Activations);
    QCOMPARE(view.chartB()->title(), QString("No activations captured in run B (RTN)"));
    QCOMPARE(view.chartB()->beforeBars()->dataCount(), 0);
    QVERIFY(view.chartA()->beforeBars()->dataCount() > 0);
    QCOMPARE(view.overlayChart()->title(), QString("No activations captured in run B (RTN)"));
    view.setKind(ComparisonView::Gradients);
    QCOMPARE(view.chartB()->title(), QString("No gradients captured in run B (RTN)"));
}

void TestWidgets::compareTableSortsAndOverlayHasFloat() {
    const RunPtr a = makeRun("INT8", {40, 41, 42}), b = makeRun("INT4", {20, 30, 10}, 0.25);
    ComparisonView view;
    view.setRuns({a, b});
    view.setLayer(a->layers[0].name);
    QVERIFY(view.table()->isSortingEnabled());
    const int delta = ComparisonTableModel::column(ComparisonTableModel::WeightSqnr,
                                                   ComparisonTableModel::PartDelta);
    view.table()->horizontalHeader()->setSortIndicator(delta, Qt::AscendingOrder);
    QAbstractItemModel* shown = view.table()->model();
    QCOMPARE(shown->index(0, delta).data(SortRole).toDouble(), -32.0);
    QCOMPARE(shown->index(2, delta).data(SortRole).toDouble(), -11.0);
    QCOMPARE(shown->index(0, 0).data().toString().toStdString(), a->layers[2].name);
    // Clicking a sorted row selects that row's layer, not the model's row.
    QSignalSpy spy(&view, &ComparisonView::layerSelected);
    view.table()->selectRow(2);  // sorted row 2 is layer 1 (model row 2 is layer 2)
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).value<std::string>(), a->layers[1].name);
    // Overlay: both quantized runs over the float reference.
    const Histogram& ref = view.overlayChart()->reference();
    QCOMPARE(ref.counts, a->layers[0].weightBefore.counts);
    QCOMPARE(view.overlayChart()->referenceGraph()->dataCount(), ref.bins());
    QCOMPARE(view.overlayChart()->referenceGraph()->name(), QString("float"));
    QVERIFY(view.overlayChart()->referenceGraph()->visible());
    // Its CSV (what Export gives for the overlay) holds the three series on common bins.
    const QStringList csv = chartDataCsv(view.overlayChart()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(csv[0], QString("bin_lo,bin_hi,INT8,INT4,float"));
    QCOMPARE(csv[1], QString("-1,-0.75,0,0,1"));
}

void TestWidgets::chartsExportTheirDataAsCsv() {
    const QString dir = qltest::tempDir("test_widgets_csv");
    HistogramChart h;
    h.setHistograms(makeHistogram(-2, 2, {1, 3, 9, 3}), makeHistogram(-2, 2, {0, 5, 8, 3}), "float",
                    "quantized");
    QVERIFY(exportPlot(&h, dir + "/h.csv", QSize(100, 100)).ok);
    QFile f(dir + "/h.csv");
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 5);
    QCOMPARE(lines[0], QString("bin_lo,bin_hi,float,quantized"));
    QCOMPARE(lines[3], QString("0,1,9,8"));

    const RunPtr a = makeRun("A", {35, 25}), b = makeRun("B, odd", {5});
    LayerChart chart;
    chart.setRuns({a, b});
    const QStringList layer = chartDataCsv(&chart).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(layer[0], QString("layer,A weight SQNR dB,A output SQNR dB,\"B, odd weight SQNR "
                               "dB\",\"B, odd output SQNR dB\""));
    QCOMPARE(layer[1], QString::fromStdString(a->layers[0].name) + ",35,33.5,5,3.5");
    QCOMPARE(layer[2], QString::fromStdString(a->layers[1].name) + ",25,23.5,,");

    SummaryCharts charts;
    charts.setRuns({a}, a);
    const QStringList ppl = chartDataCsv(charts.perplexityChart()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(ppl[0], QString("x,label,float,quantized"));
    QCOMPARE(ppl[1], QString("0,float,4.45611,"));
    QVERIFY2(ppl[2].startsWith("1,A +1.00 %,,4.5006711"), qPrintable(ppl[2]));
    const QStringList memory = chartDataCsv(charts.memoryChart()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(memory.size(), 3);
    QCOMPARE(memory[1], QString("0,0.q_proj,12,3.125"));  // 64x48 f32 = 12 KiB; packed 3200 B
}

void TestWidgets::int8LevelsOnlyWhenResolvable() {
    HistogramChart chart;
    chart.setHistograms(makeHistogram(-1.3, 1.3, {1, 2, 3, 2, 1}), {}, "float", {});
    std::vector<double> levels;
    for (int q = -128; q <= 127; ++q) levels.push_back(q * 0.01);
    chart.setLevels(levels);
    QCOMPARE(chart.levelCount(), 256);
    QCOMPARE(chart.drawnLevelCount(), 0);
    QVERIFY2(chart.levelNote().startsWith("256 quantization levels (256 in view)"),
             qPrintable(chart.levelNote()));
    chart.xAxis->setRange(0.005, 0.205);  // the user zooms in: 20 levels in view
    QCOMPARE(chart.drawnLevelCount(), 20);
    QVERIFY(chart.levelNote().isEmpty());
    chart.resetView();
    QCOMPARE(chart.drawnLevelCount(), 0);
    // A 4-bit grid stays drawn in full.
    chart.setLevels(std::vector<double>(levels.begin() + 120, levels.begin() + 136));
    QCOMPARE(chart.drawnLevelCount(), 16);
}

void TestWidgets::perplexityTableNamesSettings() {
    const RunPtr base = makeRun("x", {30});
    PerplexityTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setRuns({withEval(base, "A", 4.0, 4.2, 256),
                   withEval(base, "B", 3.9, 3.95, 512, "gptq", "/data/wiki.txt")});
    QCOMPARE(model.index(1, PerplexityTableModel::ColEvalText).data().toString(),
             QString("wiki.txt"));
    QCOMPARE(
        model.headerData(PerplexityTableModel::ColEvalText, Qt::Horizontal, ExportRole).toString(),
        QString("eval_text"));
    const QString tip =
        model.index(1, PerplexityTableModel::ColDeltaPercent).data(Qt::ToolTipRole).toString();
    QVERIFY2(tip.contains("seq 512") && tip.contains("wiki.txt"), qPrintable(tip));
}

// Four runs, two evaluation settings, 35 layers: every chart renders (PNG left in
// build/test-tmp/test_widgets_png for a look).
void TestWidgets::chartsRenderWithManyRuns() {
    const QString dir = qltest::tempDir("test_widgets_png");
    const RunPtr base = makeRun("x", sqnrRamp(35, 34));
    const RunList runs = {withEval(base, "INT8 channel RTN", 4.0, 4.0024, 256),
                          withEval(base, "INT4 g32 RTN", 4.0, 4.21, 256),
                          withEval(base, "INT8 channel RTN seq 512", 3.906, 3.9083, 512),
                          withCalibration(withEval(base, "GPTQ", 4.0, 4.05, 256), "GPTQ", 16)};
    SummaryCharts charts;
    charts.setRuns(runs, runs[0]);
    LayerChart layers;
    layers.setRuns(runs);
    layers.setSelectedLayer(base->layers[34].name);
    HistogramChart levels;
    levels.setHistograms(base->layers[0].weightBefore, base->layers[0].weightAfter, "float",
                         "quantized");
    std::vector<double> xs;
    for (int q = -128; q <= 127; ++q) xs.push_back(q / 127.0);
    levels.setLevels(xs);
    const QList<QPair<QString, QCustomPlot*>> plots = {{"perplexity", charts.perplexityChart()},
                                                       {"kl_top1", charts.agreementChart()},
                                                       {"memory", charts.memoryChart()},
                                                       {"sqnr", &layers},
                                                       {"levels", &levels}};
    for (const auto& [name, plot] : plots) {
        QVERIFY(exportPlot(plot, dir + "/" + name + ".png", QSize(1000, 480)).ok);
        QCOMPARE(QImage(dir + "/" + name + ".png").size(), QSize(1000, 480));
    }
}

QTEST_MAIN(TestWidgets)
#include "test_widgets.moc"
