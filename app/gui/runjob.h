// Runs ql::runQuantization off the GUI thread (QtConcurrent + QFutureWatcher).
// Progress is posted to the GUI thread (queued, throttled); Cancel sets an atomic flag
// that the progress callback reads, so the engine stops at its next report. Errors
// (ql::Error, ql::Cancelled, anything else) are caught in the worker and arrive as a
// value; results arrive as an immutable shared RunResult.
#pragma once

#include "widgets/resultutils.h"

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QObject>

#include <atomic>
#include <memory>

namespace ql {

struct RunOutcome {
    RunPtr result;  // set on success
    QString error;  // set on failure
    bool cancelled = false;
    double seconds = 0.0;
};

class RunJob : public QObject {
    Q_OBJECT
public:
    explicit RunJob(QObject* parent = nullptr);
    ~RunJob() override;  // cancels and waits: the worker never outlives the job

    bool start(const RunConfig& config);  // false if a run is already going
    void cancel();
    bool isRunning() const { return running_; }
    double elapsedSeconds() const;
    const RunConfig& config() const { return config_; }

signals:
    void progress(const QString& phase, double fraction, const QString& message);
    void finished(const ql::RunOutcome& outcome);

private:
    // Shared with the worker: outlives the job if needed, never touches the job directly.
    struct Shared {
        std::atomic<bool> cancel{false};
        std::atomic<qint64> lastPostMs{0};
    };
    void onFinished();

    QFutureWatcher<RunOutcome>* watcher_ = nullptr;
    std::shared_ptr<Shared> shared_;
    RunConfig config_;
    QElapsedTimer clock_;
    bool running_ = false;
};

}  // namespace ql

Q_DECLARE_METATYPE(ql::RunOutcome)
