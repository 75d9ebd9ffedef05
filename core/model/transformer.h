// core-private: the libtorch (ATen) decoder behind ql::Model. Uses ATen only (5 s per
// translation unit instead of 12 s for <torch/torch.h>). Include only from core/*.cpp,
// never from a public header (Qt's `slots` macro breaks torch headers).
#pragma once

#include "io/model_config.h"
#include "model/model.h"

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ql {

struct Linear {
    LinearLayerInfo info;
    at::Tensor weight;    // [out, in] float32, the one used by forward()
    at::Tensor original;  // [out, in] float32 as loaded (shares storage until replaced)
    at::Tensor bias;      // [out] or undefined
    // Computes this projection without `weight` (quantized inference from packed weights,
    // core/infer): y[tokens, out] = x[tokens, in] · Wᵀ, rows contiguous; the bias is added
    // by the caller. Used only where no gradient is needed; `weight` may then be released.
    // Empty (default): at::linear on `weight`.
    std::function<void(const float* x, int64_t tokens, float* y)> kernel;
};

// Called for every linear projection during forward(): input [.., in] and output [.., out]
// as computed. An observer may also replace the output (return a defined tensor) — used
// for quantized activations or straight-through estimators; return {} to keep it.
using LinearObserver = std::function<at::Tensor(const Linear& layer, const at::Tensor& input,
                                                const at::Tensor& output)>;

// Replaces a linear's input before the projection (activation quantization of the
// quantized model: methods/activation_quant.h). Returns the input the projection consumes;
// observers see that one. Must return `input` itself for layers it leaves alone.
using InputQuantizer = std::function<at::Tensor(const Linear& layer, const at::Tensor& input)>;

// The keys and values one decoder block has seen, for incremental decoding (model/decoder.h):
// keys after qk-norm and RoPE at their absolute positions, values; [B, KV, S, D] each.
// `start` is the absolute position of entry 0 (> 0 once a sliding window dropped entries).
struct BlockCache {
    // The keys and values, exactly (stored < 0), or the whole storage of which the first
    // `stored` positions are in use: read them through keys() and values().
    at::Tensor k, v;
    int64_t start = 0;
    // Storage [1, KV, capacity, D] that a one-token decode step (transformer_step.cpp) writes
    // its key and value into, in place, instead of concatenating the whole cache anew; k and
    // v are then this storage and `stored` its positions in use (a count, not a new view per
    // step: two ATen views per layer were ~3 µs of a 0.5B layer's ~250). Undefined until such
    // a step; a step of several tokens replaces k and v by new exact tensors (set()), and the
    // next one-token step copies them into new storage. Capacity grows by 256 positions.
    at::Tensor kStore, vStore;
    int64_t stored = -1;
    int64_t length() const { return stored >= 0 ? stored : k.defined() ? k.size(2) : 0; }
    int64_t nextPosition() const { return start + length(); }
    at::Tensor keys() const { return stored >= 0 ? k.narrow(2, 0, stored) : k; }
    at::Tensor values() const { return stored >= 0 ? v.narrow(2, 0, stored) : v; }
    void set(at::Tensor keys, at::Tensor values) {
        k = std::move(keys);
        v = std::move(values);
        stored = -1;
    }
};

// Where the weights live. Resident: every weight converted to float32 at construction
// (the whole-model path). Streamed: nothing is converted up front; loadBlock(b) converts
// one decoder block's weights (F32 checkpoints are used in place, no copy) and
// releaseBlock(b) drops them and the block's mapped pages; embed() converts only the rows
// it needs and headRows() a slice of the output head (the block-streamed run engine).
enum class Residency { Resident, Streamed };

class Transformer {
public:
    Transformer(const ModelConfig& config, const TensorStore& store);
    Transformer(const ModelConfig& config, std::shared_ptr<const TensorStore> store,
                Residency residency);

    const ModelConfig& config() const { return config_; }
    std::vector<Linear>& linears() { return linears_; }
    const std::vector<Linear>& linears() const { return linears_; }
    Linear& linear(const std::string& name);  // throws ql::Error if unknown

    // Full forward: ids [B, T] int64 -> logits [B, T, vocab] float32.
    at::Tensor forward(const at::Tensor& ids, const LinearObserver& observer = {}) const;

    // Step-wise forward, for layer-by-layer algorithms (GPTQ/AWQ sequential mode):
    at::Tensor embed(const at::Tensor& ids) const;  // [B, T, hidden]
    at::Tensor block(int index, const at::Tensor& hidden,
                     const LinearObserver& observer = {}) const;  // [B, T, hidden]
    at::Tensor head(const at::Tensor& hidden) const;              // final norm + lm_head
    // head() written into `out` (float32, contiguous, hidden's shape with vocab last): a
    // quantized head's kernel writes there directly (a decode step's logits, no copy).
    void headInto(const at::Tensor& hidden, at::Tensor& out) const;
    // Block `index` on `hidden` [B, T, hidden] whose tokens follow those in `cache`
    // (positions cache.nextPosition() ...): attends to the cached keys/values and its own,
    // then appends its own to `cache` (keeping only the last sliding-window entries when a
    // window is set). Same projections (applyLinear: observers, kernels, input quantizer).
    // A caller that moves `hidden` in, holding no other reference to it or its storage, lets
    // a one-token decode step update it in place instead of copying it; `hidden` is then the
    // tensor returned, and unspecified if the call throws.
    at::Tensor blockCached(int index, at::Tensor hidden, BlockCache& cache) const;

    // Streamed residency (no-ops when resident): one block's weights in and out.
    Residency residency() const;
    void loadBlock(int index);
    void releaseBlock(int index);
    bool blockLoaded(int index) const;
    // The final RMSNorm alone, and rows [begin, begin + count) of the output head as
    // float32 [count, hidden] (a view when resident or F32, else converted).
    at::Tensor finalNorm(const at::Tensor& hidden) const;
    at::Tensor headRows(int64_t begin, int64_t count) const;

    // A quantized output head (run/packed_install.h, installQuantizedHead): from now on
    // head() computes y[tokens, vocab] = normed x · Wᵀ through `kernel` (as Linear::kernel)
    // and the float32 head is dropped, except where it is the tied embedding: the input
    // lookups still read that table. Resident models only; headRows() then throws.
    using HeadKernel = std::function<void(const float* x, int64_t tokens, float* y)>;
    void setHeadKernel(HeadKernel kernel);
    bool hasHeadKernel() const { return bool(headKernel_); }
    bool headTiedToEmbedding() const;  // one table for the input lookups and the head

    // Norm weights preceding the projections, for AWQ scale folding:
    // input_layernorm (-> q,k,v), post_attention_layernorm (-> gate, up).
    at::Tensor& inputNorm(int block);
    at::Tensor& postAttentionNorm(int block);

    // Whether parameters require grad (for gradient capture). Off by default.
    // On: every linear weight becomes a leaf tensor requiring grad (also after
    // Model::setLinearWeight / restoreWeights), so loss.backward() fills weight.grad().
    void setRequiresGrad(bool on);
    bool requiresGrad() const;

    // Mistral sliding-window attention: a position attends to at most `window`
    // previous positions (itself included). 0 (default): full causal attention.
    void setSlidingWindow(int window);
    int slidingWindow() const;

    // Interruption of long passes (cancel within a fraction of a second on a 7B block):
    // `check` (which throws to interrupt, e.g. ql::Cancelled) runs before every linear
    // projection, and a projection of more than `flopsPerCheck` is computed in row chunks
    // with a check after each; under autograd each chunk's gradient runs a check first,
    // so the backward pass is interruptible too. Row chunks give the same outputs up to
    // float rounding (small chunks may take another GEMM kernel); a weight gradient
    // becomes a sum over chunks. Empty check (default): no checks, no chunks.
    void setInterruptCheck(std::function<void()> check, double flopsPerCheck = 2e10);

    // The input quantizer of every projection from now on; empty (default): inputs as they
    // are, at no cost. Part of the quantized model's state (ModelStates, BlockStates).
    void setInputQuantizer(InputQuantizer quantizer);
    const InputQuantizer& inputQuantizer() const { return inputQuantizer_; }

    // Projections of one block that read the same input, computed by one call (one parallel
    // region for packed kernels, infer::PackedLinear::forwardGroup): Qkv writes q, k, v into
    // ys[0..2], GateUp gate and up into ys[0..1], one token, no bias (the caller adds it).
    // Used by the one-token decode step only (blockCached on one token); set by
    // installPackedKernels where every member is packed. An empty kernel removes it.
    enum class ProjGroup { Qkv = 0, GateUp = 1 };
    using GroupKernel = std::function<void(const float* x, float* const* ys)>;
    void setGroupKernel(int block, ProjGroup group, GroupKernel kernel);
    bool hasGroupKernel(int block, ProjGroup group) const;

private:
    // implementation-defined members (embedding, norms, rope cache, ...)
    struct Weights;
    void checkShapes(const TensorStore& store);
    void setupLinears(const TensorStore& store, bool convert);
    at::Tensor blockImpl(int index, const at::Tensor& hidden, const LinearObserver& observer,
                         BlockCache* cache) const;
    // The one-token decode step of a block in plain loops over float buffers
    // (transformer_step.cpp): whether it applies, and the step.
    bool decodeStepApplies(int index, const at::Tensor& hidden, const BlockCache* cache,
                           const LinearObserver& observer) const;
    at::Tensor decodeStep(int index, at::Tensor hidden, BlockCache& cache) const;
    std::shared_ptr<Weights> w_;
    ModelConfig config_;
    std::vector<Linear> linears_;
    std::function<void()> interrupt_;
    double interruptFlops_ = 2e10;
    InputQuantizer inputQuantizer_;
    HeadKernel headKernel_;
};

// How blockCached computes a one-token step (a decode step). Loops (the default): RMSNorm,
// RoPE, attention over the cache, SiLU·up and the residual adds in plain loops over float
// buffers, keys and values written into the cache's storage in place, and the group kernels
// where set; LoopsUngrouped: the same, every projection by its own call; Aten: the ATen ops
// of the full forward (blockImpl). The loops add in another order than ATen: results equal
// within float rounding (tests/test_generate.cpp, KV-cache vs full forward). The environment
// variable QL_DECODE_STEP=aten|ungrouped sets the start value (for A/B measurements).
enum class DecodeStepPath { Loops, LoopsUngrouped, Aten };
void setDecodeStepPath(DecodeStepPath path);
DecodeStepPath decodeStepPath();

// Multiply-adds from which the loops step splits its attention (over heads) and SiLU·up
// (over elements) across the decode team (base/spin_team.h); default 2^15 (a region costs
// ~1 µs). Tests set 0 to split every stage; each head and element is computed by the same
// code wherever it runs.
void setDecodeStageParallelWork(int64_t multiplyAdds);

// Makes `rowMajor` [out, in] the weight of linear `name` (a copy; requires grad when the
// model does). Throws ql::Error for an unknown name or a wrong size.
void setLinearWeight(Transformer& net, const std::string& name, const std::vector<float>& rowMajor);
// The same, taking over `rowMajor`'s memory (no copy).
void setLinearWeight(Transformer& net, const std::string& name, std::vector<float>&& rowMajor);

}  // namespace ql
