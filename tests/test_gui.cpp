// The workbench's runs page end to end on stories260k through the real background path:
// open the model, run INT8 and INT4 RTN, check the tables against the engine's RunResult
// (and the independent reference SQNRs), names, save/open, cancel, errors, the run panel.
// Charts: test_gui_charts; quitting, autosave and restore: test_gui_session.
#include "app/gui/exports.h"
#include "app/gui/layerbrowser.h"
#include "app/gui/mainwindow.h"
#include "app/gui/runnames.h"
#include "app/gui/runpanel.h"
#include "gui_helpers.h"
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
using namespace guitest;

class TestGui : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void helpAndVersionNeedNoDisplay();
    void openModel();
    void runInt8AndCheckTables();
    void progressDisplayIgnoresCancellationChecks();
    void runInt4AddsColumns();
    void uniqueRunLabels_data();
    void uniqueRunLabels();
    void sameRecipeTwiceGetsTwoNames();
    void tableTintFollowsShownRuns();
    void saveOpenRemoveRun();
    void replaceNeedsConfirmation();
    void cancelHalfway();
    void errorsArriveAsMessages();
    void protocolAndLayerSelectionFromThePanel();
    void capturesNeedCalibration();
    void cleanupTestCase();

private:
    std::unique_ptr<MainWindow> w_;
};

void TestGui::initTestCase() {
    initGuiSuite();
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
    // The prediction (memory and time) is logged when the run starts, before its first phase.
    const QString log = w_->logText();
    QVERIFY2(log.contains("[plan] predicted peak memory") && log.contains("GFLOP/s = ") &&
                 log.indexOf("[plan]") < log.indexOf("[load]"),
             qPrintable(log));
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
    // The process's live memory is shown next to the progress.
    QVERIFY2(panel->statusLabel()->text().contains(" GiB"),
             qPrintable(panel->statusLabel()->text()));
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

void TestGui::runInt4AddsColumns() {
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

// The SQNR table's tint belongs to the first run whose columns are shown, whichever run
// is current (the window's old "primary run" call, a no-op, is gone).
void TestGui::tableTintFollowsShownRuns() {
    QL_REQUIRE_DATA("models/stories260k");
    QVERIFY(w_->runs().size() >= 2);
    LayerTableModel* model = w_->layerModel();
    const int column = LayerTableModel::metricColumn(0, LayerTableModel::WeightSqnr);
    const QVariant tintOfFirst = model->index(0, column).data(Qt::BackgroundRole);
    w_->setCurrentRun(1);
    QCOMPARE(model->tintRun(), 0);
    QCOMPARE(model->index(0, column).data(Qt::BackgroundRole), tintOfFirst);
    model->setRunShown(0, false);
    QCOMPARE(model->tintRun(), 1);
    model->setRunShown(0, true);
    QCOMPARE(model->tintRun(), 0);
    w_->setCurrentRun(0);
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
    const RunConfig big = longRunConfig();
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

void TestGui::cleanupTestCase() {
    w_.reset();
}

QTEST_MAIN(TestGui)
#include "test_gui.moc"
