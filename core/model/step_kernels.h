// core-private: the loops of the one-token decode step that read no weights (RMSNorm, RoPE,
// attention over the KV cache, SiLU·up), for transformer_step.cpp. Each has a portable
// version and, on x86 CPUs with AVX-512F, a 16-lane one chosen at run time; the two add in
// different orders and use different exp() approximations, so they agree to float
// tolerance, not bit for bit (test_generate compares them).
#pragma once

#include <cstdint>

namespace ql::step {

// x * rsqrt(mean(x^2) + eps) * weight (HF LlamaRMSNorm) over n values; the mean in double.
// out may be x.
void rmsNorm(const float* x, const float* weight, int64_t n, double eps, float* out);

// q' = q * cos + rotate_half(q) * sin for one head of D values (rotate_half: [-x2, x1]).
void rope(float* x, const float* cos, const float* sin, int64_t D);

// One query per head over n cached keys and values ([KV, capacity, D] storage): softmax of
// q·k / sqrt(D), then the weighted sum of values, for query heads [h0, h1), head i on kv
// head i / rep (HF repeat_kv). scores: (h1 - h0) * n floats of scratch. out [H, D].
struct AttentionArgs {
    const float* q = nullptr;
    const float* keys = nullptr;
    const float* values = nullptr;
    int64_t capacity = 0, rep = 1, D = 0, n = 0;
};
void attend(const AttentionArgs& a, int64_t h0, int64_t h1, float* scores, float* out);

// gate[i] = silu(gate[i]) * up[i] for i in [b, e).
void siluTimesUp(float* gate, const float* up, int64_t b, int64_t e);

// Whether the calls above take the AVX-512 versions (the CPU has AVX-512F and
// setWideStepKernels has not turned them off).
bool wideStepKernels();
void setWideStepKernels(bool on);  // tests compare both versions in one process

}  // namespace ql::step
