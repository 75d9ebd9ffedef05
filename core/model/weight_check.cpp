// Weights a float32 forward pass cannot use. A NaN, an infinity or a finite value whose
// square overflows float32 (3e38) turns every perplexity and SQNR into nan without a word;
// they are found here, per tensor, with the first row and the count.
#include "base/error.h"
#include "io/dtype.h"
#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ql {

namespace {

constexpr float kLargest = 1.8446744e19f;  // 2^64: above it, w*w overflows float32

bool unusable(float v) {
    return !(std::fabs(v) <= kLargest);  // also true for NaN
}

}  // namespace

UnusableWeights findUnusableWeights(const std::string& tensor, const float* values, size_t count,
                                    int64_t cols) {
    UnusableWeights u;
    u.tensor = tensor;
    const size_t width = size_t(std::max<int64_t>(cols, 1));
    for (size_t i = 0; i < count; ++i) {
        if (!unusable(values[i])) continue;
        if (u.count++ == 0) u.firstRow = int64_t(i / width);
    }
    return u;
}

std::string describeUnusable(const UnusableWeights& u) {
    char b[160];
    std::snprintf(b, sizeof b,
                  "%llu value(s) that are NaN, infinite or beyond 1.8e19 (first in row %lld)",
                  static_cast<unsigned long long>(u.count), static_cast<long long>(u.firstRow));
    return "tensor '" + u.tensor + "' has " + b;
}

UnusableWeights scanUnusableWeights(const TensorStore& store) {
    constexpr size_t kChunk = size_t(1) << 20;
    std::vector<float> buffer;
    for (const std::string& name : store.names()) {
        const TensorInfo& t = store.get(name);
        if (!isFloatDType(t.dtype)) continue;
        const size_t n = size_t(t.numel()), element = dtypeSize(t.dtype);
        const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
        const auto* data = static_cast<const unsigned char*>(store.data(t));
        UnusableWeights total;
        total.tensor = name;
        for (size_t begin = 0; begin < n; begin += kChunk) {
            const size_t m = std::min(kChunk, n - begin);
            buffer.resize(m);
            convertToFloat(t.dtype, data + begin * element, m, buffer.data());
            const UnusableWeights part = findUnusableWeights(name, buffer.data(), m, 1);
            if (part.count == 0) continue;
            if (total.count == 0)
                total.firstRow =
                    int64_t((begin + size_t(part.firstRow)) / size_t(std::max<int64_t>(cols, 1)));
            total.count += part.count;
        }
        store.releasePages(t);
        if (total.count > 0) return total;
    }
    return {};
}

}  // namespace ql
