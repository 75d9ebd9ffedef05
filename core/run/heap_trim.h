// core/run private: how the block-streamed engine gives free C-heap memory back between
// decoder blocks. A malloc_trim after every block gave back the few MB of heap the next
// block allocates again at once, re-faulted page by page (~30 k faults and 4 k madvise
// calls in a 0.5B run's blocks phase: BENCHMARKS.md, "System time under 5 %"). Between
// blocks the heap is trimmed only when more than kFreeHeapBetweenBlocks is free, so a
// block's leftovers cannot pile up; every phase still ends with a full trim.
#pragma once

#include <cstdint>

#include <malloc.h>

namespace ql {

inline constexpr uint64_t kFreeHeapBetweenBlocks = uint64_t(64) << 20;

// malloc_trim when the heap holds more than `bytes` free (mallinfo2); true when it trimmed.
inline bool releaseFreeMemoryAbove(uint64_t bytes) {
    if (uint64_t(mallinfo2().fordblks) <= bytes) return false;
    malloc_trim(0);
    return true;
}

}  // namespace ql
