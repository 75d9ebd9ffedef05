#include "base/read_bandwidth.h"

#include "base/parallel.h"
#include "base/spin_team.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <new>
#include <string>
#include <vector>

#pragma GCC diagnostic ignored "-Wpsabi"  // file-local vector type

namespace ql {

namespace {

// "32K", "1024K", "32M" (sysfs cache sizes) -> bytes; 0 when unreadable.
uint64_t sysfsSize(const std::string& path) {
    std::ifstream in(path);
    uint64_t value = 0;
    std::string unit;
    if (!(in >> value)) return 0;
    in >> unit;
    if (!unit.empty() && (unit[0] == 'K' || unit[0] == 'k')) value <<= 10;
    if (!unit.empty() && (unit[0] == 'M' || unit[0] == 'm')) value <<= 20;
    return value;
}

typedef float V16 __attribute__((vector_size(64)));

// Sum of p[0, n) with four independent 16-lane chains: never the limit (a core adds far
// faster than memory delivers), so the time is the read. Cloned per instruction set.
__attribute__((target_clones("avx512f", "avx2", "default"))) double sumFloats(const float* p,
                                                                              size_t n) {
    V16 a[4] = {};
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 4; ++k) {
            V16 v;
            std::memcpy(&v, p + i + size_t(k) * 16, sizeof v);
            a[k] += v;
        }
    double s = 0.0;  // a lane's float sum is exact up to 2^24 ones; their total may not be
    for (; i < n; ++i) s += double(p[i]);
    const V16 t = (a[0] + a[1]) + (a[2] + a[3]);
    for (int k = 0; k < 16; ++k) s += double(t[k]);
    return s;
}

// The probe's buffer: anonymous memory asking for transparent huge pages, so that mapping
// 1 GiB costs ~512 page faults, not 262,144 (on this project's VMs 4 KiB faults of a 1 GiB
// buffer took seconds of system time, more than the passes). Sequential reads see the same
// DRAM either way; the weights' 4 KiB pages add a page walk per 4 KiB, from the cache.
struct Buffer {
    explicit Buffer(size_t bytes) : bytes_(bytes) {
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
        madvise(p, bytes, MADV_HUGEPAGE);  // advice only: ignored where THP is off
#endif
        data_ = static_cast<float*>(p);
    }
    ~Buffer() {
        munmap(data_, bytes_);
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    float* data() const {
        return data_;
    }

private:
    size_t bytes_;
    float* data_ = nullptr;
};

double seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

uint64_t lastLevelCacheBytes() {
    uint64_t best = 0;
    for (int i = 0; i < 8; ++i)
        best = std::max(best, sysfsSize("/sys/devices/system/cpu/cpu0/cache/index" +
                                        std::to_string(i) + "/size"));
    if (best > 0) return best;
#ifdef _SC_LEVEL3_CACHE_SIZE
    const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l3 > 0) return uint64_t(l3);
#endif
#ifdef _SC_LEVEL2_CACHE_SIZE
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l2 > 0) return uint64_t(l2);
#endif
    return 0;
}

uint64_t readProbeBytes() {
    const uint64_t mib = uint64_t(1) << 20;
    const uint64_t bytes = std::max(uint64_t(1) << 30, 2 * lastLevelCacheBytes());
    return (bytes + mib - 1) / mib * mib;
}

ReadBandwidth probeReadBandwidth(int threads, int passes, const std::function<void()>& check) {
    ReadBandwidth r;
    r.threads = std::max(1, threads);
    r.passes = std::max(1, passes);
    r.lastLevelCacheBytes = lastLevelCacheBytes();
    r.bufferBytes = readProbeBytes();
    const size_t n = size_t(r.bufferBytes / sizeof(float));
    const Buffer buffer(size_t(r.bufferBytes));
    float* data = buffer.data();
    // Written by the threads that read it (their own parts), so every page is real memory.
    parallelChunks(n, r.threads,
                   [&](int, size_t b, size_t e) { std::fill(data + b, data + e, 1.0f); });
    std::vector<double> sums(size_t(r.threads), 0.0);
    const auto pass = [&] {
        parallelChunks(n, r.threads, [&](int c, size_t b, size_t e) {
            sums[size_t(c)] += sumFloats(data + b, e - b);
        });
    };
    if (check) check();
    pass();  // untimed: threads started, the buffer's pages mapped in the TLB path
    for (int p = 0; p < r.passes; ++p) {
        if (check) check();
        const double t0 = seconds();
        pass();
        const double t = std::max(seconds() - t0, 1e-9);
        r.bytesPerSecond = std::max(r.bytesPerSecond, double(r.bufferBytes) / t);
    }
    // Every element is 1: a wrong sum means the reads were skipped.
    double total = 0.0;
    for (double s : sums) total += s;
    if (total <= 0.0) r.bytesPerSecond = 0.0;
    return r;
}

struct PacedReader::State {
    State(int threads, uint64_t bytes)
        : threads(std::max(1, threads)),
          floats(std::max<size_t>(64, size_t(bytes / sizeof(float)) / 64 * 64)),
          buffer(floats * sizeof(float)),
          sums(size_t(this->threads), 0.0) {}
    int threads;
    size_t floats;  // a whole number of 64-float steps
    Buffer buffer;
    std::vector<double> sums;  // per thread, over every read
    size_t offset = 0;         // where the next read starts, in floats
};

PacedReader::PacedReader(int threads, uint64_t bufferBytes)
    : state_(std::make_unique<State>(threads, bufferBytes)) {
    State& s = *state_;
    float* data = s.buffer.data();
    parallelChunks(s.floats, s.threads,
                   [&](int, size_t b, size_t e) { std::fill(data + b, data + e, 1.0f); });
}

PacedReader::~PacedReader() = default;

double PacedReader::secondsToRead(uint64_t bytes) {
    State& s = *state_;
    size_t left = std::max<size_t>(64, (size_t(bytes) / sizeof(float) + 63) / 64 * 64);
    const float* data = s.buffer.data();
    const double t0 = seconds();
    while (left > 0) {
        const size_t run = std::min(left, s.floats - s.offset);
        // Each thread one contiguous part of the run, in whole 64-float steps.
        const size_t part = (run / 64 + size_t(s.threads) - 1) / size_t(s.threads) * 64;
        const size_t from = s.offset;
        runOnTeam(s.threads, s.threads, decodeSpinMicros(), [&](int64_t t) {
            const size_t b = std::min(run, size_t(t) * part), e = std::min(run, b + part);
            if (e > b) s.sums[size_t(t)] += sumFloats(data + from + b, e - b);
        });
        s.offset = (s.offset + run) % s.floats;
        left -= run;
    }
    return std::max(seconds() - t0, 1e-9);
}

double PacedReader::floatsSummed() const {
    double total = 0.0;
    for (double v : state_->sums) total += v;
    return total;
}

uint64_t PacedReader::bufferBytes() const {
    return uint64_t(state_->floats) * sizeof(float);
}

}  // namespace ql
