// PackedLinear::forwardGroup: one token through several layers in one parallel region.
#include "base/error.h"
#include "infer/packed_kernels.h"
#include "infer/packed_kernels_a8.h"
#include "infer/packed_linear.h"

#include <algorithm>
#include <chrono>

namespace ql::infer {

namespace {

// A thread's share below this many weights is not worth a thread (as decodeRowRanges).
constexpr int64_t kWeightsPerShare = int64_t(1) << 16;

using Clock = std::chrono::steady_clock;

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
    // (the first layer's learned split), each rounded to whole units, the same rounding for
    // both ends of adjacent shares, so every unit runs exactly once.
    const int n =
        int(std::max<int64_t>(1, std::min<int64_t>(intraOpThreads(), total / kWeightsPerShare)));
    thread_local std::vector<int64_t> cut;
    thread_local std::vector<double> seconds;
    cut.resize(size_t(n) + 1);
    seconds.assign(size_t(n), 0.0);
    ShareBalance& balance = layers[0]->balance_;
    balance.cuts(total, n, cut.data());
    const DecodePart* const part = parts.data();
    const int64_t* const before = offset.data();
    const int64_t* const cuts = cut.data();
    double* const took = seconds.data();
    const Clock::time_point start = Clock::now();
    runOnThreads(n, [part, before, count, cuts, took, start](int64_t t) {
        const auto unitAt = [&](size_t i, int64_t at) {
            const int64_t rel = at - before[i];
            if (rel <= 0) return int64_t(0);
            return std::min(part[i].units,
                            (rel + part[i].weightsPerUnit / 2) / part[i].weightsPerUnit);
        };
        for (size_t i = 0; i < count; ++i) {
            const int64_t u0 = unitAt(i, cuts[t]), u1 = unitAt(i, cuts[t + 1]);
            if (u0 < u1) runPart(part[i], u0, u1);
        }
        took[t] = std::chrono::duration<double>(Clock::now() - start).count();
    });
    balance.record(n, cut.data(), seconds.data());
}

}  // namespace ql::infer
