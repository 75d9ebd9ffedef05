// PackedLinear: layout conversion from CompactWeights, dispatch, decode and prefill paths
// (the Int8 activation mode: packed_linear_a8.cpp).
#include "infer/packed_linear.h"

#include "base/error.h"
#include "base/spin_team.h"
#include "infer/packed_kernels.h"
#include "infer/x86_target.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>

namespace ql::infer {

namespace {

std::atomic<int> gMaxIsa{int(Isa::Avx512)};

// Weights per thread chunk below which a projection is not split over threads (a thread
// start costs about as much as reading this many packed weights).
constexpr int64_t kWeightsPerChunk = int64_t(1) << 16;
// Most float32 bytes of one dequantized panel in the prefill path. Each sgemm call re-packs
// the activations (tokens x cols), so few large panels beat many cache-sized ones: at 2 MiB
// a 1536 x 8960 layer took 32 calls of 48 rows; at 16 MiB it takes 4 calls of 384 rows and a
// 0.5B layer 2 calls. The panel is scratch of the calling thread (freed with the thread).
constexpr int64_t kPanelBytes = int64_t(16) << 20;

struct Kernels {
    detail::GemvFn gemv;
    detail::DequantFn dequant;
};

Kernels kernels() {
    switch (activeIsa()) {
        case Isa::Avx512:
            return {detail::gemvAvx512, detail::dequantAvx512};
        case Isa::Avx2:
            return {detail::gemvAvx2, detail::dequantAvx2};
        default:
            return {detail::gemvBaseline, detail::dequantBaseline};
    }
}

[[noreturn]] void fail(const std::string& layer, const std::string& field, const std::string& why) {
    throw Error(layer + ": field '" + field + "' " + why);
}

// Grid shapes the kernels take; anything else is refused with the field that differs.
void checkSupported(const CompactWeights& w, const std::string& layer) {
    const QuantGrid& g = w.grid;
    const std::string formats =
        " (packed kernels take INT8 per-channel or INT4 per-group 32/64/128)";
    if (g.bits != 8 && g.bits != 4) fail(layer, "bits", "is " + std::to_string(g.bits) + formats);
    if (g.rows < 1 || g.cols < 1)
        fail(
            layer, "rows",
            "is " + std::to_string(g.rows) + " x " + std::to_string(g.cols) + " (an empty matrix)");
    if (g.perTensor) fail(layer, "granularity", "is per-tensor" + formats);
    if (g.bits == 8 && g.groupSize != g.cols)
        fail(layer, "group_size", "is " + std::to_string(g.groupSize) + " for INT8" + formats);
    if (g.bits == 4 && g.groupSize != 32 && g.groupSize != 64 && g.groupSize != 128)
        fail(layer, "group_size", "is " + std::to_string(g.groupSize) + " for INT4" + formats);
    if (g.cols % g.groupSize != 0)
        fail(layer, "group_size",
             std::to_string(g.groupSize) + " does not divide the " + std::to_string(g.cols) +
                 " input columns");
    const uint64_t groups = uint64_t(g.rows) * uint64_t(g.groupsPerRow());
    const uint64_t weights = uint64_t(g.rows) * uint64_t(g.cols);
    if (g.scales.size() != groups)
        fail(layer, "scales",
             "has " + std::to_string(g.scales.size()) + " values, expected " +
                 std::to_string(groups));
    if (g.zeros.size() != (g.symmetric ? 0 : groups))
        fail(layer, "zeros",
             "has " + std::to_string(g.zeros.size()) + " values, expected " +
                 std::to_string(g.symmetric ? 0 : groups));
    for (float z : g.zeros)
        if (!(z >= 0.0f && z <= float(g.qmax())) || z != std::nearbyint(z))
            fail(layer, "zeros",
                 "holds a zero point off the " + std::to_string(g.bits) + "-bit grid");
    if (w.codes.size() != (g.bits == 4 ? weights / 2 : weights))
        fail(layer, "codes",
             "has " + std::to_string(w.codes.size()) + " bytes, expected " +
                 std::to_string(g.bits == 4 ? weights / 2 : weights));
    if (!w.columnDivisor.empty() && w.columnDivisor.size() != uint64_t(g.cols))
        fail(layer, "divisors",
             "has " + std::to_string(w.columnDivisor.size()) + " values, expected " +
                 std::to_string(g.cols));
}

// ql::pack's nibbles (flat index i: byte i/2, low nibble first) -> 32-weight blocks whose
// byte i holds weights i (low) and i + 16 (high).
std::vector<uint8_t> int4Blocks(const std::vector<uint8_t>& packed, int64_t rows, int64_t cols) {
    std::vector<uint8_t> out(packed.size());
    auto nibble = [&](uint64_t i) { return uint8_t((packed[i / 2] >> ((i & 1) * 4)) & 0xf); };
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t b = 0; b < cols / 32; ++b) {
            const uint64_t first = uint64_t(r * cols + b * 32);
            uint8_t* o = out.data() + first / 2;
            for (int i = 0; i < 16; ++i)
                o[i] = uint8_t(nibble(first + i) | (nibble(first + i + 16) << 4));
        }
    return out;
}

}  // namespace

Isa cpuIsa() {
#if QL_INFER_X86
    static const Isa cpu =
        __builtin_cpu_supports("avx512f")
            ? Isa::Avx512
            : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? Isa::Avx2
                                                                               : Isa::Baseline);
    return cpu;
#else
    return Isa::Baseline;
#endif
}
Isa activeIsa() {
    return Isa(std::min(int(cpuIsa()), gMaxIsa.load(std::memory_order_relaxed)));
}
void setMaxInferIsa(Isa cap) {
    gMaxIsa.store(int(cap));
}
A8Isa activeA8Isa() {
#if QL_INFER_X86
    static const bool vnni512 = __builtin_cpu_supports("avx512vnni") &&
                                __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512f");
    static const bool vnni256 = __builtin_cpu_supports("avxvnni") && __builtin_cpu_supports("avx2");
    const Isa isa = activeIsa();
    if (isa == Isa::Avx512 && vnni512) return A8Isa::Avx512Vnni;
    if (int(isa) >= int(Isa::Avx2) && vnni256) return A8Isa::AvxVnni;
#endif
    return A8Isa::Scalar;
}
const char* a8IsaName(A8Isa isa) {
    switch (isa) {
        case A8Isa::Avx512Vnni:
            return "avx512-vnni";
        case A8Isa::AvxVnni:
            return "avx-vnni";
        default:
            return "scalar";
    }
}
const char* isaName(Isa isa) {
    switch (isa) {
        case Isa::Avx512:
            return "avx512";
        case Isa::Avx2:
            return "avx2";
        default:
            return "baseline";
    }
}

std::vector<RowRange> decodeRowRanges(int64_t rows, int64_t cols, int threads) {
    std::vector<RowRange> out;
    if (rows <= 0) return out;
    const int64_t byWeights =
        std::max<int64_t>(1, rows * std::max<int64_t>(cols, 1) / kWeightsPerChunk);
    const int64_t byRows = (rows + 3) / 4;
    const int64_t n = std::min({int64_t(std::max(1, threads)), byWeights, byRows});
    const int64_t step = ((rows + n - 1) / n + 3) / 4 * 4;
    for (int64_t b = 0; b < rows; b += step) out.push_back({b, std::min(rows, b + step)});
    return out;
}

int runOnThreads(int64_t tasks, const std::function<void(int64_t)>& fn, WorkerWait wait) {
    const int spin = wait == WorkerWait::Spin ? decodeSpinMicros() : 0;
    return runOnTeam(tasks, intraOpThreads(), spin, fn);
}

int intraOpThreads() {
    return at::get_num_threads();
}

PackedLinear PackedLinear::fromCompact(const CompactWeights& w, const std::string& layer) {
    checkSupported(w, layer);
    const QuantGrid& g = w.grid;
    PackedLinear p;
    p.rows_ = g.rows, p.cols_ = g.cols, p.bits_ = g.bits, p.group_ = g.groupSize;
    p.groupsPerRow_ = g.groupsPerRow();
    p.rowBytes_ = g.bits == 4 ? g.cols / 2 : g.cols;
    p.rowForm_.codes = g.bits == 4 ? int4Blocks(w.codes, g.rows, g.cols) : w.codes;
    p.rowForm_.scales = g.scales;
    p.asymmetric_ = !g.symmetric;
    // u - zero must equal q - zero_grid: INT4 codes are stored as u = q - qmin.
    p.symZero_ = g.bits == 4 ? float(-g.qmin()) : 0.0f;
    if (!g.symmetric) {
        p.rowForm_.zeros.resize(g.zeros.size());
        for (size_t i = 0; i < g.zeros.size(); ++i) p.rowForm_.zeros[i] = uint8_t(g.zeros[i]);
    }
    p.divisors_ = w.columnDivisor;
    return p;
}

uint64_t PackedLinear::bytes() const {
    return rowForm_.codes.size() + rowForm_.scales.size() * sizeof(float) + rowForm_.zeros.size() +
           a8Bytes() + divisors_.size() * sizeof(float);
}

detail::PackedView PackedLinear::rowView(const RowForm& f) const {
    return {f.codes.data(),
            f.scales.data(),
            asymmetric_ ? f.zeros.data() : nullptr,
            symZero_,
            cols_,
            group_,
            groupsPerRow_,
            rowBytes_,
            bits_,
            bits_ == 8 && !asymmetric_};
}

void PackedLinear::forward(const float* x, int64_t tokens, float* y, ForwardMode mode) const {
    if (tokens <= 0 || rows_ == 0) return;
    const bool prefill =
        mode == ForwardMode::Prefill || (mode == ForwardMode::Auto && tokens >= kPrefillTokens);
    if (prefill) {
        prefillForward(x, tokens, y);
    } else if (tokens == 1) {
        const PackedLinear* self = this;
        forwardGroup(&self, 1, x, &y);  // the same rows, split as learned (share_balance.h)
    } else if (mode_ == ActivationMode::Int8)
        decodeForwardA8(x, tokens, y);
    else
        decodeForward(x, tokens, y);
}

void PackedLinear::decodeForward(const float* x, int64_t tokens, float* y) const {
    const detail::PackedView view = rowView(rowForm_);
    const detail::GemvFn gemv = detail::activeGemv();
    // AWQ: x_j * (v_j / d_j) is computed as (x_j / d_j) * v_j.
    thread_local std::vector<float> scaled, sums;
    if (!divisors_.empty()) {
        scaled.resize(size_t(tokens * cols_));
        for (int64_t t = 0; t < tokens; ++t)
            for (int64_t j = 0; j < cols_; ++j)
                scaled[size_t(t * cols_ + j)] = x[t * cols_ + j] / divisors_[size_t(j)];
        x = scaled.data();
    }
    sums.assign(size_t(tokens * groupsPerRow_), 0.0f);
    for (int64_t t = 0; t < tokens; ++t)
        for (int64_t g = 0; g < groupsPerRow_; ++g) {
            const float* p = x + t * cols_ + g * group_;
            float s = 0.0f;
            for (int64_t j = 0; j < group_; ++j) s += p[j];
            sums[size_t(t * groupsPerRow_ + g)] = s;
        }
    const std::vector<RowRange> ranges = decodeRowRanges(rows_, cols_, intraOpThreads());
    for (int64_t t0 = 0; t0 < tokens; t0 += detail::kTokenBlock) {
        const int block = int(std::min<int64_t>(detail::kTokenBlock, tokens - t0));
        const float* xb = x + t0 * cols_;
        const float* sb = sums.data() + t0 * groupsPerRow_;
        float* yb = y + t0 * rows_;
        runOnThreads(int64_t(ranges.size()), [&](int64_t i) {
            gemv(view, xb, sb, block, ranges[size_t(i)].begin, ranges[size_t(i)].end, yb, rows_);
        });
    }
}

void PackedLinear::dequantRows(int64_t r0, int64_t r1, float* out) const {
    const detail::DequantFn dequant = kernels().dequant;
    const float* divisor = divisors_.empty() ? nullptr : divisors_.data();
    const std::vector<RowRange> ranges = decodeRowRanges(r1 - r0, cols_, intraOpThreads());
    const auto share = [&](int64_t i) {
        const RowRange& p = ranges[size_t(i)];
        float* o = out + p.begin * cols_;
        if (mode_ == ActivationMode::Float) {
            dequant(rowView(rowForm_), r0 + p.begin, r0 + p.end, divisor, o);
            return;
        }
        // Int8 mode holds only the interleaved form: this thread's rows back first.
        thread_local RowForm rows;
        rowFormFromA8(r0 + p.begin, r0 + p.end, rows);
        dequant(rowView(rows), 0, p.end - p.begin, divisor, o);
    };
    runOnThreads(int64_t(ranges.size()), share, WorkerWait::Sleep);
}

void PackedLinear::prefillForward(const float* x, int64_t tokens, float* y) const {
    // Equal panels (a multiple of 16 rows) rather than full ones and a small remainder.
    const int64_t layerBytes = rows_ * cols_ * int64_t(sizeof(float));
    const int64_t panels = (layerBytes + kPanelBytes - 1) / kPanelBytes;
    const int64_t panelRows = std::min(rows_, ((rows_ + panels - 1) / panels + 15) / 16 * 16);
    thread_local std::vector<float> panel;
    panel.resize(size_t(panelRows * cols_));
    const auto f32 = at::TensorOptions().dtype(at::kFloat);
    const at::Tensor xs = at::from_blob(const_cast<float*>(x), {tokens, cols_}, f32);
    at::Tensor ys = at::from_blob(y, {tokens, rows_}, f32);
    for (int64_t r0 = 0; r0 < rows_; r0 += panelRows) {
        const int64_t n = std::min(panelRows, rows_ - r0);
        dequantRows(r0, r0 + n, panel.data());
        const at::Tensor w = at::from_blob(panel.data(), {n, cols_}, f32);
        at::Tensor out = ys.narrow(1, r0, n);
        at::mm_out(out, xs, w.t());
    }
}

std::vector<float> PackedLinear::decode() const {
    std::vector<float> out(size_t(rows_ * cols_));
    dequantRows(0, rows_, out.data());
    return out;
}

namespace detail {
GemvFn activeGemv() {
    return kernels().gemv;
}
}  // namespace detail

}  // namespace ql::infer
