#include "app/gui/runjob.h"

#include "base/error.h"
#include "run/run_estimate.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QPointer>
#include <QtConcurrent>

namespace ql {

RunJob::RunJob(QObject* parent) : QObject(parent) {
    qRegisterMetaType<ql::RunOutcome>();
    watcher_ = new QFutureWatcher<RunOutcome>(this);
    connect(watcher_, &QFutureWatcher<RunOutcome>::finished, this, &RunJob::onFinished);
}

RunJob::~RunJob() {
    cancel();
    watcher_->waitForFinished();
}

double RunJob::elapsedSeconds() const {
    return running_ ? clock_.elapsed() / 1000.0 : 0.0;
}

bool RunJob::start(const RunConfig& config) {
    if (running_) return false;
    running_ = true;
    config_ = config;
    shared_ = std::make_shared<Shared>();
    clock_.start();
    auto shared = shared_;
    QPointer<RunJob> self(this);
    // Progress crosses to the GUI thread as a queued call on `self`; at most every
    // 50 ms, except phase changes and the end, so the event queue never floods.
    auto callback = [shared, self, lastPhase = std::make_shared<std::string>()](const Progress& p) {
        // fraction < 0 is the engine's cancellation check (ProgressReporter::checkCancelled),
        // not progress: posting it would show an empty phase at 0 %.
        if (p.fraction < 0.0) return !shared->cancel.load();
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        const bool newPhase = p.phase != *lastPhase;
        if (newPhase || p.fraction >= 1.0 || now - shared->lastPostMs.load() >= 50) {
            *lastPhase = p.phase;
            shared->lastPostMs = now;
            const QString phase = QString::fromStdString(p.phase);
            const QString message = QString::fromStdString(p.message);
            const double fraction = p.fraction;
            QMetaObject::invokeMethod(
                qApp,
                [self, phase, fraction, message] {
                    if (self && self->running_) emit self->progress(phase, fraction, message);
                },
                Qt::QueuedConnection);
        }
        return !shared->cancel.load();
    };
    watcher_->setFuture(QtConcurrent::run([config, callback, shared]() {
        RunOutcome out;
        QElapsedTimer t;
        t.start();
        try {
            // The prediction first, in the log: the run refuses itself when it cannot fit.
            try {
                // Memory and time: the GEMM rate is measured here (0.25 s, on this thread).
                callback(Progress{"plan", 0.0,
                                  describeEstimate(estimateRun(config, measureGemmRate()))});
            } catch (const Error&) {
                // The run reports what is wrong with the model or settings.
            }
            out.result = std::make_shared<const RunResult>(runQuantization(config, callback));
        } catch (const Cancelled&) {
            out.cancelled = true;
        } catch (const std::exception& e) {
            out.error = QString::fromUtf8(e.what());
            out.cancelled = shared->cancel.load() && out.error.contains("cancel");
        } catch (...) {
            out.error = "unknown error in the quantization run";
        }
        out.seconds = t.elapsed() / 1000.0;
        return out;
    }));
    return true;
}

void RunJob::cancel() {
    if (shared_) shared_->cancel = true;
}

void RunJob::onFinished() {
    RunOutcome out = watcher_->result();
    if (!out.result && !out.error.isEmpty() && shared_ && shared_->cancel.load())
        out.cancelled = true;  // an engine that reports cancellation as a plain error
    running_ = false;
    emit finished(out);
}

}  // namespace ql
