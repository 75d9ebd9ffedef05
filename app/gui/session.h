// Scripted start-up from the command line: open a model, open saved runs, run recipes
// one after another, select a layer/tab, save a screenshot of the window and quit.
// Used by scripts/screenshot.sh (under Xvfb) and for demos.
#pragma once

#include "run/run.h"

#include <QObject>
#include <QSize>
#include <QStringList>

namespace ql {

class MainWindow;

struct SessionOptions {
    QString model;
    QStringList openRuns;
    QStringList recipes;
    RunConfig base;  // calibration/evaluation settings for the recipes
    QString screenshot;
    QString layer;
    QString tab;           // histograms | sqnr | summary | compare | overview | channels | sweep
    QString histogramTab;  // weights | activations | gradients
    QString table;         // sqnr | memory | perplexity
    bool logCounts = false;
    // No run: the live preview of this recipe (set in the run panel), shot once it is shown.
    QString previewRecipe;
    bool sweep = false;  // sweep the Sweep tab's default grid, shot once it is done
};

class Session : public QObject {
    Q_OBJECT
public:
    Session(MainWindow* window, SessionOptions options);
    void start();
    int exitCode() const { return exitCode_; }

private:
    void nextRun();
    void finish();
    MainWindow* w_;
    SessionOptions o_;
    int nextRecipe_ = 0;
    int exitCode_ = 0;
    bool previewSeen_ = false, waitingPreview_ = false;
};

}  // namespace ql
