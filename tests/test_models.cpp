// Table models, charts and exports of the workbench on synthetic RunResults built here:
// QAbstractItemModelTester on every model, cell values against the RunResult fields,
// SQNR colours at the thresholds, CSV/TSV round trips, chart data and image exports.
#include "runfixtures.h"
#include "testdata.h"
#include "widgets/comparisontablemodel.h"
#include "widgets/exportutils.h"
#include "widgets/histogramchart.h"
#include "widgets/histogramview.h"
#include "widgets/layerchart.h"
#include "widgets/layertablemodel.h"
#include "widgets/memorytablemodel.h"
#include "widgets/perplexitytablemodel.h"
#include "widgets/tableroles.h"

#include <QAbstractItemModelTester>
#include <QImage>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QtTest>

#include <cmath>

using namespace ql;
using qltest::makeHistogram;
using qltest::makeRun;

namespace {

std::vector<QStringList> parseCsv(const QString& text) {
    std::vector<QStringList> rows;
    for (const QString& line : text.split('\n', Qt::SkipEmptyParts)) {
        QStringList fields;
        QString cur;
        bool quoted = false;
        for (int i = 0; i < line.size(); ++i) {
            const QChar c = line[i];
            if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                cur += '"';
                ++i;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (c == ',' && !quoted) {
                fields << cur;
                cur.clear();
            } else {
                cur += c;
            }
        }
        fields << cur;
        rows.push_back(fields);
    }
    return rows;
}

}  // namespace

class TestModels : public QObject {
    Q_OBJECT
private slots:
    void layerModelPassesTester();
    void layerModelValuesAndColours();
    void layerModelSortAndFilter();
    void memoryModel();
    void perplexityModel();
    void comparisonModel();
    void csvAndTsv();
    void mergeBinsKeepsCounts();
    void histogramChartData();
    void histogramViewLevels();
    void layerChartDataAndClick();
    void plotExports();
    void exportFailureLeavesNoFile();
};

void TestModels::layerModelPassesTester() {
    LayerTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setLayers({{"model.layers.0.self_attn.q_proj", 0, "q_proj", 64, 48}});
    model.setRuns({makeRun("A", {35, 25, 15, 5, 40, 41, 42})});
    model.setRuns({makeRun("A", {35, 25}), makeRun("B", {12, 9, 8})});
    model.setRunShown(0, false);
    model.setDarkPalette(true);
    model.setRuns({});
    QCOMPARE(model.rowCount(), 1);  // the summary's layer stays
}

void TestModels::layerModelValuesAndColours() {
    LayerTableModel model;
    const std::vector<double> sqnr = {35, 25, 15, 5, 30, 20, 10, std::nan("")};
    const RunPtr a = makeRun("A", sqnr), b = makeRun("B", {1, 2});
    model.setRuns({a, b});
    QCOMPARE(model.rowCount(), int(sqnr.size()));
    QCOMPARE(model.columnCount(),
             LayerTableModel::FixedColumnCount + 2 * LayerTableModel::MetricCount);
    for (int r = 0; r < model.rowCount(); ++r) {
        const LayerResult& l = a->layers[size_t(r)];
        QCOMPARE(model.data(model.index(r, LayerTableModel::ColLayer)).toString().toStdString(),
                 l.name);
        const QVariant v = model.data(
            model.index(r, LayerTableModel::metricColumn(0, LayerTableModel::WeightSqnr)),
            SortRole);
        if (std::isnan(l.weightSqnrDb))
            QVERIFY(std::isnan(v.toDouble()));
        else
            QCOMPARE(v.toDouble(), l.weightSqnrDb);
        QCOMPARE(
            model.data(model.index(r, LayerTableModel::metricColumn(0, LayerTableModel::Fallback)))
                .toString(),
            QString(l.fallback ? "yes" : "no"));
    }
    // Run B has two layers only: its other cells are placeholders.
    QCOMPARE(
        model.data(model.index(5, LayerTableModel::metricColumn(1, LayerTableModel::WeightSqnr)))
            .toString(),
        QString("-"));
    // Thresholds: <10 critical, <20 warning, 20..30 fair, >=30 good; NaN is critical.
    const int col = LayerTableModel::ColLayer;
    auto colourOf = [&](int row) {
        return model.data(model.index(row, col), Qt::BackgroundRole).value<QColor>();
    };
    QCOMPARE(colourOf(0), sqnrColor(SqnrLevel::Good, false));
    QCOMPARE(colourOf(1), sqnrColor(SqnrLevel::Fair, false));
    QCOMPARE(colourOf(2), sqnrColor(SqnrLevel::Warning, false));
    QCOMPARE(colourOf(3), sqnrColor(SqnrLevel::Critical, false));
    QCOMPARE(colourOf(4), sqnrColor(SqnrLevel::Good, false));      // exactly 30
    QCOMPARE(colourOf(5), sqnrColor(SqnrLevel::Fair, false));      // exactly 20
    QCOMPARE(colourOf(6), sqnrColor(SqnrLevel::Warning, false));   // exactly 10
    QCOMPARE(colourOf(7), sqnrColor(SqnrLevel::Critical, false));  // NaN
    QVERIFY(sqnrColor(SqnrLevel::Critical, false).red() >
            sqnrColor(SqnrLevel::Critical, false).green());
    QCOMPARE(model.rowOfLayer(a->layers[3].name), 3);
    QCOMPARE(model.layerAt(3), a->layers[3].name);
    QVERIFY(model.headerData(LayerTableModel::metricColumn(1, LayerTableModel::Mse), Qt::Horizontal)
                .toString()
                .startsWith("B"));
}

void TestModels::layerModelSortAndFilter() {
    LayerTableModel model;
    model.setRuns({makeRun("A", {35, 25, 15, 5, 30, 20, 10})});
    QSortFilterProxyModel proxy;
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    proxy.setSourceModel(&model);
    proxy.setSortRole(SortRole);
    proxy.sort(LayerTableModel::metricColumn(0, LayerTableModel::WeightSqnr), Qt::AscendingOrder);
    double previous = -1e9;
    for (int r = 0; r < proxy.rowCount(); ++r) {
        const double v =
            proxy.index(r, LayerTableModel::metricColumn(0, LayerTableModel::WeightSqnr))
                .data(SortRole)
                .toDouble();
        QVERIFY(v >= previous);
        previous = v;
    }
    proxy.setFilterKeyColumn(LayerTableModel::ColLayer);
    proxy.setFilterFixedString("mlp");
    QCOMPARE(proxy.rowCount(), 3);  // gate, up, down
}

void TestModels::memoryModel() {
    MemoryTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const RunPtr run = makeRun("A", {30, 31, 32}, 0.5);
    model.setRun(run);
    QCOMPARE(model.rowCount(), 3 + MemoryTableModel::SummaryRowCount);
    for (int r = 0; r < 3; ++r) {
        const LayerResult& l = run->layers[size_t(r)];
        QCOMPARE(
            model.data(model.index(r, MemoryTableModel::ColSourceBytes), ExportRole).toLongLong(),
            qint64(l.bytesFp));
        QCOMPARE(
            model.data(model.index(r, MemoryTableModel::ColQuantBytes), ExportRole).toLongLong(),
            qint64(l.bytesQ));
        QVERIFY(qAbs(model.data(model.index(r, MemoryTableModel::ColRatio), SortRole).toDouble() -
                     double(l.bytesFp) / double(l.bytesQ)) < 1e-12);
    }
    const int total = 3 + MemoryTableModel::RowQuantizedTotal;
    QCOMPARE(
        model.data(model.index(total, MemoryTableModel::ColQuantBytes), ExportRole).toLongLong(),
        qint64(run->layers[0].bytesQ + run->layers[1].bytesQ + run->layers[2].bytesQ));
    const int rss = 3 + MemoryTableModel::RowPeakRss;
    QCOMPARE(
        model.data(model.index(rss, MemoryTableModel::ColSourceBytes), ExportRole).toLongLong(),
        qint64(123456789));
    model.setRun(nullptr);
    QCOMPARE(model.rowCount(), 0);
}

void TestModels::perplexityModel() {
    PerplexityTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    RunResult noPpl = *makeRun("C", {30});
    noPpl.perplexity.valid = false;
    model.setRuns({makeRun("A", {30}, 1.0), makeRun("B", {30}, 3.0),
                   std::make_shared<const RunResult>(noPpl)});
    QCOMPARE(model.rowCount(), 3);
    const double fp = 4.45611, q = 4.45611 * 1.03;
    QVERIFY(
        qAbs(model.data(model.index(1, PerplexityTableModel::ColDeltaPpl), SortRole).toDouble() -
             (q - fp)) < 1e-12);
    QVERIFY(
        qAbs(
            model.data(model.index(1, PerplexityTableModel::ColDeltaPercent), SortRole).toDouble() -
            3.0) < 1e-9);
    QCOMPARE(model.data(model.index(1, PerplexityTableModel::ColTokens), SortRole).toLongLong(),
             qint64(4335));
    QCOMPARE(model.data(model.index(2, PerplexityTableModel::ColPplQuant)).toString(),
             QString("n/a"));
}

void TestModels::comparisonModel() {
    ComparisonTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const RunPtr a = makeRun("INT8", {40, 41, 42}), b = makeRun("INT4", {20, 19, 18}, 0.25);
    model.setRuns(a, b);
    QCOMPARE(model.rowCount(), 3);
    for (int r = 0; r < 3; ++r) {
        const double delta =
            model
                .data(model.index(r, ComparisonTableModel::column(ComparisonTableModel::WeightSqnr,
                                                                  ComparisonTableModel::PartDelta)),
                      SortRole)
                .toDouble();
        QCOMPARE(delta, b->layers[size_t(r)].weightSqnrDb - a->layers[size_t(r)].weightSqnrDb);
    }
    model.setRuns(a, nullptr);
    QCOMPARE(model.rowCount(), 0);
}

void TestModels::csvAndTsv() {
    LayerTableModel model;
    RunResult r = *makeRun("A, with comma", {35, 25, 15});
    r.layers[1].method = "rtn \"quoted\", odd";
    model.setRuns({std::make_shared<const RunResult>(r)});
    const auto rows = parseCsv(modelToCsv(model));
    QCOMPARE(int(rows.size()), 1 + model.rowCount());
    for (const QStringList& row : rows) QCOMPARE(row.size(), model.columnCount());
    QCOMPARE(rows[2][LayerTableModel::metricColumn(0, LayerTableModel::Method)],
             QString("rtn \"quoted\", odd"));
    QCOMPARE(rows[1][LayerTableModel::metricColumn(0, LayerTableModel::WeightSqnr)].toDouble(),
             35.0);
    QVERIFY(rows[0][LayerTableModel::metricColumn(0, LayerTableModel::WeightSqnr)].startsWith(
        "A, with comma"));
    // TSV of a selection: header + the selected cells only.
    const QModelIndexList sel = {model.index(0, 0), model.index(2, 0)};
    const QStringList lines = modelToTsv(model, sel).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 3);
    QCOMPARE(lines[2].toStdString(), r.layers[2].name);
}

void TestModels::mergeBinsKeepsCounts() {
    const Histogram h = makeHistogram(-1, 2, {1, 2, 3, 4, 5, 6, 7});
    const Histogram m = HistogramView::mergeBins(h, 3);  // factor 3 -> 3 bins
    QCOMPARE(m.bins(), 3);
    QCOMPARE(m.counts, (std::vector<uint64_t>{6, 15, 7}));
    QCOMPARE(m.lo, -1.0);
    QVERIFY(qAbs(m.binWidth() - 3 * h.binWidth()) < 1e-12);
    QCOMPARE(HistogramView::mergeBins(h, 64).counts, h.counts);
}

void TestModels::histogramChartData() {
    HistogramChart chart;
    const Histogram before = makeHistogram(-2, 2, {1, 3, 9, 3}),
                    after = makeHistogram(-2, 2, {0, 5, 8, 3});
    chart.setHistograms(before, after, "float", "quantized");
    QCOMPARE(chart.beforeBars()->dataCount(), 4);
    for (int i = 0; i < 4; ++i) {
        QCOMPARE(chart.beforeBars()->data()->at(i)->value, double(before.counts[size_t(i)]));
        QCOMPARE(chart.afterBars()->data()->at(i)->value, double(after.counts[size_t(i)]));
        QCOMPARE(chart.beforeBars()->data()->at(i)->key, -2 + (i + 0.5));
    }
    QCOMPARE(chart.beforeBars()->width(), 1.0);
    const QString tip = chart.binTooltip(0.5);  // bin 2: [0, 1)
    QVERIFY2(tip.contains("[0, 1)") && tip.contains("float: 9") && tip.contains("quantized: 8"),
             qPrintable(tip));
    QVERIFY(chart.binTooltip(5).isEmpty());
    chart.setLogScale(true);
    QCOMPARE(chart.yAxis->scaleType(), QCPAxis::stLogarithmic);
    QVERIFY(chart.yAxis->range().lower > 0);
}

void TestModels::histogramViewLevels() {
    HistogramView view;
    RunResult r = *makeRun("A", {30});
    LayerResult& l = r.layers[0];
    l.bits = 4;
    l.symmetric = false;
    l.groupSize = 16;  // cols 48 -> 3 groups per row
    l.scales.assign(size_t(l.rows * 3), 0.1f);
    l.scales[size_t(2 * 3 + 1)] = 0.5f;  // row 2, group 1
    l.zeros.assign(size_t(l.rows * 3), 8.0f);
    view.setRun(std::make_shared<const RunResult>(r));
    view.setLayer(l.name);
    view.setLevelGroup(2, 1);
    const std::vector<double> xs = view.levels();
    QCOMPARE(int(xs.size()), 16);  // asym 4-bit: q in 0..15
    QVERIFY(qAbs(xs.front() - (0 - 8) * 0.5) < 1e-6);
    QVERIFY(qAbs(xs.back() - (15 - 8) * 0.5) < 1e-6);
    QCOMPARE(view.weightChart()->levelCount(), 16);
    QCOMPARE(view.weightChart()->drawnLevelCount(), 5);  // those in view: -1 .. 1 by 0.5
    // Activations tab shows the stored counts (merged when fewer bins are asked for).
    for (int i = 0; i < l.activationBefore.bins(); ++i)
        QCOMPARE(view.activationChart()->beforeBars()->data()->at(i)->value,
                 double(l.activationBefore.counts[size_t(i)]));
}

void TestModels::layerChartDataAndClick() {
    LayerChart chart;
    const RunPtr a = makeRun("A", {35, 25, 15}), b = makeRun("B", {5, 6, 7});
    chart.setRuns({a, b});
    QCOMPARE(int(chart.layerOrder().size()), 3);
    for (int run = 0; run < 2; ++run) {
        const RunPtr& r = run == 0 ? a : b;
        QCOMPARE(chart.weightGraph(run)->dataCount(), 3);
        for (int i = 0; i < 3; ++i)
            QCOMPARE(chart.weightGraph(run)->data()->at(i)->value,
                     r->layers[size_t(i)].weightSqnrDb);
    }
    QSignalSpy spy(&chart, &LayerChart::layerClicked);
    chart.selectIndex(2);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).value<std::string>(), a->layers[2].name);
}

void TestModels::plotExports() {
    const QString dir = qltest::tempDir("test_models_exports");
    HistogramChart chart;
    chart.setHistograms(makeHistogram(0, 1, {1, 2, 3}), {}, "float", {});
    QVERIFY(exportPlot(&chart, dir + "/h.png", QSize(640, 400)).ok);
    QImage image(dir + "/h.png");
    QCOMPARE(image.size(), QSize(640, 400));
    QVERIFY(exportPlot(&chart, dir + "/h2.png", QSize(320, 200), 2.0).ok);
    QCOMPARE(QImage(dir + "/h2.png").size(), QSize(640, 400));
    QVERIFY(exportPlot(&chart, dir + "/h.pdf", QSize(640, 400)).ok);
    QFile pdf(dir + "/h.pdf");
    QVERIFY(pdf.open(QIODevice::ReadOnly));
    QVERIFY(pdf.read(5) == "%PDF-");
    QVERIFY(exportPlot(&chart, dir + "/h.svg", QSize(640, 400)).ok);
    QFile svg(dir + "/h.svg");
    QVERIFY(svg.open(QIODevice::ReadOnly));
    QVERIFY(svg.readAll().contains("<svg"));
}

void TestModels::exportFailureLeavesNoFile() {
    const QString dir = qltest::tempDir("test_models_fail");
    HistogramChart chart;
    const ExportResult missingDir = exportPlot(&chart, dir + "/no/such/dir/x.png", QSize(100, 100));
    QVERIFY(!missingDir.ok);
    QVERIFY(missingDir.error.contains("x.png"));
    const ExportResult badFormat = exportPlot(&chart, dir + "/x.bmpx", QSize(100, 100));
    QVERIFY(!badFormat.ok);
    QVERIFY(!QFile::exists(dir + "/x.bmpx"));
    const ExportResult badSize = exportPlot(&chart, dir + "/x.png", QSize(0, 100));
    QVERIFY(!badSize.ok);
    QVERIFY(!QFile::exists(dir + "/x.png"));
    QVERIFY(!writeTextFile(dir + "/nope/t.csv", "a,b\n").ok);
    QCOMPARE(QDir(dir).entryList(QDir::Files | QDir::Hidden).size(), 0);  // no temporary left
}

QTEST_MAIN(TestModels)
#include "test_models.moc"
