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
#include "run/sensitivity_proxies.h"
#include "run/stream_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <new>

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
    if (c.fisherWindows < 0)
        throw Error("Fisher windows must be 0 (skip) or more, got " +
                    std::to_string(c.fisherWindows));
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

// The final hidden states of the model as it is now (some layers quantized, all before
// `from` unchanged), blocks from..end recomputed from the cached float states.
std::vector<at::Tensor> runFrom(const Transformer& net, const FloatStates& s, int from,
                                const LinearObserver& observer, const ProgressReporter& rep) {
    const int blocks = net.config().numLayers;
    std::vector<at::Tensor> out;
    for (size_t i = 0; i < s.batches.size(); ++i) {
        at::Tensor h = from < blocks ? s.input[size_t(from)][i] : s.final[i];
        for (int k = from; k < blocks; ++k) {
            rep.checkCancelled();
            h = net.block(k, h, observer);
        }
        out.push_back(h);
    }
    return out;
}

// That model against the float model.
PerplexitySummary scoreFrom(const Transformer& net, const FloatStates& s, int from, int firstScored,
                            const ProgressReporter& rep, int64_t& passes,
                            const LinearObserver& observer = {}) {
    std::vector<StreamBatch> batches = s.batches;
    const std::vector<at::Tensor> final = runFrom(net, s, from, observer, rep);
    for (size_t i = 0; i < batches.size(); ++i) {
        batches[i].hidden[kFloat] = s.final[i];
        batches[i].hidden[kQuant] = final[i];
    }
    passes += net.config().numLayers - from;
    return scoreStreams(net, batches, firstScored, rep);
}

struct Setup {
    Windows eval, calibration;
    Windows fit;  // the calibration windows when the method fits to them, else none
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
    // Also for RTN when given: the Hessian and kurtosis proxies use them.
    if (c.calibrationText.empty()) return s;
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
    if (methodSpec(Recipe::parse(c.recipe).method).needsCalibration) s.fit = s.calibration;
    return s;
}

// Quantizes `names` (from their original weights; every other layer float) and returns the
// first block they touch (numLayers when none). `fallbacks`: layer -> why it fell back.
int quantizeOnly(Model& model, const std::vector<std::string>& names, const Recipe& recipe,
                 const Windows& calibration, const ProgressReporter& rep,
                 std::map<std::string, std::string>* fallbacks = nullptr) {
    model.restoreWeights();
    if (names.empty()) return model.config().numLayers;
    QuantizeLayersOptions options;
    options.calibration = calibration;
    options.dequantCopy = false;
    for (const LayerQuantization& q : quantizeLayers(model, names, recipe, options, rep.sub(0, 0)))
        if (fallbacks && q.fallback) (*fallbacks)[q.name] = q.fallbackReason;
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

// The proxies beyond the weight ones, with every selected layer quantized: output energies
// on the evaluation windows (leave-one-out: in its fully quantized reference pass, which
// it makes anyway), then the Hessian / kurtosis pass and the Fisher backward.
ProxySums measureProxies(SensitivityResult& result, Transformer& net, const FloatStates& fs,
                         const Setup& setup, const std::vector<std::string>& names, int firstAll,
                         const ProgressReporter& rep) {
    const auto start = Clock::now();
    ProxySums sums;
    for (const std::string& n : names) sums[n];
    if (!result.config.proxies) {
        if (result.config.mode == SensitivityMode::LeaveOneOut)
            result.fullyQuantized =
                scoreFrom(net, fs, firstAll, setup.firstScored, rep, result.blockPasses);
        return sums;
    }
    const LinearObserver outputs = outputErrorObserver(sums);
    if (result.config.mode == SensitivityMode::LeaveOneOut) {
        result.fullyQuantized =
            scoreFrom(net, fs, firstAll, setup.firstScored, rep, result.blockPasses, outputs);
    } else {
        runFrom(net, fs, firstAll, outputs, rep);
        result.proxyBlockPasses += net.config().numLayers - firstAll;
    }
    const bool calibration = !setup.calibration.empty();
    result.hessianWindows = calibration ? "calibration" : "evaluation";
    result.proxyBlockPasses +=
        inputProxies(net, calibration ? setup.calibration : setup.eval, sums, rep);
    result.fisherWindows = std::min(result.config.fisherWindows, int(setup.eval.size()));
    if (result.fisherWindows > 0)
        result.proxyBlockPasses += fisherProxies(net, fs, result.fisherWindows, sums, rep);
    result.proxySeconds = std::chrono::duration<double>(Clock::now() - start).count();
    return sums;
}

// A unit's proxies from its layers' sums; `errors` per layer: sum w^2, sum (w - w_hat)^2.
void setUnitProxies(UnitSensitivity& unit,
                    const std::map<std::string, std::pair<double, double>>& errors,
                    const ProxySums& sums) {
    double signal = 0, noise = 0, outSignal = 0, outNoise = 0, fisher = 0, hessian = 0;
    bool fisherMeasured = true;
    unit.inputKurtosis = -std::numeric_limits<double>::infinity();
    for (const std::string& n : unit.layers) {
        signal += errors.at(n).first;
        noise += errors.at(n).second;
        const LayerProxySums& p = sums.at(n);
        outSignal += p.outSignal;
        outNoise += p.outNoise;
        fisherMeasured = fisherMeasured && p.fisherWindows > 0;
        if (p.fisherWindows > 0) fisher += p.fisher / p.fisherWindows;
        hessian += p.tokens > 0 ? p.hessian / double(p.tokens) : 0.0;
        unit.inputKurtosis = std::max(unit.inputKurtosis, inputKurtosis(p));  // NaN never wins
    }
    unit.weightSqnrDb = 10.0 * std::log10(signal / noise);
    unit.weightErrorSq = noise;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const bool measured = outSignal > 0;  // false: SensitivityConfig::proxies off
    unit.outputSqnrDb = measured ? 10.0 * std::log10(outSignal / outNoise) : nan;
    unit.fisherError = fisherMeasured ? fisher : nan;
    unit.hessianError = measured ? hessian : nan;
    if (std::isinf(unit.inputKurtosis)) unit.inputKurtosis = nan;
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

    // Every selected layer quantized: the proxies, and leave-one-out's reference.
    std::map<std::string, std::string> fallbacks;
    const int firstAll = quantizeOnly(model, names, recipe, setup.fit, rep, &fallbacks);
    for (UnitSensitivity& unit : result.units)
        for (const std::string& n : unit.layers)
            if (fallbacks.count(n)) {
                if (unit.fallbackLayers.empty()) unit.fallbackReason = fallbacks.at(n);
                unit.fallbackLayers.push_back(n);
            }
    const auto errors = weightErrors(net, names);
    const bool loo = result.config.mode == SensitivityMode::LeaveOneOut;
    rep.report("sensitivity", 0.0, "proxies");
    const ProxySums sums = measureProxies(result, net, fs, setup, names, firstAll, rep);
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
        const auto unitStart = Clock::now();
        setUnitProxies(unit, errors, sums);
        const std::vector<std::string> quantized = loo ? allBut(names, unit.layers) : unit.layers;
        const int from = quantizeOnly(model, quantized, recipe, setup.fit, ur);
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
        unit.seconds = std::chrono::duration<double>(Clock::now() - unitStart).count();
    }
    model.restoreWeights();
    result.correlations = proxyCorrelations(result.units);
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
