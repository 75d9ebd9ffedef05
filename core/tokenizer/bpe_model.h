// The BPE merge step on token ids: merge ranks are stored in a hash map keyed by the
// pair of ids, and each word is merged with a priority queue over a linked list of
// symbols (lowest rank first, leftmost first on ties: Hugging Face order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace ql::tok {

class BpeMerges {
public:
    // rank: position in the merges list (lower merges first); merged: id of a+b.
    void add(int32_t left, int32_t right, int32_t merged, int32_t rank);
    size_t size() const { return merges_.size(); }

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
    const Merge* find(int32_t left, int32_t right) const {
        auto it = merges_.find(key(left, right));
        return it == merges_.end() ? nullptr : &it->second;
    }
    void applySmall(std::vector<int32_t>& ids) const;
    void applyLarge(std::vector<int32_t>& ids) const;

    std::unordered_map<uint64_t, Merge> merges_;
};

}  // namespace ql::tok
