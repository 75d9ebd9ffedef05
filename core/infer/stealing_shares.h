// Work that a decode call's threads take in chunks from the front of their own shares and,
// once theirs is done, from the back of another's. A learned split (share_balance.h) gets the
// mean right, not each call: the memory's rate moves from call to call, and on a loaded
// machine a worker descheduled for a time slice left the caller waiting for it. A thread that
// finishes first now takes the back half of the other's rest, so the two end within about a
// chunk of each other, and the front-to-back order of each share keeps each thread's reads one
// stream until then. Measured on a 0.5B INT4 step (bench_decode_step, alternated against
// static shares): the same time on an idle machine, 1.12x faster beside a busy process.
// Lock-free: one 64-bit word per share holds its [begin, end), the owner claims from the front
// and thieves cut the back, both by compare-exchange, so every unit is taken exactly once.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ql::infer {

class StealingShares {
public:
    static constexpr int kMaxThreads = 8;

    // Thread t's share is units [cuts[t], cuts[t + 1]), t < n <= kMaxThreads, cuts ascending,
    // cuts[n] < 2^32. Not concurrent with next(): call it before the threads start.
    void start(int n, const int64_t* cuts);

    // Thread t's next units [begin, end): at most `chunk` (>= 1) from the front of its share;
    // once that is empty, the back half (in whole chunks) of the largest other share with more
    // than 2 chunks left becomes t's share (smaller rests are left to their owners, which are still
    // at work). False when there is nothing left worth taking.
    bool next(int t, int64_t chunk, int64_t& begin, int64_t& end);

    // Units thread t took from another share in this call (tests, benches).
    int steals(int t) const { return steals_[std::size_t(t)].n; }

private:
    struct alignas(64) Slot {
        std::atomic<uint64_t> range{0};  // begin << 32 | end
    };
    struct alignas(64) Count {
        int n = 0;  // written by its thread only
    };
    std::array<Slot, kMaxThreads> slots_;
    std::array<Count, kMaxThreads> steals_;
    int n_ = 0;
};

}  // namespace ql::infer
