#include "app/gui/measurejob.h"

#include "app/gui/guardedjob.h"
#include "base/error.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QPointer>
#include <QtConcurrent>

namespace ql {

MeasureJob::MeasureJob(QObject* parent) : QObject(parent) {
    qRegisterMetaType<ql::MeasureOutcome>();
    watcher_ = new QFutureWatcher<MeasureOutcome>(this);
    connect(watcher_, &QFutureWatcher<MeasureOutcome>::finished, this, &MeasureJob::onFinished);
}

MeasureJob::~MeasureJob() {
    cancel();
    watcher_->waitForFinished();
}

bool MeasureJob::start(Work work) {
    if (running_) return false;
    running_ = true;
    shared_ = std::make_shared<Shared>();
    clock_.start();
    auto shared = shared_;
    QPointer<MeasureJob> self(this);
    // At most one post every 50 ms (and the end): the event queue never floods.
    ProgressCallback callback = [shared, self](const Progress& p) {
        if (p.fraction < 0.0) return !shared->cancel.load();  // a cancellation check
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        if (p.fraction >= 1.0 || now - shared->lastPostMs.load() >= 50) {
            shared->lastPostMs = now;
            const QString message = QString::fromStdString(p.message);
            const double fraction = p.fraction;
            QMetaObject::invokeMethod(
                qApp,
                [self, fraction, message] {
                    if (self && self->running_) emit self->progress(fraction, message);
                },
                Qt::QueuedConnection);
        }
        return !shared->cancel.load();
    };
    watcher_->setFuture(QtConcurrent::run([work = std::move(work), callback, shared]() {
        return guardedJob<MeasureOutcome>([&](MeasureOutcome& out) { out.result = work(callback); },
                                          shared->cancel, "in the measurement");
    }));
    return true;
}

void MeasureJob::cancel() {
    if (shared_) shared_->cancel = true;
}

void MeasureJob::onFinished() {
    const MeasureOutcome out = watcher_->result();
    running_ = false;
    emit finished(out);
}

}  // namespace ql
