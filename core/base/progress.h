// Progress reporting with cooperative cancellation, in the style of llama.cpp's
// progress_callback: the callback returns false to ask the operation to stop.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace ql {

struct Progress {
    std::string phase;      // e.g. "calibrate", "quantize", "evaluate"
    double fraction = 0.0;  // 0..1 within the whole operation
    std::string message;    // human-readable detail, may be empty
};

// Returns false to request cancellation.
using ProgressCallback = std::function<bool(const Progress&)>;

// Helper used inside long operations. report() throws ql::Cancelled when the
// callback asks to stop, so loops stay simple and nothing half-done is returned.
class ProgressReporter {
public:
    explicit ProgressReporter(ProgressCallback callback, double begin = 0.0, double end = 1.0);

    void report(const std::string& phase, double fraction, const std::string& message = {}) const;
    // Throws ql::Cancelled if cancellation was requested, without a new message. Once the
    // callback has asked to stop, this reporter and its subs throw without asking again
    // (a cancellation that autograd wrapped is recognized without another callback).
    void checkCancelled() const;
    // A reporter covering [begin, end] of this reporter's range, for a sub-step.
    ProgressReporter sub(double begin, double end) const;

private:
    ProgressReporter(ProgressCallback callback, double begin, double end,
                     std::shared_ptr<std::atomic<bool>> stopped);
    ProgressCallback callback_;
    std::shared_ptr<std::atomic<bool>> stopped_;
    double begin_;
    double end_;
};

}  // namespace ql
