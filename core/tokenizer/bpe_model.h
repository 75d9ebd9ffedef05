// The BPE merge step on token ids: merge ranks are stored in a hash map keyed by the
// pair of ids, and each word is merged with a priority queue over a linked list of
// symbols (lowest rank first, leftmost first on ties: Hugging Face order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ql::tok {

class BpeMerges {
public:
    // rank: position in the merges list (lower merges first); merged: id of a+b.
    void add(int32_t left, int32_t right, int32_t merged, int32_t rank);
    size_t size() const { return size_; }

    // Merges `ids` in place until no adjacent pair has a rank.
    void apply(std::vector<int32_t>& ids) const;

private:
    struct Merge {
        int32_t rank;
        int32_t merged;
    };
    static uint64_t key(int32_t left, int32_t right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
               static_cast<uint32_t>(right);
    }
    static uint64_t mix(uint64_t x) {  // splitmix64 finalizer
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ULL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
    }
    // Open addressing with linear probing: one cache line per lookup in the common case,
    // which matters since lookups dominate the encoding time.
    const Merge* find(int32_t left, int32_t right) const {
        if (slots_.empty()) return nullptr;
        const uint64_t k = key(left, right);
        for (size_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
            const Slot& slot = slots_[i];
            if (slot.merge.merged < 0) return nullptr;
            if (slot.key == k) return &slot.merge;
        }
    }
    void insert(uint64_t k, Merge merge);
    void grow();
    void applySmall(std::vector<int32_t>& ids) const;
    void applyLarge(std::vector<int32_t>& ids) const;

    struct Slot {
        uint64_t key = 0;
        Merge merge{0, -1};  // merged < 0: empty slot
    };
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t size_ = 0;
};

}  // namespace ql::tok
