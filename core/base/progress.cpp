#include "base/progress.h"

#include "base/error.h"

#include <algorithm>
#include <utility>

namespace ql {

ProgressReporter::ProgressReporter(ProgressCallback callback, double begin, double end)
    : callback_(std::move(callback)), begin_(begin), end_(end) {}

void ProgressReporter::report(const std::string& phase, double fraction,
                              const std::string& message) const {
    if (!callback_) return;
    const double f = begin_ + (end_ - begin_) * std::clamp(fraction, 0.0, 1.0);
    if (!callback_(Progress{phase, f, message})) throw Cancelled();
}

void ProgressReporter::checkCancelled() const {
    if (!callback_) return;
    if (!callback_(Progress{{}, -1.0, {}})) throw Cancelled();
}

ProgressReporter ProgressReporter::sub(double begin, double end) const {
    const double w = end_ - begin_;
    return ProgressReporter(callback_, begin_ + w * begin, begin_ + w * end);
}

} // namespace ql
