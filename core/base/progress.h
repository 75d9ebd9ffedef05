// Progress reporting with cooperative cancellation, in the style of llama.cpp's
// progress_callback: the callback returns false to ask the operation to stop.
#pragma once

#include <functional>
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
    // Throws ql::Cancelled if cancellation was requested, without a new message.
    void checkCancelled() const;
    // A reporter covering [begin, end] of this reporter's range, for a sub-step.
    ProgressReporter sub(double begin, double end) const;

private:
    ProgressCallback callback_;
    double begin_;
    double end_;
};

} // namespace ql
