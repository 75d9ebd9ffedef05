// The workbench end to end on stories260k through the real background path: open the
// model, run INT8 and INT4 RTN, check tables and charts against the engine's RunResult
// (and the independent reference SQNRs), export, compare, cancel, errors.
#include "app/gui/exports.h"
#include "app/gui/layerbrowser.h"
#include "app/gui/mainwindow.h"
#include "app/gui/runnames.h"
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

// A weights-only run (no texts): fast, and enough for the session and naming checks.
RunConfig weightsOnly(const std::string& recipe) {
    RunConfig c;
    c.recipe = recipe;
    c.captureActivations = false;
    c.captureGradients = false;
    return c;
}

std::unique_ptr<MainWindow> makeWindow(const QString& autosaveDir) {
    auto w = std::make_unique<MainWindow>();
    w->setInteractive(false);
    w->setAutosaveDir(autosaveDir);
    w->resize(1280, 720);
    w->show();
    return w;
}

bool openStories(MainWindow& w) {
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    w.openModel(qltest::dataDir() + "/models/stories260k");
    return opened.wait(20000) && opened.at(0).at(0).toBool();
}

MainWindow::ClosePrompt answer(MainWindow::CloseChoice choice, const QString& folder = {},
                               QList<QPair<int, bool>>* asked = nullptr) {
    return [=](int unsaved, bool running) {
        if (asked) asked->append({unsaved, running});
        return MainWindow::CloseAnswer{choice, folder};
    };
}

QCPTextElement* titleOf(QCustomPlot* plot) {
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
        if (auto* t = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i))) return t;
    return nullptr;
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
    void helpAndVersionNeedNoDisplay();
    void openModel();
    void runInt8AndCheckTables();
    void progressDisplayIgnoresCancellationChecks();
    void histogramsFollowSelection();
    void runInt4AndCompare();
    void uniqueRunLabels_data();
    void uniqueRunLabels();
    void sameRecipeTwiceGetsTwoNames();
    void smallScreens_data();
    void smallScreens();
    void exports();
    void chartExportNamesAndTitles();
    void saveOpenRemoveRun();
    void replaceNeedsConfirmation();
    void cancelHalfway();
    void errorsArriveAsMessages();
    void protocolAndLayerSelectionFromThePanel();
    void capturesNeedCalibration();
    void quitAsksAutosavesAndRestores();
    void quitDuringRunCancelsFirst();
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
    QSettings().remove("autosave");
    w_ = makeWindow(qltest::tempDir("test_gui_autosave_main"));
    // Quitting is answered by the tests, never by a modal dialog.
    w_->setClosePrompt(answer(MainWindow::CloseChoice::Cancel));
    // The whole suite runs on a small laptop screen.
    QCOMPARE(w_->size(), QSize(1280, 720));
    const QSize hint = w_->minimumSizeHint();
    QVERIFY2(hint.width() <= 1280 && hint.height() <= 720,
             qPrintable(QString("minimum size %1 x %2").arg(hint.width()).arg(hint.height())));
}

// --help and --version answer without a display (QApplication would abort on xcb).
void TestGui::helpAndVersionNeedNoDisplay() {
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove("DISPLAY");
    env.remove("WAYLAND_DISPLAY");
    env.insert("QT_QPA_PLATFORM", "xcb");
    const QList<QPair<QStringList, QString>> cases = {
        {{"--help"}, "--run-recipe"}, {{"--version"}, "0.1.0"}, {{"some/model", "-h"}, "--calib"}};
    for (const auto& [args, expected] : cases) {
        QProcess p;
        p.setProcessEnvironment(env);
        p.start(QUANTLENS_GUI_EXE, args);
        QVERIFY(p.waitForFinished(30000));
        const QString out = QString::fromLocal8Bit(p.readAllStandardOutput());
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0,
                 qPrintable(QString::fromLocal8Bit(p.readAllStandardError())));
        QVERIFY2(out.contains(expected), qPrintable(out));
    }
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
    QSignalSpy progress(w_->runJob(), &RunJob::progress);
    QList<int> shown;  // what the progress bar showed during the run
    const auto conn = connect(w_->runPanel()->progressBar(), &QProgressBar::valueChanged,
                              [&shown](int v) { shown << v; });
    QVERIFY(w_->startRun(smallConfig("rtn:int8:channel:sym")));
    QVERIFY(w_->isRunning());
    QVERIFY(!w_->runPanel()->runButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    disconnect(conn);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));
    QCOMPARE(int(w_->runs().size()), 1);
    const RunResult& run = *w_->runs()[0];
    // Only real progress reaches the window (no cancellation checks: phase "", -1), and
    // it reaches the evaluation; the bar moved beyond 0 before the end.
    QStringList phases;
    for (const QList<QVariant>& args : progress) {
        QVERIFY2(!args.at(0).toString().isEmpty(), "progress without a phase");
        QVERIFY2(args.at(1).toDouble() >= 0.0, "negative progress fraction");
        if (!phases.contains(args.at(0).toString())) phases << args.at(0).toString();
    }
    QVERIFY2(phases.contains("evaluate") && phases.contains("quantize"),
             qPrintable(phases.join(",")));
    QVERIFY(std::any_of(shown.begin(), shown.end(), [](int v) { return v > 0 && v < 1000; }));
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

// An empty cancellation-check update keeps the last phase and fraction on screen.
void TestGui::progressDisplayIgnoresCancellationChecks() {
    RunPanel* panel = w_->runPanel();
    emit w_->runJob()->progress("evaluate", 0.5, "2/4 windows");
    QCOMPARE(panel->progressBar()->value(), 500);
    QVERIFY(panel->progressBar()->format().startsWith("evaluate"));
    emit w_->runJob()->progress("", -1.0, "");
    QCOMPARE(panel->progressBar()->value(), 500);
    QVERIFY2(panel->progressBar()->format().startsWith("evaluate"),
             qPrintable(panel->progressBar()->format()));
    panel->showProgress("", -1.0, 3.0);
    QCOMPARE(panel->progressBar()->value(), 500);
    panel->setRunning(false);
    panel->showIdle("Ready.");
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

void TestGui::uniqueRunLabels_data() {
    QTest::addColumn<int>("variant");
    QTest::addColumn<QString>("expected");
    QTest::newRow("no other run") << 0 << "INT8 channel RTN";
    QTest::newRow("same settings") << 1 << "INT8 channel RTN #2";
    QTest::newRow("eval seq differs") << 2 << "INT8 channel RTN · seq 512";
    QTest::newRow("protocol differs") << 3 << "INT8 channel RTN · llamacpp";
    QTest::newRow("calibration differs") << 4 << "INT8 channel RTN · calib 32×256";
    QTest::newRow("layers differ") << 5 << "INT8 channel RTN · exclude *.down_proj";
    QTest::newRow("other recipe") << 6 << "INT8 channel RTN";
    QTest::newRow("name already numbered") << 7 << "INT8 channel RTN #3";
}

// Runs of one recipe are told apart by the settings that differ, else by a number.
void TestGui::uniqueRunLabels() {
    QFETCH(int, variant);
    QFETCH(QString, expected);
    auto make = [](const std::string& label) {
        auto r = std::make_shared<RunResult>();
        r->label = label;
        r->modelName = "stories260k";
        r->config.calibrationText = "/data/calib.txt";
        r->config.evaluationText = "/data/stories.txt";
        r->config.evalSeq = 256;
        return r;
    };
    const auto first = make("INT8 channel RTN");
    auto mine = make("INT8 channel RTN");
    RunList others = {first};
    if (variant == 0) others.clear();
    if (variant == 2) mine->config.evalSeq = 512;
    if (variant == 3) mine->config.evalProtocol = "llamacpp";
    if (variant == 4) mine->config.calibrationWindows = 32;
    if (variant == 5) mine->config.layers.exclude = {"*.down_proj"};
    if (variant == 6) others = {make("INT4 g128 RTN")};
    if (variant == 7) others.push_back(make("INT8 channel RTN #2"));
    QCOMPARE(uniqueRunLabel(*mine, others), expected);
}

// Through the window: the same run added twice shows two different names.
void TestGui::sameRecipeTwiceGetsTwoNames() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(w_->runs().size() >= 2);
    const int before = int(w_->runs().size());
    w_->addRun(w_->runs()[0]);
    QCOMPARE(int(w_->runs().size()), before + 1);
    const QString first = runDisplayName(*w_->runs()[0]);
    const QString again = runDisplayName(*w_->runs().back());
    QCOMPARE(again, first + " #2");
    QVERIFY(w_->runList()->item(before)->text().startsWith(again));
    w_->removeRun(before);
    QCOMPARE(int(w_->runs().size()), before);
}

void TestGui::smallScreens_data() {
    QTest::addColumn<QSize>("size");
    QTest::newRow("1280x720") << QSize(1280, 720);
    QTest::newRow("1366x768") << QSize(1366, 768);
}

// Everything a user needs is on screen at 1280 x 720 and 1366 x 768: nothing clipped.
void TestGui::smallScreens() {
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
    QVERIFY2(w_->layerInfo()->width() >= w_->layerInfo()->sizeHint().width(),
             qPrintable(QString("layer line %1 px of %2")
                            .arg(w_->layerInfo()->width())
                            .arg(w_->layerInfo()->sizeHint().width())));
    w_->resize(1280, 720);
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
void TestGui::chartExportNamesAndTitles() {
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
    // Compare: the overlay is what is on screen, so it is what Ctrl+E exports.
    w_->setChartTab(MainWindow::CompareTab);
    w_->comparisonView()->setOverlay(true);
    QCOMPARE(w_->currentChart(), static_cast<QCustomPlot*>(w_->comparisonView()->overlayChart()));
    w_->comparisonView()->setOverlay(false);
    QCOMPARE(w_->currentChart(), static_cast<QCustomPlot*>(w_->comparisonView()->chartA()));
    w_->setChartTab(MainWindow::HistogramsTab);
}

void TestGui::saveOpenRemoveRun() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(!w_->runs().empty());
    const QString dir = qltest::tempDir("test_gui_saved") + "/int8";
    QString error;
    QVERIFY2(w_->saveRunTo(0, dir, &error), qPrintable(error));
    const int before = int(w_->runs().size());
    // A failure's status message does not outlive a later success.
    QSignalSpy opened(w_.get(), &MainWindow::modelOpened);
    w_->openModel(qltest::dataDir() + "/models/does-not-exist");
    QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 10000);
    QVERIFY(w_->statusBar()->currentMessage().contains("Could not open"));
    QVERIFY2(w_->openRunFrom(dir, &error), qPrintable(error));
    QVERIFY2(!w_->statusBar()->currentMessage().contains("Could not"),
             qPrintable(w_->statusBar()->currentMessage()));
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

// The CLI's --protocol and --include/--exclude, set in the run panel and run with Run.
void TestGui::protocolAndLayerSelectionFromThePanel() {
    QL_REQUIRE_DATA("models/stories260k");
    RunPanel* panel = w_->runPanel();
    panel->setConfig(smallConfig("rtn:int8:channel:sym"));
    panel->protocolBox()->setCurrentIndex(panel->protocolBox()->findData("llamacpp"));
    panel->includeField()->setText("*.mlp.*");
    panel->excludeField()->setText("*.down_proj, model.layers.4.*");
    const RunConfig c = panel->config();
    QCOMPARE(c.evalProtocol, std::string("llamacpp"));
    QCOMPARE(c.layers.include, std::vector<std::string>{"*.mlp.*"});
    QCOMPARE(c.layers.exclude, (std::vector<std::string>{"*.down_proj", "model.layers.4.*"}));
    const int before = int(w_->runs().size());
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    panel->runButton()->click();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));
    QCOMPARE(int(w_->runs().size()), before + 1);
    const RunResult& run = *w_->runs().back();
    QCOMPARE(int(run.layers.size()), 4 * 2);  // gate and up of blocks 0-3
    for (const LayerResult& l : run.layers)
        QVERIFY2(QString::fromStdString(l.name).contains(".mlp.") && l.kind != "down_proj" &&
                     l.block != 4,
                 l.name.c_str());
    QCOMPARE(run.config.evalProtocol, std::string("llamacpp"));
    QCOMPARE(run.perplexity.protocol, std::string("llamacpp"));
    // A recipe re-selected keeps the selection; clearing the fields selects all again.
    panel->selectPreset(1);
    QCOMPARE(panel->config().layers.include, std::vector<std::string>{"*.mlp.*"});
    panel->includeField()->clear();
    panel->excludeField()->clear();
    panel->protocolBox()->setCurrentIndex(0);
    QVERIFY(panel->config().layers.include.empty() && panel->config().layers.exclude.empty());
    w_->removeRun(before);
}

// Captures happen on calibration windows: without a calibration text the boxes are off
// and say why, and a run started without one says so in the log.
void TestGui::capturesNeedCalibration() {
    QL_REQUIRE_DATA("models/stories260k");
    RunPanel* panel = w_->runPanel();
    panel->setConfig(smallConfig("rtn:int8:channel:sym"));
    QVERIFY(panel->activationsBox()->isEnabled() && panel->gradientsBox()->isEnabled());
    panel->calibrationField()->clear();
    for (QCheckBox* box : {panel->activationsBox(), panel->gradientsBox()}) {
        QVERIFY(!box->isEnabled());
        QVERIFY2(box->toolTip().contains("calibration text"), qPrintable(box->toolTip()));
    }
    QVERIFY(!panel->config().captureActivations && !panel->config().captureGradients);
    panel->calibrationField()->setText(
        QString::fromStdString(qltest::dataPath("data/stories/calib.txt")));
    QVERIFY(panel->activationsBox()->isEnabled());
    QVERIFY(panel->config().captureActivations && panel->config().captureGradients);

    const int before = int(w_->runs().size());
    QSignalSpy finished(w_.get(), &MainWindow::runFinished);
    RunConfig c = weightsOnly("rtn:int8:channel:sym");
    c.captureActivations = true;
    QVERIFY(w_->startRun(c));
    QVERIFY2(w_->logText().contains("will not be captured"), qPrintable(w_->logText()));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
    QVERIFY(finished.at(0).at(0).toBool());
    QVERIFY(!w_->runs().back()->hasActivations);
    w_->removeRun(before);
}

// Quit asks (Save all / Discard / Cancel); finished runs are autosaved and come back at
// the next start; removing or discarding a run removes its autosave.
void TestGui::quitAsksAutosavesAndRestores() {
    QL_REQUIRE_DATA("models/stories260k");
    using Choice = MainWindow::CloseChoice;
    const QString autosave = qltest::tempDir("test_gui_autosave");
    auto w = makeWindow(autosave);
    QVERIFY(openStories(*w));
    QSignalSpy written(w.get(), &MainWindow::autosaveWritten);
    QVERIFY(w->startRun(weightsOnly("rtn:int8:channel:sym")));
    QTRY_COMPARE_WITH_TIMEOUT(written.count(), 1, 120000);
    QVERIFY(written.at(0).at(1).toBool());
    const QString kept = written.at(0).at(0).toString();
    QCOMPARE(QFileInfo(kept).absolutePath(), QFileInfo(autosave).absoluteFilePath());
    QVERIFY(QFile::exists(kept + "/run.json"));
    QCOMPARE(w->autosaveFolderOf(0), kept);
    QVERIFY(w->startRun(weightsOnly("rtn:int4:g32:asym")));
    QTRY_COMPARE_WITH_TIMEOUT(written.count(), 2, 120000);
    const QString removed = written.at(1).at(0).toString();
    QVERIFY(QFile::exists(removed + "/run.json"));
    w->removeRun(1);
    QVERIFY(!QFileInfo::exists(removed));
    QCOMPARE(w->unsavedRunCount(), 1);

    QList<QPair<int, bool>> asked;
    w->setClosePrompt(answer(Choice::Cancel, {}, &asked));
    QVERIFY(!w->close());
    QVERIFY(w->isVisible());
    QCOMPARE(asked, (QList<QPair<int, bool>>{{1, false}}));
    QCOMPARE(int(w->runs().size()), 1);

    const QString savedDir = qltest::tempDir("test_gui_save_all");
    w->setClosePrompt(answer(Choice::SaveAll, savedDir));
    w->close();
    QTRY_VERIFY_WITH_TIMEOUT(!w->isVisible(), 60000);
    QVERIFY(QFile::exists(savedDir + "/" + QFileInfo(kept).fileName() + "/run.json"));
    QVERIFY(QFile::exists(kept + "/run.json"));  // kept for the next start
    const std::string label = w->runs()[0]->label;
    const double sqnr = w->runs()[0]->layers[3].weightSqnrDb;
    w.reset();

    auto next = makeWindow(autosave);
    QSignalSpy restored(next.get(), &MainWindow::autosaveRestored);
    next->restoreAutosavedRuns();
    QTRY_COMPARE_WITH_TIMEOUT(restored.count(), 1, 60000);
    QCOMPARE(restored.at(0).at(0).toInt(), 1);
    QCOMPARE(int(next->runs().size()), 1);
    QCOMPARE(next->runs()[0]->label, label);
    QCOMPARE(next->runs()[0]->layers[3].weightSqnrDb, sqnr);
    QVERIFY2(next->logText().contains("Restored 1 run"), qPrintable(next->logText()));
    QCOMPARE(next->unsavedRunCount(), 0);  // saved with "Save all"

    QVERIFY(openStories(*next));
    QCOMPARE(int(next->runs().size()), 1);  // the restored run belongs to this model
    QSignalSpy written2(next.get(), &MainWindow::autosaveWritten);
    QVERIFY(next->startRun(weightsOnly("rtn:int8:channel:sym")));
    QTRY_COMPARE_WITH_TIMEOUT(written2.count(), 1, 120000);
    const QString discarded = written2.at(0).at(0).toString();
    QCOMPARE(next->unsavedRunCount(), 1);
    next->setClosePrompt(answer(Choice::Discard));
    QVERIFY(next->close());
    QVERIFY(!QFileInfo::exists(discarded));
    QVERIFY(QFile::exists(kept + "/run.json"));
}

void TestGui::quitDuringRunCancelsFirst() {
    QL_REQUIRE_DATA("data/wikitext-2-raw/wiki.test.raw");
    auto w = makeWindow(qltest::tempDir("test_gui_autosave_running"));
    QVERIFY(openStories(*w));
    RunConfig big = smallConfig("gptq:int4:g32:asym");
    big.calibrationWindows = 64;
    big.calibrationSeq = 256;
    big.evaluationText = qltest::dataPath("data/wikitext-2-raw/wiki.test.raw");
    big.evalMaxWindows = 0;
    QSignalSpy progress(w->runJob(), &RunJob::progress);
    QVERIFY(w->startRun(big));
    QTRY_VERIFY_WITH_TIMEOUT(progress.count() >= 2, 60000);
    QVERIFY(w->isRunning());
    QList<QPair<int, bool>> asked;
    w->setClosePrompt(answer(MainWindow::CloseChoice::Discard, {}, &asked));
    QVERIFY(!w->close());  // not yet: the run is cancelled first
    QCOMPARE(asked, (QList<QPair<int, bool>>{{0, true}}));
    QTRY_VERIFY_WITH_TIMEOUT(!w->isVisible(), 30000);
    QVERIFY(!w->isRunning());
    QVERIFY(w->logText().contains("cancelled"));
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
