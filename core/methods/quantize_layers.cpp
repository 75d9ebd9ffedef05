// Layer-wise quantization, sequentially block by block (GPTQ's "true sequential" mode):
// for each block, each group of linears sharing an input (q/k/v, o, gate/up, down) is
// calibrated on the inputs it sees with everything before it already quantized, then
// quantized; the block's output with quantized weights feeds the next block.
#include "methods/quantize_layers.h"
#include "methods/quantize_block.h"

#include "base/error.h"
#include "methods/awq.h"
#include "methods/gptq.h"
#include "methods/method_common.h"
#include "methods/smoothquant.h"
#include "model/transformer.h"
#include "quant/method_registry.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace ql {
namespace {

constexpr int64_t kMaxSampleRows = 4096;  // token rows kept per input for SQNR / AWQ loss

// Stages of a block: linears that share one input, in forward order.
int stageOf(ProjKind k) {
    switch (k) {
        case ProjKind::Q:
        case ProjKind::K:
        case ProjKind::V:
            return 0;
        case ProjKind::O:
            return 1;
        case ProjKind::Gate:
        case ProjKind::Up:
            return 2;
        case ProjKind::Down:
            return 3;
    }
    return 0;
}
constexpr ProjKind kStageFirst[4] = {ProjKind::Q, ProjKind::O, ProjKind::Gate, ProjKind::Down};

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void validate(const Model& model, const std::vector<std::string>& layers, const Recipe& recipe,
              const QuantizeLayersOptions& options) {
    if (recipe.needsCalibration() && options.calibration.empty())
        throw Error((recipe.smooth ? std::string("SmoothQuant") : methodName(recipe.method)) +
                    " needs calibration data (none given)");
    if (!recipe.isCast() && (recipe.bits < 2 || recipe.bits > 8))
        throw Error("recipe " + recipe.toString() + ": bits must be 2..8");
    if (recipe.granularity == Granularity::Group && !recipe.isCast() && recipe.groupSize <= 0)
        throw Error("recipe " + recipe.toString() + ": group size must be positive");
    if (recipe.method == QuantMethod::Gptq &&
        (recipe.gptqBlockSize < 1 || recipe.gptqDampening < 0))
        throw Error("GPTQ: block size must be >= 1 and dampening >= 0");
    if (recipe.method == QuantMethod::Awq && recipe.awqGridPoints < 1)
        throw Error("AWQ: grid points must be >= 1");
    std::set<std::string> known;
    for (const auto& l : model.linears()) known.insert(l.name);
    for (const auto& name : layers)
        if (!known.count(name)) throw Error("unknown linear layer '" + name + "'");
    const size_t len = options.calibration.empty() ? 0 : options.calibration.front().size();
    const int64_t vocab = model.config().vocabSize;
    for (const auto& window : options.calibration) {
        if (window.empty() || window.size() != len)
            throw Error("calibration windows must all have the same, non-zero length");
        for (int32_t id : window)
            if (id < 0 || id >= vocab)
                throw Error("calibration token id " + std::to_string(id) +
                            " outside the vocabulary (" + std::to_string(vocab) + ")");
    }
}

// The calibration windows as [B, T] int64 chunks, embedded.
std::vector<at::Tensor> embedCalibration(const Transformer& net,
                                         const std::vector<std::vector<int32_t>>& windows) {
    std::vector<at::Tensor> hidden;
    const int64_t T = static_cast<int64_t>(windows.front().size());
    const int64_t perChunk = std::max<int64_t>(1, kCalibrationBatchTokens / T);
    for (size_t w0 = 0; w0 < windows.size(); w0 += perChunk) {
        const size_t w1 = std::min(windows.size(), w0 + perChunk);
        at::Tensor ids = at::empty({static_cast<int64_t>(w1 - w0), T}, at::kLong);
        int64_t* p = ids.data_ptr<int64_t>();
        for (size_t w = w0; w < w1; ++w)
            for (int64_t t = 0; t < T; ++t) *p++ = windows[w][t];
        hidden.push_back(net.embed(ids));
    }
    return hidden;
}

// Runs block `b` over all chunks and accumulates the input of the stage's linears.
InputStats captureStage(const Transformer& net, int b, int stage,
                        const std::vector<at::Tensor>& hidden, int64_t totalRows,
                        const ProgressReporter& progress) {
    InputStats stats;
    const int64_t stride = (totalRows + kMaxSampleRows - 1) / kMaxSampleRows;
    const LinearObserver observer = [&](const Linear& layer, const at::Tensor& input,
                                        const at::Tensor&) -> at::Tensor {
        if (layer.info.block == b && layer.info.kind == kStageFirst[stage])
            stats.add(input, stride, &progress);
        return {};
    };
    for (const at::Tensor& h : hidden) {
        progress.checkCancelled();
        net.block(b, h, observer);
    }
    return stats;
}

struct Job {
    const LinearLayerInfo* info;
    LayerQuantization* result;
};

at::Tensor originalWeight(Transformer& net, const std::string& name) {
    Linear& l = net.linear(name);
    return (l.original.defined() ? l.original : l.weight).to(at::kFloat).contiguous();
}

void finish(Transformer& net, LayerQuantization& r, const at::Tensor& w, GridQuant q,
            const InputStats* stats, bool dequantCopy) {
    r.outputSqnrDb =
        stats ? outputSqnrDb(w, q.dequant, *stats) : std::numeric_limits<double>::quiet_NaN();
    // A smoothed layer's applied recipe may have lost "+sq" (llama.cpp fallbacks and mixes
    // apply a plain type): its scales still came from these statistics.
    if (stats && !stats->empty() && (r.applied.needsCalibration() || !r.awqScales.empty())) {
        r.inputAbsMax = toVector(stats->absMax);
        r.inputMeanAbs = toVector(stats->absSum / double(stats->rows));
    }
    r.grid = std::move(q.grid);
    r.codes = std::move(q.codes);
    if (dequantCopy) r.dequant = toVector(q.dequant);
    // The dequantized tensor itself becomes the weight (no second copy of the layer).
    Linear& l = net.linear(r.name);
    l.weight = q.dequant.to(at::kFloat).contiguous().view({l.info.outFeatures, l.info.inFeatures});
    if (net.requiresGrad()) l.weight.requires_grad_(true);
}

// A cast or codebook method's weight for `w` (llama.cpp formats whose block does not divide
// the row get another recipe, mixes one per layer): fills r's applied recipe and fallback.
GridQuant recomputeLayer(const Transformer& net, LayerQuantization& r, const at::Tensor& w,
                         const Recipe& recipe) {
    const ModelConfig& mc = net.config();
    const int gqa = mc.numKvHeads > 0 ? std::max(1, mc.numHeads / mc.numKvHeads) : 1;
    const ShapedRecipe shaped =
        recipeForLayer(recipe, LayerPlace{r.name, w.size(0), w.size(1), mc.numLayers, gqa});
    r.applied = shaped.recipe;
    r.fallback = !shaped.fallbackReason.empty();
    r.fallbackReason = shaped.fallbackReason;
    const at::Tensor c = w.to(at::kFloat).contiguous();
    std::vector<float> v =
        methodSpec(r.applied.method).recompute(r.applied, c.data_ptr<float>(), size_t(c.numel()));
    GridQuant q;
    q.dequant = at::from_blob(v.data(), c.sizes(), at::kFloat).clone();
    return q;
}

// One smoothed layer: the recipe's method quantizes W·diag(s) (GPTQ with the Hessian of the
// smoothed inputs X·diag(1/s)); the effective weight is the result ·diag(1/s).
GridQuant smoothLayer(Transformer& net, LayerQuantization& r, const at::Tensor& w,
                      const at::Tensor& s, const Recipe& recipe, const InputStats& stats,
                      const ProgressReporter& progress) {
    if (methodSpec(recipe.method).recompute)
        return smoothQuantizeWith(
            w, s, [&](const at::Tensor& ws) { return recomputeLayer(net, r, ws, recipe); });
    const ResolvedRecipe rr = resolveRecipe(recipe, w.size(1));
    r.applied = rr.recipe;
    r.fallback = rr.fallback;
    r.fallbackReason = rr.reason;
    if (recipe.method == QuantMethod::Gptq) {
        const GptqOptions o{recipe.gptqDampening, recipe.gptqBlockSize, recipe.gptqActOrder};
        return smoothQuantizeWith(w, s, [&](const at::Tensor& ws) {
            return gptqQuantize(
                ws, smoothedHessian(stats.gram * (2.0 / static_cast<double>(stats.rows)), s),
                rr.recipe, o, progress);
        });
    }
    if (recipe.method != QuantMethod::Rtn)
        throw Error("SmoothQuant: recipe " + recipe.toString() + " cannot be smoothed");
    return smoothQuantize(w, s, rr.recipe);
}

// SmoothQuant: one s for the stage's selected layers (they share the input), each weight
// quantized as W·diag(s) by the recipe's method (methods/smoothquant.h).
void smoothStage(Transformer& net, const std::vector<Job>& jobs, const Recipe& recipe,
                 const InputStats* stats, const QuantizeLayersOptions& options,
                 const ProgressReporter& progress, size_t& done, size_t total) {
    if (!stats || stats->empty()) throw Error("SmoothQuant needs calibration data (none given)");
    if (options.checkpoint)
        throw Error("SmoothQuant cannot be applied to a quantized checkpoint's weights");
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<at::Tensor> weights;
    for (const Job& j : jobs) weights.push_back(originalWeight(net, j.info->name));
    const at::Tensor s = smoothScales(stats->absMax, weights, recipe.smoothAlpha);
    const std::vector<float> scales = toVector(s);
    const double shared = secondsSince(t0) / double(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
        progress.report("quantize", double(done) / double(total), jobs[i].info->name);
        const auto t1 = std::chrono::steady_clock::now();
        LayerQuantization& r = *jobs[i].result;
        r.awqScales = scales;
        GridQuant q = smoothLayer(net, r, weights[i], s, recipe, *stats, progress);
        finish(net, r, weights[i], std::move(q), stats, options.dequantCopy);
        weights[i] = at::Tensor();
        r.seconds = shared + secondsSince(t1);
        if (options.onLayer) options.onLayer(r);
        ++done;
    }
}

// Quantizes one stage's selected layers (sharing `stats`, which may be empty).
void quantizeStage(Transformer& net, const std::vector<Job>& jobs, const Recipe& recipe,
                   const InputStats* stats, const QuantizeLayersOptions& options,
                   const ProgressReporter& progress, size_t& done, size_t total) {
    if (recipe.smooth) {
        smoothStage(net, jobs, recipe, stats, options, progress, done, total);
        return;
    }
    if (recipe.method == QuantMethod::Awq) {
        for (const Job& j : jobs) progress.report("quantize", double(done) / total, j.info->name);
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<at::Tensor> weights;
        for (const Job& j : jobs) weights.push_back(originalWeight(net, j.info->name));
        const ResolvedRecipe rr = resolveRecipe(recipe, weights.front().size(1));
        AwqResult awq = awqSearch(weights, *stats, rr.recipe, recipe.awqGridPoints);
        const double seconds = secondsSince(t0) / jobs.size();
        const std::vector<float> scales = toVector(awq.scales);
        for (size_t i = 0; i < jobs.size(); ++i) {
            LayerQuantization& r = *jobs[i].result;
            r.applied = rr.recipe;
            r.fallback = rr.fallback;
            r.fallbackReason = rr.reason;
            r.awqScales = scales;
            finish(net, r, weights[i], std::move(awq.layers[i]), stats, options.dequantCopy);
            weights[i] = at::Tensor();
            r.seconds = seconds;
            if (options.onLayer) options.onLayer(r);
            ++done;
        }
        return;
    }
    for (const Job& j : jobs) {
        progress.report("quantize", double(done) / total, j.info->name);
        const auto t0 = std::chrono::steady_clock::now();
        LayerQuantization& r = *j.result;
        const at::Tensor w = originalWeight(net, r.name);
        // A checkpoint's weight is the file's whatever its recipe says (a GPTQ/AWQ export
        // reads back as its integer grid, an RTN recipe: quantizing w again would show RTN's
        // numbers, not the file's). Casts and codebooks follow from w and the recipe.
        if (options.checkpoint || methodSpec(recipe.method).recompute) {
            GridQuant q;
            if (options.checkpoint) {
                QuantizedWeight cw = options.checkpoint->layer(r.name, w.size(0), w.size(1));
                r.applied = Recipe::parse(cw.method);
                r.fallback = false;
                r.fallbackReason.clear();
                r.fromCheckpoint = true;
                q.dequant = at::from_blob(cw.values.data(), w.sizes(), at::kFloat).clone();
            } else {
                q = recomputeLayer(net, r, w, recipe);
            }
            finish(net, r, w, std::move(q), stats, options.dequantCopy);
        } else {
            const ResolvedRecipe rr = resolveRecipe(recipe, w.size(1));
            r.applied = rr.recipe;
            r.fallback = rr.fallback;
            r.fallbackReason = rr.reason;
            if (recipe.method == QuantMethod::Gptq) {
                const GptqOptions o{recipe.gptqDampening, recipe.gptqBlockSize,
                                    recipe.gptqActOrder};
                // The Hessian copy is handed over: GPTQ factorizes it in place.
                GridQuant q =
                    gptqQuantize(w, stats->gram * (2.0 / static_cast<double>(stats->rows)),
                                 rr.recipe, o, progress);
                finish(net, r, w, std::move(q), stats, options.dequantCopy);
            } else {
                finish(net, r, w, rtnQuantize(w, rr.recipe), stats, options.dequantCopy);
            }
        }
        r.seconds = secondsSince(t0);
        progress.checkCancelled();  // between the layer's solver + SQNR and its analysis
        if (options.onLayer) options.onLayer(r);
        ++done;
    }
}

void quantizeSequentially(Model& model, const std::vector<std::vector<Job>>& byBlockStage,
                          int blocks, const Recipe& recipe, const QuantizeLayersOptions& options,
                          const ProgressReporter& progress, size_t total) {
    Transformer& net = model.transformer();
    std::vector<at::Tensor> hidden = embedCalibration(net, options.calibration);
    const int64_t totalRows =
        static_cast<int64_t>(options.calibration.size() * options.calibration.front().size());
    int lastBlock = -1;
    for (int b = 0; b < blocks; ++b)
        for (int s = 0; s < 4; ++s)
            if (!byBlockStage[b * 4 + s].empty()) lastBlock = b;
    size_t done = 0;
    for (int b = 0; b <= lastBlock; ++b) {
        for (int s = 0; s < 4; ++s) {
            const std::vector<Job>& jobs = byBlockStage[b * 4 + s];
            if (jobs.empty()) continue;
            const InputStats stats = captureStage(net, b, s, hidden, totalRows, progress);
            quantizeStage(net, jobs, recipe, &stats, options, progress, done, total);
        }
        if (b < lastBlock) {
            const auto inputs = [&](bool on) {
                if (options.quantizedInputs) options.quantizedInputs(on);
            };
            inputs(true);
            try {
                for (at::Tensor& h : hidden) {
                    progress.checkCancelled();
                    h = net.block(b, h);
                }
            } catch (...) {
                inputs(false);
                throw;
            }
            inputs(false);
        }
    }
}

}  // namespace

void quantizeBlock(Transformer& net, int block, const std::vector<std::string>& layers,
                   const Recipe& recipe, const std::vector<at::Tensor>& fitHidden,
                   const QuantizeLayersOptions& options, const ProgressReporter& progress,
                   size_t& done, size_t total) {
    at::NoGradGuard noGrad;
    const std::set<std::string> wanted(layers.begin(), layers.end());
    std::vector<LayerQuantization> results;
    results.reserve(layers.size());
    std::vector<std::vector<Job>> byStage(4);
    const auto& linears = net.linears();
    for (const Linear& l : linears) {
        if (l.info.block != block || !wanted.count(l.info.name)) continue;
        LayerQuantization r;
        r.name = l.info.name;
        r.applied = recipe;
        r.outputSqnrDb = std::numeric_limits<double>::quiet_NaN();
        results.push_back(std::move(r));
        byStage[size_t(stageOf(l.info.kind))].push_back({&l.info, &results.back()});
    }
    int64_t totalRows = 0;
    for (const at::Tensor& h : fitHidden) totalRows += h.size(0) * h.size(1);
    for (int s = 0; s < 4; ++s) {
        const std::vector<Job>& jobs = byStage[size_t(s)];
        if (jobs.empty()) continue;
        if (fitHidden.empty()) {
            quantizeStage(net, jobs, recipe, nullptr, options, progress, done, total);
            continue;
        }
        const InputStats stats = captureStage(net, block, s, fitHidden, totalRows, progress);
        quantizeStage(net, jobs, recipe, &stats, options, progress, done, total);
    }
}

std::vector<LayerQuantization> quantizeLayers(Model& model, const std::vector<std::string>& layers,
                                              const Recipe& recipe,
                                              const QuantizeLayersOptions& options,
                                              const ProgressReporter& progress) {
    validate(model, layers, recipe, options);
    at::NoGradGuard noGrad;
    const std::set<std::string> wanted(layers.begin(), layers.end());
    std::vector<LayerQuantization> results;
    std::vector<const LinearLayerInfo*> infos;
    for (const auto& info : model.linears())
        if (wanted.count(info.name)) {
            infos.push_back(&info);
            LayerQuantization r;
            r.name = info.name;
            r.applied = recipe;
            r.outputSqnrDb = std::numeric_limits<double>::quiet_NaN();
            results.push_back(std::move(r));
        }
    int blocks = 0;
    for (const auto* info : infos) blocks = std::max(blocks, info->block + 1);
    std::vector<std::vector<Job>> byBlockStage(static_cast<size_t>(blocks) * 4);
    for (size_t i = 0; i < infos.size(); ++i)
        byBlockStage[infos[i]->block * 4 + stageOf(infos[i]->kind)].push_back(
            {infos[i], &results[i]});

    try {
        if (options.calibration.empty()) {
            size_t done = 0;
            for (const auto& jobs : byBlockStage)
                quantizeStage(model.transformer(), jobs, recipe, nullptr, options, progress, done,
                              results.size());
        } else {
            quantizeSequentially(model, byBlockStage, blocks, recipe, options, progress,
                                 results.size());
        }
        progress.report("quantize", 1.0, {});
    } catch (...) {
        model.restoreWeights();
        throw;
    }
    return results;
}

}  // namespace ql
