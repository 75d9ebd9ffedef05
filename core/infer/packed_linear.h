// A quantized linear layer that keeps its weight packed and computes with it (issue 11):
// INT8 per-channel and INT4 per-group (32/64/128), symmetric or asymmetric, as QuantLens
// packs them (CompactWeights). Activations stay float32 (W8A16 / W4A16) by default: codes
// are dequantized in registers, never to a whole float matrix. setActivationMode(Int8) makes
// decode quantize x to int8 and run integer dot products instead (W8A8 / W4A8, VNNI).
//
//  - decode (few tokens, memory bound): each output row's codes are read once per block of
//    up to 4 tokens, converted to float in registers, multiplied by the group scale and
//    accumulated with FMA; the zero point is applied once per group through the group's
//    sum of x (y = sum_g s_g (sum_j u_j x_j - z_g sum_j x_j)). Rows are split over threads.
//  - prefill (many tokens): a panel of rows is dequantized to float32 (bit for bit the
//    values CompactWeights::decode gives) and multiplied with sgemm (at::mm), panel by panel,
//    so only one panel of float weights exists at a time.
// Runtime dispatch: AVX-512F, AVX2+FMA or portable baseline code, the widest the CPU has,
// capped by setMaxInferIsa (tests run every path).
#pragma once

#include "infer/share_balance.h"
#include "quant/compact_weights.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace ql::infer {

namespace detail {
struct PackedView;  // packed_kernels.h
struct A8View;      // packed_kernels_a8.h
}  // namespace detail

// Baseline: portable 4-lane vector code (SSE2 on x86-64, any CPU); Avx2: 8 lanes with FMA;
// Avx512: 16 lanes (AVX-512F) with FMA.
enum class Isa { Baseline = 0, Avx2 = 1, Avx512 = 2 };
Isa cpuIsa();                  // what this CPU supports
Isa activeIsa();               // min(cpuIsa(), the cap)
void setMaxInferIsa(Isa cap);  // default Avx512 (no cap)
const char* isaName(Isa isa);

enum class ForwardMode { Auto, Decode, Prefill };

// Activations of the decode path: Float (W8A16 / W4A16, the default) or Int8 (W8A8 / W4A8:
// each token's x quantized to int8 per block of 32 values, integer dot products by VNNI;
// packed_kernels_a8.h). Prefill (sgemm) always takes float activations.
enum class ActivationMode { Float, Int8 };

// The instruction set the Int8 activation path runs: AVX-512 VNNI when activeIsa() is Avx512
// and the CPU has it, AVX-VNNI (256-bit) when activeIsa() is at least Avx2 and the CPU has it,
// else portable scalar code. Every path gives the same bits.
enum class A8Isa { Scalar = 0, AvxVnni = 1, Avx512Vnni = 2 };
A8Isa activeA8Isa();
const char* a8IsaName(A8Isa isa);

// Rows [begin, end) of one thread's share of a decode call.
struct RowRange {
    int64_t begin = 0, end = 0;
};

// How a decode call of a [rows x cols] layer splits its rows over `threads` threads: one
// contiguous range per thread (the longest streams each thread can read), in order, covering
// [0, rows) once; every boundary a multiple of 4 rows (the INT4 pass); fewer ranges when a
// share would hold fewer than 2^16 weights (a thread's wake-up costs about that much).
std::vector<RowRange> decodeRowRanges(int64_t rows, int64_t cols, int threads);

// After a call, the threads that ran it wait for the next one: Spin (the decode calls, a
// step's next region comes within microseconds) for a bounded time before they sleep, or
// Sleep at once (prefill's dequantization, followed by sgemm on the same cores).
enum class WorkerWait { Spin, Sleep };

// Runs fn(i) for i in [0, tasks) on intraOpThreads() threads: the caller and the decode
// team's workers (base/spin_team.h), task i on thread i % threads (the caller is thread 0).
// Returns the number of distinct threads that ran a task. A call nested in a task, or made
// while another thread's call runs, runs its tasks on the calling thread.
int runOnThreads(int64_t tasks, const std::function<void(int64_t)>& fn,
                 WorkerWait wait = WorkerWait::Spin);
// Threads of the intra-op pool now (at::get_num_threads()).
int intraOpThreads();

class PackedLinear {
public:
    // Tokens from which Auto takes the prefill (sgemm) path.
    static constexpr int64_t kPrefillTokens = 8;

    PackedLinear() = default;
    // Throws ql::Error naming `layer` and the field for anything else than INT8 per-channel or
    // INT4 per-group at 32/64/128 (sym or asym), or a grid inconsistent with the codes.
    static PackedLinear fromCompact(const CompactWeights& w, const std::string& layer = "weight");

    int64_t outFeatures() const { return rows_; }
    int64_t inFeatures() const { return cols_; }
    int bits() const { return bits_; }
    int64_t groupSize() const { return group_; }
    bool symmetric() const { return !asymmetric_; }

    // Bytes of the weight as it is held, what one decode token reads: in Float mode the codes
    // (bits/8 per weight), float32 scales, uint8 zero points (asym); in Int8 mode the
    // interleaved copy instead (the same, rows padded to 16 and columns to 32); float32 AWQ
    // column divisors (when present) in both.
    uint64_t bytes() const;
    // Bytes of the Int8 mode's row-interleaved form (0 in Float mode).
    uint64_t a8Bytes() const;

    // Int8 converts the weight to the interleaved form and makes decode calls quantize x to
    // int8; Float (the default) converts it back. One form is held at a time (prefill and
    // decode() convert an Int8 layer's rows back panel by panel), and a round trip gives the
    // same codes. Not thread-safe against forward() on the same layer.
    void setActivationMode(ActivationMode mode);
    ActivationMode activationMode() const { return mode_; }

    // y[tokens, out] = x[tokens, in] · Wᵀ (rows contiguous; no bias). Thread-safe (const).
    void forward(const float* x, int64_t tokens, float* y,
                 ForwardMode mode = ForwardMode::Auto) const;

    // The dequantized weight [out, in], bit for bit CompactWeights::decode() (the values the
    // prefill path multiplies with).
    std::vector<float> decode() const;

    // One token through several layers that read the same input (a block's q/k/v, gate/up)
    // in one parallel region instead of one per layer: ys[i] = x · W_iᵀ, bit for bit what
    // layers[i]->forward(x, 1, ys[i]) gives (every row by the same code and the same 4-row
    // INT4 / 16-row tile passes). A region's start and finish cost 10-20 µs with passive
    // OpenMP waits, a 0.5B q/k/v read 20-30 µs (BENCHMARKS.md, "Decode step's fixed cost").
    // Throws ql::Error when the layers' inFeatures differ. packed_group.cpp.
    static void forwardGroup(const std::vector<const PackedLinear*>& layers, const float* x,
                             float* const* ys);
    static void forwardGroup(const PackedLinear* const* layers, size_t count, const float* x,
                             float* const* ys);

private:
    // packed_group.cpp: one layer's share of a group call and its prepared input.
    struct DecodePart;
    struct DecodeInput;
    void prepareInput(const float* x, DecodeInput& in) const;
    bool sharesInputWith(const PackedLinear& other) const;
    DecodePart decodePart(const DecodeInput& in, float* y) const;
    static void runPart(const DecodePart& p, int64_t u0, int64_t u1);
    // The row-major form's arrays: codes (codes_'s layout), scales and zero points per row
    // and group, for rows counted from the arrays' first.
    struct RowForm {
        std::vector<uint8_t> codes, zeros;
        std::vector<float> scales;
    };
    detail::PackedView rowView(const RowForm& f) const;
    void decodeForward(const float* x, int64_t tokens, float* y) const;
    void decodeForwardA8(const float* x, int64_t tokens, float* y) const;
    detail::A8View a8View() const;  // the interleaved form as the A8 kernels read it
    void buildA8();
    // Rows [r0, r1) of the interleaved form back in the row-major form.
    void rowFormFromA8(int64_t r0, int64_t r1, RowForm& out) const;
    void prefillForward(const float* x, int64_t tokens, float* y) const;
    void dequantRows(int64_t r0, int64_t r1, float* out) const;

    int64_t rows_ = 0, cols_ = 0, group_ = 0, groupsPerRow_ = 0, rowBytes_ = 0;
    int bits_ = 0;
    bool asymmetric_ = false;
    float symZero_ = 0.0f;  // zero point in code units when symmetric
    // Float mode: codes (INT8: one per weight; INT4: see packed_linear.cpp), scales
    // [rows * groupsPerRow], zero points [rows * groupsPerRow] (asym, code units). Empty in
    // Int8 mode.
    RowForm rowForm_;
    std::vector<float> divisors_;  // [cols] AWQ column divisors or empty
    // The split of this layer's one-token calls (and of the group calls it heads).
    mutable ShareBalance balance_;

    ActivationMode mode_ = ActivationMode::Float;
    // Int8 mode: the interleaved form (packed_kernels_a8.h); empty in Float mode.
    std::vector<uint8_t> a8codes_, a8zeros_;
    std::vector<float> a8scales_;
};

}  // namespace ql::infer
