// Private to core/quant: portable float vectors (GCC/Clang vector extensions), so that the
// kernels vectorize without -ffast-math and without intrinsics. vf/vi are 4 lanes (SSE2,
// the x86-64 baseline); vf8/vi8 are 8 lanes, used only inside functions compiled for AVX2.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

// Everything here is inline and private to core/quant: the vector ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace ql::simd {

constexpr int kLanes = 4;
typedef float vf __attribute__((vector_size(16)));
typedef int32_t vi __attribute__((vector_size(16)));
typedef float vf8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));
// 16 lanes, used only inside functions compiled for AVX-512F.
typedef float vf16 __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));
// Double vectors as wide as a float vector's lanes (exact sums of products).
template <int L>
struct DoubleVec;
template <>
struct DoubleVec<4> {
    typedef double type __attribute__((vector_size(32)));
};
template <>
struct DoubleVec<8> {
    typedef double type __attribute__((vector_size(64)));
};
template <>
struct DoubleVec<16> {
    typedef double type __attribute__((vector_size(128)));
};

template <class V>
constexpr int lanes() {
    return int(sizeof(V) / sizeof(float));
}

template <class V = vf>
inline V splat(float x) {
    return V{} + x;
}
template <class V = vf>
inline V load(const float* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <class V>
inline void store(float* p, V v) {
    std::memcpy(p, &v, sizeof v);
}
template <class I>
inline void storeInt(int32_t* p, I v) {
    std::memcpy(p, &v, sizeof v);
}

// -1 where x is finite, 0 for NaN/Inf (x - x is NaN exactly for those).
template <class V>
inline auto finiteMask(V x) {
    return (x - x) == V{};
}

// Round half to even, exact for |t| < 2^22 (the kernels clamp before rounding).
template <class V>
inline V roundEven(V t) {
    const V magic = splat<V>(12582912.0f);  // 1.5 * 2^23
    return (t + magic) - magic;
}

template <class V>
inline double hsum(V v) {
    double s = 0.0;
    for (int i = 0; i < lanes<V>(); ++i) s += v[i];
    return s;
}
template <class V>
inline float hmin(V v) {
    float m = v[0];
    for (int i = 1; i < lanes<V>(); ++i) m = v[i] < m ? v[i] : m;
    return m;
}
template <class V>
inline float hmax(V v) {
    float m = v[0];
    for (int i = 1; i < lanes<V>(); ++i) m = v[i] > m ? v[i] : m;
    return m;
}

// Max and sum of the lanes by halving (vector extracts, not per-lane moves): for the fast
// paths' once-per-chunk checks. NaN lanes may or may not win; callers test for them apart.
template <class V>
inline float hmaxFast(V v) {
    if constexpr (sizeof(V) == 16) {
        float m = v[0];
        for (int i = 1; i < 4; ++i) m = v[i] > m ? v[i] : m;
        return m;
    } else {
        using H = std::conditional_t<sizeof(V) == 64, vf8, vf>;
        H a, b;
        std::memcpy(&a, &v, sizeof a);
        std::memcpy(&b, reinterpret_cast<const char*>(&v) + sizeof a, sizeof b);
        return hmaxFast<H>(a > b ? a : b);
    }
}
template <class V>
inline float hsumFast(V v) {
    if constexpr (sizeof(V) == 16) {
        return (v[0] + v[1]) + (v[2] + v[3]);
    } else {
        using H = std::conditional_t<sizeof(V) == 64, vf8, vf>;
        H a, b;
        std::memcpy(&a, &v, sizeof a);
        std::memcpy(&b, reinterpret_cast<const char*>(&v) + sizeof a, sizeof b);
        return hsumFast<H>(a + b);
    }
}

// Which vector width the kernels run: the widest the CPU has (cpuid at run time), capped by
// setMaxKernelPath (tests force each path and compare). Every path does the same float
// operations per element, so values and counts are bit-identical; sums can differ in the
// order of their terms.
enum class KernelPath { Baseline = 0, Avx2 = 1, Avx512 = 2 };  // 4, 8, 16 float lanes
KernelPath kernelPath();
KernelPath cpuKernelPath();  // what the CPU supports
void setMaxKernelPath(KernelPath p);
const char* kernelPathName(KernelPath p);

// Whether the 8-lane AVX2 kernels run (when the CPU has AVX2). Tests turn them off to
// check the baseline path too. setWideKernels(false) = setMaxKernelPath(Baseline).
bool wideKernels();
void setWideKernels(bool enabled);

}  // namespace ql::simd
