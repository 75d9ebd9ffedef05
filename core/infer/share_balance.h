// How a decode call's work splits over its threads, learned from the previous calls of the
// same layer. The caller's share starts at once, each worker's a few µs later (it has to see
// the call and read the caller's freshly written input across cores, ~0.3 µs per cache line
// it waits for on this machine's VM), and the threads may stream memory at different rates.
// Equal shares left the caller idle for 2-5 µs at the end of a 15-30 µs q/k/v call. The split
// never changes a result: every row is computed by the same code wherever it runs.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace ql::infer {

class ShareBalance {
public:
    static constexpr int kMaxThreads = 8;  // more threads: equal shares, nothing learned

    ShareBalance() = default;
    ShareBalance(const ShareBalance& other) { *this = other; }
    ShareBalance& operator=(const ShareBalance& other);

    // cuts[0] = 0 <= cuts[1] <= ... <= cuts[n] = total: thread t's share [cuts[t], cuts[t+1]).
    void cuts(int64_t total, int n, int64_t* cuts) const;
    // Each thread's share (from the same cuts) and its seconds from the call's start to its
    // end: moves the split towards equal end times.
    void record(int n, const int64_t* cuts, const double* seconds);

private:
    // Thread t's fraction of the work when n threads run (sums to 1 for a learned n), or 0
    // when not learned: equal shares. Updated without locks: concurrent calls of one layer
    // (rare) may lose an update, never get a split that misses work (cuts() normalizes).
    std::array<std::atomic<float>, kMaxThreads> share_{};
    std::atomic<int> learnedFor_{0};
};

}  // namespace ql::infer
