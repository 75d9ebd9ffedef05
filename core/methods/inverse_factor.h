// The upper Cholesky factor of an inverse Hessian, the matrix GPTQ's column loop reads,
// computed in place, in panels, with a cancellation check between panels.
#pragma once

#include "base/progress.h"

#include <cstdint>

namespace ql {

// `a` holds a symmetric positive definite n × n matrix H (row-major, float32). On success
// it holds the upper triangular U with H^-1 = U^T U (the reference GPTQ's
// `cholesky(cholesky_inverse(cholesky(H)), upper=True)`), its strict lower triangle zero,
// and the call returns true. If H is not positive definite it returns false with `a`
// holding H again (its lower triangle mirrored: H is taken as symmetric). Throws
// ql::Cancelled (then `a` is garbage) when `progress` asks to stop; it is asked after
// every panel of `panel` columns.
//
// Why not potrf + potri + potrf (4/3 n^3 flops in three uninterruptible LAPACK calls:
// seconds for a 1.5B model's 8960-input down_proj, far more at 7B)? With the reversal
// permutation P, P H P = M^T M (upper M) gives H^-1 = (P M^-1 P)(P M^-1 P)^T, and P M^-1 P
// is lower triangular: one Cholesky and one triangular inverse, 2/3 n^3 flops.
bool upperFactorOfInverse(float* a, int64_t n, const ProgressReporter& progress, int panel = 256);

}  // namespace ql
