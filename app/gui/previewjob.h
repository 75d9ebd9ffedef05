// The live weights-only preview: the recipe being edited, run weights-only (no calibration,
// no evaluation: the numbers of `quantlens-cli sweep` for that recipe) off the GUI thread.
// Requests are debounced (a burst of edits starts one analysis, after the last) and a new
// request cancels the analysis still running (its progress callback returns false at the
// next layer), so only the newest recipe's result is ever delivered.
#pragma once

#include "widgets/resultutils.h"

#include <QFutureWatcher>
#include <QObject>
#include <QTimer>

#include <atomic>
#include <memory>

namespace ql {

class PreviewJob : public QObject {
    Q_OBJECT
public:
    explicit PreviewJob(QObject* parent = nullptr);
    ~PreviewJob() override;  // cancels and waits: the worker never outlives the job

    // The weights-only config a preview of `asked` runs: texts and captures dropped, an
    // activation side left out (the weights do not depend on it). Empty recipe, with *why
    // set, where the weights themselves need calibration (GPTQ, AWQ, SmoothQuant, LLM.int8()).
    static RunConfig previewConfig(const RunConfig& asked, QString* why);

    // Starts `config` (see previewConfig) `delayMs` after the last request.
    void request(const RunConfig& config);
    void cancel();        // drops the pending request and stops the running analysis
    bool isBusy() const;  // a request is waiting or an analysis is running
    void setDelay(int ms) { timer_->setInterval(ms); }
    int delay() const { return timer_->interval(); }

signals:
    void started(const QString& recipe);
    // Only for the newest request; never for a cancelled or superseded one.
    void finished(const ql::RunPtr& preview);
    void failed(const QString& recipe, const QString& error);

private:
    struct Outcome {
        RunPtr result;
        QString error;
        bool cancelled = false;
        quint64 generation = 0;
    };
    void startPending();
    void onWorkerDone();

    QTimer* timer_ = nullptr;
    QFutureWatcher<Outcome>* watcher_ = nullptr;
    std::shared_ptr<std::atomic<bool>> cancel_;
    RunConfig pending_;
    bool hasPending_ = false;
    quint64 generation_ = 0;  // of the newest request; older outcomes are dropped
};

}  // namespace ql
