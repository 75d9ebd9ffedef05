#include "base/progress.h"

#include "base/error.h"

#include <algorithm>
#include <utility>

namespace ql {

ProgressReporter::ProgressReporter(ProgressCallback callback, double begin, double end)
    : ProgressReporter(std::move(callback), begin, end,
                       std::make_shared<std::atomic<bool>>(false)) {}

ProgressReporter::ProgressReporter(ProgressCallback callback, double begin, double end,
                                   std::shared_ptr<std::atomic<bool>> stopped)
    : callback_(std::move(callback)), stopped_(std::move(stopped)), begin_(begin), end_(end) {}

void ProgressReporter::report(const std::string& phase, double fraction,
                              const std::string& message) const {
    if (!callback_) return;
    if (*stopped_) throw Cancelled();
    const double f = begin_ + (end_ - begin_) * std::clamp(fraction, 0.0, 1.0);
    if (!callback_(Progress{phase, f, message})) {
        *stopped_ = true;
        throw Cancelled();
    }
}

void ProgressReporter::checkCancelled() const {
    if (!callback_) return;
    if (*stopped_) throw Cancelled();
    if (!callback_(Progress{{}, -1.0, {}})) {
        *stopped_ = true;
        throw Cancelled();
    }
}

ProgressReporter ProgressReporter::sub(double begin, double end) const {
    const double w = end_ - begin_;
    return ProgressReporter(callback_, begin_ + w * begin, begin_ + w * end, stopped_);
}

}  // namespace ql
