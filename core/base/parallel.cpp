#include "base/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

namespace ql {
namespace {
std::atomic<int> gThreads{0};
}

int computeThreads() {
    const int t = gThreads.load();
    if (t > 0) return t;
    return std::max(1u, std::thread::hardware_concurrency());
}

void setComputeThreadsForKernels(int threads) { gThreads.store(std::max(0, threads)); }

void parallelChunks(size_t n, int threads,
                    const std::function<void(int chunk, size_t begin, size_t end)>& fn) {
    if (threads <= 0) threads = computeThreads();
    const size_t chunks = std::max<size_t>(1, std::min<size_t>(size_t(threads), n));
    if (chunks == 1) {
        fn(0, 0, n);
        return;
    }
    std::vector<std::thread> workers;
    std::vector<std::exception_ptr> errors(chunks);
    const size_t step = (n + chunks - 1) / chunks;
    for (size_t c = 1; c < chunks; ++c) {
        const size_t b = std::min(n, c * step), e = std::min(n, b + step);
        workers.emplace_back([&, c, b, e] {
            try {
                fn(int(c), b, e);
            } catch (...) {
                errors[c] = std::current_exception();
            }
        });
    }
    try {
        fn(0, 0, std::min(n, step));
    } catch (...) {
        errors[0] = std::current_exception();
    }
    for (auto& w : workers) w.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

} // namespace ql
