// Private to core/quant: portable 8-lane float vectors (GCC/Clang vector extensions),
// so that the kernels vectorize without -ffast-math and without intrinsics.
#pragma once

#include <cstdint>
#include <cstring>

// Everything here is inline and private to core/quant: the vector ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace ql::simd {

constexpr int kLanes = 4;
typedef float vf __attribute__((vector_size(16)));
typedef int32_t vi __attribute__((vector_size(16)));

inline vf splat(float x) {
    return vf{} + x;
}
inline vf load(const float* p) {
    vf v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store(float* p, vf v) {
    std::memcpy(p, &v, sizeof v);
}
inline void storeInt(int32_t* p, vi v) {
    std::memcpy(p, &v, sizeof v);
}

// -1 where x is finite, 0 for NaN/Inf (x - x is NaN exactly for those).
inline vi finiteMask(vf x) {
    return (x - x) == splat(0.0f);
}

// Round half to even, exact for |t| < 2^22 (the kernels clamp before rounding).
inline vf roundEven(vf t) {
    const vf magic = splat(12582912.0f);  // 1.5 * 2^23
    return (t + magic) - magic;
}

inline double hsum(vf v) {
    double s = 0.0;
    for (int i = 0; i < kLanes; ++i) s += v[i];
    return s;
}
inline float hmin(vf v) {
    float m = v[0];
    for (int i = 1; i < kLanes; ++i) m = v[i] < m ? v[i] : m;
    return m;
}
inline float hmax(vf v) {
    float m = v[0];
    for (int i = 1; i < kLanes; ++i) m = v[i] > m ? v[i] : m;
    return m;
}

}  // namespace ql::simd
