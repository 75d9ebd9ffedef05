#include "infer/share_balance.h"

#include <algorithm>

namespace ql::infer {

namespace {
// Weight of the latest call in the running estimate, and the bounds of a share relative to
// an equal one (a descheduled thread's one slow call must not starve it for long).
constexpr float kLearnRate = 0.25f;
constexpr float kMinRelative = 0.5f, kMaxRelative = 1.5f;
}  // namespace

ShareBalance& ShareBalance::operator=(const ShareBalance& other) {
    for (int t = 0; t < kMaxThreads; ++t)
        share_[size_t(t)].store(other.share_[size_t(t)].load(std::memory_order_relaxed),
                                std::memory_order_relaxed);
    learnedFor_.store(other.learnedFor_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    return *this;
}

void ShareBalance::cuts(int64_t total, int n, int64_t* cuts) const {
    cuts[0] = 0;
    float f[kMaxThreads];
    float sum = 0.0f;
    const bool learned = n <= kMaxThreads && learnedFor_.load(std::memory_order_relaxed) == n;
    for (int t = 0; learned && t < n; ++t)
        sum += (f[t] = share_[size_t(t)].load(std::memory_order_relaxed));
    double before = 0.0;
    for (int t = 1; t < n; ++t) {
        before += learned && sum > 0.0f ? double(f[t - 1]) / double(sum) : 1.0 / double(n);
        cuts[t] = std::clamp<int64_t>(int64_t(before * double(total) + 0.5), cuts[t - 1], total);
    }
    cuts[n] = total;
}

void ShareBalance::record(int n, const int64_t* cuts, const double* seconds) {
    if (n < 2 || n > kMaxThreads) return;
    // Each thread's rate over this call; the balanced shares are proportional to the rates.
    float rate[kMaxThreads];
    float sum = 0.0f;
    for (int t = 0; t < n; ++t) {
        const int64_t work = cuts[t + 1] - cuts[t];
        if (work <= 0 || !(seconds[t] > 0.0)) return;  // nothing to learn from
        sum += (rate[t] = float(double(work) / seconds[t]));
    }
    const bool learned = learnedFor_.load(std::memory_order_relaxed) == n;
    for (int t = 0; t < n; ++t) {
        const float target = rate[t] / sum;
        const float old = learned ? share_[size_t(t)].load(std::memory_order_relaxed) : 1.0f / n;
        const float next = old + kLearnRate * (target - old);
        share_[size_t(t)].store(std::clamp(next, kMinRelative / n, kMaxRelative / n),
                                std::memory_order_relaxed);
    }
    learnedFor_.store(n, std::memory_order_relaxed);
}

}  // namespace ql::infer
