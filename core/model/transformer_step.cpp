// The one-token decode step of a decoder block in plain loops (Transformer::blockCached on one
// token): at 0.5B a step's ~170 small ATen ops on 1-token tensors (norms, RoPE, attention,
// SiLU·up, residual adds, KV concatenation) took ~4 ms of a 22 ms step, each op 1-50 µs of
// dispatch and allocation for a few thousand floats (BENCHMARKS.md, "Decode step's fixed
// cost"). Same math as blockImpl per element; sums (RMSNorm's mean, attention's dot
// products, softmax) add in another order than ATen's kernels, and on AVX-512 CPUs the
// loops that read no weights take 16-lane versions with their own exp (model/step_kernels.h).
#include "base/error.h"
#include "base/spin_team.h"
#include "model/stage_profile.h"
#include "model/step_kernels.h"
#include "model/transformer.h"
#include "model/transformer_weights.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace ql {

namespace {

DecodeStepPath pathFromEnvironment() {
    const char* v = std::getenv("QL_DECODE_STEP");
    if (v && std::string(v) == "aten") return DecodeStepPath::Aten;
    if (v && std::string(v) == "ungrouped") return DecodeStepPath::LoopsUngrouped;
    return DecodeStepPath::Loops;
}

std::atomic<int> gPath{int(pathFromEnvironment())};

// Positions the KV storage grows by: a copy of the cache every 256 steps instead of each.
constexpr int64_t kCacheGrowth = 256;

// Multiply-adds below which a stage of the step runs on the calling thread alone: a region
// costs ~1 µs (bench_decode_overhead), a thread does a few thousand multiply-adds in that.
std::atomic<int64_t> gParallelWork{int64_t(1) << 15};

// Threads for `work` multiply-adds of a step's stage over `units` independent parts.
int64_t stageThreads(int64_t work, int64_t units) {
    if (work < gParallelWork.load(std::memory_order_relaxed)) return 1;
    return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), units));
}

// silu(gate) * up in place of gate, split over the decode team when it is worth it (each
// element by the same code wherever it runs; an expf costs about 16 multiply-adds, one lane
// of the 16-lane exp about one).
void siluTimesUp(float* gate, const float* up, int64_t n) {
    const int64_t threads = stageThreads((step::wideStepKernels() ? 1 : 16) * n, n);
    runOnTeam(threads, int(threads), decodeSpinMicros(), [&](int64_t t) {
        step::siluTimesUp(gate, up, n * t / threads, n * (t + 1) / threads);
    });
}

// Makes the cache's storage hold its keys and values ([1, KV, S, D]) in its first S positions
// with room for one more (a copy into new storage when it does not already).
void ensureStore(BlockCache& cache, int64_t KV, int64_t D) {
    const int64_t S = cache.length();
    if (cache.stored >= 0 && S < cache.kStore.size(2)) return;
    const int64_t capacity = (S + kCacheGrowth) / kCacheGrowth * kCacheGrowth;
    at::Tensor keys = at::empty({1, KV, capacity, D}, at::kFloat);
    at::Tensor values = at::empty({1, KV, capacity, D}, at::kFloat);
    if (S > 0) {
        keys.narrow(2, 0, S).copy_(cache.keys());
        values.narrow(2, 0, S).copy_(cache.values());
    }
    cache.kStore = cache.k = keys;
    cache.vStore = cache.v = values;
    cache.stored = S;
}

}  // namespace

void setDecodeStepPath(DecodeStepPath path) {
    gPath.store(int(path));
}
DecodeStepPath decodeStepPath() {
    return DecodeStepPath(gPath.load());
}

void setDecodeStageParallelWork(int64_t multiplyAdds) {
    gParallelWork.store(std::max<int64_t>(0, multiplyAdds));
}

void Transformer::setGroupKernel(int block, ProjGroup group, GroupKernel kernel) {
    if (block < 0 || block >= config_.numLayers)
        throw Error("block index " + std::to_string(block) + " out of range");
    w_->groupKernels.resize(size_t(config_.numLayers) * 2);
    w_->groupKernels[size_t(block) * 2 + size_t(group)] = std::move(kernel);
}

bool Transformer::hasGroupKernel(int block, ProjGroup group) const {
    const size_t i = size_t(block) * 2 + size_t(group);
    return i < w_->groupKernels.size() && bool(w_->groupKernels[i]);
}

bool Transformer::decodeStepApplies(int index, const at::Tensor& hidden, const BlockCache* cache,
                                    const LinearObserver& observer) const {
    if (!cache || observer || inputQuantizer_ || decodeStepPath() == DecodeStepPath::Aten)
        return false;
    if (index < 0 || index >= config_.numLayers || !blockLoaded(index)) return false;
    if (hidden.dim() != 3 || hidden.size(0) != 1 || hidden.size(1) != 1 ||
        hidden.scalar_type() != at::kFloat)
        return false;
    if (at::GradMode::is_enabled() && (w_->requiresGrad || hidden.requires_grad())) return false;
    // A window that drops a key this step: the ATen path narrows the cache.
    if (w_->slidingWindow > 0 && cache->length() + 1 > w_->slidingWindow) return false;
    if (cache->length() > 0 && (cache->k.size(0) != 1 || cache->k.scalar_type() != at::kFloat ||
                                cache->v.scalar_type() != at::kFloat))
        return false;
    for (int k = 0; k < kProjPerBlock; ++k) {
        const Linear& l = linears_[size_t(index) * kProjPerBlock + size_t(k)];
        if (!l.kernel && !(l.weight.defined() && l.weight.scalar_type() == at::kFloat))
            return false;
        if (l.bias.defined() && l.bias.scalar_type() != at::kFloat) return false;
    }
    return true;
}

at::Tensor Transformer::decodeStep(int index, at::Tensor hidden, BlockCache& cache) const {
    const ModelConfig& c = config_;
    const int64_t hs = c.hiddenSize, D = c.headDim, H = c.numHeads, KV = c.numKvHeads;
    const int64_t rep = H / KV, qOut = H * D, kvOut = KV * D, inter = c.intermediateSize;
    const Linear* l = &linears_[size_t(index) * kProjPerBlock];
    const bool grouped = decodeStepPath() == DecodeStepPath::Loops;

    StageClock clock;
    // The residual stream, updated in place: `hidden` itself when nothing else refers to it
    // or its storage (a caller that moved it in), else a copy (an ATen clone, ~3.5 µs of a
    // 0.5B block's ~300).
    const bool sole = hidden.is_contiguous() && hidden.storage_offset() == 0 &&
                      hidden.use_count() == 1 && hidden.storage().use_count() == 1;
    at::Tensor out = sole ? std::move(hidden) : hidden.contiguous().clone();
    float* h = out.data_ptr<float>();
    thread_local std::vector<float> xn, qkv, attn, proj, gu, scores;
    xn.resize(size_t(hs));
    qkv.resize(size_t(qOut + 2 * kvOut));
    attn.resize(size_t(qOut));
    proj.resize(size_t(hs));
    gu.resize(size_t(2 * inter));

    // One projection: its kernel, or the float32 weight by sgemv; then its bias.
    const auto project = [&](int k, const float* x, float* y) {
        const Linear& lin = l[k];
        if (interrupt_) interrupt_();
        if (lin.kernel) {
            lin.kernel(x, 1, y);
        } else {
            const auto f32 = at::TensorOptions().dtype(at::kFloat);
            at::Tensor yt = at::from_blob(y, {lin.info.outFeatures}, f32);
            at::mv_out(yt, lin.weight,
                       at::from_blob(const_cast<float*>(x), {lin.info.inFeatures}, f32));
        }
        if (lin.bias.defined()) {
            const at::Tensor b = lin.bias.contiguous();
            const float* bp = b.data_ptr<float>();
            for (int64_t i = 0; i < lin.info.outFeatures; ++i) y[i] += bp[i];
        }
    };
    // Projections first..first+n-1 on one input: one group call where set, else one each.
    const auto projectGroup = [&](ProjGroup group, int first, int n, const float* x,
                                  float* const* ys) {
        const size_t g = size_t(index) * 2 + size_t(group);
        if (!grouped || g >= w_->groupKernels.size() || !w_->groupKernels[g]) {
            for (int i = 0; i < n; ++i) project(first + i, x, ys[i]);
            return;
        }
        if (interrupt_) interrupt_();
        w_->groupKernels[g](x, ys);
        for (int i = 0; i < n; ++i)
            if (l[first + i].bias.defined()) {
                const at::Tensor b = l[first + i].bias.contiguous();
                const float* bp = b.data_ptr<float>();
                for (int64_t r = 0; r < l[first + i].info.outFeatures; ++r) ys[i][r] += bp[r];
            }
    };

    // Attention.
    const at::Tensor inNorm = w_->inputNorm[size_t(index)].contiguous();
    step::rmsNorm(h, inNorm.data_ptr<float>(), hs, c.rmsNormEps, xn.data());
    clock.mark(Stage::Norm);
    float* q = qkv.data();
    float* k = q + qOut;
    float* v = k + kvOut;
    float* const qkvOut[3] = {q, k, v};
    projectGroup(ProjGroup::Qkv, 0, 3, xn.data(), qkvOut);
    clock.mark(Stage::QkvProj);
    if (c.qkNorm) {
        const at::Tensor qNorm = w_->qNorm[size_t(index)].contiguous();
        const at::Tensor kNorm = w_->kNorm[size_t(index)].contiguous();
        const float* qw = qNorm.data_ptr<float>();
        const float* kw = kNorm.data_ptr<float>();
        for (int64_t i = 0; i < H; ++i) step::rmsNorm(q + i * D, qw, D, c.rmsNormEps, q + i * D);
        for (int64_t i = 0; i < KV; ++i) step::rmsNorm(k + i * D, kw, D, c.rmsNormEps, k + i * D);
    }
    const int64_t S = cache.length(), position = cache.nextPosition();
    const RopeRow rope = ropeRow(w_->invFreq, position);
    const float* cosT = rope.cos;
    const float* sinT = rope.sin;
    for (int64_t i = 0; i < H; ++i) step::rope(q + i * D, cosT, sinT, D);
    for (int64_t i = 0; i < KV; ++i) step::rope(k + i * D, cosT, sinT, D);
    clock.mark(Stage::Rope);

    // The new key and value into the cache's storage, then one query over S + 1 keys.
    ensureStore(cache, KV, D);
    const int64_t capacity = cache.kStore.size(2);
    float* keys = cache.kStore.data_ptr<float>();
    float* values = cache.vStore.data_ptr<float>();
    for (int64_t g = 0; g < KV; ++g) {
        std::memcpy(keys + (g * capacity + S) * D, k + g * D, size_t(D) * sizeof(float));
        std::memcpy(values + (g * capacity + S) * D, v + g * D, size_t(D) * sizeof(float));
    }
    cache.stored = S + 1;
    const int64_t n = S + 1;
    // Heads split over the decode team (each head's sums in the same order wherever it runs).
    const int64_t threads = stageThreads(2 * H * n * D, H);
    scores.resize(size_t(H * n));
    // Pointers, not the thread_local vectors: a worker naming `scores` would get its own.
    float* const scratch = scores.data();
    float* const heads = attn.data();
    step::AttentionArgs args;
    args.q = q, args.keys = keys, args.values = values;
    args.capacity = capacity, args.rep = rep, args.D = D, args.n = n;
    runOnTeam(threads, int(threads), decodeSpinMicros(), [&](int64_t t) {
        const int64_t h0 = H * t / threads;
        step::attend(args, h0, H * (t + 1) / threads, scratch + h0 * n, heads);
    });
    clock.mark(Stage::Attention);
    project(3, attn.data(), proj.data());
    for (int64_t i = 0; i < hs; ++i) h[i] = h[i] + proj[size_t(i)];
    clock.mark(Stage::OProj);

    // MLP.
    const at::Tensor postNorm = w_->postNorm[size_t(index)].contiguous();
    step::rmsNorm(h, postNorm.data_ptr<float>(), hs, c.rmsNormEps, xn.data());
    clock.mark(Stage::Norm);
    float* gate = gu.data();
    float* up = gate + inter;
    float* const guOut[2] = {gate, up};
    projectGroup(ProjGroup::GateUp, 4, 2, xn.data(), guOut);
    clock.mark(Stage::MlpProj);
    siluTimesUp(gate, up, inter);
    clock.mark(Stage::MlpAct);
    project(6, gate, proj.data());
    for (int64_t i = 0; i < hs; ++i) h[i] = h[i] + proj[size_t(i)];
    clock.mark(Stage::MlpProj);
    return out;
}

}  // namespace ql
