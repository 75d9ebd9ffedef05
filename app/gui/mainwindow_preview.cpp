// MainWindow: the live weights-only preview of the recipe being edited (see PreviewJob), and
// the weight sweep tab's background job.
#include "app/gui/mainwindow.h"

#include "app/gui/previewjob.h"
#include "app/gui/runpanel.h"
#include "base/error.h"
#include "widgets/sweepview.h"

#include <QDateTime>
#include <QLabel>
#include <QPointer>
#include <QRegularExpression>
#include <QtConcurrent>

#include <cmath>

namespace ql {

QWidget* MainWindow::buildPreviewMarker() {
    previewMarker_ = new QLabel;
    previewMarker_->setObjectName("previewMarker");
    previewMarker_->setWordWrap(true);
    previewMarker_->setTextFormat(Qt::RichText);
    // Fixed colours, readable in both themes: the marker must not blend into either.
    previewMarker_->setStyleSheet(
        "QLabel#previewMarker { background: #fff3cd; color: #5c4400; border: 1px solid #d9b44a;"
        " border-radius: 3px; padding: 3px 6px; }");
    previewMarker_->setVisible(false);
    connect(preview_, &PreviewJob::started, this, [this](const QString& recipe) {
        updatePreviewMarker(QString("computing <code>%1</code>…").arg(recipe.toHtmlEscaped()));
    });
    connect(preview_, &PreviewJob::finished, this, &MainWindow::onPreviewFinished);
    connect(preview_, &PreviewJob::failed, this, [this](const QString&, const QString& error) {
        dropPreview();
        runsChanged();
        updatePreviewMarker("failed: " + error.toHtmlEscaped());
        log("Weights-only preview failed: " + error);
    });
    return previewMarker_;
}

void MainWindow::requestPreview() {
    // Only a model that can run, and only while it has no run: a run is never overwritten.
    if (!summary_ || !summary_->weightsOnlyReason.empty() || !runs_.empty() || job_->isRunning())
        return;
    QString why;
    RunConfig c = PreviewJob::previewConfig(runPanel_->config(), &why);
    if (c.recipe.empty()) {
        // Another recipe's numbers under this one's name would mislead: none at all.
        preview_->cancel();
        dropPreview();
        runsChanged();
        updatePreviewMarker(why.toHtmlEscaped());
        return;
    }
    c.modelDir = summary_->folder;
    preview_->request(c);
    if (!previewRun_) updatePreviewMarker("waiting for the recipe…");
}

void MainWindow::onPreviewFinished(const RunPtr& preview) {
    // A run that arrived (or started) meanwhile wins; so does another model.
    if (!preview || !summary_ || !runs_.empty() || job_->isRunning() ||
        preview->config.modelDir != summary_->folder)
        return;
    previewRun_ = preview;
    runsChanged();
    if ((layer_.empty() || !findLayer(*preview, layer_)) && !preview->layers.empty())
        selectLayer(preview->layers.front().name);
    updatePreviewMarker(
        QString("<b>%1</b> · %2 layers in %3 s · weight SQNR, error and "
                "histograms only: Run for outputs, activations and perplexity")
            .arg(runDisplayName(*preview).remove(QRegularExpression("^Preview: ")).toHtmlEscaped())
            .arg(preview->layers.size())
            .arg(preview->seconds, 0, 'f', 2));
    emit previewShown(preview);
}

void MainWindow::dropPreview() {
    previewRun_.reset();
}

void MainWindow::updatePreviewMarker(const QString& state) {
    const bool show = summary_ && summary_->weightsOnlyReason.empty() && runs_.empty();
    previewMarker_->setVisible(show);
    if (show) previewMarker_->setText("<b>Weights-only preview — no run yet</b> · " + state);
}

}  // namespace ql

namespace ql {

bool MainWindow::startSweep(const QStringList& recipes) {
    if (!summary_ || !summary_->weightsOnlyReason.empty() || recipes.isEmpty() ||
        sweepWatcher_->isRunning())
        return false;
    std::vector<std::string> list;
    for (const QString& r : recipes) list.push_back(r.toStdString());
    const RunConfig panel = runPanel_->config();
    const std::string folder = summary_->folder;
    sweepCancel_ = std::make_shared<std::atomic<bool>>(false);
    const auto cancel = sweepCancel_;
    // Progress to the GUI thread at most every 100 ms (queued on the view: dropped if it is gone).
    auto lastPost = std::make_shared<std::atomic<qint64>>(0);
    QPointer<SweepView> view(sweep_);
    const int count = int(list.size());
    const ProgressCallback callback = [cancel, lastPost, view, count](const Progress& p) {
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        if (p.fraction >= 0.0 && now - lastPost->load() >= 100) {
            *lastPost = now;
            const QString text = QString("sweeping %1 recipes… %2 %")
                                     .arg(count)
                                     .arg(int(std::lround(100.0 * p.fraction)));
            QMetaObject::invokeMethod(
                view, [view, text] { view->setRunning(true, text); }, Qt::QueuedConnection);
        }
        return !cancel->load();
    };
    sweepWatcher_->setFuture(QtConcurrent::run([folder, list, panel, callback, cancel]() {
        SweepOutcome out;
        try {
            out.result = std::make_shared<const SweepResult>(
                sweepWeights(folder, list, panel.layers, /*bins=*/0, ProgressReporter(callback)));
        } catch (const Cancelled&) {
            out.cancelled = true;
        } catch (const std::exception& e) {
            out.error = QString::fromUtf8(e.what());
        } catch (...) {
            out.error = "unknown error in the sweep";
        }
        out.cancelled = out.cancelled || (cancel->load() && !out.result);
        return out;
    }));
    sweep_->setRunning(true, QString("sweeping %1 recipes…").arg(count));
    log(QString("Sweep started: %1 recipes").arg(count));
    return true;
}

void MainWindow::cancelSweep() {
    if (sweepCancel_) *sweepCancel_ = true;
}

bool MainWindow::isSweeping() const {
    return sweepWatcher_->isRunning();
}

void MainWindow::onSweepDone() {
    const SweepOutcome out = sweepWatcher_->result();
    if (out.result && summary_ && out.result->modelDir == summary_->folder) {
        sweep_->setResult(out.result);
        sweep_->setSelectedLayer(layer_);
        const QString done = QString("%1 recipes in %2 s")
                                 .arg(out.result->recipes.size())
                                 .arg(out.result->seconds, 0, 'f', 1);
        sweep_->setRunning(false, done);
        log("Sweep finished: " + done);
    } else if (out.cancelled) {
        sweep_->setRunning(false, "Cancelled.");
        log("Sweep cancelled.");
    } else {
        const QString error = out.error.isEmpty() ? "the model changed" : out.error;
        sweep_->setRunning(false, "Failed: " + error);
        log("Sweep failed: " + error);
    }
    emit sweepFinished(bool(out.result));
}

}  // namespace ql
