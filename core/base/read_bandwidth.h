// The machine's read bandwidth from memory: the one probe every speed figure that says "of
// the bandwidth limit" divides by (bench-infer, bench_infer_kernels, bench_whatif).
//
// Each pass sums a buffer far larger than the last-level cache, split into one contiguous
// part per thread; the best pass counts. The buffer is written first (untouched anonymous
// pages all map the one zero page, which a read finds in the cache), and a pass over twice
// the cache's size leaves nothing of the previous one in it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace ql {

struct ReadBandwidth {
    double bytesPerSecond = 0.0;       // best pass: buffer bytes / wall seconds
    int threads = 0;                   // threads that read
    int passes = 0;                    // passes timed
    uint64_t bufferBytes = 0;          // bytes read per pass
    uint64_t lastLevelCacheBytes = 0;  // as the system reports it, 0 when unknown
};

// The largest cache the system reports: sysfs cpu0/cache/index*/size, else
// sysconf(_SC_LEVEL3_CACHE_SIZE) / _SC_LEVEL2_CACHE_SIZE; 0 when none is known. (VMs may
// report the whole socket's L3, e.g. 508 MiB on a 2-vCPU EPYC slice: the probe sizes its
// buffer from it anyway.)
uint64_t lastLevelCacheBytes();

// Bytes the probe reads per pass: at least 1 GiB and at least twice the last-level cache.
uint64_t readProbeBytes();

// Best of `passes` timed sums over readProbeBytes() with `threads` threads (after one
// untimed pass). `check` is called between passes (it may throw to cancel). Allocates the
// buffer for the call only.
ReadBandwidth probeReadBandwidth(int threads, int passes = 5,
                                 const std::function<void()>& check = {});

// Reads of a given size, one after another, from a buffer of readProbeBytes() written once:
// each read starts where the previous one ended and wraps at the end, so a read never finds
// what the previous ones left in the cache. It tells how long a pure read of N bytes takes
// at this moment, to set beside a decode step that reads N bytes of weights: on a shared
// machine whose bandwidth moves by 2x within minutes, only measurements taken side by side
// compare (bench-infer's "beside the steps" limit). The threads are the decode steps' team
// (base/spin_team.h), so a read starts as a step's regions do.
class PacedReader {
public:
    explicit PacedReader(int threads, uint64_t bufferBytes = readProbeBytes());
    ~PacedReader();
    PacedReader(const PacedReader&) = delete;
    PacedReader& operator=(const PacedReader&) = delete;

    // Reads `bytes` (rounded up to 64 floats) and returns the wall seconds it took.
    double secondsToRead(uint64_t bytes);
    // Floats summed so far (every float of the buffer is 1: the sum of all reads, a check
    // that no read was skipped).
    double floatsSummed() const;
    uint64_t bufferBytes() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace ql
