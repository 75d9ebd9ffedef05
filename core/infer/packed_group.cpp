// PackedLinear::forwardGroup: one token through several layers in one parallel region.
#include "base/error.h"
#include "infer/packed_kernels.h"
#include "infer/packed_kernels_a8.h"
#include "infer/packed_linear.h"

#include <algorithm>
#include <memory>

namespace ql::infer {

namespace {

// A thread's share below this many weights is not worth a thread (as decodeRowRanges).
constexpr int64_t kWeightsPerShare = int64_t(1) << 16;

detail::GemvFn floatGemv() {
    switch (activeIsa()) {
        case Isa::Avx512:
            return detail::gemvAvx512;
        case Isa::Avx2:
            return detail::gemvAvx2;
        default:
            return detail::gemvBaseline;
    }
}

detail::GemvA8Fn a8Gemv() {
    switch (activeA8Isa()) {
        case A8Isa::Avx512Vnni:
            return detail::gemvA8Avx512Vnni;
        case A8Isa::AvxVnni:
            return detail::gemvA8AvxVnni;
        default:
            return detail::gemvA8Scalar;
    }
}

}  // namespace

// One layer's share of a group call: its input prepared exactly as decodeForward /
// decodeForwardA8 prepare it for one token (AWQ division, group sums or int8 quantization),
// then run(u0, u1) computes units [u0, u1) — 4-row passes (Float) or 16-row tiles (Int8).
struct PackedLinear::DecodePart {
    int64_t units = 0, weightsPerUnit = 0;
    std::vector<float> scaled, sums, d;
    std::vector<int8_t> q;
    std::vector<int32_t> bsum;
    std::function<void(int64_t, int64_t)> run;
};

PackedLinear::DecodePart PackedLinear::decodePart(const float* x, float* y) const {
    DecodePart part;
    if (!divisors_.empty()) {
        part.scaled.resize(size_t(cols_));
        for (int64_t j = 0; j < cols_; ++j) part.scaled[size_t(j)] = x[j] / divisors_[size_t(j)];
        x = part.scaled.data();
    }
    if (mode_ == ActivationMode::Float) {
        part.sums.assign(size_t(groupsPerRow_), 0.0f);
        for (int64_t g = 0; g < groupsPerRow_; ++g) {
            const float* p = x + g * group_;
            float s = 0.0f;
            for (int64_t j = 0; j < group_; ++j) s += p[j];
            part.sums[size_t(g)] = s;
        }
        part.units = (rows_ + 3) / 4;
        part.weightsPerUnit = 4 * cols_;
        const detail::PackedView view = rowView(rowForm_);
        const detail::GemvFn gemv = floatGemv();
        const float* sums = part.sums.data();
        const int64_t rows = rows_;
        part.run = [view, gemv, x, sums, y, rows](int64_t u0, int64_t u1) {
            gemv(view, x, sums, 1, u0 * 4, std::min(rows, u1 * 4), y, rows);
        };
        return part;
    }
    constexpr int64_t T = detail::kA8Tile;
    const int64_t blocks = (cols_ + detail::kA8Block - 1) / detail::kA8Block;
    part.q.resize(size_t(blocks * detail::kA8Block));
    part.d.resize(size_t(blocks));
    part.bsum.resize(size_t(blocks));
    detail::quantizeActivationsA8(x, cols_, part.q.data(), part.d.data(), part.bsum.data());
    const detail::A8View view = a8View();
    const detail::A8Act act{part.q.data(), part.d.data(), part.bsum.data()};
    const detail::GemvA8Fn gemv = a8Gemv();
    const int64_t rows = rows_;
    part.units = (rows_ + T - 1) / T;
    part.weightsPerUnit = T * cols_;
    part.run = [view, act, gemv, y, rows](int64_t t0, int64_t t1) {
        gemv(view, act, t0, t1, y, rows);
    };
    return part;
}

void PackedLinear::forwardGroup(const std::vector<const PackedLinear*>& layers, const float* x,
                                float* const* ys) {
    if (layers.empty()) return;
    for (const PackedLinear* l : layers)
        if (l->cols_ != layers.front()->cols_)
            throw Error("internal: a packed group's layers read inputs of different widths");
    // Parts hold pointers into their own vectors: stable addresses (no vector of values).
    std::vector<std::unique_ptr<DecodePart>> parts;
    std::vector<int64_t> offset;  // weights before each part
    int64_t total = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
        parts.push_back(std::make_unique<DecodePart>(layers[i]->decodePart(x, ys[i])));
        offset.push_back(total);
        total += parts.back()->units * parts.back()->weightsPerUnit;
    }
    // The concatenated units split into `n` contiguous shares of about equal weights; share
    // t covers weights [t * total / n, (t + 1) * total / n) rounded to whole units, the same
    // rounding for both ends of adjacent shares, so every unit runs exactly once.
    const int64_t n =
        std::max<int64_t>(1, std::min<int64_t>(intraOpThreads(), total / kWeightsPerShare));
    const auto unitAt = [&](size_t i, int64_t cut) {
        const DecodePart& p = *parts[i];
        const int64_t rel = cut - offset[i];
        if (rel <= 0) return int64_t(0);
        return std::min(p.units, (rel + p.weightsPerUnit / 2) / p.weightsPerUnit);
    };
    runOnThreads(n, [&](int64_t t) {
        const int64_t c0 = total * t / n, c1 = total * (t + 1) / n;
        for (size_t i = 0; i < parts.size(); ++i) {
            const int64_t u0 = unitAt(i, c0), u1 = unitAt(i, c1);
            if (u0 < u1) parts[i]->run(u0, u1);
        }
    });
}

}  // namespace ql::infer
