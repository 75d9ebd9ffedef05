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
    // histograms | sqnr | summary | compare | overview | channels | sensitivity | plan | sweep;
    // sensitivity measures (layer units, the page's recipe) and plan measures the page's
    // candidates and runs the plan at its budget, before the screenshot.
    QString tab;
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
    bool measureForTab();  // true: a measurement started, finish() comes again after it
    MainWindow* w_;
    SessionOptions o_;
    int nextRecipe_ = 0;
    bool measured_ = false;
    int exitCode_ = 0;
    bool previewSeen_ = false, waitingPreview_ = false;
};

}  // namespace ql
