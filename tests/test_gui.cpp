// The workbench end to end on stories260k through the real background path: open the
// model, run INT8 and INT4 RTN, check tables and charts against the engine's RunResult
// (and the independent reference SQNRs), export, compare, cancel, errors.
#include "app/gui/mainwindow.h"
#include "app/gui/runpanel.h"
#include "testdata.h"
#include "widgets/comparisonview.h"
#include "widgets/exportutils.h"
#include "widgets/histogramview.h"
#include "widgets/layerchart.h"
#include "widgets/layertablemodel.h"
#include "widgets/memorytablemodel.h"
#include "widgets/perplexitytablemodel.h"
#include "widgets/summarycharts.h"
#include "widgets/tableroles.h"
#include "widgets/tableview.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QClipboard>
#include <QElapsedTimer>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QListWidget>
#include <QMimeData>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>

using namespace ql;

namespace {

RunConfig smallConfig(const std::string& recipe) {
    RunConfig c;
    c.recipe = recipe;
    c.calibrationText = qltest::dataPath("data/stories/calib.txt");
    c.calibrationWindows = 4;
    c.calibrationSeq = 64;
    c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    c.evalSeq = 256;
    c.evalMaxWindows = 4;
    c.captureActivations = true;
    c.captureGradients = true;
    c.histogramBins = 128;
    return c;
}

void compareBars(QCPBars* bars, const Histogram& h, const char* what) {
    QVERIFY2(!h.empty(), what);
    QCOMPARE(bars->dataCount(), h.bins());
    for (int i = 0; i < h.bins(); ++i)
        QCOMPARE(bars->data()->at(i)->value, double(h.counts[size_t(i)]));
}

int countCsvRows(const QString& path, int* columns) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return -1;
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    *columns = lines.isEmpty() ? 0 : int(lines[0].split(',').size());
    return int(lines.size());
}

}  // namespace

class TestGui : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void openModel();
    void runInt8AndCheckTables();
    void histogramsFollowSelection();
    void runInt4AndCompare();
    void exports();
    void saveOpenRemoveRun();
    void replaceNeedsConfirmation();
    void cancelHalfway();
    void errorsArriveAsMessages();
    void dropFolderOpensModelAndRemembersIt();
    void cleanupTestCase();

private:
    bool waitForRun(int timeoutMs);
    std::unique_ptr<MainWindow> w_;
};

void TestGui::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // settings (recent models) go to a test location
    QCoreApplication::setOrganizationName("QuantLensTest");
    installDefaultRunTokenizer();
    w_ = std::make_unique<MainWindow>();
    w_->setInteractive(false);
    w_->show();
}

void TestGui::cleanupTestCase() {
    w_.reset();
}

bool TestGui::waitForRun(int timeoutMs) {
    QElapsedTimer t;
    t.start();
    while (w_->isRunning() && t.elapsed() < timeoutMs) QTest::qWait(20);
    return !w_->isRunning();
}

void TestGui::openModel() {
    QL_REQUIRE_DATA("models/stories260k");
    QSignalSpy opened(w_.get(), &MainWindow::modelOpened);
    w_->openModel(qltest::dataDir() + "/models/does-not-exist");
    QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 10000);
    QCOMPARE(opened.at(0).at(0).toBool(), false);
    QVERIFY(!w_->summary());
    w_->openModel(qltest::dataDir() + "/models/stories260k");
    QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 2, 10000);
    QCOMPARE(opened.at(1).at(0).toBool(), true);
    QVERIFY(w_->summary());
    QCOMPARE(int(w_->summary()->linears.size()), 5 * 7);
    QCOMPARE(w_->layerModel()->rowCount(), 35);
    QVERIFY(w_->runPanel()->runButton()->isEnabled());
}

void TestGui::runInt8AndCheckTables() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(w_->summary());
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    QVERIFY(w_->startRun(smallConfig("rtn:int8:channel:sym")));
    QVERIFY(w_->isRunning());
    QVERIFY(!w_->runPanel()->runButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));
    QCOMPARE(int(w_->runs().size()), 1);
    const RunResult& run = *w_->runs()[0];
    QCOMPARE(int(run.layers.size()), 35);

    // Layer table: one row per layer, SQNR cells equal the engine's, and the engine's
    // equal the independent reference within 0.01 dB.
    QFile refFile(QString::fromStdString(qltest::dataPath("reference/model-reference.json")));
    QVERIFY(refFile.open(QIODevice::ReadOnly));
    const QJsonObject ref = QJsonDocument::fromJson(refFile.readAll())
                                .object()["stories260k"]
                                .toObject()["ppl"]
                                .toArray()[1]
                                .toObject()["weight_sqnr_db"]
                                .toObject();
    QCOMPARE(ref.size(), 35);
    LayerTableModel* model = w_->layerModel();
    QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model->rowCount(), 35);
    for (int r = 0; r < model->rowCount(); ++r) {
        const LayerResult& l = run.layers[size_t(r)];
        QCOMPARE(model->layerAt(r), l.name);
        const double cell =
            model->index(r, LayerTableModel::metricColumn(0, LayerTableModel::WeightSqnr))
                .data(SortRole)
                .toDouble();
        QCOMPARE(cell, l.weightSqnrDb);
        QCOMPARE(model->index(r, LayerTableModel::metricColumn(0, LayerTableModel::OutputSqnr))
                     .data(SortRole)
                     .toDouble(),
                 l.outputSqnrDb);
        QVERIFY2(qAbs(l.weightSqnrDb - ref[QString::fromStdString(l.name)].toDouble()) < 0.01,
                 l.name.c_str());
    }
    // Memory and perplexity tables.
    QCOMPARE(w_->memoryModel()->rowCount(), 35 + MemoryTableModel::SummaryRowCount);
    QCOMPARE(
        w_->memoryModel()->index(0, MemoryTableModel::ColQuantBytes).data(ExportRole).toLongLong(),
        qint64(run.layers[0].bytesQ));
    QCOMPARE(w_->perplexityModel()->rowCount(), 1);
    QVERIFY(run.perplexity.valid);
    QCOMPARE(w_->perplexityModel()
                 ->index(0, PerplexityTableModel::ColPplQuant)
                 .data(SortRole)
                 .toDouble(),
             run.perplexity.pplQ);
    // Copy as TSV: header + 35 lines.
    w_->sqnrTable()->selectAll();
    w_->sqnrTable()->copySelection();
    QCOMPARE(QApplication::clipboard()->text().split('\n', Qt::SkipEmptyParts).size(), 36);
    // Per-layer chart plots the same SQNRs.
    QCPGraph* g = w_->layerChart()->weightGraph(0);
    QCOMPARE(g->dataCount(), 35);
    for (int i = 0; i < 35; ++i)
        QCOMPARE(g->data()->at(i)->value, run.layers[size_t(i)].weightSqnrDb);
}

void TestGui::histogramsFollowSelection() {
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

void TestGui::runInt4AndCompare() {
    QL_REQUIRE_DATA("models/stories260k");
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    QVERIFY(w_->startRun(smallConfig("rtn:int4:g32:asym")));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));
    QCOMPARE(int(w_->runs().size()), 2);
    const RunResult& a = *w_->runs()[0];
    const RunResult& b = *w_->runs()[1];
    // Both runs are columns of the layer table; down_proj (172 columns) falls back.
    LayerTableModel* model = w_->layerModel();
    QCOMPARE(model->columnCount(),
             LayerTableModel::FixedColumnCount + 2 * LayerTableModel::MetricCount);
    for (int r = 0; r < 35; ++r) {
        const LayerResult& l = b.layers[size_t(r)];
        QCOMPARE(model->index(r, LayerTableModel::metricColumn(1, LayerTableModel::WeightSqnr))
                     .data(SortRole)
                     .toDouble(),
                 l.weightSqnrDb);
        QCOMPARE(model->index(r, LayerTableModel::metricColumn(1, LayerTableModel::Fallback))
                     .data()
                     .toString(),
                 QString(l.fallback ? "yes" : "no"));
        QVERIFY(l.weightSqnrDb < a.layers[size_t(r)].weightSqnrDb);  // 4 bits lose to 8
    }
    QCOMPARE(w_->perplexityModel()->rowCount(), 2);

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

void TestGui::exports() {
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
    for (const char* f : {"layers.csv", "memory.csv", "perplexity.csv", "comparison.csv",
                          "weights.png", "weight_error.png", "gradients.png", "sqnr_per_layer.png",
                          "memory_per_layer.png", "perplexity.png", "kl_top1.png", "run/run.json"})
        QVERIFY2(QFile::exists(report + "/" + f), f);
    QCOMPARE(countCsvRows(report + "/memory.csv", &columns),
             1 + 35 + MemoryTableModel::SummaryRowCount);
    QCOMPARE(countCsvRows(report + "/perplexity.csv", &columns), 1 + 2);
    QVERIFY(!QImage(report + "/perplexity.png").isNull());
}

void TestGui::saveOpenRemoveRun() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(!w_->runs().empty());
    const QString dir = qltest::tempDir("test_gui_saved") + "/int8";
    QString error;
    QVERIFY2(w_->saveRunTo(0, dir, &error), qPrintable(error));
    const int before = int(w_->runs().size());
    QVERIFY2(w_->openRunFrom(dir, &error), qPrintable(error));
    QCOMPARE(int(w_->runs().size()), before + 1);
    const RunResult& reopened = *w_->runs().back();
    QCOMPARE(reopened.layers.size(), w_->runs()[0]->layers.size());
    QCOMPARE(reopened.layers[4].weightSqnrDb, w_->runs()[0]->layers[4].weightSqnrDb);
    QCOMPARE(w_->runList()->count(), before + 1);
    w_->removeRun(before);
    QCOMPARE(int(w_->runs().size()), before);
    QCOMPARE(w_->layerModel()->columnCount(),
             LayerTableModel::FixedColumnCount + before * LayerTableModel::MetricCount);
    // A folder that is not a run: an error value, nothing added.
    QVERIFY(!w_->openRunFrom(qltest::tempDir("test_gui_not_a_run"), &error));
    QVERIFY(!error.isEmpty());
    QCOMPARE(int(w_->runs().size()), before);
}

// Nothing is replaced without the user's yes (confirm hook standing in for the
// QMessageBox), and what QuantLens did not write is never replaced at all.
void TestGui::replaceNeedsConfirmation() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(w_->runs().size() >= 2);
    const QString dir = qltest::tempDir("test_gui_replace");
    const std::string run = (dir + "/run").toStdString();
    QString error;
    QVERIFY2(w_->saveRunTo(0, dir + "/run", &error), qPrintable(error));
    int asked = 0;
    bool answer = false;
    w_->setConfirmHook([&](const QString&, const QString&) { return ++asked, answer; });
    QVERIFY(!w_->saveRunTo(1, dir + "/run", &error));  // declined: the saved run stays
    QCOMPARE(asked, 1);
    QVERIFY2(error.contains("kept"), qPrintable(error));
    QCOMPARE(loadRun(run).id, w_->runs()[0]->id);
    answer = true;
    QVERIFY2(w_->saveRunTo(1, dir + "/run", &error), qPrintable(error));
    QCOMPARE(loadRun(run).id, w_->runs()[1]->id);
    // A folder of the user's files: refused without asking, untouched.
    QDir().mkpath(dir + "/mine");
    QFile notes(dir + "/mine/notes.txt");
    QVERIFY(notes.open(QIODevice::WriteOnly) && notes.write("mine") == 4);
    notes.close();
    QVERIFY(!w_->saveRunTo(0, dir + "/mine", &error));
    QVERIFY2(error.contains("notes.txt"), qPrintable(error));
    QVERIFY(!w_->exportReportTo(dir + "/mine").isEmpty());
    QCOMPARE(QDir(dir + "/mine").entryList(QDir::Files | QDir::Hidden), QStringList{"notes.txt"});
    QCOMPARE(asked, 2);
    // Report export: a new folder, then replacing it only when confirmed.
    QVERIFY(w_->exportReportTo(dir + "/report").isEmpty());
    answer = false;
    QVERIFY(!w_->exportReportTo(dir + "/report").isEmpty());
    QCOMPARE(asked, 3);
    answer = true;
    const QStringList problems = w_->exportReportTo(dir + "/report");
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join("; ")));
    QCOMPARE(asked, 4);
    QVERIFY(QFile::exists(dir + "/report/run/run.json"));
    w_->setConfirmHook({});
}

void TestGui::cancelHalfway() {
    QL_REQUIRE_DATA("models/stories260k");
    const int before = int(w_->runs().size());
    RunConfig big = smallConfig("gptq:int4:g32:asym");
    big.calibrationWindows = 64;
    big.calibrationSeq = 256;
    // Long enough to still be running when Cancel is pressed: all of WikiText-2.
    big.evaluationText = qltest::dataPath("data/wikitext-2-raw/wiki.test.raw");
    big.evalMaxWindows = 0;
    QSignalSpy progress(w_->runJob(), &RunJob::progress);
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    QVERIFY(w_->startRun(big));
    QTRY_VERIFY_WITH_TIMEOUT(progress.count() >= 2, 60000);
    QVERIFY2(w_->isRunning(), "the large run finished before it could be cancelled");
    // The GUI thread stays responsive while the worker runs: events are processed.
    QElapsedTimer responsive;
    responsive.start();
    QTest::qWait(50);
    QVERIFY(responsive.elapsed() < 1000);
    QElapsedTimer t;
    t.start();
    w_->runPanel()->cancelButton()->click();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 30000);
    qInfo("cancel took %lld ms", static_cast<long long>(t.elapsed()));
    QVERIFY(t.elapsed() < 10000);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QVERIFY(w_->logText().contains("cancelled"));
    QCOMPARE(int(w_->runs().size()), before);
    QVERIFY(w_->runPanel()->runButton()->isEnabled());
    // Usable afterwards: another run completes (GPTQ, whose quantized weights are kept
    // by the run rather than recomputed from a grid: re-binning must still work).
    QVERIFY(w_->startRun(smallConfig("gptq:int4:g32:asym")));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 300000);
    QVERIFY2(finished.at(1).at(0).toBool(), qPrintable(w_->logText()));
    QCOMPARE(int(w_->runs().size()), before + 1);
    const RunPtr gptq = w_->runs().back();
    QCOMPARE(w_->currentRunIndex(), before);
    const LayerResult& l = gptq->layers[9];
    w_->selectLayer(l.name);
    HistogramView* view = w_->histogramView();
    view->setBinCount(48);
    QTRY_VERIFY_WITH_TIMEOUT(!view->rebinPending() && view->weightChart()->after().bins() == 48,
                             10000);
    const Histogram& shown = view->weightChart()->after();
    QCOMPARE(shown.counts, rebinWeights(*gptq, l.name, "after", shown.lo, shown.hi, 48).counts);
    uint64_t total = 0;
    for (uint64_t c : shown.counts) total += c;
    QCOMPARE(total, uint64_t(l.rows * l.cols));  // the view spans every weight
}

void TestGui::errorsArriveAsMessages() {
    QL_REQUIRE_DATA("models/stories260k");
    const int before = int(w_->runs().size());
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    RunConfig bad = smallConfig("rtn:int8:channel:sym");
    bad.calibrationText = "/nonexistent/calibration.txt";
    QVERIFY(w_->startRun(bad));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QVERIFY2(w_->logText().contains("Run failed"), qPrintable(w_->logText()));
    RunConfig badRecipe = smallConfig("rtn:int9:channel:sym");
    QVERIFY(w_->startRun(badRecipe));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 60000);
    QCOMPARE(finished.at(1).at(0).toBool(), false);
    QCOMPARE(int(w_->runs().size()), before);
    QVERIFY(!w_->isRunning());
}

void TestGui::dropFolderOpensModelAndRemembersIt() {
    QL_REQUIRE_DATA("models/tinystories-656k");
    const QString folder = qltest::dataDir() + "/models/tinystories-656k";
    QSignalSpy opened(w_.get(), &MainWindow::modelOpened);
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(folder)});
    QDropEvent drop(QPointF(100, 100), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    // Straight to the window's event handler: no drag session exists in a headless test.
    static_cast<QObject*>(w_.get())->event(&drop);
    QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 10000);
    QVERIFY(opened.at(0).at(0).toBool());
    QCOMPARE(int(w_->summary()->linears.size()), 2 * 7);
    QVERIFY(w_->runs().empty());  // runs belong to the previous model
    QCOMPARE(w_->layerModel()->rowCount(), 14);
    const QStringList recent = QSettings().value("recentModels").toStringList();
    QVERIFY(recent.size() >= 2);
    QCOMPARE(recent.first(), QFileInfo(folder).absoluteFilePath());
}

QTEST_MAIN(TestGui)
#include "test_gui.moc"
