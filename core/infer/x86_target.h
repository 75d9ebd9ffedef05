// core/infer private: whether the x86 kernels (target attributes, immintrin.h intrinsics) are
// compiled. Other architectures and compilers get the portable code under the same names.
#pragma once

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QL_INFER_X86 1
#include <immintrin.h>
#else
#define QL_INFER_X86 0
#endif
