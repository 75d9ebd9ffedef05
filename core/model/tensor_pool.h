// A pool for libtorch's large CPU tensors. A forward pass allocates the same large
// temporaries (attention scores, MLP activations, logit chunks) block after block and batch
// after batch; glibc maps each one fresh and unmaps it on free, so every byte was faulted and
// zeroed by the kernel again: 20-35 % of a run's CPU time was system time (BENCHMARKS.md,
// "Block-streamed engine"). The pool keeps freed large blocks and hands them out again.
//
// Its footprint stays within 9/8 of the largest live set it has served: a request it
// cannot serve from the cache first gives back (unmaps) cached blocks, least recently freed
// first, until live + cached + the new block fit in that bound. Without the pool, at the
// moment of the high-water mark the live set was resident anyway (see allowedFootprint).
// Cached bytes are held, though, while other (non-tensor) allocations peak; callers trim the
// pool where the work changes character (trimTensorPool). Blocks of 2 MiB and more are 2 MiB
// aligned and advised to use transparent huge pages (QL_POOL_HUGEPAGES=0: small pages), so a
// fresh block costs a fault per 2 MiB instead of per 4 KiB. Torch-free header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ql {

struct TensorPoolStats {
    bool installed = false;
    uint64_t cachedBytes = 0;  // freed blocks kept for reuse (resident)
    uint64_t liveBytes = 0;    // pooled blocks in use
    uint64_t hits = 0;         // requests served from the cache
    uint64_t misses = 0;       // requests that mapped a fresh block
    uint64_t freshBytes = 0;   // bytes mapped fresh (each faulted in by the kernel)
};

// Makes the pool libtorch's CPU allocator (tensors allocated before keep their own deleter).
// Idempotent and thread-safe. QL_TENSOR_POOL=0 in the environment keeps the default allocator
// (for before/after measurements). Returns whether the pool is installed.
bool installTensorPool();

// Gives every cached block back to the OS.
void trimTensorPool();

TensorPoolStats tensorPoolStats();

// Requests of at least this many bytes are pooled; smaller ones go to the C allocator, which
// serves them from its heap without system calls.
inline constexpr size_t kTensorPoolMinBytes = size_t(1) << 20;

}  // namespace ql
