// The decode path's team of threads: workers that spin for a bounded time between calls.
#include "base/spin_team.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ql {

namespace {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

using Clock = std::chrono::steady_clock;

class Team {
public:
    explicit Team(int workers) {
        for (int m = 1; m <= workers; ++m) threads_.emplace_back([this, m] { workerLoop(m); });
    }
    ~Team() {
        stop_.store(true);
        generation_.fetch_add(1);
        {
            std::lock_guard<std::mutex> lock(sleepMutex_);
            wake_.notify_all();
        }
        for (std::thread& t : threads_) t.join();
    }
    Team(const Team&) = delete;
    Team& operator=(const Team&) = delete;

    int workers() const { return int(threads_.size()); }

    // The caller holds the team's call lock.
    int run(int64_t tasks, int spinMicros, const std::function<void(int64_t)>& fn) {
        const int members = int(std::min<int64_t>(tasks, workers() + 1));
        job_ = Job{&fn, tasks, members, spinMicros};
        error_ = nullptr;
        pending_.store(workers(), std::memory_order_relaxed);
        generation_.fetch_add(1);  // seq_cst: ordered against a worker's sleepers_ increment
        if (sleepers_.load() > 0) {
            std::lock_guard<std::mutex> lock(sleepMutex_);
            wake_.notify_all();
        }
        runShare(0);
        // The workers' shares are as long as the caller's: spin, yield only when one was
        // descheduled (a loaded machine).
        const Clock::time_point start = Clock::now();
        for (unsigned n = 0; pending_.load(std::memory_order_acquire) != 0; ++n) {
            cpuRelax();
            if ((n & 1023) == 1023 && Clock::now() - start > std::chrono::microseconds(500))
                std::this_thread::yield();
        }
        if (error_) std::rethrow_exception(error_);
        return members;
    }

private:
    struct Job {
        const std::function<void(int64_t)>* fn = nullptr;
        int64_t tasks = 0;
        int members = 0;
        int spinMicros = 0;
    };

    void runShare(int member) {
        const Job& job = job_;
        if (member >= job.members) return;
        try {
            for (int64_t i = member; i < job.tasks; i += job.members) (*job.fn)(i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(errorMutex_);
            if (!error_) error_ = std::current_exception();
        }
    }

    void workerLoop(int member) {
        uint64_t seen = 0;
        int spinMicros = 0;
        for (;;) {
            seen = waitForCall(seen, spinMicros);
            if (stop_.load()) return;
            spinMicros = job_.spinMicros;
            runShare(member);
            pending_.fetch_sub(1, std::memory_order_release);
        }
    }

    // Spins up to spinMicros for a generation after `seen`, then sleeps until one comes.
    uint64_t waitForCall(uint64_t seen, int spinMicros) {
        const Clock::time_point deadline = Clock::now() + std::chrono::microseconds(spinMicros);
        for (unsigned n = 0; spinMicros > 0; ++n) {
            const uint64_t g = generation_.load(std::memory_order_acquire);
            if (g != seen) return g;
            cpuRelax();
            if ((n & 255) == 255 && Clock::now() > deadline) break;
        }
        std::unique_lock<std::mutex> lock(sleepMutex_);
        sleepers_.fetch_add(1);  // seq_cst: then the generation is read, as run() writes it
        wake_.wait(lock, [&] { return generation_.load() != seen; });
        sleepers_.fetch_sub(1);
        return generation_.load(std::memory_order_acquire);
    }

    std::vector<std::thread> threads_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::mutex sleepMutex_;
    std::condition_variable wake_;
    Job job_;
    std::mutex errorMutex_;
    std::exception_ptr error_;
};

// One team per process, rebuilt when a call asks for another number of threads.
std::mutex gCallMutex;
std::unique_ptr<Team> gTeam;

int runSerially(int64_t tasks, const std::function<void(int64_t)>& fn) {
    for (int64_t i = 0; i < tasks; ++i) fn(i);
    return 1;
}

}  // namespace

int runOnTeam(int64_t tasks, int threads, int spinMicros, const std::function<void(int64_t)>& fn) {
    if (tasks <= 0) return 0;
    if (threads <= 1 || tasks == 1) return runSerially(tasks, fn);
    std::unique_lock<std::mutex> call(gCallMutex, std::try_to_lock);
    if (!call.owns_lock()) return runSerially(tasks, fn);
    if (!gTeam || gTeam->workers() != threads - 1) {
        gTeam.reset();
        gTeam = std::make_unique<Team>(threads - 1);
    }
    return gTeam->run(tasks, std::max(0, spinMicros), fn);
}

namespace {
int spinFromEnvironment() {
    const char* v = std::getenv("QL_DECODE_SPIN_US");
    return v ? std::max(0, std::atoi(v)) : kDefaultSpinMicros;
}
std::atomic<int> gSpinMicros{spinFromEnvironment()};
}  // namespace

int decodeSpinMicros() {
    return gSpinMicros.load(std::memory_order_relaxed);
}
void setDecodeSpinMicros(int micros) {
    gSpinMicros.store(std::max(0, micros));
}

}  // namespace ql
