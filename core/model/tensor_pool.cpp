#include "model/tensor_pool.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include <malloc.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define QL_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QL_POOL_ASAN 1
#endif
#endif
#ifdef QL_POOL_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace ql {
namespace {

// A request is served from a cached block up to 1 + 1/kReuseSlack times its size class.
constexpr size_t kReuseSlack = 2;

// The pool may keep at least this much beyond the largest live set (see allowedFootprint).
constexpr uint64_t kMinSlackBytes = uint64_t(64) << 20;

// Never keep more than this cached, whatever the live set was.
constexpr uint64_t kMaxCachedBytes = uint64_t(2) << 30;

// Size classes: a request is rounded up to 1/16 of its power of two (at least 64 KiB), so
// that the slightly different sizes of a last, shorter batch still meet a cached block. The
// rounding costs no memory: pages of a mapping that are never written are never resident.
size_t sizeClass(size_t n) {
    size_t pow2 = 1;
    while (pow2 < n) pow2 <<= 1;
    const size_t step = std::max<size_t>(size_t(64) << 10, pow2 / 16);
    return (n + step - 1) / step * step;
}

// Blocks of at least this size are backed by transparent huge pages (where the kernel offers
// them on request: THP "madvise" mode is the common default). A fresh 4 KiB-paged block costs
// one page fault per 4 KiB when first written; the 1.5B acceptance run mapped 54.9 GB fresh in
// 2,676 misses = 13.4 M faults, most of its 18.1 M and of its system time. With 2 MiB pages
// it is one fault per 2 MiB. Blocks of 2-8 MiB too (hidden states, q/o weights, attention
// outputs): with small pages their misses were ~70 k of the 0.32 M faults of a 0.5B run's
// blocks phase, and a fault costs ~10 us of system time on this project's VMs (BENCHMARKS.md,
// "System time under 5 %"). The rounding to whole huge pages costs < 2 MiB per block
// (a 3.7 MB block takes 4 MiB); below 2 MiB it could double a block, so those keep small pages.
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kHugeBlockMinBytes = kHugePage;

bool hugePagesWanted() {
    const char* v = std::getenv("QL_POOL_HUGEPAGES");
    return v == nullptr || std::string(v) != "0";
}

// Maps `size` bytes (a multiple of kHugePage) at a 2 MiB boundary, so that every huge page of
// the block can be a real one, and asks for huge pages. Returns MAP_FAILED like mmap.
void* mapHugeAligned(size_t size) {
    const size_t span = size + kHugePage;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return raw;
    const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (begin + kHugePage - 1) & ~uintptr_t(kHugePage - 1);
    if (aligned > begin) munmap(raw, aligned - begin);
    const uintptr_t tail = aligned + size;
    if (begin + span > tail) munmap(reinterpret_cast<void*>(tail), begin + span - tail);
    void* p = reinterpret_cast<void*>(aligned);
    madvise(p, size, MADV_HUGEPAGE);  // advice only: without THP the block keeps small pages
    return p;
}

// The size class a request is served from, rounded to whole huge pages for large blocks.
size_t blockSize(size_t n, bool huge) {
    const size_t size = sizeClass(n);
    if (!huge || size < kHugeBlockMinBytes) return size;
    return (size + kHugePage - 1) / kHugePage * kHugePage;
}

void* mapBlock(size_t size, bool huge) {
    if (huge && size >= kHugeBlockMinBytes) return mapHugeAligned(size);
    return mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

void hide(void* p, size_t n) {
#ifdef QL_POOL_ASAN
    // A cached block is freed memory: a use after free must still be reported.
    __asan_poison_memory_region(p, n);
#else
    (void)p;
    (void)n;
#endif
}

void unhide(void* p, size_t n) {
#ifdef QL_POOL_ASAN
    __asan_unpoison_memory_region(p, n);
#else
    (void)p;
    (void)n;
#endif
}

class Pool {
public:
    void* take(size_t n) {
        const size_t size = blockSize(n, huge_);
        std::unique_lock<std::mutex> lock(mutex_);
        // The smallest cached block of at least the size, up to 1 + 1/kReuseSlack times it:
        // its pages are resident already, so a larger block costs no memory, while a miss
        // maps (and faults) anew. With exact classes only, a 0.5B run of 4 calibration windows
        // missed 1,487 times (16 GB faulted fresh), mostly in the weight gradients.
        if (auto it = byClass_.lower_bound(size);
            it != byClass_.end() && it->first <= size + size / kReuseSlack) {
            const size_t got = it->first;
            void* p = it->second->ptr;
            lru_.erase(it->second);
            byClass_.erase(it);
            stats_.cachedBytes -= got;
            stats_.liveBytes += got;
            ++stats_.hits;
            live_[p] = got;
            unhide(p, got);
            return p;
        }
        // A miss: give back cached blocks, least recently freed first, until the pool's
        // footprint with the new block is within allowedFootprint().
        while (!lru_.empty() && stats_.liveBytes + stats_.cachedBytes + size > allowedFootprint())
            evictOldest();
        ++stats_.misses;
        stats_.freshBytes += size;
        stats_.liveBytes += size;
        maxLive_ = std::max<uint64_t>(maxLive_, stats_.liveBytes);
        lock.unlock();
        void* p = mapBlock(size, huge_);
        lock.lock();
        if (p == MAP_FAILED) {
            stats_.liveBytes -= size;
            lock.unlock();
            TORCH_CHECK(false, "QuantLens tensor pool: out of memory allocating ", n, " bytes");
        }
        live_[p] = size;
        return p;
    }

    // True when p was a pooled block (now cached or unmapped); false: not ours.
    bool give(void* p) {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = live_.find(p);
        if (it == live_.end()) return false;
        const size_t size = it->second;
        live_.erase(it);
        stats_.liveBytes -= size;
        if (stats_.cachedBytes + size > kMaxCachedBytes) {
            munmap(p, size);
            return true;
        }
        hide(p, size);
        lru_.push_back({p, size});
        byClass_.emplace(size, std::prev(lru_.end()));
        stats_.cachedBytes += size;
        return true;
    }

    void trim() {
        std::lock_guard<std::mutex> lock(mutex_);
        while (!lru_.empty()) evictOldest();
    }

    TensorPoolStats stats() {
        std::lock_guard<std::mutex> lock(mutex_);
        return stats_;
    }

private:
    struct Cached {
        void* ptr;
        size_t size;
    };

    // The largest live set so far plus 1/8. Without slack (footprint <= largest live set)
    // the pool thrashed: a forward pass needs at different moments different mixes of the
    // same sizes (four MLP-sized blocks, then two attention-sized ones), whose union exceeds
    // any one moment's live set, so each miss evicted a block the next request needed and
    // no block was ever reused. Measured (eval of a 0.5B model, 4 x 512): slack 5 % -> 333
    // misses of 982 requests, 12.5 % -> 148 (the cold ones), 25 % -> 146; peak RSS unchanged.
    // At least kMinSlackBytes of slack: with 1/8 alone a small model's block (stories260k,
    // 8 x 256 tokens: two 16 MiB attention-score blocks live, then four 1.4 MiB MLP blocks)
    // still missed 3 times in every repeat of the same pass, each miss a fresh mapping.
    uint64_t allowedFootprint() const {
        return maxLive_ + std::max<uint64_t>(maxLive_ / 8, kMinSlackBytes);
    }

    // Caller holds mutex_. Returns the bytes given back.
    size_t evictOldest() {
        const Cached c = lru_.front();
        auto range = byClass_.equal_range(c.size);
        for (auto it = range.first; it != range.second; ++it)
            if (it->second == lru_.begin()) {
                byClass_.erase(it);
                break;
            }
        lru_.pop_front();
        stats_.cachedBytes -= c.size;
        unhide(c.ptr, c.size);
        munmap(c.ptr, c.size);
        return c.size;
    }

    std::mutex mutex_;
    std::list<Cached> lru_;  // least recently freed first
    std::multimap<size_t, std::list<Cached>::iterator> byClass_;
    std::unordered_map<void*, size_t> live_;
    uint64_t maxLive_ = 0;  // largest liveBytes so far: the footprint the pool may keep
    const bool huge_ = hugePagesWanted();
    TensorPoolStats stats_;
};

Pool& pool() {
    static Pool* p = new Pool;  // never destroyed: tensors may outlive static destruction
    return *p;
}

void poolDelete(void* p) {
    if (p != nullptr && !pool().give(p)) c10::free_cpu(p);
}

class PoolAllocator final : public c10::Allocator {
public:
    c10::DataPtr allocate(size_t n) const override {
        void* p = n >= kTensorPoolMinBytes ? pool().take(n) : c10::alloc_cpu(n);
        return {p, p, &poolDelete, c10::Device(c10::DeviceType::CPU)};
    }
    c10::DeleterFnPtr raw_deleter() const override { return &poolDelete; }
};

std::atomic<bool> g_installed{false};

// What the pool does not take (tensors < kTensorPoolMinBytes, std::vectors) comes from the
// C heap, and stays there: glibc's defaults map requests from 128 KiB up fresh until frees
// raise that threshold (up to 32 MiB) and give the heap's free top back to the kernel above
// a threshold that moves with it, so a block's half-MiB hidden states and its heap
// temporaries were faulted in again on every repeat of a block (test_tensor_pool: ~3,000
// minor faults for a stories260k block run a third time; 0-256 with these settings). Fixed
// values, glibc's largest dynamic ones from the start: requests up to 32 MiB from the heap,
// which may hold up to 64 MiB free at its top; callers still return it all with
// releaseFreeMemory where a phase ends.
void keepSmallBlocksOnTheHeap() {
    const char* keepAll = std::getenv("QL_MALLOC_KEEP");  // its own, larger settings
    if (keepAll != nullptr && std::string(keepAll) == "1") return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

bool poolWanted() {
    const char* v = std::getenv("QL_TENSOR_POOL");
    return v == nullptr || std::string(v) != "0";
}

}  // namespace

bool installTensorPool() {
    static const bool installed = [] {
        if (!poolWanted()) return false;
        static PoolAllocator allocator;
        keepSmallBlocksOnTheHeap();
        // Priority above the default allocator's registration (0).
        c10::SetCPUAllocator(&allocator, /*priority=*/1);
        g_installed = true;
        return true;
    }();
    return installed;
}

void trimTensorPool() {
    pool().trim();
}

TensorPoolStats tensorPoolStats() {
    TensorPoolStats s = pool().stats();
    s.installed = g_installed;
    return s;
}

}  // namespace ql
