// Minimal data-parallel helper for the engine's own kernels (histograms, RTN).
// libtorch has its own intra-op pool; this one is for plain C++ loops.
#pragma once

#include <cstddef>
#include <functional>

namespace ql {

// Threads used by the engine's kernels and by libtorch. Defaults to the machine's
// core count; setComputeThreads() overrides it (the model library forwards it to torch).
int computeThreads();
void setComputeThreadsForKernels(int threads);

// Splits [0, n) into at most `threads` contiguous chunks (threads <= 0: computeThreads())
// and runs fn(chunkIndex, begin, end) on each, in parallel. Returns after all finish.
// Exceptions from chunks are rethrown on the calling thread.
void parallelChunks(size_t n, int threads,
                    const std::function<void(int chunk, size_t begin, size_t end)>& fn);

} // namespace ql
