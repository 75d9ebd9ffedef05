// Shared by the workbench suites (test_gui, test_gui_charts, test_gui_session): the
// settings of small runs on stories260k, windows made as a user would see them on a
// small laptop screen, and answers to the quit prompt.
#pragma once

#include "app/gui/mainwindow.h"
#include "testdata.h"

#include <qcustomplot.h>
#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

#include <memory>

using namespace ql;

namespace guitest {

inline RunConfig smallConfig(const std::string& recipe) {
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

// Long enough to still be running when Cancel is pressed: GPTQ, then all of WikiText-2.
inline RunConfig longRunConfig() {
    RunConfig big = smallConfig("gptq:int4:g32:asym");
    big.calibrationWindows = 64;
    big.calibrationSeq = 256;
    big.evaluationText = qltest::dataPath("data/wikitext-2-raw/wiki.test.raw");
    big.evalMaxWindows = 0;
    return big;
}

inline void compareBars(QCPBars* bars, const Histogram& h, const char* what) {
    QVERIFY2(!h.empty(), what);
    QCOMPARE(bars->dataCount(), h.bins());
    for (int i = 0; i < h.bins(); ++i)
        QCOMPARE(bars->data()->at(i)->value, double(h.counts[size_t(i)]));
}

// A weights-only run (no texts): fast, and enough for the session and naming checks.
inline RunConfig weightsOnly(const std::string& recipe) {
    RunConfig c;
    c.recipe = recipe;
    c.captureActivations = false;
    c.captureGradients = false;
    return c;
}

inline std::unique_ptr<MainWindow> makeWindow(const QString& autosaveDir) {
    auto w = std::make_unique<MainWindow>();
    w->setInteractive(false);
    w->setAutosaveDir(autosaveDir);
    w->resize(1280, 720);
    w->show();
    return w;
}

inline bool openStories(MainWindow& w) {
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    w.openModel(qltest::dataDir() + "/models/stories260k");
    return opened.wait(20000) && opened.at(0).at(0).toBool();
}

inline MainWindow::ClosePrompt answer(MainWindow::CloseChoice choice, const QString& folder = {},
                                      QList<QPair<int, bool>>* asked = nullptr) {
    return [=](int unsaved, bool running) {
        if (asked) asked->append({unsaved, running});
        return MainWindow::CloseAnswer{choice, folder};
    };
}

inline QCPTextElement* titleOf(QCustomPlot* plot) {
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
        if (auto* t = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i))) return t;
    return nullptr;
}

inline int countCsvRows(const QString& path, int* columns) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return -1;
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    *columns = lines.isEmpty() ? 0 : int(lines[0].split(',').size());
    return int(lines.size());
}

// Settings and tokenizer of every workbench suite: a test location for QSettings.
inline void initGuiSuite() {
    QStandardPaths::setTestModeEnabled(true);  // settings (recent models) go to a test location
    QCoreApplication::setOrganizationName("QuantLensTest");
    ql::installDefaultRunTokenizer();
    QSettings().remove("autosave");
}

}  // namespace guitest
