// The decoder forward pass (Llama / Mistral / Qwen2 / Qwen3) in float32 ATen ops,
// following the Hugging Face modeling code: RMSNorm in float32, rotate_half RoPE,
// grouped-query attention, SiLU-gated MLP. Every projection goes through
// applyLinear() so that observers see (and may replace) its output.
#include "model/transformer.h"

#include "base/error.h"
#include "io/dtype.h"
#include "model/stage_profile.h"
#include "model/transformer_weights.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>

namespace ql {

namespace {

std::string shapeText(at::IntArrayRef shape) {
    std::ostringstream s;
    s << "[";
    for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    s << "]";
    return s.str();
}

std::string checkpointName(const TensorStore& store) {
    const auto files = store.files();
    return files.empty() ? std::string("checkpoint") : files.front();
}

// Checks that a tensor exists with the expected shape; errors name tensor and shapes.
const TensorInfo& checkTensor(const TensorStore& store, const std::string& name,
                              const std::vector<int64_t>& expected) {
    const TensorInfo* info = store.find(name);
    if (!info)
        throw Error("tensor '" + name + "' is missing from " + checkpointName(store) +
                    " (expected shape " + shapeText(expected) + ")");
    if (info->shape != expected)
        throw Error("tensor '" + name + "' has shape " + shapeText(info->shape) +
                    " but the config expects " + shapeText(expected));
    return *info;
}

// Elements [begin, begin + n) of a tensor as float32 into dst: read with pread in 8 MiB
// pieces into a buffer of this thread and converted, never through the mapping (on this
// project's VMs a faulted-in mapped page costs 3-4x the CPU time of reading its bytes).
void readAsFloat(const TensorStore& store, const TensorInfo& info, int64_t begin, int64_t n,
                 float* dst) {
    const size_t element = dtypeSize(info.dtype);
    if (info.dtype == DType::F32) {
        store.readBytes(info, uint64_t(begin) * 4, uint64_t(n) * 4, dst);
        return;
    }
    constexpr int64_t kPiece = (int64_t(8) << 20) / 2;  // elements: 8 MiB of bf16/f16
    thread_local std::vector<unsigned char> raw;
    raw.resize(size_t(std::min(n, kPiece)) * element);
    for (int64_t i = 0; i < n; i += kPiece) {
        const int64_t m = std::min(kPiece, n - i);
        store.readBytes(info, uint64_t(begin + i) * element, uint64_t(m) * element, raw.data());
        convertToFloat(info.dtype, raw.data(), size_t(m), dst + i);
    }
}

// Reads a tensor as float32 (a converted copy).
at::Tensor loadTensor(const TensorStore& store, const std::string& name,
                      const std::vector<int64_t>& expected) {
    const TensorInfo* info = &checkTensor(store, name, expected);
    at::Tensor t = at::empty(expected, at::kFloat);
    readAsFloat(store, *info, 0, info->numel(), t.data_ptr<float>());
    return t;
}

// x * rsqrt(mean(x^2) + eps) * weight, in float32 (HF LlamaRMSNorm).
at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
    const at::Tensor variance = x.pow(2).mean(-1, /*keepdim=*/true);
    return weight * (x * at::rsqrt(variance + eps));
}

at::Tensor rotateHalf(const at::Tensor& x) {
    const int64_t half = x.size(-1) / 2;
    const at::Tensor x1 = x.narrow(-1, 0, half);
    const at::Tensor x2 = x.narrow(-1, half, half);
    return at::cat({-x2, x1}, -1);
}

// Boolean [T, T] mask, true where attention is NOT allowed (future positions, and
// positions further back than the sliding window when one applies).
at::Tensor blockedMask(int64_t T, int window) {
    at::Tensor mask = at::ones({T, T}, at::kBool).triu(1);
    if (window > 0 && T > window) mask = mask.logical_or(at::ones({T, T}, at::kBool).tril(-window));
    return mask;
}

// Causal attention of q [B, H, T, D] over k, v [B, KV, T, D] -> [B, H, T, D].
// GQA without copying k/v: the `rep` query heads sharing a kv head are stacked along
// the row axis (head h = kv * rep + r, as HF's repeat_kv). Long sequences are done one
// batch row at a time so that the [KV, rep*T, T] scores stay bounded.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& blocked) {
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
    const int64_t KV = k.size(1), rep = H / KV;
    constexpr int64_t kMaxScores = int64_t(1) << 26;  // 256 MB of float scores
    if (B > 1 && B * H * T * T > kMaxScores) {
        std::vector<at::Tensor> rows;
        for (int64_t b = 0; b < B; ++b)
            rows.push_back(
                attention(q.narrow(0, b, 1), k.narrow(0, b, 1), v.narrow(0, b, 1), blocked));
        return at::cat(rows, 0);
    }
    const at::Tensor qs = q.reshape({B, KV, rep * T, D});
    at::Tensor scores = at::matmul(qs, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(D)));
    if (blocked.defined())  // undefined: every key visible (one cached token, no window)
        scores.masked_fill_(blocked.repeat({rep, 1}), -std::numeric_limits<float>::infinity());
    return at::matmul(at::softmax(scores, -1), v).view({B, H, T, D});
}

// x @ W^T + b in row chunks of at most `flopsPerCheck`, calling `check` before the
// projection, after each chunk and (under autograd) before each chunk's gradient.
at::Tensor interruptibleLinear(const Linear& layer, const at::Tensor& x,
                               const std::function<void()>& check, double flopsPerCheck) {
    check();
    const int64_t cols = x.size(-1), rows = x.numel() / std::max<int64_t>(cols, 1);
    const double flopsPerRow = 2.0 * double(layer.info.inFeatures) * double(layer.info.outFeatures);
    const int64_t perChunk = std::max<int64_t>(1, int64_t(flopsPerCheck / flopsPerRow));
    const auto guard = [check](at::Tensor& t) {
        if (t.requires_grad()) t.register_hook([check](const at::Tensor&) { check(); });
    };
    if (rows <= perChunk) {
        at::Tensor out = at::linear(x, layer.weight, layer.bias);
        guard(out);
        return out;
    }
    const at::Tensor flat = x.reshape({rows, cols});
    std::vector<at::Tensor> parts;
    for (int64_t r = 0; r < rows; r += perChunk) {
        parts.push_back(
            at::linear(flat.narrow(0, r, std::min(perChunk, rows - r)), layer.weight, layer.bias));
        guard(parts.back());
        check();
    }
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = layer.info.outFeatures;
    return at::cat(parts, 0).view(shape);
}

// The projection through the layer's own kernel (packed weights): no autograd, one call.
at::Tensor kernelLinear(const Linear& layer, const at::Tensor& input,
                        const std::function<void()>& check) {
    if (check) check();
    if (input.requires_grad())
        throw Error("internal: " + layer.info.name + " has a packed kernel but needs a gradient");
    const at::Tensor x = input.to(at::kFloat).contiguous();
    const int64_t tokens = x.numel() / std::max<int64_t>(layer.info.inFeatures, 1);
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = layer.info.outFeatures;
    at::Tensor out = at::empty(shape, x.options());
    layer.kernel(x.data_ptr<float>(), tokens, out.data_ptr<float>());
    if (layer.bias.defined()) out.add_(layer.bias);
    return out;
}

// One token without autograd (a decode step): W x through at::mv (sgemv, every thread at the
// read bandwidth). at::linear runs it as a 1-row GEMM (at::mm), 2-4x slower here for the
// same weight bytes.
bool singleTokenGemv(const at::Tensor& x, const at::Tensor& weight) {
    return weight.defined() && x.numel() == weight.size(1) &&
           x.scalar_type() == weight.scalar_type() &&
           !(at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad()));
}

at::Tensor gemv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
    const at::Tensor v = x.reshape({-1});
    const at::Tensor y = bias.defined() ? at::addmv(bias, weight, v) : at::mv(weight, v);
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = weight.size(0);
    return y.view(shape);
}

at::Tensor applyLinear(const Linear& layer, const at::Tensor& input, const LinearObserver& observer,
                       const std::function<void()>& check, double flopsPerCheck,
                       const InputQuantizer& quantizer) {
    const at::Tensor x = quantizer ? quantizer(layer, input) : input;
    const bool oneToken = !layer.kernel && singleTokenGemv(x, layer.weight);
    if (oneToken && check) check();
    at::Tensor out = layer.kernel ? kernelLinear(layer, x, check)
                     : oneToken   ? gemv(x, layer.weight, layer.bias)
                     : check      ? interruptibleLinear(layer, x, check, flopsPerCheck)
                                  : at::linear(x, layer.weight, layer.bias);
    if (observer) {
        at::Tensor replaced = observer(layer, x, out);
        if (replaced.defined()) out = replaced;
    }
    return out;
}

}  // namespace

std::string projKindName(ProjKind k) {
    switch (k) {
        case ProjKind::Q:
            return "q_proj";
        case ProjKind::K:
            return "k_proj";
        case ProjKind::V:
            return "v_proj";
        case ProjKind::O:
            return "o_proj";
        case ProjKind::Gate:
            return "gate_proj";
        case ProjKind::Up:
            return "up_proj";
        case ProjKind::Down:
            return "down_proj";
    }
    return "?";
}

Transformer::Transformer(const ModelConfig& config, const TensorStore& store)
    : w_(std::make_shared<Weights>()), config_(config) {
    checkShapes(store);
    const ModelConfig& c = config_;
    const int64_t hidden = c.hiddenSize, vocab = c.vocabSize;
    w_->embed = loadTensor(store, w_->embedName, {vocab, hidden});
    w_->lmHead = w_->headName == w_->embedName ? w_->embed
                                               : loadTensor(store, w_->headName, {vocab, hidden});
    w_->finalNorm = loadTensor(store, "model.norm.weight", {hidden});
    for (int b = 0; b < c.numLayers; ++b) {
        const std::string p = "model.layers." + std::to_string(b) + ".";
        w_->inputNorm.push_back(loadTensor(store, p + "input_layernorm.weight", {hidden}));
        w_->postNorm.push_back(loadTensor(store, p + "post_attention_layernorm.weight", {hidden}));
        if (c.qkNorm) {
            w_->qNorm.push_back(loadTensor(store, p + "self_attn.q_norm.weight", {c.headDim}));
            w_->kNorm.push_back(loadTensor(store, p + "self_attn.k_norm.weight", {c.headDim}));
        }
    }
    setupLinears(store, /*convert=*/true);
}

Transformer::Transformer(const ModelConfig& config, std::shared_ptr<const TensorStore> store,
                         Residency residency)
    : w_(std::make_shared<Weights>()), config_(config) {
    if (!store) throw Error("internal: no tensor store");
    if (residency == Residency::Resident) {
        *this = Transformer(config, *store);
        return;
    }
    checkShapes(*store);
    w_->store = std::move(store);
    w_->residency = Residency::Streamed;
    const ModelConfig& c = config_;
    w_->finalNorm = loadTensor(*w_->store, "model.norm.weight", {c.hiddenSize});
    w_->inputNorm.resize(size_t(c.numLayers));
    w_->postNorm.resize(size_t(c.numLayers));
    if (c.qkNorm) {
        w_->qNorm.resize(size_t(c.numLayers));
        w_->kNorm.resize(size_t(c.numLayers));
    }
    w_->loaded.assign(size_t(c.numLayers), false);
    setupLinears(*w_->store, /*convert=*/false);
}

// Checks sizes and that every tensor the config implies exists with its shape, before
// anything is converted; decides which tensors hold the embedding and the head.
void Transformer::checkShapes(const TensorStore& store) {
    const ModelConfig& c = config_;
    if (c.hiddenSize <= 0 || c.numLayers <= 0 || c.numHeads <= 0 || c.numKvHeads <= 0 ||
        c.headDim <= 0 || c.vocabSize <= 0 || c.intermediateSize <= 0)
        throw Error("model config has non-positive sizes");
    if (c.numHeads % c.numKvHeads != 0)
        throw Error("num_attention_heads (" + std::to_string(c.numHeads) +
                    ") is not a multiple of num_key_value_heads (" + std::to_string(c.numKvHeads) +
                    ")");
    if (c.headDim % 2 != 0) throw Error("head_dim must be even for RoPE");
    const int64_t hidden = c.hiddenSize, vocab = c.vocabSize;
    // Tied embeddings may be stored under either name (one copy only).
    const bool hasEmbed = store.find("model.embed_tokens.weight") != nullptr;
    const bool hasHead = store.find("lm_head.weight") != nullptr;
    if (c.tieWordEmbeddings && !hasEmbed && hasHead) {
        w_->embedName = w_->headName = "lm_head.weight";
    } else {
        w_->embedName = "model.embed_tokens.weight";
        w_->headName = c.tieWordEmbeddings && !hasHead ? w_->embedName : "lm_head.weight";
    }
    checkTensor(store, w_->embedName, {vocab, hidden});
    checkTensor(store, w_->headName, {vocab, hidden});
    checkTensor(store, "model.norm.weight", {hidden});
    for (int b = 0; b < c.numLayers; ++b) {
        const std::string p = "model.layers." + std::to_string(b) + ".";
        checkTensor(store, p + "input_layernorm.weight", {hidden});
        checkTensor(store, p + "post_attention_layernorm.weight", {hidden});
        if (c.qkNorm) {
            checkTensor(store, p + "self_attn.q_norm.weight", {c.headDim});
            checkTensor(store, p + "self_attn.k_norm.weight", {c.headDim});
        }
    }
    // inv_freq = 1 / theta^(arange(0, d, 2) / d), float32 like HF's default RoPE.
    const at::Tensor exponents = at::arange(0, c.headDim, 2, at::kLong).to(at::kFloat) / c.headDim;
    w_->invFreq = 1.0 / at::pow(at::scalar_tensor(c.ropeTheta, at::kFloat), exponents);
}

// The seven projections of every block: names, shapes, bias; converted when `convert`.
void Transformer::setupLinears(const TensorStore& store, bool convert) {
    const ModelConfig& c = config_;
    const int64_t hidden = c.hiddenSize;
    const int64_t qOut = int64_t(c.numHeads) * c.headDim;
    const int64_t kvOut = int64_t(c.numKvHeads) * c.headDim;
    const int64_t inter = c.intermediateSize;
    for (int b = 0; b < c.numLayers; ++b) {
        const std::string p = "model.layers." + std::to_string(b) + ".";
        struct Spec {
            ProjKind kind;
            const char* module;
            int64_t out, in;
        };
        const Spec specs[kProjPerBlock] = {
            {ProjKind::Q, "self_attn.", qOut, hidden},  {ProjKind::K, "self_attn.", kvOut, hidden},
            {ProjKind::V, "self_attn.", kvOut, hidden}, {ProjKind::O, "self_attn.", hidden, qOut},
            {ProjKind::Gate, "mlp.", inter, hidden},    {ProjKind::Up, "mlp.", inter, hidden},
            {ProjKind::Down, "mlp.", hidden, inter}};
        for (const Spec& s : specs) {
            Linear l;
            l.info.name = p + s.module + projKindName(s.kind);
            l.info.block = b;
            l.info.kind = s.kind;
            l.info.outFeatures = s.out;
            l.info.inFeatures = s.in;
            checkTensor(store, l.info.name + ".weight", {s.out, s.in});
            const bool qkv =
                s.kind == ProjKind::Q || s.kind == ProjKind::K || s.kind == ProjKind::V;
            const std::string biasName = l.info.name + ".bias";
            if ((qkv && c.attentionBias) || store.find(biasName)) {
                checkTensor(store, biasName, {s.out});
                l.info.hasBias = true;
            }
            if (convert) {
                l.original = loadTensor(store, l.info.name + ".weight", {s.out, s.in});
                l.weight = l.original.detach();
                if (l.info.hasBias) l.bias = loadTensor(store, biasName, {s.out});
            }
            linears_.push_back(std::move(l));
        }
    }
}

Linear& Transformer::linear(const std::string& name) {
    for (Linear& l : linears_)
        if (l.info.name == name) return l;
    throw Error("no linear layer named '" + name + "'");
}

void Transformer::setSlidingWindow(int window) {
    w_->slidingWindow = window;
}
int Transformer::slidingWindow() const {
    return w_->slidingWindow;
}

at::Tensor& Transformer::inputNorm(int block) {
    return w_->inputNorm.at(block);
}
at::Tensor& Transformer::postAttentionNorm(int block) {
    return w_->postNorm.at(block);
}

void Transformer::setRequiresGrad(bool on) {
    w_->requiresGrad = on;
    for (Linear& l : linears_) {
        if (!l.weight.defined()) continue;  // streamed: not loaded (loadBlock sets it)
        l.weight = l.weight.detach();
        l.weight.requires_grad_(on);
    }
}

bool Transformer::requiresGrad() const {
    return w_->requiresGrad;
}

Residency Transformer::residency() const {
    return w_->residency;
}

bool Transformer::blockLoaded(int index) const {
    return w_->residency == Residency::Resident || w_->loaded.at(size_t(index));
}

namespace {

// A tensor of the mapped checkpoint as float32: F32 data with float alignment is used in
// place (read-only mapping: a write would fault, never corrupt), anything else read and
// converted (loadTensor: the mapping is not touched, so nothing of it becomes resident).
at::Tensor mappedFloat(const TensorStore& store, const std::string& name,
                       const std::vector<int64_t>& shape) {
    const TensorInfo& info = store.get(name);
    const void* data = store.data(info);
    if (info.dtype == DType::F32 && reinterpret_cast<uintptr_t>(data) % alignof(float) == 0)
        return at::from_blob(const_cast<void*>(data), shape, at::kFloat);
    return loadTensor(store, name, shape);
}

std::vector<std::string> blockTensorNames(const Transformer& net, int b) {
    const std::string p = "model.layers." + std::to_string(b) + ".";
    std::vector<std::string> names = {p + "input_layernorm.weight",
                                      p + "post_attention_layernorm.weight"};
    if (net.config().qkNorm) {
        names.push_back(p + "self_attn.q_norm.weight");
        names.push_back(p + "self_attn.k_norm.weight");
    }
    for (int k = 0; k < kProjPerBlock; ++k) {
        const Linear& l = net.linears()[size_t(b) * kProjPerBlock + size_t(k)];
        names.push_back(l.info.name + ".weight");
        if (l.info.hasBias) names.push_back(l.info.name + ".bias");
    }
    return names;
}

}  // namespace

void Transformer::loadBlock(int b) {
    if (w_->residency == Residency::Resident || w_->loaded.at(size_t(b))) return;
    const TensorStore& store = *w_->store;
    const ModelConfig& c = config_;
    const std::string p = "model.layers." + std::to_string(b) + ".";
    w_->inputNorm[size_t(b)] = mappedFloat(store, p + "input_layernorm.weight", {c.hiddenSize});
    w_->postNorm[size_t(b)] =
        mappedFloat(store, p + "post_attention_layernorm.weight", {c.hiddenSize});
    if (c.qkNorm) {
        w_->qNorm[size_t(b)] = mappedFloat(store, p + "self_attn.q_norm.weight", {c.headDim});
        w_->kNorm[size_t(b)] = mappedFloat(store, p + "self_attn.k_norm.weight", {c.headDim});
    }
    for (int k = 0; k < kProjPerBlock; ++k) {
        Linear& l = linears_[size_t(b) * kProjPerBlock + size_t(k)];
        l.original =
            mappedFloat(store, l.info.name + ".weight", {l.info.outFeatures, l.info.inFeatures});
        l.weight = l.original.detach();
        if (w_->requiresGrad) l.weight.requires_grad_(true);
        if (l.info.hasBias)
            l.bias = mappedFloat(store, l.info.name + ".bias", {l.info.outFeatures});
    }
    w_->loaded[size_t(b)] = true;
}

void Transformer::releaseBlock(int b) {
    if (w_->residency == Residency::Resident || !w_->loaded.at(size_t(b))) return;
    w_->inputNorm[size_t(b)] = at::Tensor();
    w_->postNorm[size_t(b)] = at::Tensor();
    if (config_.qkNorm) {
        w_->qNorm[size_t(b)] = at::Tensor();
        w_->kNorm[size_t(b)] = at::Tensor();
    }
    for (int k = 0; k < kProjPerBlock; ++k) {
        Linear& l = linears_[size_t(b) * kProjPerBlock + size_t(k)];
        l.original = l.weight = l.bias = at::Tensor();
    }
    for (const std::string& name : blockTensorNames(*this, b))
        w_->store->releasePages(w_->store->get(name));
    w_->loaded[size_t(b)] = false;
}

void setLinearWeight(Transformer& net, const std::string& name,
                     const std::vector<float>& rowMajor) {
    Linear& l = net.linear(name);
    const int64_t expected = l.info.outFeatures * l.info.inFeatures;
    if (int64_t(rowMajor.size()) != expected)
        throw Error("weight for '" + name + "' has " + std::to_string(rowMajor.size()) +
                    " values, expected " + std::to_string(l.info.outFeatures) + " x " +
                    std::to_string(l.info.inFeatures) + " = " + std::to_string(expected));
    l.weight = at::from_blob(const_cast<float*>(rowMajor.data()),
                             {l.info.outFeatures, l.info.inFeatures}, at::kFloat)
                   .clone();
    if (net.requiresGrad()) l.weight.requires_grad_(true);
}

void setLinearWeight(Transformer& net, const std::string& name, std::vector<float>&& rowMajor) {
    Linear& l = net.linear(name);
    const int64_t expected = l.info.outFeatures * l.info.inFeatures;
    if (int64_t(rowMajor.size()) != expected) {
        setLinearWeight(net, name, static_cast<const std::vector<float>&>(rowMajor));  // throws
        return;
    }
    auto* owned = new std::vector<float>(std::move(rowMajor));
    l.weight = at::from_blob(
        owned->data(), {l.info.outFeatures, l.info.inFeatures}, [owned](void*) { delete owned; },
        at::TensorOptions().dtype(at::kFloat));
    if (net.requiresGrad()) l.weight.requires_grad_(true);
}

at::Tensor Transformer::finalNorm(const at::Tensor& hidden) const {
    return rmsNorm(hidden, w_->finalNorm, config_.rmsNormEps);
}

at::Tensor Transformer::headRows(int64_t begin, int64_t count) const {
    if (headKernel_)
        throw Error("internal: the float32 output head was released for a quantized one");
    if (w_->residency == Residency::Resident) return w_->lmHead.narrow(0, begin, count);
    const TensorStore& store = *w_->store;
    const TensorInfo& info = store.get(w_->headName);
    at::Tensor out = at::empty({count, config_.hiddenSize}, at::kFloat);
    // Read, not mapped: nothing of the head (0.5-1 GB at 1.5B-7B, read chunk by chunk twice
    // per phase) becomes resident or is faulted in.
    readAsFloat(store, info, begin * config_.hiddenSize, count * config_.hiddenSize,
                out.data_ptr<float>());
    return out;
}

at::Tensor Transformer::embed(const at::Tensor& ids) const {
    if (ids.dim() != 2) throw Error("token ids must be a [batch, seq] tensor");
    // The ids checked one by one (two ATen reductions and their item() were ~10 % of a
    // decode step's fixed work).
    const at::Tensor flat = ids.to(at::kLong).contiguous().view({-1});
    const int64_t* id = flat.data_ptr<int64_t>();
    for (int64_t i = 0; i < flat.numel(); ++i)
        if (id[i] < 0 || id[i] >= config_.vocabSize)
            throw Error("token id " + std::to_string(id[i]) + " is outside the vocabulary of " +
                        std::to_string(config_.vocabSize));
    const size_t hidden = size_t(config_.hiddenSize);
    if (w_->residency == Residency::Resident) {
        const at::Tensor& table = w_->embed;
        const bool plain = table.scalar_type() == at::kFloat && table.is_contiguous() &&
                           !(at::GradMode::is_enabled() && table.requires_grad());
        if (!plain) return at::embedding(table, flat.view(ids.sizes()));
        // The rows copied as at::embedding copies them, without its dispatch.
        at::Tensor out = at::empty({ids.size(0), ids.size(1), config_.hiddenSize}, at::kFloat);
        const float* rows = table.data_ptr<float>();
        float* dst = out.data_ptr<float>();
        for (int64_t i = 0; i < flat.numel(); ++i)
            std::memcpy(dst + size_t(i) * hidden, rows + size_t(id[i]) * hidden,
                        hidden * sizeof(float));
        return out;
    }
    // Streamed: convert just the rows asked for (the embedding stays mapped).
    const TensorStore& store = *w_->store;
    const TensorInfo& info = store.get(w_->embedName);
    const size_t element = dtypeSize(info.dtype);
    at::Tensor out = at::empty({flat.numel(), config_.hiddenSize}, at::kFloat);
    const auto* base = static_cast<const unsigned char*>(store.data(info));
    for (int64_t i = 0; i < flat.numel(); ++i)
        convertToFloat(info.dtype, base + size_t(id[i]) * hidden * element, hidden,
                       out.data_ptr<float>() + size_t(i) * hidden);
    return out.view({ids.size(0), ids.size(1), config_.hiddenSize});
}

at::Tensor Transformer::block(int index, const at::Tensor& hidden,
                              const LinearObserver& observer) const {
    return blockImpl(index, hidden, observer, nullptr);
}

at::Tensor Transformer::blockCached(int index, at::Tensor hidden, BlockCache& cache) const {
    if (decodeStepApplies(index, hidden, &cache, {}))
        return decodeStep(index, std::move(hidden), cache);
    return blockImpl(index, hidden, {}, &cache);
}

namespace {

// [T, S] mask, true where query t (absolute position first + t) may NOT see key s
// (absolute position keyStart + s): future keys, and keys `window` or more back.
at::Tensor blockedMaskAt(int64_t first, int64_t T, int64_t keyStart, int64_t S, int window) {
    const at::Tensor q = at::arange(first, first + T, at::kLong).unsqueeze(1);
    const at::Tensor k = at::arange(keyStart, keyStart + S, at::kLong).unsqueeze(0);
    at::Tensor mask = k.gt(q);
    if (window > 0) mask = mask.logical_or((q - k).ge(window));
    return mask;
}

}  // namespace

// cos and sin [T, D] of positions [first, first + T) (HF's rotary embedding). A decode step
// asks every block for the same position: the tables of the last few-token call are kept per
// thread with the invFreq tensor they came from (held, so no other model's can alias it).
std::pair<at::Tensor, at::Tensor> ropeTables(const at::Tensor& invFreq, int64_t first, int64_t T) {
    struct Memo {
        at::Tensor invFreq, cos, sin;
        int64_t first = -1, T = 0;
    };
    thread_local Memo memo;
    if (memo.first == first && memo.T == T && memo.invFreq.defined() &&
        memo.invFreq.is_same(invFreq))
        return {memo.cos, memo.sin};
    const at::Tensor positions = at::arange(first, first + T, at::kFloat);
    const at::Tensor freqs = at::outer(positions, invFreq);
    const at::Tensor emb = at::cat({freqs, freqs}, -1);  // [T, D]
    const at::Tensor cos = emb.cos(), sin = emb.sin();
    if (T <= 16) memo = Memo{invFreq, cos, sin, first, T};
    return {cos, sin};
}

RopeRow ropeRow(const at::Tensor& invFreq, int64_t position) {
    constexpr int64_t kPositions = 64;
    struct Rows {
        at::Tensor invFreq, cos, sin;  // [kPositions, D] from position `first`
        int64_t first = -1;
    };
    thread_local Rows rows;
    if (rows.first < 0 || position < rows.first || position >= rows.first + kPositions ||
        !rows.invFreq.is_same(invFreq)) {
        const int64_t first = position / kPositions * kPositions;
        auto [cos, sin] = ropeTables(invFreq, first, kPositions);
        rows = Rows{invFreq, cos.contiguous(), sin.contiguous(), first};
    }
    const int64_t offset = (position - rows.first) * rows.cos.size(1);
    return {rows.cos.data_ptr<float>() + offset, rows.sin.data_ptr<float>() + offset};
}

// One decoder block; with `cache`, the tokens continue the cached sequence (see blockCached).
at::Tensor Transformer::blockImpl(int index, const at::Tensor& hidden,
                                  const LinearObserver& observer, BlockCache* cache) const {
    if (index < 0 || index >= config_.numLayers)
        throw Error("block index " + std::to_string(index) + " out of range");
    if (!blockLoaded(index))
        throw Error("internal: block " + std::to_string(index) + " used while not loaded");
    const ModelConfig& c = config_;
    const int64_t B = hidden.size(0), T = hidden.size(1), D = c.headDim;
    const int64_t H = c.numHeads, KV = c.numKvHeads;
    const Linear* l = &linears_[size_t(index) * kProjPerBlock];
    const auto project = [&](int k, const at::Tensor& in) {
        return applyLinear(l[k], in, observer, interrupt_, interruptFlops_, inputQuantizer_);
    };

    StageClock clock;
    // Attention.
    const at::Tensor x = rmsNorm(hidden, w_->inputNorm[index], c.rmsNormEps);
    clock.mark(Stage::Norm);
    at::Tensor q = project(0, x).view({B, T, H, D});
    at::Tensor k = project(1, x).view({B, T, KV, D});
    const at::Tensor v = project(2, x).view({B, T, KV, D}).transpose(1, 2);
    clock.mark(Stage::QkvProj);
    if (c.qkNorm) {
        q = rmsNorm(q, w_->qNorm[index], c.rmsNormEps);
        k = rmsNorm(k, w_->kNorm[index], c.rmsNormEps);
    }
    q = q.transpose(1, 2);  // [B, H, T, D]
    k = k.transpose(1, 2);  // [B, KV, T, D]
    const int64_t first = cache ? cache->nextPosition() : 0;
    const auto [cos, sin] = ropeTables(w_->invFreq, first, T);
    q = q * cos + rotateHalf(q) * sin;
    k = k * cos + rotateHalf(k) * sin;
    clock.mark(Stage::Rope);

    at::Tensor attn;
    if (!cache) {
        attn = attention(q, k, v, blockedMask(T, w_->slidingWindow));
    } else {
        const int64_t keyStart = cache->start;
        const at::Tensor keys = cache->length() ? at::cat({cache->keys(), k}, 2) : k.contiguous();
        const at::Tensor values =
            cache->length() ? at::cat({cache->values(), v}, 2) : v.contiguous();
        const int64_t S = keys.size(2);
        // One new token sees every cached key when no window drops any (a decode step).
        const bool allVisible = T == 1 && (w_->slidingWindow <= 0 || S <= w_->slidingWindow);
        attn = attention(
            q, keys, values,
            allVisible ? at::Tensor() : blockedMaskAt(first, T, keyStart, S, w_->slidingWindow));
        // A sliding window never looks further back than `window` keys: drop older ones.
        const int64_t keep = w_->slidingWindow > 0 ? std::min<int64_t>(S, w_->slidingWindow) : S;
        cache->set(keys.narrow(2, S - keep, keep), values.narrow(2, S - keep, keep));
        cache->start = keyStart + (S - keep);
    }
    attn = attn.transpose(1, 2).reshape({B, T, H * D});
    clock.mark(Stage::Attention);
    const at::Tensor h = hidden + project(3, attn);
    clock.mark(Stage::OProj);

    // MLP.
    const at::Tensor y = rmsNorm(h, w_->postNorm[index], c.rmsNormEps);
    clock.mark(Stage::Norm);
    const at::Tensor gate = project(4, y);
    const at::Tensor up = project(5, y);
    clock.mark(Stage::MlpProj);
    const at::Tensor act = at::silu(gate) * up;
    clock.mark(Stage::MlpAct);
    at::Tensor out = h + project(6, act);
    clock.mark(Stage::MlpProj);
    return out;
}

void Transformer::setInputQuantizer(InputQuantizer quantizer) {
    inputQuantizer_ = std::move(quantizer);
}

void Transformer::setInterruptCheck(std::function<void()> check, double flopsPerCheck) {
    interrupt_ = std::move(check);
    interruptFlops_ = flopsPerCheck;
}

bool Transformer::headTiedToEmbedding() const {
    return w_->headName == w_->embedName;
}

void Transformer::setHeadKernel(HeadKernel kernel) {
    if (w_->residency != Residency::Resident)
        throw Error("a quantized output head needs the model loaded resident, not streamed");
    if (!kernel) throw Error("internal: an empty head kernel");
    headKernel_ = std::move(kernel);
    // An untied head's float32 table goes; a tied one stays alive as w_->embed.
    w_->lmHead = at::Tensor();
}

at::Tensor Transformer::head(const at::Tensor& hidden) const {
    if (w_->residency == Residency::Streamed)
        return at::linear(finalNorm(hidden), headRows(0, config_.vocabSize));
    const at::Tensor normed = rmsNorm(hidden, w_->finalNorm, config_.rmsNormEps);
    if (headKernel_) {
        const at::Tensor x = normed.to(at::kFloat).contiguous();
        std::vector<int64_t> shape = x.sizes().vec();
        shape.back() = config_.vocabSize;
        at::Tensor out = at::empty(shape, x.options());
        headKernel_(x.data_ptr<float>(), x.numel() / config_.hiddenSize, out.data_ptr<float>());
        return out;
    }
    // One position (a decode step): the head's vocab x hidden read once by sgemv.
    if (singleTokenGemv(normed, w_->lmHead)) return gemv(normed, w_->lmHead, at::Tensor());
    return at::linear(normed, w_->lmHead);
}

void Transformer::headInto(const at::Tensor& hidden, at::Tensor& out) const {
    if (!headKernel_ || w_->residency == Residency::Streamed || !out.is_contiguous() ||
        out.scalar_type() != at::kFloat || at::GradMode::is_enabled()) {
        out.copy_(head(hidden));
        return;
    }
    const at::Tensor x =
        rmsNorm(hidden, w_->finalNorm, config_.rmsNormEps).to(at::kFloat).contiguous();
    if (out.numel() != x.numel() / config_.hiddenSize * config_.vocabSize)
        throw Error("internal: the logits' buffer does not fit the head's output");
    headKernel_(x.data_ptr<float>(), x.numel() / config_.hiddenSize, out.data_ptr<float>());
}

at::Tensor Transformer::forward(const at::Tensor& ids, const LinearObserver& observer) const {
    at::Tensor hidden = embed(ids);
    for (int i = 0; i < config_.numLayers; ++i) hidden = block(i, hidden, observer);
    return head(hidden);
}

}  // namespace ql
