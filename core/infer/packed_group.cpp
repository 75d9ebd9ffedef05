// PackedLinear::forwardGroup: one token through several layers in one parallel region.
#include "base/error.h"
#include "infer/packed_kernels.h"
#include "infer/packed_kernels_a8.h"
#include "infer/packed_linear.h"
#include "infer/stealing_shares.h"

#include <algorithm>
#include <chrono>

namespace ql::infer {

namespace {

// A thread's share below this many weights is not worth a thread (as decodeRowRanges).
constexpr int64_t kWeightsPerShare = int64_t(1) << 16;
// What a thread takes of its share at a time (stealing_shares.h): ~2-4 µs of reading INT4 or
// INT8 at 0.5B, in whole multiples of 8 units, so that the int8-activation kernels keep their
// runs of 4 or 8 tiles per broadcast.
constexpr int64_t kWeightsPerChunk = int64_t(1) << 17;
constexpr int64_t kMinUnitsPerChunk = 8;

using Clock = std::chrono::steady_clock;

// The weight offset `cut` as an index into the parts' concatenated units: on the nearest unit
// boundary of the part it falls in. Part i starts at weight offset[i] and unit firstUnit[i]
// and has units of unitWeights[i] weights.
int64_t unitAtCut(int64_t cut, size_t count, const int64_t* offset, const int64_t* firstUnit,
                  const int64_t* unitWeights) {
    size_t i = 0;
    while (i + 1 < count && cut >= offset[i + 1]) ++i;
    const int64_t units = firstUnit[i + 1] - firstUnit[i];
    return firstUnit[i] +
           std::clamp<int64_t>((cut - offset[i] + unitWeights[i] / 2) / unitWeights[i], 0, units);
}

}  // namespace

// One token's input prepared exactly as decodeForward / decodeForwardA8 prepare it: the AWQ
// division, then the group sums (Float) or the int8 quantization (Int8). Kept per calling
// thread between calls, so a decode step allocates nothing here.
struct PackedLinear::DecodeInput {
    std::vector<float> scaled, sums, d;
    std::vector<int8_t> q;
    std::vector<int32_t> bsum;
    const float* x = nullptr;  // x, or `scaled` after the AWQ division
};

// One layer's share of a group call: units [u0, u1) are 4-row passes (Float) or 16-row tiles
// (Int8). Plain values: the region's threads read them without chasing allocations that the
// calling thread has just written.
struct PackedLinear::DecodePart {
    ActivationMode mode = ActivationMode::Float;
    int64_t rows = 0, units = 0, weightsPerUnit = 0;
    float* y = nullptr;
    detail::PackedView view{};
    detail::GemvFn gemv = nullptr;
    const float* x = nullptr;
    const float* sums = nullptr;
    detail::A8View a8{};
    detail::A8Act act{};
    detail::GemvA8Fn gemvA8 = nullptr;
};

void PackedLinear::prepareInput(const float* x, DecodeInput& in) const {
    if (!divisors_.empty()) {
        in.scaled.resize(size_t(cols_));
        for (int64_t j = 0; j < cols_; ++j) in.scaled[size_t(j)] = x[j] / divisors_[size_t(j)];
        x = in.scaled.data();
    }
    in.x = x;
    if (mode_ == ActivationMode::Float) {
        in.sums.assign(size_t(groupsPerRow_), 0.0f);
        for (int64_t g = 0; g < groupsPerRow_; ++g) {
            const float* p = x + g * group_;
            float s = 0.0f;
            for (int64_t j = 0; j < group_; ++j) s += p[j];
            in.sums[size_t(g)] = s;
        }
        return;
    }
    const int64_t blocks = (cols_ + detail::kA8Block - 1) / detail::kA8Block;
    in.q.resize(size_t(blocks * detail::kA8Block));
    in.d.resize(size_t(blocks));
    in.bsum.resize(size_t(blocks));
    detail::quantizeActivationsA8(x, cols_, in.q.data(), in.d.data(), in.bsum.data());
}

// The same prepared input serves both layers: no AWQ division in either, the same mode, and
// (Float) the same groups for the sums.
bool PackedLinear::sharesInputWith(const PackedLinear& other) const {
    return divisors_.empty() && other.divisors_.empty() && mode_ == other.mode_ &&
           cols_ == other.cols_ && (mode_ == ActivationMode::Int8 || group_ == other.group_);
}

PackedLinear::DecodePart PackedLinear::decodePart(const DecodeInput& in, float* y) const {
    DecodePart part;
    part.mode = mode_;
    part.rows = rows_;
    part.y = y;
    if (mode_ == ActivationMode::Float) {
        part.units = (rows_ + 3) / 4;
        part.weightsPerUnit = 4 * cols_;
        part.view = rowView(rowForm_);
        part.gemv = detail::activeGemv();
        part.x = in.x;
        part.sums = in.sums.data();
        return part;
    }
    constexpr int64_t T = detail::kA8Tile;
    part.units = (rows_ + T - 1) / T;
    part.weightsPerUnit = T * cols_;
    part.a8 = a8View();
    part.act = detail::A8Act{in.q.data(), in.d.data(), in.bsum.data()};
    part.gemvA8 = detail::activeGemvA8();
    return part;
}

void PackedLinear::runPart(const DecodePart& p, int64_t u0, int64_t u1) {
    if (p.mode == ActivationMode::Float)
        p.gemv(p.view, p.x, p.sums, 1, u0 * 4, std::min(p.rows, u1 * 4), p.y, p.rows);
    else
        p.gemvA8(p.a8, p.act, u0, u1, p.y, p.rows);
}

void PackedLinear::forwardGroup(const std::vector<const PackedLinear*>& layers, const float* x,
                                float* const* ys) {
    forwardGroup(layers.data(), layers.size(), x, ys);
}

void PackedLinear::forwardGroup(const PackedLinear* const* layers, size_t count, const float* x,
                                float* const* ys) {
    if (count == 0) return;
    for (size_t i = 0; i < count; ++i)
        if (layers[i]->cols_ != layers[0]->cols_)
            throw Error("internal: a packed group's layers read inputs of different widths");
    // Inputs prepared once per run of layers that can share one (a block's q/k/v or gate/up
    // without AWQ: one quantization instead of three).
    thread_local std::vector<DecodeInput> inputs;
    thread_local std::vector<DecodePart> parts;
    thread_local std::vector<int64_t> offset;  // weights before each part
    if (inputs.size() < count) inputs.resize(count);
    parts.clear();
    offset.clear();
    int64_t total = 0;
    size_t prepared = 0;  // the input the last part used
    for (size_t i = 0; i < count; ++i) {
        if (i == 0 || !layers[i]->sharesInputWith(*layers[i - 1])) {
            prepared = i;
            layers[i]->prepareInput(x, inputs[i]);
        }
        parts.push_back(layers[i]->decodePart(inputs[prepared], ys[i]));
        offset.push_back(total);
        total += parts.back().units * parts.back().weightsPerUnit;
    }
    // The concatenated units split into `n` contiguous shares of weights [cut[t], cut[t+1])
    // (the first layer's learned split), each rounded to whole units of the part it falls in;
    // then each thread takes its share a chunk at a time and, done, the back half of the
    // other's rest (stealing_shares.h): every unit runs exactly once, by the same code.
    const int n =
        int(std::max<int64_t>(1, std::min<int64_t>(intraOpThreads(), total / kWeightsPerShare)));
    thread_local std::vector<int64_t> cut, unitCut, firstUnit, unitWeights;
    thread_local std::vector<double> seconds;
    thread_local std::vector<int64_t> done;  // weights each thread computed
    thread_local StealingShares shares;
    cut.resize(size_t(n) + 1);
    unitCut.resize(size_t(n) + 1);
    seconds.assign(size_t(n), 0.0);
    done.assign(size_t(n), 0);
    ShareBalance& balance = layers[0]->balance_;
    balance.cuts(total, n, cut.data());
    firstUnit.assign(1, 0);
    unitWeights.clear();
    for (size_t i = 0; i < count; ++i) {
        firstUnit.push_back(firstUnit.back() + parts[i].units);
        unitWeights.push_back(parts[i].weightsPerUnit);
    }
    for (int t = 1; t < n; ++t)
        unitCut[size_t(t)] =
            unitAtCut(cut[size_t(t)], count, offset.data(), firstUnit.data(), unitWeights.data());
    unitCut[0] = 0, unitCut[size_t(n)] = firstUnit.back();
    shares.start(n, unitCut.data());
    // Whole multiples of 8 units: a chunk of 9 tiles ran its ninth in the one-tile loop.
    const int64_t smallest = *std::min_element(unitWeights.begin(), unitWeights.end());
    const int64_t chunk = (std::max<int64_t>(1, kWeightsPerChunk / std::max<int64_t>(1, smallest)) +
                           kMinUnitsPerChunk - 1) /
                          kMinUnitsPerChunk * kMinUnitsPerChunk;
    StealingShares* const work = &shares;
    const DecodePart* const part = parts.data();
    const int64_t* const first = firstUnit.data();
    double* const took = seconds.data();
    int64_t* const weights = done.data();
    const Clock::time_point start = Clock::now();
    runOnThreads(n, [part, first, count, work, chunk, took, weights, start](int64_t t) {
        int64_t b = 0, e = 0, mine = 0;  // written once: the threads' entries share a line
        while (work->next(int(t), chunk, b, e))
            for (size_t i = 0; i < count; ++i) {
                const int64_t u0 = std::max(b, first[i]) - first[i];
                const int64_t u1 = std::min(e, first[i + 1]) - first[i];
                if (u0 >= u1) continue;
                runPart(part[i], u0, u1);
                mine += (u1 - u0) * part[i].weightsPerUnit;
            }
        weights[t] = mine;
        took[t] = std::chrono::duration<double>(Clock::now() - start).count();
    });
    // What each thread computed, as contiguous shares in thread order: their rates teach
    // the next call's split, so that fewer steals are needed.
    for (int t = 0; t < n; ++t) cut[size_t(t) + 1] = cut[size_t(t)] + done[size_t(t)];
    balance.record(n, cut.data(), seconds.data());
}

}  // namespace ql::infer
