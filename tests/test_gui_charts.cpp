// The workbench's charts on two runs of stories260k (INT8, then INT4 RTN): histograms
// against the engine's, zoom re-binning, the comparison, log counts, small screens,
// exports (chart files, CSV data, the report) and their names.
#include "app/gui/exports.h"
#include "app/gui/layerbrowser.h"
#include "app/gui/mainwindow.h"
#include "app/gui/planpage.h"
#include "app/gui/runnames.h"
#include "app/gui/runpanel.h"
#include "app/gui/sensitivitypage.h"
#include "gui_helpers.h"
#include "testdata.h"
#include "widgets/comparisonview.h"
#include "widgets/exportutils.h"
#include "widgets/histogramview.h"
#include "widgets/layerchart.h"
#include "widgets/layertablemodel.h"
#include "widgets/memorytablemodel.h"
#include "widgets/paretochart.h"
#include "widgets/perplexitytablemodel.h"
#include "widgets/plotstyle.h"
#include "widgets/sensitivitychart.h"
#include "widgets/sensitivityview.h"
#include "widgets/summarycharts.h"
#include "widgets/tableroles.h"
#include "widgets/tableview.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QElapsedTimer>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QtTest>

using namespace ql;
using namespace guitest;

class TestGuiCharts : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void histogramsFollowSelection();
    void compareTwoRuns();
    void logCountsReachComparison();
    void smallScreens_data();
    void smallScreens();
    void exports();
    void chartExportNamesAndTitles();
    void exportWhatCompareShows();
    void chartsFollowTheme_data();
    void chartsFollowTheme();
    void cleanupTestCase();

private:
    std::unique_ptr<MainWindow> w_;
};

void TestGuiCharts::initTestCase() {
    initGuiSuite();
    w_ = makeWindow(qltest::tempDir("test_gui_charts_autosave"));
    w_->setClosePrompt(answer(MainWindow::CloseChoice::Cancel));
    QCOMPARE(w_->size(), QSize(1280, 720));
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(openStories(*w_));
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    QVERIFY(w_->startRun(smallConfig("rtn:int8:channel:sym")));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));
}

void TestGuiCharts::histogramsFollowSelection() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(!w_->runs().empty());
    const RunResult& run = *w_->runs()[0];
    HistogramView* view = w_->histogramView();
    for (int index : {3, 20, 34}) {
        const LayerResult& l = run.layers[size_t(index)];
        w_->selectLayer(l.name);
        QCOMPARE(w_->currentLayer(), l.name);
        view->setCurrentTab(HistogramView::WeightsTab);
        compareBars(view->weightChart()->beforeBars(), l.weightBefore, "weights before");
        compareBars(view->weightChart()->afterBars(), l.weightAfter, "weights after");
        compareBars(view->errorChart()->beforeBars(), l.weightError, "error");
        QVERIFY(view->weightChart()->levelCount() == 256);  // INT8 grid of row 0
        view->setCurrentTab(HistogramView::ActivationsTab);
        compareBars(view->activationChart()->beforeBars(), l.activationBefore,
                    "activations before");
        compareBars(view->activationChart()->afterBars(), l.activationAfter, "activations after");
        view->setCurrentTab(HistogramView::GradientsTab);
        compareBars(view->gradientChart()->beforeBars(), l.gradientBefore, "gradients before");
        compareBars(view->gradientChart()->afterBars(), l.gradientAfter, "gradients after");
    }
    // Clicking a point of the SQNR chart selects that layer everywhere.
    w_->layerChart()->selectIndex(7);
    QCOMPARE(w_->currentLayer(), run.layers[7].name);
    QCOMPARE(w_->histogramView()->layer(), run.layers[7].name);
    // Zoom re-bins the real weights on the visible range (debounced, off the GUI thread).
    const LayerResult& l = run.layers[7];
    const double lo = l.weightBefore.lo * 0.5, hi = l.weightBefore.hi * 0.5;
    view->setCurrentTab(HistogramView::WeightsTab);
    view->weightChart()->xAxis->setRange(lo, hi);
    QTRY_VERIFY_WITH_TIMEOUT(!view->rebinPending(), 10000);
    const Histogram& shown = view->weightChart()->before();
    QVERIFY(qAbs(shown.lo - lo) < 1e-9 && qAbs(shown.hi - hi) < 1e-9);
    const Histogram expected = rebinWeights(run, l.name, "before", lo, hi, view->binCount());
    QCOMPARE(shown.counts, expected.counts);
    view->setBinCount(32);
    QTRY_VERIFY_WITH_TIMEOUT(!view->rebinPending() && view->weightChart()->before().bins() == 32,
                             10000);
}

// Compare: the INT8 and INT4 runs of the same layer, on common bins and axes.
void TestGuiCharts::compareTwoRuns() {
    QL_REQUIRE_DATA("models/stories260k");
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    QVERIFY(w_->startRun(smallConfig("rtn:int4:g32:asym")));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));
    QCOMPARE(int(w_->runs().size()), 2);
    const RunResult& a = *w_->runs()[0];
    const RunResult& b = *w_->runs()[1];
    w_->setChartTab(MainWindow::CompareTab);
    ComparisonView* cmp = w_->comparisonView();
    cmp->setPair(0, 1);
    w_->selectLayer(a.layers[5].name);
    QCOMPARE(cmp->tableModel()->rowCount(), 35);
    const int delta = ComparisonTableModel::column(ComparisonTableModel::WeightSqnr,
                                                   ComparisonTableModel::PartDelta);
    QCOMPARE(cmp->tableModel()->index(5, delta).data(SortRole).toDouble(),
             b.layers[5].weightSqnrDb - a.layers[5].weightSqnrDb);
    QTRY_VERIFY_WITH_TIMEOUT(!cmp->rebinPending(), 10000);
    // Common bins and synchronised axes.
    const Histogram& ha = cmp->chartA()->after();
    const Histogram& hb = cmp->chartB()->after();
    QVERIFY2(ha.bins() == hb.bins() && ha.lo == hb.lo && ha.hi == hb.hi, qPrintable(w_->logText()));
    cmp->chartA()->xAxis->setRange(ha.lo * 0.5, ha.hi * 0.5);
    QCOMPARE(cmp->chartB()->xAxis->range().lower, ha.lo * 0.5);
    cmp->setOverlay(true);
    QCOMPARE(cmp->overlayChart()->afterBars()->dataCount(), hb.bins());
}

// View → Log counts sets every histogram on screen, the comparison's too, and each view's
// own checkbox moves the action.
void TestGuiCharts::logCountsReachComparison() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(w_->runs().size() >= 2);
    QAction* action = w_->logScaleAction();
    QVERIFY(action && action->isCheckable() && !action->isChecked());
    ComparisonView* cmp = w_->comparisonView();
    const QList<HistogramChart*> charts = {cmp->chartA(), cmp->chartB(), cmp->overlayChart(),
                                           w_->histogramView()->weightChart()};
    for (HistogramChart* c : charts) QCOMPARE(c->yAxis->scaleType(), QCPAxis::stLinear);
    action->trigger();
    QVERIFY(action->isChecked());
    QVERIFY(cmp->logScaleBox()->isChecked());
    for (HistogramChart* c : charts) QCOMPARE(c->yAxis->scaleType(), QCPAxis::stLogarithmic);
    cmp->logScaleBox()->click();  // off from the comparison: the menu and histograms follow
    QVERIFY(!action->isChecked());
    for (HistogramChart* c : charts) QCOMPARE(c->yAxis->scaleType(), QCPAxis::stLinear);
}

void TestGuiCharts::smallScreens_data() {
    QTest::addColumn<QSize>("size");
    QTest::newRow("1280x720") << QSize(1280, 720);
    QTest::newRow("1366x768") << QSize(1366, 768);
}

// Everything a user needs is on screen at 1280 x 720 and 1366 x 768: nothing clipped.
void TestGuiCharts::smallScreens() {
    QL_REQUIRE_DATA("models/stories260k");
    QFETCH(QSize, size);
    QVERIFY(!w_->runs().empty());
    w_->setChartTab(MainWindow::HistogramsTab);
    w_->histogramView()->setCurrentTab(HistogramView::WeightsTab);
    w_->resize(size);
    QTRY_COMPARE(w_->size(), size);
    QTest::qWait(50);
    QLabel* info = nullptr;  // the per-layer info line of the histograms
    for (QLabel* l : w_->histogramView()->findChildren<QLabel*>())
        if (l->toolTip() == QString::fromStdString(w_->currentLayer())) info = l;
    QVERIFY(info);
    const QRect window = w_->rect();
    QList<QPair<QWidget*, QSize>> needed;
    auto need = [&needed](QWidget* widget, QSize least) { needed.append({widget, least}); };
    need(w_->statusBar(), {200, 10});
    need(w_->logView(), {200, 60});
    need(info, {100, 10});
    need(w_->layerInfo(), {300, 10});
    need(w_->runList(), {200, 50});
    need(w_->runPanel()->runButton(), {40, 15});
    need(w_->runPanel()->cancelButton(), {40, 15});
    need(w_->runPanel()->progressBar(), {150, 10});
    need(w_->runPanel()->statusLabel(), {150, 10});
    need(w_->runPanel()->settingsArea(), {200, 100});
    need(w_->layerBrowser(), {200, 150});
    need(w_->histogramView()->weightChart(), {300, 150});
    need(w_->sqnrTable(), {300, 80});
    for (const auto& [widget, least] : needed) {
        const QRect g(widget->mapTo(w_.get(), QPoint(0, 0)), widget->size());
        const QString what = QString("%1 at %2,%3 %4x%5")
                                 .arg(widget->metaObject()->className())
                                 .arg(g.x())
                                 .arg(g.y())
                                 .arg(g.width())
                                 .arg(g.height());
        QVERIFY2(widget->isVisible(), qPrintable(what));
        QVERIFY2(g.width() >= least.width() && g.height() >= least.height(), qPrintable(what));
        QVERIFY2(window.contains(g), qPrintable(what));
    }
    // The status bar's layer line is whole: name, shape and SQNR of the current run.
    const QString layerLine = w_->layerInfo()->text();
    QVERIFY2(layerLine.contains(QString::fromStdString(w_->currentLayer())) &&
                 layerLine.contains("SQNR"),
             qPrintable(layerLine));
    // No chart tab widens the window past the screen, whatever the run names: the
    // comparison first shown with a very long name stays narrow.
    auto longName = std::make_shared<RunResult>(*w_->runs()[0]);
    longName->label =
        "RTN INT4 g128 → channel ×35 sym · llamacpp · seq 512 · calib 32×256 · exclude "
        "*.down_proj, model.layers.4.*";
    ComparisonView fresh;
    fresh.setRuns({w_->runs()[0], longName});
    fresh.show();
    QTest::qWait(20);
    QVERIFY2(fresh.minimumSizeHint().width() < 700,
             qPrintable(QString::number(fresh.minimumSizeHint().width())));
    for (MainWindow::ChartTab tab : {MainWindow::SqnrTab, MainWindow::SummaryTab,
                                     MainWindow::CompareTab, MainWindow::HistogramsTab}) {
        w_->setChartTab(tab);
        QTest::qWait(20);
        const QSize least = w_->minimumSizeHint();
        QVERIFY2(least.width() <= size.width() && least.height() <= size.height(),
                 qPrintable(QString("tab %1 needs %2 x %3")
                                .arg(int(tab))
                                .arg(least.width())
                                .arg(least.height())));
        QCOMPARE(w_->size(), size);
        if (tab != MainWindow::SummaryTab) continue;
        // The summary's titles (evaluation settings, run names) fit their charts.
        for (QCustomPlot* plot :
             {w_->summaryCharts()->perplexityChart(), w_->summaryCharts()->agreementChart()}) {
            const QFontMetrics metrics(titleOf(plot)->font());
            for (const QString& line : titleOf(plot)->text().split('\n'))
                QVERIFY2(metrics.horizontalAdvance(line) <= plot->width(),
                         qPrintable(QString("'%1' in %2 px").arg(line).arg(plot->width())));
        }
    }
    // Chart titles (layer and run names) fit their charts: nothing cut at either side,
    // also for the longest run name (the INT4 run's fallback label) and a down_proj.
    w_->setCurrentRun(int(w_->runs().size()) - 1);
    w_->selectLayer(w_->runs().back()->layers[6].name);
    QTest::qWait(50);
    for (HistogramChart* chart :
         {w_->histogramView()->weightChart(), w_->histogramView()->errorChart()}) {
        const QFontMetrics metrics(titleOf(chart)->font());
        for (const QString& line : chart->shownTitle().split('\n'))
            QVERIFY2(metrics.horizontalAdvance(line) <= chart->width(),
                     qPrintable(QString("'%1' in %2 px").arg(line).arg(chart->width())));
        QVERIFY(chart->title().contains(QString::fromStdString(w_->currentLayer())));
    }
    QVERIFY2(w_->layerInfo()->width() >= w_->layerInfo()->sizeHint().width(),
             qPrintable(QString("layer line %1 px of %2")
                            .arg(w_->layerInfo()->width())
                            .arg(w_->layerInfo()->sizeHint().width())));
    w_->resize(1280, 720);
}

void TestGuiCharts::exports() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(!w_->runs().empty());
    const QString dir = qltest::tempDir("test_gui_exports");
    QVERIFY(
        exportPlot(w_->histogramView()->weightChart(), dir + "/w.png", QSize(900, 500), 1.0).ok);
    QCOMPARE(QImage(dir + "/w.png").size(), QSize(900, 500));
    QVERIFY(exportPlot(w_->layerChart(), dir + "/sqnr.png", QSize(400, 300), 2.0).ok);
    QCOMPARE(QImage(dir + "/sqnr.png").size(), QSize(800, 600));
    QVERIFY(writeTextFile(dir + "/layers.csv", modelToCsv(*w_->layerModel())).ok);
    int columns = 0;
    QCOMPARE(countCsvRows(dir + "/layers.csv", &columns), 36);
    QVERIFY(columns >= LayerTableModel::FixedColumnCount + LayerTableModel::MetricCount);

    const QString report = dir + "/report";
    const QStringList problems = w_->exportReportTo(report);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join("; ")));
    QStringList expected = {"layers.csv",     "memory.csv",         "perplexity.csv",
                            "comparison.csv", "sqnr_per_layer.png", "memory_per_layer.png",
                            "perplexity.png", "kl_top1.png",        "report.html",
                            "run/run.json"};
    // The histograms of the current layer for every run, named by chart, layer and run.
    const QString layer = QString::fromStdString(w_->currentLayer());
    for (const RunPtr& r : w_->runs())
        for (const char* chart : {"weights", "weight_error", "activations", "gradients"})
            expected << fileStem(QStringList{chart, layer, runDisplayName(*r)}.join('_')) + ".png";
    for (const QString& f : expected) QVERIFY2(QFile::exists(report + "/" + f), qPrintable(f));
    QCOMPARE(countCsvRows(report + "/memory.csv", &columns),
             1 + 35 + MemoryTableModel::SummaryRowCount);
    QCOMPARE(countCsvRows(report + "/perplexity.csv", &columns), 1 + 2);
    QVERIFY(!QImage(report + "/perplexity.png").isNull());

    // report.html stands alone: every run, its settings and numbers, images inline.
    QFile f(report + "/report.html");
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString html = QString::fromUtf8(f.readAll());
    for (const RunPtr& r : w_->runs()) {
        QVERIFY2(html.contains(runDisplayName(*r).toHtmlEscaped()), qPrintable(runDisplayName(*r)));
        QVERIFY(html.contains(QString::fromStdString(r->config.recipe)));
        QVERIFY(html.contains(QString::number(r->perplexity.pplQ, 'f', 4)));
        QVERIFY(html.contains(formatDb(r->layers[0].weightSqnrDb)));
    }
    QVERIFY(html.contains(QString::fromStdString(w_->runs()[0]->layers[34].name)));
    QVERIFY(!html.contains("src=\"http") && !html.contains("href="));
    const QRegularExpression img("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"");
    int images = 0;
    for (auto it = img.globalMatch(html); it.hasNext(); ++images)
        QVERIFY(
            !QImage::fromData(QByteArray::fromBase64(it.next().captured(1).toLatin1())).isNull());
    QCOMPARE(images, 5 * int(w_->runs().size()) + 4);
}

// Default export names differ by tab, layer and run; exported titles name layer and run.
void TestGuiCharts::chartExportNamesAndTitles() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(w_->runs().size() >= 2);
    w_->setChartTab(MainWindow::HistogramsTab);
    HistogramView* view = w_->histogramView();
    const QString layer = QString::fromStdString(w_->currentLayer());
    const QString run = runDisplayName(*w_->runs()[size_t(w_->currentRunIndex())]);
    QStringList names;
    for (HistogramView::Tab tab :
         {HistogramView::WeightsTab, HistogramView::ActivationsTab, HistogramView::GradientsTab}) {
        view->setCurrentTab(tab);
        const MainWindow::ChartName n = w_->chartName(w_->currentChart());
        QVERIFY2(n.stem.contains(fileStem(layer)) && n.stem.contains(fileStem(run)),
                 qPrintable(n.stem));
        names << n.stem;
    }
    QCOMPARE(QSet<QString>(names.begin(), names.end()).size(), 3);
    const QString other = w_->chartName(view->weightChart()).stem;
    w_->setCurrentRun(w_->currentRunIndex() == 0 ? 1 : 0);
    QVERIFY(w_->chartName(view->weightChart()).stem != other);  // the run is in the name

    // While exported, the title carries the caption; the screen keeps its title.
    QCPTextElement* title = titleOf(view->weightChart());
    QVERIFY(title);
    const QString onScreen = title->text();
    const MainWindow::ChartName n = w_->chartName(view->weightChart());
    {
        const ChartCaption caption(view->weightChart(), n.titleLine);
        QVERIFY(title->text().contains(layer));
        QVERIFY(title->text().contains(runDisplayName(*view->run())));
    }
    QCOMPARE(title->text(), onScreen);
    QVERIFY(renderChartPng(view->weightChart(), QSize(600, 400), n.titleLine) !=
            renderChartPng(view->weightChart(), QSize(600, 400), QString()));
    w_->setChartTab(MainWindow::HistogramsTab);
}

// Ctrl+E on Compare exports what the comparison shows (the overlay when it is on, else the
// side-by-side pair's chart A), in any chart format, CSV data included.
void TestGuiCharts::exportWhatCompareShows() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(w_->runs().size() >= 2);
    QVERIFY(chartFileFilter().contains("CSV data (*.csv)"));
    ComparisonView* cmp = w_->comparisonView();
    w_->setChartTab(MainWindow::CompareTab);
    cmp->setOverlay(false);
    QCheckBox* overlay = nullptr;
    for (QCheckBox* box : cmp->findChildren<QCheckBox*>())
        if (box->text() == "Overlay") overlay = box;
    QVERIFY(overlay && !overlay->isChecked());
    QCOMPARE(w_->currentChart(), cmp->currentExportWidget());
    QCOMPARE(w_->currentChart(), static_cast<QCustomPlot*>(cmp->chartA()));
    overlay->click();
    QTRY_VERIFY(cmp->overlayChart()->isVisible() && !cmp->chartA()->isVisible());
    QCOMPARE(w_->currentChart(), cmp->currentExportWidget());
    QCOMPARE(w_->currentChart(), static_cast<QCustomPlot*>(cmp->overlayChart()));
    // The overlay's data, not chart A's, in the file Ctrl+E writes for a .csv name.
    const QString dir = qltest::tempDir("test_gui_compare_export");
    QVERIFY(exportPlot(w_->currentChart(), dir + "/shown.csv", QSize(800, 500)).ok);
    QFile csv(dir + "/shown.csv");
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QString text = QString::fromUtf8(csv.readAll());
    QCOMPARE(text, chartDataCsv(cmp->overlayChart()));
    QVERIFY(text != chartDataCsv(cmp->chartA()));
    overlay->click();
    QCOMPARE(w_->currentChart(), static_cast<QCustomPlot*>(cmp->chartA()));
    w_->setChartTab(MainWindow::HistogramsTab);
}

void TestGuiCharts::chartsFollowTheme_data() {
    QTest::addColumn<QString>("chart");
    for (const char* chart : {"sqnr", "sensitivity bars", "sensitivity heat map", "plan"})
        QTest::newRow(chart) << QString(chart);
}

// View → Theme restyles every chart, those of the Sensitivity and Plan tabs too: background,
// axes, tick labels and title take the palette's colours, back and forth.
void TestGuiCharts::chartsFollowTheme() {
    QFETCH(QString, chart);
    const QMap<QString, QCustomPlot*> charts = {
        {"sqnr", w_->layerChart()},
        {"sensitivity bars", w_->sensitivityPage()->view()->bars()},
        {"sensitivity heat map", w_->sensitivityPage()->view()->heatMap()},
        {"plan", w_->planPage()->chart()}};
    QCustomPlot* plot = charts.value(chart);
    QVERIFY(plot);
    for (bool dark : {true, false}) {
        w_->setDarkTheme(dark);
        const QPalette p = QApplication::palette();
        QCOMPARE(isDarkPalette(p), dark);
        const QColor bg = p.color(QPalette::Base), fg = p.color(QPalette::WindowText);
        QCOMPARE(plot->axisRect()->backgroundBrush().color(), bg);
        for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
            QCOMPARE(axis->basePen().color(), fg);
            QCOMPARE(axis->tickLabelColor(), fg);
            QCOMPARE(axis->labelColor(), fg);
        }
        QCOMPARE(titleOf(plot)->textColor(), fg);
        for (QCPLayoutElement* element : plot->plotLayout()->elements(true))
            if (auto* scale = qobject_cast<QCPColorScale*>(element)) {  // heat maps
                QCOMPARE(scale->axis()->tickLabelColor(), fg);
                QCOMPARE(scale->axis()->labelColor(), fg);
            }
        // What is drawn: the plot's corner (outside the axis rect) is the background.
        const QImage image = plot->toPixmap(400, 300).toImage();
        QCOMPARE(QColor(image.pixel(1, image.height() - 2)), bg);
    }
}

void TestGuiCharts::cleanupTestCase() {
    w_.reset();
}

QTEST_MAIN(TestGuiCharts)
#include "test_gui_charts.moc"
