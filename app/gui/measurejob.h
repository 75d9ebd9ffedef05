// Runs one measurement of the engine (sensitivity, plan inputs) off the GUI thread, as
// RunJob runs a quantization: progress posted to the GUI thread (queued, throttled), Cancel
// through an atomic flag the progress callback reads, errors caught in the worker and
// delivered as a value, the result as an immutable value (std::any holding a shared_ptr
// to const, e.g. SensitivityPtr) that the caller takes back with std::any_cast.
#pragma once

#include "base/progress.h"

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QObject>

#include <any>
#include <atomic>
#include <functional>
#include <memory>

namespace ql {

struct MeasureOutcome {
    std::any result;  // set on success
    QString error;    // set on failure
    bool cancelled = false;
    double seconds = 0.0;
};

class MeasureJob : public QObject {
    Q_OBJECT
public:
    using Work = std::function<std::any(const ProgressCallback&)>;

    explicit MeasureJob(QObject* parent = nullptr);
    ~MeasureJob() override;  // cancels and waits: the worker never outlives the job

    bool start(Work work);  // false if one is already going
    void cancel();
    bool isRunning() const { return running_; }
    double elapsedSeconds() const { return running_ ? clock_.elapsed() / 1000.0 : 0.0; }

signals:
    void progress(double fraction, const QString& message);
    void finished(const ql::MeasureOutcome& outcome);

private:
    struct Shared {
        std::atomic<bool> cancel{false};
        std::atomic<qint64> lastPostMs{0};
    };
    void onFinished();

    QFutureWatcher<MeasureOutcome>* watcher_ = nullptr;
    std::shared_ptr<Shared> shared_;
    QElapsedTimer clock_;
    bool running_ = false;
};

}  // namespace ql

Q_DECLARE_METATYPE(ql::MeasureOutcome)
