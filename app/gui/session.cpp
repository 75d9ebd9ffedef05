#include "app/gui/session.h"

#include "app/gui/benchpanel.h"
#include "app/gui/generatepage.h"
#include "app/gui/mainwindow.h"
#include "app/gui/planpage.h"
#include "app/gui/previewjob.h"
#include "app/gui/runpanel.h"
#include "app/gui/sensitivitypage.h"
#include "widgets/exportutils.h"
#include "widgets/histogramview.h"
#include "widgets/sensitivityview.h"
#include "widgets/sweepview.h"

#include <QApplication>
#include <QTabWidget>
#include <QTimer>

#include <cstdio>
#include <utility>

namespace ql {

Session::Session(MainWindow* window, SessionOptions options)
    : QObject(window), w_(window), o_(std::move(options)) {}

void Session::start() {
    if (!o_.screenshot.isEmpty())
        w_->setInteractive(false);  // never block an unattended session on a dialog
    connect(w_, &MainWindow::previewShown, this, [this] {
        previewSeen_ = true;
        if (std::exchange(waitingPreview_, false)) finish();
    });
    connect(w_->previewJob(), &PreviewJob::failed, this, [this] {
        exitCode_ = 1;
        if (std::exchange(waitingPreview_, false)) finish();
    });
    connect(w_, &MainWindow::modelOpened, this, [this](bool ok) {
        if (!ok) exitCode_ = 1;
        if (ok && !o_.previewRecipe.isEmpty()) {
            RunConfig c = w_->runPanel()->config();
            c.recipe = o_.previewRecipe.toStdString();
            w_->runPanel()->setConfig(c);  // the edit starts the preview
        }
        if (ok && o_.sweep && !w_->startSweep(w_->sweepView()->checkedRecipes())) exitCode_ = 1;
        for (const QString& dir : o_.openRuns) {
            QString error;
            if (!w_->openRunFrom(dir, &error)) {
                std::fprintf(stderr, "quantlens: %s\n", qPrintable(error));
                exitCode_ = 1;
            }
        }
        nextRun();
    });
    connect(w_, &MainWindow::runFinished, this, [this](bool ok) {
        if (!ok) exitCode_ = 1;
        nextRun();
    });
    connect(w_, &MainWindow::sensitivityFinished, this, [this](bool ok) {
        if (!ok) exitCode_ = 1;
        finish();
    });
    // The plan at the budget is run, and its run's end comes back through runFinished.
    connect(w_, &MainWindow::planFinished, this, [this](bool ok) {
        if (!ok) exitCode_ = 1;
        if (!ok || !w_->runSelectedPlan()) finish();
    });
    // Only a session that asked for the Generate tab waits for its jobs: a user's own
    // generation later in the session does not move the views.
    if (o_.tab == "generate" || o_.tab == "generate-packed")
        connect(
            w_->generatePage(), &GeneratePage::generationFinished, this,
            [this](bool ok) {
                if (!ok) exitCode_ = 1;
                finish();
            },
            Qt::SingleShotConnection);
    if (o_.tab == "generate-speed")
        connect(
            w_->generatePage()->benchPanel(), &BenchPanel::benchFinished, this,
            [this](bool ok) {
                if (!ok) exitCode_ = 1;
                finish();
            },
            Qt::SingleShotConnection);
    if (!o_.model.isEmpty())
        w_->openModel(o_.model);
    else
        QTimer::singleShot(0, this, [this] {
            for (const QString& dir : o_.openRuns) w_->openRunFrom(dir);
            finish();
        });
}

void Session::nextRun() {
    if (nextRecipe_ < o_.recipes.size() && exitCode_ == 0) {
        RunConfig c = o_.base;
        c.recipe = o_.recipes[nextRecipe_++].toStdString();
        // The run panel shows what the scripted run uses, as if it had been typed there.
        w_->runPanel()->setConfig(c);
        if (!w_->startRun(c))
            exitCode_ = 1;
        else
            return;
    }
    finish();
}

bool Session::measureForTab() {
    if (measured_ || exitCode_ != 0 || !w_->summary()) return false;
    measured_ = true;
    if (o_.tab.startsWith("sensitivity")) return w_->startSensitivity();
    if (o_.tab == "plan") return w_->startPlan();
    if (o_.tab == "generate") return w_->generatePage()->start();
    if (o_.tab == "generate-packed") {  // the runs on their packed kernels, with speed
        w_->generatePage()->packedBox()->setChecked(true);
        return w_->generatePage()->start();
    }
    if (o_.tab == "generate-speed") {
        w_->generatePage()->sections()->setCurrentIndex(1);
        return w_->generatePage()->benchPanel()->start();
    }
    return false;
}

void Session::finish() {
    // Shots of a preview or a sweep wait for it (failures end the session as well).
    // (A run, once there, replaces the preview: then there is nothing to wait for.)
    if (!o_.previewRecipe.isEmpty() && !previewSeen_ && exitCode_ == 0 && w_->runs().empty()) {
        waitingPreview_ = true;
        return;
    }
    if (o_.sweep && w_->isSweeping()) {
        connect(w_, &MainWindow::sweepFinished, this, &Session::finish, Qt::SingleShotConnection);
        return;
    }
    if (measureForTab()) return;
    if (!o_.layer.isEmpty()) w_->selectLayer(o_.layer.toStdString());
    const QStringList tabs = {"histograms", "sqnr",        "summary", "compare", "overview",
                              "channels",   "sensitivity", "plan",    "sweep",   "generate"};
    if (tabs.contains(o_.tab)) w_->setChartTab(MainWindow::ChartTab(tabs.indexOf(o_.tab)));
    if (o_.tab == "generate-speed" || o_.tab == "generate-packed")
        w_->setChartTab(MainWindow::GenerateTab);
    if (o_.tab == "sensitivity-map") {  // the Sensitivity tab showing its heat map
        w_->setChartTab(MainWindow::SensitivityTab);
        w_->sensitivityPage()->view()->showHeatMap(true);
    }
    const QStringList htabs = {"weights", "activations", "gradients"};
    if (htabs.contains(o_.histogramTab))
        w_->histogramView()->setCurrentTab(HistogramView::Tab(htabs.indexOf(o_.histogramTab)));
    const QStringList tables = {"sqnr", "memory", "perplexity"};
    if (tables.contains(o_.table)) w_->setTableTab(MainWindow::TableTab(tables.indexOf(o_.table)));
    if (o_.logCounts) w_->histogramView()->setLogScale(true);
    if (o_.screenshot.isEmpty()) return;
    // Let queued replots and layouts settle (and a re-binning finish) before grabbing.
    QTimer::singleShot(1500, this, [this] {
        const ExportResult r = exportWidgetPng(w_, o_.screenshot);
        if (!r.ok) {
            std::fprintf(stderr, "quantlens: %s\n", qPrintable(r.error));
            exitCode_ = 1;
        }
        qApp->exit(exitCode_);
    });
}

}  // namespace ql
