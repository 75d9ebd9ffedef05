#include "tokenizer/bpe_model.h"

#include <queue>

namespace ql::tok {

namespace {
// Words up to this many symbols use the quadratic scan, which beats the heap there.
constexpr size_t kSmallWord = 48;
}  // namespace

void BpeMerges::add(int32_t left, int32_t right, int32_t merged, int32_t rank) {
    if (merged < 0) return;
    if ((size_ + 1) * 2 > slots_.size()) grow();  // load factor <= 1/2
    // The first occurrence of a pair wins, as in Hugging Face tokenizers.
    if (!find(left, right)) insert(key(left, right), Merge{rank, merged});
}

void BpeMerges::insert(uint64_t k, Merge merge) {
    size_t i = mix(k) & mask_;
    while (slots_[i].merge.merged >= 0) i = (i + 1) & mask_;
    slots_[i].key = k;
    slots_[i].merge = merge;
    ++size_;
}

void BpeMerges::grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (const Slot& slot : old)
        if (slot.merge.merged >= 0) insert(slot.key, slot.merge);
}

void BpeMerges::apply(std::vector<int32_t>& ids) const {
    if (ids.size() < 2 || size_ == 0) return;
    if (ids.size() <= kSmallWord)
        applySmall(ids);
    else
        applyLarge(ids);
}

void BpeMerges::applySmall(std::vector<int32_t>& ids) const {
    // ranks[i]: merge of (ids[i], ids[i+1]), refreshed only next to each merge.
    const Merge* ranks[kSmallWord];
    size_t n = ids.size();
    for (size_t i = 0; i + 1 < n; ++i) ranks[i] = find(ids[i], ids[i + 1]);
    while (n > 1) {
        const Merge* best = nullptr;
        size_t bestPos = 0;
        for (size_t i = 0; i + 1 < n; ++i) {
            if (ranks[i] && (!best || ranks[i]->rank < best->rank)) {
                best = ranks[i];
                bestPos = i;
            }
        }
        if (!best) break;
        ids[bestPos] = best->merged;
        for (size_t i = bestPos + 1; i + 1 < n; ++i) ids[i] = ids[i + 1];
        for (size_t i = bestPos + 1; i + 2 < n; ++i) ranks[i] = ranks[i + 1];
        --n;
        if (bestPos > 0) ranks[bestPos - 1] = find(ids[bestPos - 1], ids[bestPos]);
        if (bestPos + 1 < n) ranks[bestPos] = find(ids[bestPos], ids[bestPos + 1]);
    }
    ids.resize(n);
}

void BpeMerges::applyLarge(std::vector<int32_t>& ids) const {
    const int n = static_cast<int>(ids.size());
    std::vector<int> prev(n), next(n);
    std::vector<bool> alive(n, true);
    for (int i = 0; i < n; ++i) {
        prev[i] = i - 1;
        next[i] = i + 1 < n ? i + 1 : -1;
    }
    struct Candidate {
        int32_t rank;
        int pos;
        int32_t merged;
        bool operator>(const Candidate& o) const {
            return rank != o.rank ? rank > o.rank : pos > o.pos;
        }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
    auto push = [&](int pos) {
        if (pos < 0 || next[pos] < 0) return;
        if (const Merge* m = find(ids[pos], ids[next[pos]])) queue.push({m->rank, pos, m->merged});
    };
    for (int i = 0; i + 1 < n; ++i) push(i);
    while (!queue.empty()) {
        const Candidate top = queue.top();
        queue.pop();
        const int right = alive[top.pos] ? next[top.pos] : -1;
        if (right < 0) continue;
        // Stale entry: one of the two symbols changed since it was queued.
        const Merge* m = find(ids[top.pos], ids[right]);
        if (!m || m->merged != top.merged) continue;
        ids[top.pos] = top.merged;
        alive[right] = false;
        next[top.pos] = next[right];
        if (next[right] >= 0) prev[next[right]] = top.pos;
        push(prev[top.pos]);
        push(top.pos);
    }
    std::vector<int32_t> merged;
    for (int i = 0; i >= 0; i = next[i]) merged.push_back(ids[i]);
    ids.swap(merged);
}

}  // namespace ql::tok
