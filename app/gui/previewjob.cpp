#include "app/gui/previewjob.h"

#include "base/error.h"
#include "quant/method_registry.h"

#include <QtConcurrent>

namespace ql {

PreviewJob::PreviewJob(QObject* parent) : QObject(parent) {
    timer_ = new QTimer(this);
    timer_->setSingleShot(true);
    timer_->setInterval(300);
    connect(timer_, &QTimer::timeout, this, &PreviewJob::startPending);
    watcher_ = new QFutureWatcher<Outcome>(this);
    connect(watcher_, &QFutureWatcher<Outcome>::finished, this, &PreviewJob::onWorkerDone);
}

PreviewJob::~PreviewJob() {
    if (cancel_) *cancel_ = true;
    watcher_->waitForFinished();
}

RunConfig PreviewJob::previewConfig(const RunConfig& asked, QString* why) {
    RunConfig c = asked;
    c.calibrationText.clear();
    c.evaluationText.clear();
    c.captureActivations = c.captureGradients = false;
    c.checkpoint.clear();
    try {
        Recipe r = Recipe::parse(asked.recipe);
        if (methodSpec(r.method).needsCalibration || r.method == QuantMethod::LlmInt8 || r.smooth) {
            if (why)
                *why = QString(
                           "%1 fits its weights to calibration inputs: no weights-only "
                           "preview, press Run")
                           .arg(QString::fromStdString(methodName(r.method)));
            c.recipe.clear();
            return c;
        }
        r.actBits = 0;  // the weight side alone: the weights do not depend on the inputs'
        c.recipe = r.toString();
    } catch (const std::exception& e) {
        if (why) *why = QString::fromUtf8(e.what());
        c.recipe.clear();
    }
    return c;
}

void PreviewJob::request(const RunConfig& config) {
    pending_ = config;
    hasPending_ = true;
    ++generation_;
    if (cancel_) *cancel_ = true;  // its recipe is no longer the editor's
    timer_->start();               // restarts: a burst of edits waits for its last one
}

void PreviewJob::cancel() {
    timer_->stop();
    hasPending_ = false;
    ++generation_;
    if (cancel_) *cancel_ = true;
}

bool PreviewJob::isBusy() const {
    return hasPending_ || watcher_->isRunning();
}

void PreviewJob::startPending() {
    if (!hasPending_) return;
    if (watcher_->isRunning()) {
        // One analysis at a time on a machine of few cores: stop the old one at its next
        // layer; onWorkerDone starts this request then.
        if (cancel_) *cancel_ = true;
        return;
    }
    hasPending_ = false;
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    const RunConfig config = pending_;
    const quint64 generation = generation_;
    const auto cancel = cancel_;
    emit started(QString::fromStdString(config.recipe));
    watcher_->setFuture(QtConcurrent::run([config, cancel, generation]() {
        Outcome out;
        out.generation = generation;
        // The engine reports before every layer; false stops it there (ql::Cancelled).
        const ProgressCallback callback = [cancel](const Progress&) { return !cancel->load(); };
        try {
            RunResult run = runQuantization(config, callback);
            run.label = "Preview: " + run.label;
            out.result = std::make_shared<const RunResult>(std::move(run));
        } catch (const Cancelled&) {
            out.cancelled = true;
        } catch (const std::exception& e) {
            out.error = QString::fromUtf8(e.what());
        } catch (...) {
            out.error = "unknown error in the weights-only preview";
        }
        out.cancelled = out.cancelled || cancel->load();
        return out;
    }));
}

void PreviewJob::onWorkerDone() {
    const Outcome out = watcher_->result();
    if (hasPending_) {
        if (!timer_->isActive()) startPending();  // waited for this one to stop
        return;                                   // superseded: dropped
    }
    if (out.cancelled || out.generation != generation_) return;
    if (out.result)
        emit finished(out.result);
    else
        emit failed(QString::fromStdString(pending_.recipe), out.error);
}

}  // namespace ql
