#include "infer/stealing_shares.h"

#include <algorithm>

namespace ql::infer {

namespace {

constexpr uint64_t kLow = 0xffffffffu;

uint64_t pack(int64_t begin, int64_t end) {
    return (uint64_t(begin) << 32) | (uint64_t(end) & kLow);
}
int64_t beginOf(uint64_t r) {
    return int64_t(r >> 32);
}
int64_t endOf(uint64_t r) {
    return int64_t(r & kLow);
}

}  // namespace

void StealingShares::start(int n, const int64_t* cuts) {
    n_ = std::clamp(n, 0, kMaxThreads);
    for (int t = 0; t < n_; ++t) {
        slots_[size_t(t)].range.store(pack(cuts[t], cuts[t + 1]), std::memory_order_relaxed);
        steals_[size_t(t)].n = 0;
    }
}

bool StealingShares::next(int t, int64_t chunk, int64_t& begin, int64_t& end) {
    chunk = std::max<int64_t>(1, chunk);
    std::atomic<uint64_t>& own = slots_[size_t(t)].range;
    for (;;) {
        uint64_t r = own.load(std::memory_order_acquire);
        if (beginOf(r) < endOf(r)) {
            const int64_t b = beginOf(r), e = std::min(endOf(r), b + chunk);
            if (own.compare_exchange_weak(r, pack(e, endOf(r)), std::memory_order_acq_rel)) {
                begin = b, end = e;
                return true;
            }
            continue;  // a thief cut the back meanwhile
        }
        // Own share done: the largest other rest, if it is worth a steal.
        int victim = -1;
        uint64_t seen = 0;
        for (int v = 0; v < n_; ++v) {
            if (v == t) continue;
            const uint64_t rv = slots_[size_t(v)].range.load(std::memory_order_acquire);
            const int64_t left = endOf(rv) - beginOf(rv);
            if (left > 2 * chunk && (victim < 0 || left > endOf(seen) - beginOf(seen)))
                victim = v, seen = rv;
        }
        if (victim < 0) return false;
        // Half the rest in whole chunks (at least one: more than two are left), so that both
        // keep taking whole chunks.
        const int64_t left = endOf(seen) - beginOf(seen);
        const int64_t cut = endOf(seen) - left / 2 / chunk * chunk;
        if (!slots_[size_t(victim)].range.compare_exchange_strong(seen, pack(beginOf(seen), cut),
                                                                  std::memory_order_acq_rel))
            continue;  // the owner or another thief moved first: look again
        // Nobody cuts an empty share, so this store races with no one.
        own.store(pack(cut, endOf(seen)), std::memory_order_release);
        steals_[size_t(t)].n += int(endOf(seen) - cut);
    }
}

}  // namespace ql::infer
