#include "tokenizer/bpe_model.h"

#include <queue>

namespace ql::tok {

namespace {
// Words up to this many symbols use the quadratic scan, which beats the heap there.
constexpr size_t kSmallWord = 48;
}  // namespace

void BpeMerges::add(int32_t left, int32_t right, int32_t merged, int32_t rank) {
    // The first occurrence of a pair wins, as in Hugging Face tokenizers.
    merges_.emplace(key(left, right), Merge{rank, merged});
}

void BpeMerges::apply(std::vector<int32_t>& ids) const {
    if (ids.size() < 2 || merges_.empty()) return;
    if (ids.size() <= kSmallWord)
        applySmall(ids);
    else
        applyLarge(ids);
}

void BpeMerges::applySmall(std::vector<int32_t>& ids) const {
    for (;;) {
        const Merge* best = nullptr;
        size_t bestPos = 0;
        for (size_t i = 0; i + 1 < ids.size(); ++i) {
            const Merge* m = find(ids[i], ids[i + 1]);
            if (m && (!best || m->rank < best->rank)) {
                best = m;
                bestPos = i;
            }
        }
        if (!best) return;
        ids[bestPos] = best->merged;
        ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(bestPos) + 1);
    }
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
