// bitsandbytes 4-bit blockwise quantization (see codebook4.h for the rules and sources).
#include "quant/codebook4.h"

#include "base/error.h"
#include "base/parallel.h"
#include "quant/quantize.h"

#include <algorithm>
#include <cmath>

namespace ql {
namespace {

// QLoRA's NF4 values (bnb functional.py / dDequantizeNF4), ascending.
constexpr std::array<float, 16> kNf4 = {-1.0f,
                                        -0.6961928009986877f,
                                        -0.5250730514526367f,
                                        -0.39491748809814453f,
                                        -0.28444138169288635f,
                                        -0.18477343022823334f,
                                        -0.09105003625154495f,
                                        0.0f,
                                        0.07958029955625534f,
                                        0.16093020141124725f,
                                        0.24611230194568634f,
                                        0.33791524171829224f,
                                        0.44070982933044434f,
                                        0.5626170039176941f,
                                        0.7229568362236023f,
                                        1.0f};
// bnb's decision-tree pivots of dQuantizeNF4: code = number of pivots strictly below x.
constexpr std::array<float, 15> kNf4Pivots = {
    -0.8480964004993439f,  -0.6106329262256622f,  -0.4599952697753906f,   -0.33967943489551544f,
    -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
    0.1202552504837513f,   0.2035212516784668f,   0.2920137718319893f,    0.3893125355243683f,
    0.5016634166240692f,   0.6427869200706482f,   0.8614784181118011f};

// bnb's FP4 (e2m1, values {0, 0.0625, 2, 3, 4, 6, 8, 12} / 12) in its bit order
// (dDequantizeFP4Tree): bit 3 the sign, codes 0..7 the magnitudes below.
constexpr std::array<float, 16> kFp4 = {
    0.0f,  5.208333333e-03f,  0.66666667f,  1.0f,  0.33333333f,  0.5f,  0.16666667f,  0.25f,
    -0.0f, -5.208333333e-03f, -0.66666667f, -1.0f, -0.33333333f, -0.5f, -0.16666667f, -0.25f};
// dQuantizeFP4's magnitude pivots, and the code of each magnitude rank (ascending).
constexpr std::array<float, 7> kFp4Pivots = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f,
                                             0.4166667f,  0.583333f,  0.8333333f};
constexpr std::array<uint8_t, 8> kFp4RankCode = {0, 1, 6, 7, 4, 5, 2, 3};

template <size_t N>
int pivotsBelow(const std::array<float, N>& pivots, float x) {
    int k = 0;
    for (float p : pivots) k += x > p ? 1 : 0;
    return k;
}

// torch.linspace(start, end, steps) in float32 as ATen's portable CPU kernel computes it
// (ATEN_CPU_CAPABILITY=default; checked bit for bit against libtorch 1.13): the first half
// counted up from start, the second half down from end, but in vectors of 8 whose lanes step
// up from the vector's first value; the tail element by element. AVX2/AVX-512 kernels (FMA,
// 16 lanes) differ in the last bit of a few values, so bnb's map itself is machine-dependent
// at that level.
std::vector<float> linspace(float start, float end, int steps) {
    constexpr int kLanes = 8;
    const float step = (end - start) / float(steps - 1);
    const int halfway = steps / 2;
    const auto at = [&](int i) {
        return i < halfway ? start + step * float(i) : end - step * float(steps - i - 1);
    };
    std::vector<float> v(static_cast<size_t>(steps));
    int i = 0;
    for (; i + kLanes <= steps; i += kLanes) {
        const float base = at(i);
        for (int k = 0; k < kLanes; ++k) v[size_t(i + k)] = base + float(k) * step;
    }
    for (; i < steps; ++i) v[size_t(i)] = at(i);
    return v;
}

// bnb create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for exponent i, the
// midpoints of linspace(0.1, 1, 2^i + 1) times 10^(i-6), both signs; then 0 and 1; sorted.
std::array<float, 256> makeDynamicMap() {
    std::vector<float> data;
    for (int i = 0; i < 7; ++i) {
        const std::vector<float> b = linspace(0.1f, 1.0f, (1 << i) + 1);
        const float scale = float(std::pow(10.0, double(i - 6)));
        for (size_t k = 0; k + 1 < b.size(); ++k) {
            const float mean = (b[k] + b[k + 1]) / 2.0f;
            data.push_back(scale * mean);
            data.push_back(-scale * mean);
        }
    }
    data.push_back(0.0f);
    data.push_back(1.0f);
    std::sort(data.begin(), data.end());
    std::array<float, 256> out{};
    std::copy(data.begin(), data.end(), out.begin());
    return out;
}

// Per block absmax of the finite values.
std::vector<float> blockAbsmax(const float* w, uint64_t n, int64_t blockSize) {
    std::vector<float> absmax((n + uint64_t(blockSize) - 1) / uint64_t(blockSize), 0.0f);
    for (uint64_t i = 0; i < n; ++i)
        if (std::isfinite(w[i])) {
            float& m = absmax[i / uint64_t(blockSize)];
            m = std::max(m, std::fabs(w[i]));
        }
    return absmax;
}

// The code of w in a block with reciprocal `inv` (0 for an all-zero block).
uint8_t codeOf(Codebook4 c, float w, float inv) {
    if (std::isnan(w)) return nearestCode4(c, 0.0f);
    if (std::isinf(w)) return nearestCode4(c, w > 0 ? 1.0f : -1.0f);
    return nearestCode4(c, w * inv);
}

// bnb double quantization of the absmax values (see codebook4.h).
void doubleQuantize(Blockwise4& q, const std::vector<float>& absmax) {
    double sum = 0.0;
    for (float a : absmax) sum += a;
    q.offset = absmax.empty() ? 0.0f : float(sum / double(absmax.size()));
    std::vector<float> centred(absmax.size());
    for (size_t i = 0; i < absmax.size(); ++i) centred[i] = absmax[i] - q.offset;
    q.absmax2 = blockAbsmax(centred.data(), centred.size(), kDoubleQuantBlock);
    q.absmaxCodes.resize(centred.size());
    for (size_t i = 0; i < centred.size(); ++i) {
        const float m = q.absmax2[i / kDoubleQuantBlock];
        const float x = m > 0.0f ? std::clamp(centred[i] * (1.0f / m), -1.0f, 1.0f) : 0.0f;
        q.absmaxCodes[i] = nearestDynamic8(x);
    }
}

}  // namespace

const std::array<float, 16>& codebookValues(Codebook4 c) {
    return c == Codebook4::Nf4 ? kNf4 : kFp4;
}

uint8_t nearestCode4(Codebook4 c, float x) {
    if (c == Codebook4::Nf4) return uint8_t(pivotsBelow(kNf4Pivots, x));
    const uint8_t sign = x < 0.0f ? 8 : 0;
    return uint8_t(kFp4RankCode[size_t(pivotsBelow(kFp4Pivots, std::fabs(x)))] + sign);
}

const std::array<float, 256>& dynamicMap8() {
    static const std::array<float, 256> map = makeDynamicMap();
    return map;
}

uint8_t nearestDynamic8(float x) {
    const std::array<float, 256>& m = dynamicMap8();
    const auto it = std::lower_bound(m.begin(), m.end(), x);
    if (it == m.begin()) return 0;
    if (it == m.end()) return 255;
    const size_t hi = size_t(it - m.begin()), lo = hi - 1;
    // argmin over |x - m| as bnb computes it (float32): a tie goes to the lower index
    return uint8_t(std::fabs(x - m[lo]) <= std::fabs(x - m[hi]) ? lo : hi);
}

float roundToDtype(float v, ComputeDtype d) {
    switch (d) {
        case ComputeDtype::Fp32:
            return v;
        case ComputeDtype::Fp16:
            return fp16RoundTrip(v);
        case ComputeDtype::Bf16:
            return bf16RoundTripValue(v);
    }
    return v;
}

uint64_t blockwise4Bytes(uint64_t n, int64_t blockSize, bool doubleQuant) {
    const uint64_t blocks = (n + uint64_t(blockSize) - 1) / uint64_t(blockSize);
    const uint64_t codes = (n + 1) / 2;
    if (!doubleQuant) return codes + blocks * 4;
    return codes + blocks + (blocks + kDoubleQuantBlock - 1) / kDoubleQuantBlock * 4 + 4;
}

uint64_t Blockwise4::bytes() const {
    return packed.size() + absmax.size() * 4 + absmaxCodes.size() + absmax2.size() * 4 +
           (doubleQuant ? 4 : 0);
}

std::vector<float> Blockwise4::scales() const {
    if (!doubleQuant) return absmax;
    const std::array<float, 256>& map = dynamicMap8();
    std::vector<float> s(absmaxCodes.size());
    for (size_t i = 0; i < s.size(); ++i)
        s[i] = map[absmaxCodes[i]] * absmax2[i / kDoubleQuantBlock] + offset;
    return s;
}

Blockwise4 quantizeBlockwise4(const float* w, uint64_t n, Codebook4 c, int64_t blockSize,
                              bool doubleQuant, ComputeDtype dtype) {
    if (blockSize < 1)
        throw Error("4-bit blockwise quantization: block size must be positive, got " +
                    std::to_string(blockSize));
    Blockwise4 q;
    q.codebook = c;
    q.blockSize = blockSize;
    q.doubleQuant = doubleQuant;
    q.dtype = dtype;
    q.count = n;
    std::vector<float> absmax = blockAbsmax(w, n, blockSize);
    q.packed.assign((n + 1) / 2, 0);
    // Blocks are independent; with an even block size no two blocks share a code byte, so
    // chunks of blocks can be coded in parallel.
    parallelChunks(absmax.size(), blockSize % 2 ? 1 : 0, [&](int, size_t b0, size_t b1) {
        for (uint64_t b = b0; b < b1; ++b) {
            const float inv = absmax[b] > 0.0f ? 1.0f / absmax[b] : 0.0f;
            const uint64_t end = std::min(n, (b + 1) * uint64_t(blockSize));
            for (uint64_t i = b * uint64_t(blockSize); i < end; ++i)
                q.packed[i / 2] |= uint8_t(codeOf(c, w[i], inv) << (i % 2 ? 0 : 4));
        }
    });
    if (doubleQuant)
        doubleQuantize(q, absmax);
    else
        q.absmax = std::move(absmax);
    return q;
}

std::vector<float> dequantizeBlockwise4(const Blockwise4& q, const float* original) {
    const std::array<float, 16>& values = codebookValues(q.codebook);
    const std::vector<float> scale = q.scales();
    std::vector<float> out(q.count);
    parallelChunks(q.count, 0, [&](int, size_t begin, size_t end) {
        for (uint64_t i = begin; i < end; ++i) {
            if (original && !std::isfinite(original[i]))
                out[i] = original[i];
            else
                out[i] =
                    roundToDtype(values[q.code(i)] * scale[i / uint64_t(q.blockSize)], q.dtype);
        }
    });
    return out;
}

}  // namespace ql
