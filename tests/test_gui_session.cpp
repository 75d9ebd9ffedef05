// The workbench's sessions: quitting asks about unsaved runs (and cancels a running one
// first), finished runs are autosaved within a size limit and restored at the next
// start, a dropped folder opens and is remembered. Each test makes its own window.
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

class TestGuiSession : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void quitAsksAutosavesAndRestores();
    void autosaveHasASizeLimit();
    void quitDuringRunCancelsFirst();
    void dropFolderOpensModelAndRemembersIt();
    void cleanupTestCase();
};

void TestGuiSession::initTestCase() {
    initGuiSuite();
}

// Quit asks (Save all / Discard / Cancel); finished runs are autosaved and come back at
// the next start; removing or discarding a run removes its autosave.
void TestGuiSession::quitAsksAutosavesAndRestores() {
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

// Autosaves stop at a total size: a run that would pass it is not autosaved, the log says
// so, and it counts as unsaved; removing an autosaved run makes room again.
void TestGuiSession::autosaveHasASizeLimit() {
    QL_REQUIRE_DATA("models/stories260k");
    const QString autosave = qltest::tempDir("test_gui_autosave_limit");
    auto w = makeWindow(autosave);
    QVERIFY(openStories(*w));
    QSignalSpy written(w.get(), &MainWindow::autosaveWritten);
    QSignalSpy finished(w.get(), &MainWindow::runFinished);
    QVERIFY(w->startRun(weightsOnly("rtn:int8:channel:sym")));
    QTRY_COMPARE_WITH_TIMEOUT(written.count(), 1, 120000);
    const QString first = written.at(0).at(0).toString();
    qint64 size = 0;
    QDirIterator it(first, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) size += it.nextFileInfo().size();
    // The estimate that decides is close to what a run folder really takes.
    const qint64 estimate = MainWindow::autosaveBytes(*w->runs()[0]);
    QVERIFY2(estimate > size / 2 && estimate < size * 2,
             qPrintable(QString("estimate %1, folder %2").arg(estimate).arg(size)));
    // Room for one such run, not two: the next one is not autosaved.
    w->setAutosaveLimit(size + size / 2);
    QVERIFY(w->startRun(weightsOnly("rtn:int8:channel:sym")));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 120000);
    QVERIFY(finished.at(1).at(0).toBool());
    QTest::qWait(200);
    QCOMPARE(written.count(), 1);
    QVERIFY2(w->logText().contains("Not autosaved: run " + runDisplayName(*w->runs()[1])) &&
                 w->logText().contains("limit"),
             qPrintable(w->logText()));
    QVERIFY(w->autosaveFolderOf(1).isEmpty());
    QCOMPARE(QDir(autosave).entryList(QDir::Dirs | QDir::NoDotAndDotDot).size(), 1);
    QCOMPARE(w->unsavedRunCount(), 2);
    // Removing the autosaved run frees its space: the next run is autosaved again.
    w->removeRun(0);
    QVERIFY(!QFileInfo::exists(first));
    QVERIFY(w->startRun(weightsOnly("rtn:int8:channel:sym")));
    QTRY_COMPARE_WITH_TIMEOUT(written.count(), 2, 120000);
    QVERIFY(written.at(1).at(1).toBool());
    w->setClosePrompt(answer(MainWindow::CloseChoice::Discard));
    QVERIFY(w->close());
}

void TestGuiSession::quitDuringRunCancelsFirst() {
    QL_REQUIRE_DATA("data/wikitext-2-raw/wiki.test.raw");
    auto w = makeWindow(qltest::tempDir("test_gui_autosave_running"));
    QVERIFY(openStories(*w));
    const RunConfig big = longRunConfig();
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

void TestGuiSession::dropFolderOpensModelAndRemembersIt() {
    QL_REQUIRE_DATA("models/tinystories-656k");
    QL_REQUIRE_DATA("models/stories260k");
    const QString folder = qltest::dataDir() + "/models/tinystories-656k";
    auto w = makeWindow(qltest::tempDir("test_gui_autosave_drop"));
    QVERIFY(openStories(*w));
    QSignalSpy finished(w.get(), &MainWindow::runFinished);
    QVERIFY(w->startRun(weightsOnly("rtn:int8:channel:sym")));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
    QSignalSpy opened(w.get(), &MainWindow::modelOpened);
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(folder)});
    QDropEvent drop(QPointF(100, 100), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    // Straight to the window's event handler: no drag session exists in a headless test.
    static_cast<QObject*>(w.get())->event(&drop);
    QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 10000);
    QVERIFY(opened.at(0).at(0).toBool());
    QCOMPARE(int(w->summary()->linears.size()), 2 * 7);
    QVERIFY(w->runs().empty());  // runs belong to the previous model
    QCOMPARE(w->layerModel()->rowCount(), 14);
    const QStringList recent = QSettings().value("recentModels").toStringList();
    QVERIFY(recent.size() >= 2);
    QCOMPARE(recent.first(), QFileInfo(folder).absoluteFilePath());
    w->setClosePrompt(answer(MainWindow::CloseChoice::Discard));
    QVERIFY(w->close());
}

void TestGuiSession::cleanupTestCase() {}

QTEST_MAIN(TestGuiSession)
#include "test_gui_session.moc"
