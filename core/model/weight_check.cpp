// Weights a float32 forward pass cannot use. A NaN, an infinity or a finite value whose
// square overflows float32 (3e38) turns every perplexity and SQNR into nan without a word;
// they are found here, per tensor, with the first row and the count.
#include "base/error.h"
#include "io/dtype.h"
#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

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

namespace {

// Values of [begin, begin + n) of a tensor that are unusable, and the index of the first
// (relative to begin). BF16, F16 and F32 are checked on their bits (|v| > 2^64 or NaN/Inf
// is "magnitude bits above those of 2^64", the sign bit masked off), without converting:
// the check then costs a read of the checkpoint, not a conversion of it.
struct ChunkCount {
    uint64_t count = 0;
    size_t first = 0;
};

template <typename Bits>
ChunkCount countAbove(const unsigned char* data, size_t n, Bits magnitudeMask, Bits limit) {
    // Branch-free, so that it vectorizes: a clean chunk (the usual case) is one pass.
    uint64_t count = 0;
    for (size_t i = 0; i < n; ++i) {
        Bits v;
        std::memcpy(&v, data + i * sizeof(Bits), sizeof(Bits));  // the mapping may be unaligned
        count += Bits(v & magnitudeMask) > limit ? 1 : 0;
    }
    ChunkCount c;
    c.count = count;
    for (size_t i = 0; count > 0 && i < n; ++i) {
        Bits v;
        std::memcpy(&v, data + i * sizeof(Bits), sizeof(Bits));
        if (Bits(v & magnitudeMask) > limit) {
            c.first = i;
            break;
        }
    }
    return c;
}

ChunkCount countUnusable(DType dtype, const unsigned char* data, size_t n,
                         std::vector<float>& buffer) {
    switch (dtype) {
        case DType::BF16:  // 2^64 = 0x5F80 (exponent 191, no mantissa)
            return countAbove<uint16_t>(data, n, 0x7FFF, 0x5F80);
        case DType::F16:  // finite F16 values are below 2^64: only Inf/NaN (exponent 31)
            return countAbove<uint16_t>(data, n, 0x7FFF, 0x7BFF);
        case DType::F32:
            return countAbove<uint32_t>(data, n, 0x7FFFFFFFu, 0x5F800000u);
        default: {
            buffer.resize(n);
            convertToFloat(dtype, data, n, buffer.data());
            const UnusableWeights u = findUnusableWeights({}, buffer.data(), n, 1);
            return {u.count, size_t(std::max<int64_t>(u.firstRow, 0))};
        }
    }
}

}  // namespace

UnusableWeights scanUnusableWeights(const TensorStore& store, const ProgressReporter& progress) {
    std::vector<float> buffer;
    for (const std::string& name : store.names()) {
        const TensorInfo& t = store.get(name);
        if (!isFloatDType(t.dtype)) continue;
        const size_t n = size_t(t.numel()), element = dtypeSize(t.dtype);
        const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
        const auto* data = static_cast<const unsigned char*>(store.data(t));
        UnusableWeights total;
        total.tensor = name;
        for (size_t begin = 0; begin < n; begin += kScanChunkElements) {
            progress.checkCancelled();
            const size_t m = std::min(kScanChunkElements, n - begin);
            store.prefetchPages(t, begin * element, m * element);
            const ChunkCount part = countUnusable(t.dtype, data + begin * element, m, buffer);
            // Each chunk's pages go as soon as they are read: the scan never holds more
            // than a chunk of the checkpoint resident.
            store.releasePages(t, begin * element, m * element);
            if (part.count == 0) continue;
            if (total.count == 0)
                total.firstRow = int64_t((begin + part.first) / size_t(std::max<int64_t>(cols, 1)));
            total.count += part.count;
        }
        store.releasePages(t);  // a quantized view's dequantized tensor goes only as a whole
        if (total.count > 0) return total;
    }
    return {};
}

}  // namespace ql
