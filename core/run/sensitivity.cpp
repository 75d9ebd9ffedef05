// Measured sensitivity (see sensitivity.h).
#include "run/sensitivity.h"

#include "base/error.h"
#include "base/process_env.h"
#include "io/gguf_model.h"
#include "io/model_config.h"
#include "model/perplexity.h"
#include "model/torch_errors.h"
#include "quant/method_registry.h"
#include "run/eval_windows.h"
#include "run/run_internal.h"
#include "run/run_torch.h"
#include "run/stream_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <new>
#include <numeric>

namespace ql {

SensitivityUnit parseSensitivityUnit(const std::string& text) {
    if (text == "layer") return SensitivityUnit::Layer;
    if (text == "block") return SensitivityUnit::Block;
    if (text == "kind") return SensitivityUnit::Kind;
    throw Error("unknown sensitivity unit '" + text + "' (expected layer, block or kind)");
}

SensitivityMode parseSensitivityMode(const std::string& text) {
    if (text == "one-in") return SensitivityMode::OneIn;
    if (text == "leave-one-out") return SensitivityMode::LeaveOneOut;
    throw Error("unknown sensitivity mode '" + text + "' (expected one-in or leave-one-out)");
}

std::string sensitivityUnitName(SensitivityUnit u) {
    return u == SensitivityUnit::Layer ? "layer" : u == SensitivityUnit::Block ? "block" : "kind";
}

std::string sensitivityModeName(SensitivityMode m) {
    return m == SensitivityMode::OneIn ? "one-in" : "leave-one-out";
}

namespace {

std::vector<double> ranks(const std::vector<double>& v) {
    std::vector<size_t> order(v.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
        const double average = 0.5 * double(i + j) + 1.0;
        for (size_t k = i; k <= j; ++k) r[order[k]] = average;
        i = j + 1;
    }
    return r;
}

}  // namespace

double spearmanCorrelation(const std::vector<double>& x, const std::vector<double>& y) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (x.size() != y.size()) return nan;
    std::vector<double> a, b;
    for (size_t i = 0; i < x.size(); ++i)
        if (!std::isnan(x[i]) && !std::isnan(y[i])) a.push_back(x[i]), b.push_back(y[i]);
    if (a.size() < 2) return nan;
    const std::vector<double> ra = ranks(a), rb = ranks(b);
    const double n = double(a.size()), mean = (n + 1.0) / 2.0;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < ra.size(); ++i) {
        sab += (ra[i] - mean) * (rb[i] - mean);
        saa += (ra[i] - mean) * (ra[i] - mean);
        sbb += (rb[i] - mean) * (rb[i] - mean);
    }
    if (saa == 0 || sbb == 0) return nan;
    return sab / std::sqrt(saa * sbb);
}

namespace {

using Clock = std::chrono::steady_clock;

Recipe validate(const SensitivityConfig& c) {
    if (c.modelDir.empty()) throw Error("no model folder given");
    const Recipe r = Recipe::parse(c.recipe);
    if (r.quantizesActivations() || r.method == QuantMethod::LlmInt8)
        throw Error("sensitivity of '" + r.toString() +
                    "': recipes with an activation side are not supported (weight-only)");
    if (c.evaluationText.empty()) throw Error("sensitivity needs an evaluation text");
    if (c.evalWindows < 1)
        throw Error("evaluation windows must be at least 1, got " + std::to_string(c.evalWindows));
    if (c.evalSeq < 2)
        throw Error("evaluation window length must be at least 2 tokens, got " +
                    std::to_string(c.evalSeq));
    if (methodSpec(r.method).needsCalibration && c.calibrationText.empty())
        throw Error("recipe '" + r.toString() + "' needs a calibration text");
    if (c.calibrationWindows < 1 || c.calibrationSeq < 2)
        throw Error("calibration windows must be at least 1 and their length at least 2");
    if (c.threads < 0 || c.threads > kMaxThreads)
        throw Error("threads must be in 1.." + std::to_string(kMaxThreads) +
                    " (0 = all cores), got " + std::to_string(c.threads));
    parseProtocol(c.evalProtocol);
    return r;
}

std::vector<UnitSensitivity> makeUnits(const std::vector<LinearLayerInfo>& layers,
                                       SensitivityUnit unit) {
    std::vector<UnitSensitivity> out;
    std::map<std::string, size_t> index;
    for (const LinearLayerInfo& l : layers) {
        const std::string kind = projKindName(l.kind);
        const std::string key = unit == SensitivityUnit::Layer ? l.name
                                : unit == SensitivityUnit::Block
                                    ? "block " + std::to_string(l.block)
                                    : kind;
        auto it = index.find(key);
        if (it == index.end()) {
            it = index.emplace(key, out.size()).first;
            out.push_back({});
            out.back().unit = key;
            out.back().firstBlock = l.block;
        }
        UnitSensitivity& u = out[it->second];
        u.layers.push_back(l.name);
        u.firstBlock = std::min(u.firstBlock, l.block);
        u.parameters += uint64_t(l.outFeatures * l.inFeatures);
    }
    return out;
}

// The float model's hidden states at every block's input and at the end, per batch.
struct FloatStates {
    std::vector<StreamBatch> batches;
    std::vector<std::vector<at::Tensor>> input;  // [block][batch]
    std::vector<at::Tensor> final;               // [batch]
};

FloatStates floatStates(const Transformer& net, const Windows& windows,
                        const ProgressReporter& rep) {
    FloatStates s;
    // Batches of 4 windows, as a run's evaluation (stream_engine.cpp) cuts them.
    s.batches = makeBatches(windows, windows.size(), 4);
    const int blocks = net.config().numLayers;
    s.input.resize(size_t(blocks));
    for (StreamBatch& b : s.batches) {
        at::Tensor h = net.embed(b.ids);
        for (int k = 0; k < blocks; ++k) {
            rep.checkCancelled();
            s.input[size_t(k)].push_back(h);
            h = net.block(k, h);
        }
        s.final.push_back(h);
    }
    return s;
}

// The model as it is now (some layers quantized, all before `from` unchanged) against the
// float model: blocks from..end recomputed from the cached float states.
PerplexitySummary scoreFrom(const Transformer& net, const FloatStates& s, int from, int firstScored,
                            const ProgressReporter& rep, int64_t& passes) {
    const int blocks = net.config().numLayers;
    std::vector<StreamBatch> batches = s.batches;
    for (size_t i = 0; i < batches.size(); ++i) {
        at::Tensor h = from < blocks ? s.input[size_t(from)][i] : s.final[i];
        for (int k = from; k < blocks; ++k) {
            rep.checkCancelled();
            h = net.block(k, h);
        }
        batches[i].hidden[kFloat] = s.final[i];
        batches[i].hidden[kQuant] = h;
    }
    passes += blocks - from;
    return scoreStreams(net, batches, firstScored, rep);
}

struct Setup {
    Windows eval, calibration;
    int firstScored = 0;
};

Setup tokenizeTexts(const SensitivityConfig& c, const Model& model) {
    const TextEncoder encode = [&](const std::string& text) {
        return runTokenize(c.modelDir, text);
    };
    Setup s;
    const std::vector<EvalWindow> eval = buildEvalWindows(
        tokenizeTextFile(c.evaluationText, size_t(c.evalWindows) * size_t(c.evalSeq), encode,
                         "evaluation"),
        parseProtocol(c.evalProtocol), c.evalSeq, c.evalWindows, model.config().bosTokenId);
    for (const EvalWindow& w : eval) s.eval.push_back(w.ids);
    s.firstScored = eval.front().firstScored;
    if (!methodSpec(Recipe::parse(c.recipe).method).needsCalibration) return s;
    const std::vector<int32_t> tokens =
        tokenizeTextFile(c.calibrationText, size_t(c.calibrationWindows) * size_t(c.calibrationSeq),
                         encode, "calibration");
    for (size_t i = 0; i < size_t(c.calibrationWindows); ++i) {
        if ((i + 1) * size_t(c.calibrationSeq) > tokens.size()) break;
        const auto begin = tokens.begin() + std::ptrdiff_t(i * size_t(c.calibrationSeq));
        s.calibration.emplace_back(begin, begin + c.calibrationSeq);
    }
    if (s.calibration.empty())
        throw Error("the calibration text '" + c.calibrationText +
                    "' is shorter than one window of " + std::to_string(c.calibrationSeq));
    return s;
}

// Quantizes `names` (from their original weights; every other layer float) and returns the
// first block they touch (numLayers when none).
int quantizeOnly(Model& model, const std::vector<std::string>& names, const Recipe& recipe,
                 const Windows& calibration, const ProgressReporter& rep) {
    model.restoreWeights();
    if (names.empty()) return model.config().numLayers;
    QuantizeLayersOptions options;
    options.calibration = calibration;
    options.dequantCopy = false;
    quantizeLayers(model, names, recipe, options, rep.sub(0, 0));
    int first = model.config().numLayers;
    for (const std::string& n : names)
        first = std::min(first, model.transformer().linear(n).info.block);
    return first;
}

// Per layer: sum w^2 and sum (w - w_hat)^2 of the model as it is now.
std::map<std::string, std::pair<double, double>> weightErrors(Transformer& net,
                                                              const std::vector<std::string>& n) {
    std::map<std::string, std::pair<double, double>> out;
    for (const std::string& name : n) {
        const Linear& l = net.linear(name);
        const at::Tensor w = l.original.to(at::kDouble);
        out[name] = {w.pow(2).sum().item<double>(),
                     (w - l.weight.to(at::kDouble)).pow(2).sum().item<double>()};
    }
    return out;
}

std::vector<std::string> allBut(const std::vector<std::string>& all,
                                const std::vector<std::string>& unit) {
    std::vector<std::string> out;
    for (const std::string& n : all)
        if (std::find(unit.begin(), unit.end(), n) == unit.end()) out.push_back(n);
    return out;
}

void measure(SensitivityResult& result, Model& model, const Recipe& recipe,
             const std::vector<LinearLayerInfo>& layers, const Setup& setup,
             const ProgressReporter& rep) {
    Transformer& net = model.transformer();
    at::NoGradGuard noGrad;
    const int blocks = net.config().numLayers;
    std::vector<std::string> names;
    for (const LinearLayerInfo& l : layers) names.push_back(l.name);
    rep.report("sensitivity", 0.0, "float pass");
    const FloatStates fs = floatStates(net, setup.eval, rep);
    result.blockPasses = blocks;

    // Every selected layer quantized: the weight SQNR proxy, and leave-one-out's reference.
    const int firstAll = quantizeOnly(model, names, recipe, setup.calibration, rep);
    const auto errors = weightErrors(net, names);
    const bool loo = result.config.mode == SensitivityMode::LeaveOneOut;
    if (loo)
        result.fullyQuantized =
            scoreFrom(net, fs, firstAll, setup.firstScored, rep, result.blockPasses);
    const PerplexitySummary floatRef = scoreFrom(net, fs, blocks, setup.firstScored, rep,
                                                 result.blockPasses);  // no block: pplFp only
    result.pplFp = floatRef.pplFp;
    result.scoredTokens = floatRef.scoredTokens;
    result.blockPassesFull = blocks * int64_t(1 + result.units.size() + (loo ? 1 : 0));

    for (size_t u = 0; u < result.units.size(); ++u) {
        UnitSensitivity& unit = result.units[u];
        const ProgressReporter ur =
            rep.sub(double(u) / double(result.units.size()), double(u + 1) / result.units.size());
        ur.report("sensitivity", 0.0, unit.unit);
        double signal = 0, noise = 0;
        for (const std::string& n : unit.layers) {
            signal += errors.at(n).first;
            noise += errors.at(n).second;
        }
        unit.weightSqnrDb = 10.0 * std::log10(signal / noise);
        unit.weightErrorSq = noise;
        const std::vector<std::string> quantized = loo ? allBut(names, unit.layers) : unit.layers;
        const int from = quantizeOnly(model, quantized, recipe, setup.calibration, ur);
        unit.firstBlock = from;
        const PerplexitySummary p =
            scoreFrom(net, fs, from, setup.firstScored, ur, result.blockPasses);
        unit.klMean = p.klMean;
        unit.klP99 = p.klP99;
        unit.pplQ = p.pplQ;
        if (loo) {
            unit.deltaKlMean = result.fullyQuantized.klMean - p.klMean;
            unit.deltaKlP99 = result.fullyQuantized.klP99 - p.klP99;
            unit.deltaPpl = result.fullyQuantized.pplQ - p.pplQ;
        } else {
            unit.deltaKlMean = p.klMean;
            unit.deltaKlP99 = p.klP99;
            unit.deltaPpl = p.pplQ - p.pplFp;
        }
    }
    model.restoreWeights();
    rep.report("sensitivity", 1.0, std::to_string(result.units.size()) + " units");
}

}  // namespace

SensitivityResult measureSensitivity(const SensitivityConfig& config,
                                     const ProgressCallback& progress) {
    const auto start = Clock::now();
    const Recipe recipe = validate(config);
    const ProgressReporter rep(progress);
    if (config.threads != 0) setComputeThreads(config.threads);
    SensitivityResult result;
    result.config = config;
    result.recipe = recipe.toString();
    try {
        const ModelConfig cfg = loadModelConfigOf(config.modelDir);
        checkWindowLength(cfg, config.evalSeq, "the evaluation");
        if (!config.calibrationText.empty())
            checkWindowLength(cfg, config.calibrationSeq, "the calibration");
        rep.report("load", 0.0, "loading " + config.modelDir);
        const auto model = Model::load(config.modelDir);
        const auto layers = selectLayers(model->linears(), config.layers);
        if (layers.empty()) throw Error("sensitivity: the layer selection matches no layer");
        result.units = makeUnits(layers, config.unit);
        const Setup setup = tokenizeTexts(config, *model);
        result.windows = int(setup.eval.size());
        result.seq = config.evalSeq;
        measure(result, *model, recipe, layers, setup, rep.sub(0.05, 1.0));
    } catch (const c10::Error& e) {
        throwTorchError(e, "measuring the sensitivity to '" + recipe.toString() + "'");
    } catch (const std::bad_alloc&) {
        throwOutOfMemory("measuring the sensitivity to '" + recipe.toString() + "'");
    }
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
}

}  // namespace ql
