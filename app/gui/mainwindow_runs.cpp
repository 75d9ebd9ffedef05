// MainWindow: opening models, running, and managing the runs list.
#include "app/gui/mainwindow.h"

#include "app/gui/generatepage.h"
#include "app/gui/layerbrowser.h"
#include "app/gui/planpage.h"
#include "app/gui/previewjob.h"
#include "app/gui/runpanel.h"
#include "app/gui/sensitivitypage.h"
#include "widgets/channelranges.h"
#include "widgets/comparisonview.h"
#include "widgets/histogramview.h"
#include "widgets/layerchart.h"
#include "widgets/layertablemodel.h"
#include "widgets/memorytablemodel.h"
#include "widgets/modeloverview.h"
#include "widgets/perplexitytablemodel.h"
#include "widgets/sensitivityview.h"
#include "widgets/summarycharts.h"
#include "widgets/sweepview.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QListWidget>
#include <QMessageBox>
#include <QStatusBar>
#include <QtConcurrent>

namespace ql {

void MainWindow::openModel(const QString& folder) {
    if (modelWatcher_->isRunning()) {
        log("Still opening the previous model; try again in a moment.");
        return;
    }
    if (job_->isRunning()) {
        warn("Open model", "Cancel or wait for the running quantization first.");
        return;
    }
    const QString path = QFileInfo(folder).absoluteFilePath();
    showStatus("Opening " + path + "…");
    log("Opening " + path);
    modelWatcher_->setFuture(QtConcurrent::run([path]() {
        ModelOutcome out;
        out.folder = path;
        try {
            out.summary =
                std::make_shared<const ModelSummary>(inspectCheckpoint(path.toStdString()));
        } catch (const std::exception& e) {
            out.error = QString::fromUtf8(e.what());
        }
        return out;
    }));
}

void MainWindow::warn(const QString& title, const QString& text) {
    log(title + ": " + text);
    if (interactive_ && isVisible()) QMessageBox::warning(this, title, text);
}

bool MainWindow::isOpeningModel() const {
    return modelWatcher_->isRunning();
}

void MainWindow::onModelInspected() {
    const ModelOutcome out = modelWatcher_->result();
    if (!out.summary) {
        showStatus("Could not open the model.");
        warn("Open model", out.error);
        emit modelOpened(false);
        return;
    }
    summary_ = out.summary;
    dropPreview();  // the old model's
    std::vector<LayerRowInfo> rows;
    for (const LinearLayerInfo& l : summary_->linears)
        rows.push_back({l.name, l.block, projKindName(l.kind), l.outFeatures, l.inFeatures});
    layerModel_->setLayers(rows);
    std::vector<std::string> names;
    for (const LayerRowInfo& r : rows) names.push_back(r.name);
    runPanel_->setLayerNames(std::move(names));  // override patterns must match one
    browser_->setSummary(summary_.get());
    rememberRecent(out.folder);
    runPanel_->setRunEnabled(true);
    sensitivityPage_->setModelOpen(true);
    sensitivityPage_->view()->setResult(nullptr);  // measured on the model open before
    planPage_->setModelOpen(true);
    planPage_->setInputs(nullptr);
    sweep_->setEnabledForModel(summary_->weightsOnlyReason.empty());
    generatePage_->setModel(QString::fromStdString(summary_->folder),
                            QString::fromStdString(summary_->weightsOnlyReason));
    if (sweep_->result() && sweep_->result()->modelDir != summary_->folder) sweep_->setResult({});
    if (!rows.empty()) selectLayer(rows.front().name);
    // Runs belong to their model: the others wait (autosaved) until it is opened again.
    const int before = int(runs_.size() + parked_.size());
    showRunsOfModel(out.folder);
    if (before > int(runs_.size()))
        log(QString("%1 run(s) of other models are hidden until their model is opened.")
                .arg(before - int(runs_.size())));
    updateTitle();
    showStatus(QString("Opened %1: %2 linear layers").arg(out.folder).arg(rows.size()));
    log(QString("Opened %1 (%2, %3 parameters)")
            .arg(out.folder, QString::fromStdString(summary_->config.architectureName))
            .arg(summary_->parameters));
    requestPreview();
    emit modelOpened(true);
}

bool MainWindow::startRun(const RunConfig& config) {
    RunConfig c = config;
    if (c.modelDir.empty() && summary_) c.modelDir = summary_->folder;
    if (c.modelDir.empty()) {
        log("Open a model before running.");
        return false;
    }
    // GPTQ/AWQ codes wait on disk beside the autosaves (which hard-link them) rather than
    // in memory for as long as the run is open.
    if (c.spillFolder.empty() && !autosaveDir_.isEmpty() && QDir().mkpath(autosaveDir_))
        c.spillFolder = autosaveDir_.toStdString();
    preview_->cancel();  // the run's numbers are coming; the cores are the run's
    if (!job_->start(c)) {
        log("A run is already in progress.");
        return false;
    }
    lastPhase_.clear();
    runPanel_->setRunning(true);
    log(QString("Run started: %1").arg(QString::fromStdString(c.recipe)));
    if ((c.captureActivations || c.captureGradients) && c.calibrationText.empty())
        log("Warning: activations and gradients will not be captured: they need a calibration "
            "text.");
    return true;
}

void MainWindow::onRunRequested() {
    if (const QString blocked = runPanel_->runBlockedReason(); !blocked.isEmpty())
        return log("Run refused: " + blocked);
    startRun(runPanel_->config());
}

void MainWindow::cancelRun() {
    if (!job_->isRunning()) return;
    job_->cancel();
    log("Cancelling…");
    runPanel_->showIdle("Cancelling…");
}

bool MainWindow::isRunning() const {
    return job_->isRunning();
}

void MainWindow::onRunProgress(const QString& phase, double fraction, const QString& message) {
    // A cancellation check (fraction < 0, no phase) is not progress: keep the last display.
    if (fraction < 0.0 || phase.isEmpty()) return;
    runPanel_->showProgress(phase, fraction, job_->elapsedSeconds());
    if (!phase.isEmpty() && phase != lastPhase_) {
        lastPhase_ = phase;
        log(QString("[%1] %2").arg(phase, message));
    }
}

void MainWindow::onRunFinished(const RunOutcome& outcome) {
    runPanel_->setRunning(false);
    if (outcome.result) {
        addRun(outcome.result);
        autosave(runs_.back());
        showStatus("Run finished: " + runDisplayName(*runs_.back()));
        runPanel_->showIdle(QString("Finished in %1 s.").arg(outcome.seconds, 0, 'f', 1));
        runPanel_->progressBar()->setValue(runPanel_->progressBar()->maximum());
        log(QString("Run finished: %1 (%2 layers, %3 s)")
                .arg(runDisplayName(*outcome.result))
                .arg(outcome.result->layers.size())
                .arg(outcome.seconds, 0, 'f', 1));
        for (const std::string& w : outcome.result->warnings)
            log("Warning: " + QString::fromStdString(w));
    } else if (outcome.cancelled) {
        runPanel_->showIdle("Cancelled.");
        showStatus("Run cancelled.");
        log("Run cancelled.");
    } else {
        runPanel_->showIdle("Failed: " + outcome.error);
        showStatus("Run failed.");
        log("Run failed: " + outcome.error);
        if (interactive_ && isVisible()) QMessageBox::warning(this, "Run failed", outcome.error);
    }
    // No run after all: back to the preview of the editor's recipe.
    if (!outcome.result && runs_.empty()) requestPreview();
    emit runFinished(bool(outcome.result));
    closeWhenIdle();  // the user chose to quit during this run
}

void MainWindow::addRun(RunPtr run) {
    if (!run) return;
    dropPreview();  // a run exists: its numbers, never a preview's
    runs_.push_back(withUniqueLabel(std::move(run)));
    currentRun_ = int(runs_.size()) - 1;
    runsChanged();
    if (layer_.empty() || !findLayer(*runs_.back(), layer_))
        if (!runs_.back()->layers.empty()) selectLayer(runs_.back()->layers.front().name);
}

void MainWindow::removeRun(int index) {
    if (index < 0 || index >= int(runs_.size())) return;
    log("Removed run " + runDisplayName(*runs_[size_t(index)]));
    removeAutosave(runs_[size_t(index)].get());
    runs_.erase(runs_.begin() + index);
    if (currentRun_ >= int(runs_.size())) currentRun_ = int(runs_.size()) - 1;
    runsChanged();
    if (runs_.empty()) requestPreview();
}

void MainWindow::setCurrentRun(int index) {
    if (index < -1 || index >= int(runs_.size()) || index == currentRun_) return;
    currentRun_ = index;
    runsChanged();
}

// Pushes the runs and the current run to every view.
void MainWindow::runsChanged() {
    const RunPtr current = currentRun_ >= 0 ? runs_[size_t(currentRun_)] : nullptr;
    if (!runs_.empty()) {
        // A run exists (finished, opened or restored): previews stop and their marker goes.
        preview_->cancel();
        dropPreview();
        previewMarker_->setVisible(false);
    }
    // Without a run the weight views show the preview (if any), under its marker.
    const bool preview = runs_.empty() && previewRun_;
    const RunList weightRuns = preview ? RunList{previewRun_} : runs_;
    const RunPtr weightRun = preview ? previewRun_ : current;
    layerModel_->setRuns(weightRuns);
    memoryModel_->setRun(weightRun);
    pplModel_->setRuns(runs_);
    histograms_->setRun(weightRun);
    layerChart_->setRuns(weightRuns);
    overview_->setRun(weightRun);
    channels_->setRun(current);
    summaryCharts_->setRuns(runs_, current);
    comparison_->setRuns(runs_);
    planPage_->setRuns(runs_);
    generatePage_->setRuns(runs_);
    refreshRunList();
    if (!layer_.empty()) selectLayer(layer_);
    updateLayerInfo();
}

void MainWindow::refreshRunList() {
    QSignalBlocker block(runList_);
    runList_->clear();
    for (const RunPtr& r : runs_) {
        QString text = runDisplayName(*r);
        if (r->perplexity.valid) text += QString("  ·  ppl %1").arg(r->perplexity.pplQ, 0, 'f', 3);
        auto* item = new QListWidgetItem(text, runList_);
        item->setToolTip(
            QString::fromStdString(r->id + "\n" + r->config.recipe + "\n" + r->createdAt));
    }
    runList_->setCurrentRow(currentRun_);
}

void MainWindow::selectLayer(const std::string& name) {
    layer_ = name;
    browser_->selectLayer(name);
    histograms_->setLayer(name);
    layerChart_->setSelectedLayer(name);
    overview_->setSelectedLayer(name);
    sweep_->setSelectedLayer(name);
    channels_->setLayer(name);
    comparison_->setLayer(name);
    sensitivityPage_->view()->setSelectedLayer(name);
    updateLayerInfo();
}

bool MainWindow::confirm(const QString& title, const QString& question) {
    if (confirmHook_) return confirmHook_(title, question);
    if (!interactive_ || !isVisible()) return false;
    return QMessageBox::question(this, title, question) == QMessageBox::Yes;
}

bool MainWindow::saveRunTo(int index, const QString& folder, QString* error) {
    if (index < 0 || index >= int(runs_.size())) return false;
    try {
        const std::string path = folder.toStdString();
        Overwrite overwrite = Overwrite::Never;
        if (checkRunDestination(path) == RunDestination::ExistingRun) {
            if (!confirm("Replace saved run",
                         QString("%1 already holds a saved run. Replace it?").arg(folder))) {
                if (error) *error = "Not saved: the run already in " + folder + " was kept.";
                log("Not saved: kept the run already in " + folder);
                return false;
            }
            overwrite = Overwrite::ExistingRun;
        }
        saveRun(*runs_[size_t(index)], path, overwrite);
        markRunSaved(index);
        log("Saved run to " + folder);
        return true;
    } catch (const std::exception& e) {
        if (error) *error = QString::fromUtf8(e.what());
        log(QString("Saving the run failed: %1").arg(e.what()));
        return false;
    }
}

bool MainWindow::openRunFrom(const QString& folder, QString* error) {
    try {
        auto run = std::make_shared<const RunResult>(loadRun(folder.toStdString()));
        if (summary_ &&
            QFileInfo(QString::fromStdString(run->config.modelDir)).canonicalFilePath() !=
                QFileInfo(QString::fromStdString(summary_->folder)).canonicalFilePath())
            log("Note: this run was made on another model folder: " +
                QString::fromStdString(run->config.modelDir));
        log("Opened run " + folder);
        addRun(run);
        markSaved(runs_.back().get());  // it is on disk already
        showStatus("Opened run " + folder);
        return true;
    } catch (const std::exception& e) {
        if (error) *error = QString::fromUtf8(e.what());
        log(QString("Opening the run failed: %1").arg(e.what()));
        return false;
    }
}

void MainWindow::saveRunInteractive() {
    if (currentRun_ < 0) return;
    const QString dir = QFileDialog::getSaveFileName(
        this, "Save run into folder", QString::fromStdString(runs_[size_t(currentRun_)]->id));
    if (dir.isEmpty()) return;
    QString error;
    if (!saveRunTo(currentRun_, dir, &error)) warn("Save run", error);
}

void MainWindow::openRunInteractive() {
    const QString dir = QFileDialog::getExistingDirectory(this, "Open saved run folder");
    if (dir.isEmpty()) return;
    QString error;
    if (!openRunFrom(dir, &error)) warn("Open run", error);
}

}  // namespace ql
