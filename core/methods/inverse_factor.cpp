#include "methods/inverse_factor.h"

#include "base/error.h"

#include <algorithm>
#include <limits>
#include <vector>

extern "C" {  // BLAS/LAPACK (OpenBLAS at run time), column-major
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void strtri_(const char* uplo, const char* diag, const int* n, float* a, const int* lda, int* info);
void strsm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
            const int* n, const float* alpha, const float* a, const int* lda, float* b,
            const int* ldb);
void strmm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
            const int* n, const float* alpha, const float* a, const int* lda, float* b,
            const int* ldb);
void ssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* beta, float* c, const int* ldc);
}

namespace ql {
namespace {

// The buffers below are read column-major (LAPACK's view). Only the column-major upper
// triangle (row-major lower) is written, so the other one keeps the input.

// B = U^T U in place, right-looking, one panel at a time. Returns LAPACK's info.
int choleskyUpper(float* b, int n, int panel, const ProgressReporter& progress) {
    const float one = 1.0f, minusOne = -1.0f;
    for (int k = 0; k < n; k += panel) {
        const int kb = std::min(panel, n - k), rest = n - k - kb;
        float* a11 = b + int64_t(k) * n + k;
        int info = 0;
        spotrf_("U", &kb, a11, &n, &info);
        if (info != 0) return k + info;
        if (rest > 0) {
            float* a12 = a11 + int64_t(kb) * n;  // rows k.., columns k+kb..
            float* a22 = a12 + kb;
            strsm_("L", "U", "T", "N", &kb, &rest, &one, a11, &n, a12, &n);
            ssyrk_("U", "T", &rest, &kb, &minusOne, a12, &n, &one, a22, &n);
        }
        progress.checkCancelled();
    }
    return 0;
}

// U^-1 in place for upper triangular U (LAPACK strtri's blocked loop).
int invertUpper(float* b, int n, int panel, const ProgressReporter& progress) {
    const float one = 1.0f, minusOne = -1.0f;
    for (int j = 0; j < n; j += panel) {
        const int jb = std::min(panel, n - j);
        float* column = b + int64_t(j) * n;  // rows 0..j-1 of the panel's columns
        float* diag = column + j;
        if (j > 0) {
            strmm_("L", "U", "N", "N", &j, &jb, &one, b, &n, column, &n);
            strsm_("R", "U", "N", "N", &j, &jb, &minusOne, diag, &n, column, &n);
        }
        int info = 0;
        strtri_("U", "N", &jb, diag, &n, &info);
        if (info != 0) return j + info;
        progress.checkCancelled();
    }
    return 0;
}

}  // namespace

bool upperFactorOfInverse(float* a, int64_t n64, const ProgressReporter& progress, int panel) {
    if (n64 > std::numeric_limits<int>::max() / 2) throw Error("GPTQ: the layer is too wide");
    const int n = int(n64);
    if (n == 0) return true;
    const size_t count = size_t(n64) * size_t(n64);
    std::vector<float> diag(static_cast<size_t>(n64));
    for (int64_t i = 0; i < n64; ++i) diag[size_t(i)] = a[i * n64 + i];
    std::reverse(a, a + count);  // P H P: element (i, j) moves to (n-1-i, n-1-j)
    const int p = std::max(1, panel);
    const bool ok = choleskyUpper(a, n, p, progress) == 0 && invertUpper(a, n, p, progress) == 0;
    if (!ok) {  // rebuild P H P from the untouched triangle, then H
        for (int64_t r = 0; r < n64; ++r)
            for (int64_t c = r + 1; c < n64; ++c) a[c * n64 + r] = a[r * n64 + c];
        std::reverse(a, a + count);
        for (int64_t i = 0; i < n64; ++i) a[i * n64 + i] = diag[size_t(i)];
        return false;
    }
    // The column-major upper M^-1 of P H P = M^T M, reversed, is P M^-1 P (column-major
    // lower); read row-major that is its transpose: U with H^-1 = U^T U.
    std::reverse(a, a + count);
    for (int64_t r = 1; r < n64; ++r) std::fill(a + r * n64, a + r * n64 + r, 0.0f);
    return true;
}

}  // namespace ql
