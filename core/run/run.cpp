// runQuantization: load, tokenize, quantize, analyze, capture, evaluate.
//
// Two paths. Weights-only (RTN or casts, no calibration, no evaluation): the checkpoint is
// streamed layer by layer from the memory-mapped TensorStore, no model is built, and
// only one layer's float/quantized copies exist at a time — this is what makes a 1.5B
// model cheap. Otherwise the model is loaded, quantizeLayers swaps the dequantized
// weights in, and the float/quantized states are switched by tensor handles (run_torch.h)
// for the comparison passes.
#include <mutex>
#include "base/error.h"
#include "base/process_env.h"
#include "io/dtype.h"
#include "io/gguf_model.h"
#include "io/model_check.h"
#include "io/model_config.h"
#include "model/perplexity.h"
#include "model/torch_errors.h"
#include "quant/method_registry.h"
#include "run/activation_side.h"
#include "run/checkpoint_source.h"
#include "run/run_estimate.h"
#include "run/run_internal.h"
#include "run/run_torch.h"
#include "run/stream_engine.h"

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <set>
#include <sstream>
#include <tuple>

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

namespace ql {

const LayerResult* RunResult::layer(const std::string& name) const {
    for (const auto& l : layers)
        if (l.name == name) return &l;
    return nullptr;
}

SqnrLevel sqnrLevel(double db) {
    if (std::isnan(db) || db < 10.0) return SqnrLevel::Critical;
    if (db < 20.0) return SqnrLevel::Warning;
    if (db < 30.0) return SqnrLevel::Fair;
    return SqnrLevel::Good;
}

std::string runLabel(const Recipe& r) {
    return methodSpec(r.method).label(r) + activationLabel(r) + smoothLabel(r);
}

std::string runId(const Recipe& recipe, const std::string& timestampCompact) {
    std::string slug = recipe.toString();
    for (char& c : slug)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
    return timestampCompact + "-" + slug;
}

uint64_t memAvailableBytes() {
    // Test hook: pretend this much memory is available.
    if (const char* mb = std::getenv("QL_MEMORY_AVAILABLE_MB"))
        return uint64_t(std::strtoull(mb, nullptr, 10)) * 1024 * 1024;
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("MemAvailable:", 0) == 0)
            return uint64_t(std::stoull(line.substr(13))) * 1024;
    return UINT64_MAX;
}

void memoryTrace(const std::string& what) {
    static const bool on = std::getenv("QL_MEMORY_TRACE") != nullptr;
    if (!on) return;
    std::ifstream in("/proc/self/status");
    std::string line, rss = "?", hwm = "?";
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) rss = std::to_string(std::stoull(line.substr(6)) / 1024);
        if (line.rfind("VmHWM:", 0) == 0) hwm = std::to_string(std::stoull(line.substr(6)) / 1024);
    }
    std::fprintf(stderr, "[mem] %s: rss %s MB, peak %s MB\n", what.c_str(), rss.c_str(),
                 hwm.c_str());
}

// run_tokenize.cpp: ql::Tokenizer in this process, cached per model folder.
std::vector<int32_t> defaultRunTokenize(const std::string& modelDir, const std::string& text);

namespace {

std::mutex& tokenizerMutex() {
    static std::mutex m;
    return m;
}

RunTokenizer& installedTokenizer() {
    static RunTokenizer t;
    return t;
}

std::vector<int32_t> tokenize(const std::string& modelDir, const std::string& text) {
    RunTokenizer t;
    {
        std::lock_guard<std::mutex> lock(tokenizerMutex());
        t = installedTokenizer();
    }
    return t ? t(modelDir, text) : defaultRunTokenize(modelDir, text);
}

}  // namespace

std::vector<int32_t> runTokenize(const std::string& modelDir, const std::string& text) {
    return tokenize(modelDir, text);
}

void setRunTokenizer(RunTokenizer tokenizer) {
    std::lock_guard<std::mutex> lock(tokenizerMutex());
    installedTokenizer() = std::move(tokenizer);
}

void installDefaultRunTokenizer() {
    setRunTokenizer({});
}

namespace {
double monotonicSeconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

namespace {
// Resetting the kernel's peak also resets what getrusage / `time -v` report for the whole
// process, so it is a diagnostic (QL_PHASE_PEAKS=1); by default a phase records the peak
// so far, which rises in the phase that set a new peak.
bool phasePeaks() {
    const char* v = std::getenv("QL_PHASE_PEAKS");
    return v && std::string(v) == "1";
}

bool phaseCpu() {
    static const bool on = [] {
        const char* v = std::getenv("QL_PHASE_CPU");
        return v && std::string(v) == "1";
    }();
    return on;
}

// The process's CPU seconds and page faults so far (all threads).
void processUsage(double& user, double& sys, long& minor, long& major) {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    user = double(u.ru_utime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec);
    sys = double(u.ru_stime.tv_sec) + 1e-6 * double(u.ru_stime.tv_usec);
    minor = u.ru_minflt;
    major = u.ru_majflt;
}
}  // namespace

PhaseRecorder::PhaseRecorder(RunResult& run) : run_(run), start_(monotonicSeconds()) {
    if (phasePeaks()) resetPeakResident();
    if (phaseCpu()) processUsage(user_, sys_, minorFaults_, majorFaults_);
}

void PhaseRecorder::done(const std::string& phase) {
    run_.timings.push_back({phase, monotonicSeconds() - start_, peakResidentBytes()});
    if (phasePeaks()) resetPeakResident();
    if (phaseCpu()) {
        double user = 0, sys = 0;
        long minor = 0, major = 0;
        processUsage(user, sys, minor, major);
        const double du = user - user_, ds = sys - sys_;
        std::fprintf(stderr,
                     "[cpu] %-16s wall %8.2f s  user %8.2f s  sys %7.2f s (%5.1f %% of user)  "
                     "minor faults %9ld  major %ld\n",
                     phase.c_str(), monotonicSeconds() - start_, du, ds,
                     du > 0 ? 100.0 * ds / du : 0.0, minor - minorFaults_, major - majorFaults_);
        user_ = user;
        sys_ = sys;
        minorFaults_ = minor;
        majorFaults_ = major;
    }
    start_ = monotonicSeconds();
}

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

Recipe validate(const RunConfig& c) {
    if (c.modelDir.empty()) throw Error("no model folder given");
    const Recipe recipe = Recipe::parse(c.recipe);
    for (const RecipeOverride& o : c.overrides) checkOverride(o);
    if (c.calibrationWindows <= 0)
        throw Error("calibration windows must be at least 1, got " +
                    std::to_string(c.calibrationWindows));
    if (c.calibrationSeq < 2)
        throw Error("calibration window length must be at least 2 tokens, got " +
                    std::to_string(c.calibrationSeq));
    if (c.histogramBins < 1 || c.histogramBins > (1 << 20))
        throw Error("histogram bins must be in 1..1048576, got " + std::to_string(c.histogramBins));
    if (c.evalSeq < 0 || c.evalMaxWindows < 0)
        throw Error("evaluation seq and max windows must not be negative");
    if (c.threads < 0 || c.threads > kMaxThreads)
        throw Error("threads must be in 1.." + std::to_string(kMaxThreads) +
                    " (0 = all cores), got " + std::to_string(c.threads));
    parseProtocol(c.evalProtocol);
    if (recipe.needsCalibration() && c.calibrationText.empty())
        throw Error("recipe '" + recipe.toString() + "' needs a calibration text" +
                    (recipe.smooth ? " (SmoothQuant's scales are calibrated on it)" : ""));
    if (recipe.quantizesActivations() && !recipe.actPerToken && c.calibrationText.empty())
        throw Error("recipe '" + recipe.toString() +
                    "' quantizes activations per tensor (static) and needs a calibration text");
    if (recipe.quantizesActivations() && c.calibrationText.empty() && c.evaluationText.empty())
        throw Error("recipe '" + recipe.toString() +
                    "' quantizes activations, which only a forward pass shows: give a "
                    "calibration or an evaluation text");
    return recipe;
}

// The calibration windows cut from the text; records how many and warns when the text
// gave fewer than asked (the config keeps what was asked).
Windows calibrationWindows(const std::vector<int32_t>& tokens, RunResult& run) {
    const RunConfig& c = run.config;
    const size_t available = tokens.size() / size_t(c.calibrationSeq);
    if (available == 0)
        throw Error("the calibration text '" + c.calibrationText + "' has " +
                    std::to_string(tokens.size()) + " tokens, fewer than one window of " +
                    std::to_string(c.calibrationSeq));
    Windows w(std::min(available, size_t(c.calibrationWindows)));
    for (size_t i = 0; i < w.size(); ++i) {
        auto begin = tokens.begin() + std::ptrdiff_t(i * size_t(c.calibrationSeq));
        w[i].assign(begin, begin + c.calibrationSeq);
    }
    run.calibrationWindowsUsed = int(w.size());
    run.calibrationTokens = int64_t(tokens.size());
    if (w.size() < size_t(c.calibrationWindows))
        run.warnings.push_back("calibration: " + std::to_string(c.calibrationWindows) + " x " +
                               std::to_string(c.calibrationSeq) + " tokens asked, but '" +
                               c.calibrationText + "' has only " + std::to_string(tokens.size()) +
                               " tokens: " + std::to_string(w.size()) + " window(s) used");
    return w;
}

// Output SQNR must not be measured on the windows GPTQ/AWQ fit to. Without an evaluation
// text the last quarter of the calibration windows (at least one) is held out from the
// fit; with a single window nothing can be held out and the source says so.
// The held-out windows are the last ones; activations and gradients still use them all.
Windows holdOutCalibration(const Windows& calibration, bool haveEvaluation, RunResult& run) {
    if (haveEvaluation || calibration.size() < 2) return {};
    const size_t held = std::max<size_t>(1, calibration.size() / 4);
    run.calibrationWindowsHeldOut = int(held);
    return Windows(calibration.end() - std::ptrdiff_t(held), calibration.end());
}

// The first evaluation windows, up to ~4096 tokens (at least one window).
Windows sqnrEvaluationWindows(const std::vector<EvalWindow>& eval) {
    Windows out;
    size_t tokens = 0;
    for (const auto& w : eval) {
        if (!out.empty() && tokens + w.ids.size() > 4096) break;
        out.push_back(w.ids);
        tokens += w.ids.size();
    }
    return out;
}

std::vector<std::string> layerNames(const std::vector<LinearLayerInfo>& layers) {
    std::vector<std::string> names;
    for (const auto& l : layers) names.push_back(l.name);
    return names;
}

std::string folderName(const std::string& dir) {
    std::filesystem::path p(dir);
    if (!p.has_filename()) p = p.parent_path();
    return p.filename().string();
}

void fillIdentity(RunResult& run, const Recipe& recipe) {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char compact[32], iso[32];
    std::strftime(compact, sizeof compact, "%Y%m%d-%H%M%S", &utc);
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &utc);
    run.id = runId(recipe, compact);
    run.label = runLabel(recipe);
    run.createdAt = iso;
    run.modelName = folderName(run.config.modelDir);
}

void fillMemory(RunResult& run, const TensorStore& store) {
    MemorySummary& m = run.memory;
    for (const auto& name : store.names()) m.parametersTotal += uint64_t(store.get(name).numel());
    m.bytesFpTotal = store.totalBytes();
    for (const auto& l : run.layers) {
        m.bytesFpQuantized += l.bytesFp;
        m.bytesQQuantized += l.bytesQ;
    }
    m.bytesQTotal = m.bytesFpTotal - m.bytesFpQuantized + m.bytesQQuantized;
    // With QL_PHASE_PEAKS=1 the kernel's peak was reset per phase: the run's peak is the
    // largest phase peak.
    m.peakRssBytes = peakResidentBytes();
    for (const PhaseTiming& t : run.timings) m.peakRssBytes = std::max(m.peakRssBytes, t.peakBytes);
}

void addFallbackWarnings(RunResult& run) {
    std::map<std::string, int> reasons;
    for (const auto& l : run.layers)
        if (l.fallback) ++reasons[l.fallbackReason];
    for (const auto& [reason, count] : reasons)
        run.warnings.push_back(std::to_string(count) + " layer(s): " + reason);
}

// Progress budget of the phases, normalised to [0, 1].
struct Budget {
    std::vector<std::pair<std::string, double>> parts;
    double total = 0.0;
    void add(const std::string& phase, double w) {
        parts.emplace_back(phase, w);
        total += w;
    }
    ProgressReporter sub(const ProgressReporter& rep, const std::string& phase) const {
        double begin = 0.0;
        for (const auto& [name, w] : parts) {
            if (name == phase) return rep.sub(begin / total, (begin + w) / total);
            begin += w;
        }
        return rep;
    }
};

void runWeightsOnly(RunResult& run, const Recipe& recipe, const ProgressReporter& rep,
                    const Checkpoint& checkpoint) {
    PhaseRecorder phases(run);
    rep.report("load", 0.0, "opening " + run.config.modelDir);
    const ModelConfig cfg = loadModelConfigOf(run.config.modelDir);
    const auto store = TensorStore::open(run.config.modelDir);
    validateModel(cfg, *store, modelConfigSource(run.config.modelDir));
    run.architecture = cfg.architectureName;
    const auto layers = selectLayers(checkpointLinears(*store, cfg.numLayers), run.config.layers);
    const std::vector<Recipe> recipes =
        layerRecipes(layerNames(layers), recipe, run.config.overrides);
    phases.done("load");
    const ProgressReporter q = rep.sub(0.02, 1.0);
    // Buffers reused from layer to layer: after the largest layer no page is faulted in
    // again (fresh multi-MB vectors per layer cost as much system time as the math).
    WeightOnlyBuffers buffers;
    for (size_t i = 0; i < layers.size(); ++i) {
        q.report("quantize", double(i) / double(layers.size()), layers[i].name);
        const auto t0 = Clock::now();
        UnusableWeights bad;
        run.layers.push_back(weightOnlyLayer(*store, layers[i], layerPlace(cfg, layers[i]),
                                             recipes[i], run.config.histogramBins, buffers, bad,
                                             checkpoint.get()));
        store->releasePages(store->get(layers[i].name + ".weight"));
        run.layers.back().seconds = since(t0);
        if (bad.count > 0) {
            // Kept (the other layers are still worth seeing) but marked and warned about.
            run.layers.back().unusableWeights = bad.count;
            run.layers.back().firstUnusableRow = bad.firstRow;
            run.warnings.push_back(describeUnusable(bad) + ": the metrics of layer '" +
                                   layers[i].name + "' are not meaningful");
        }
    }
    q.report("quantize", 1.0, std::to_string(layers.size()) + " layers");
    phases.done("quantize");
    fillMemory(run, *store);
}

// Static activation ranges (per-tensor activation side) from the float model's inputs
// over the fit calibration windows, as the streamed engine records them.
void calibrateActivations(Transformer& net, ActivationSide& side, const Windows& windows,
                          const ProgressReporter& rep) {
    if (windows.empty())
        throw Error("per-tensor activation quantization needs calibration windows to fit to");
    at::NoGradGuard noGrad;
    const LinearObserver observer = side.calibrationObserver();
    const size_t batch = batchWindows(int64_t(windows.front().size()), 1);
    for (size_t w0 = 0; w0 < windows.size(); w0 += batch) {
        rep.checkCancelled();
        at::Tensor hidden = net.embed(idsTensor(windows, w0, std::min(batch, windows.size() - w0)));
        for (int b = 0; b < net.config().numLayers; ++b) hidden = net.block(b, hidden, observer);
    }
}

// The block-streamed engine (stream_engine.h) unless QL_ENGINE=whole asks for the
// whole-model path, which is kept as the reference the streamed engine is tested against.
bool streamedEngine() {
    const char* e = std::getenv("QL_ENGINE");
    return !(e && std::string(e) == "whole");
}

void runWithModel(RunResult& run, const Recipe& recipe, const ProgressReporter& rep,
                  const Checkpoint& checkpoint) {
    const RunConfig& c = run.config;
    const bool calib = !c.calibrationText.empty();
    const bool eval = !c.evaluationText.empty();
    const bool acts = c.captureActivations && calib;
    const bool grads = c.captureGradients && calib;
    if (c.captureActivations && !calib)
        run.warnings.push_back("activations not captured: no calibration text");
    if (c.captureGradients && !calib)
        run.warnings.push_back("gradients not captured: no calibration text");
    const bool streamed = streamedEngine();
    Budget budget;
    if (streamed) {  // the block stream does every phase after tokenizing, in one pass
        budget.add("load", 2);
        budget.add("tokenize", 3);
        budget.add("stream", 95);
    } else {
        budget.add("load", 1);
        budget.add("tokenize", 0.5);
        budget.add("quantize", methodSpec(recipe.method).quantizeCost);
        // In the order the phases run: a bar that fills out of order goes backwards.
        if (calib || eval) budget.add("output SQNR", 1);
        if (acts) budget.add("activations", 3);
        if (grads) budget.add("gradients", 3);
        if (eval) budget.add("evaluate", 6);
    }

    const ModelConfig cfg = loadModelConfigOf(c.modelDir);
    if (calib) checkWindowLength(cfg, c.calibrationSeq, "the calibration");
    const int evalSeq = c.evalSeq > 0 ? c.evalSeq : std::min(2048, cfg.maxPositions);
    if (eval) checkWindowLength(cfg, evalSeq, "the evaluation");
    if (streamed)
        checkEstimateFits(estimateRun(c), c.modelDir);
    else
        checkModelPathMemory(c, grads);
    PhaseRecorder phases(run);
    const ProgressReporter loading = budget.sub(rep, "load");
    loading.report("load", 0.0, "loading " + c.modelDir);
    const auto model =
        streamed ? Model::loadStreamed(c.modelDir, loading) : Model::load(c.modelDir);
    memoryTrace("loaded");
    const auto store = TensorStore::open(c.modelDir);
    run.architecture = model->config().architectureName;
    const auto layers = selectLayers(model->linears(), c.layers);
    const std::vector<RecipeGroup> groups = groupByRecipe(layerNames(layers), recipe, c.overrides);
    phases.done("load");

    const ProgressReporter tok = budget.sub(rep, "tokenize");
    tok.report("tokenize", 0.0, "tokenizing");
    const TextEncoder encode = [&](const std::string& text) { return tokenize(c.modelDir, text); };
    Windows calibration, heldOut;
    if (calib) {
        const size_t needed = size_t(c.calibrationWindows) * size_t(c.calibrationSeq);
        calibration = calibrationWindows(
            tokenizeTextFile(c.calibrationText, needed, encode, "calibration"), run);
        heldOut = holdOutCalibration(calibration, eval, run);
    }
    std::vector<EvalWindow> evalWindows;
    if (eval) {
        const PplProtocol protocol = parseProtocol(c.evalProtocol);
        const size_t needed = size_t(c.evalMaxWindows) * size_t(evalSeq);  // 0 = all
        // BOS as evaluatePerplexity takes it: the config's bos_token_id.
        evalWindows =
            buildEvalWindows(tokenizeTextFile(c.evaluationText, needed, encode, "evaluation"),
                             protocol, evalSeq, c.evalMaxWindows, model->config().bosTokenId);
    }
    tok.report("tokenize", 1.0);
    phases.done("tokenize");
    if (streamed) {
        StreamPlan plan;
        plan.layers = layers;
        plan.recipe = recipe;
        plan.groups = groups;
        plan.needsFit = recipe.needsCalibration();
        plan.calibration = calibration;
        plan.heldOut = heldOut.size();
        plan.sqnrOnHeldOut = !eval && !heldOut.empty();
        for (const auto& w : evalWindows) plan.evaluation.push_back(w.ids);
        if (eval) {
            plan.evaluationFirstScored = evalWindows.front().firstScored;
            plan.sqnrEvalWindows = sqnrEvaluationWindows(evalWindows).size();
        }
        plan.activations = acts;
        plan.gradients = grads;
        plan.bins = c.histogramBins;
        plan.checkpoint = checkpoint;
        runStreamEngine(run, *model, *store, plan, budget.sub(rep, "stream"));
        if (eval) run.perplexity.protocol = protocolName(parseProtocol(c.evalProtocol));
        if (eval || !heldOut.empty()) {
            run.outputSqnrSource = eval ? "evaluation" : "calibration-heldout";
            run.outputSqnrWindows = int(eval ? plan.sqnrEvalWindows : heldOut.size());
        } else if (calib) {
            run.outputSqnrSource = "calibration";
            run.outputSqnrWindows = int(calibration.size());
        }
        fillMemory(run, *store);
        return;
    }

    Transformer& net = model->transformer();
    ModelStates states(net);
    std::vector<std::string> names;
    std::map<std::string, size_t> indexOf;
    for (const auto& l : layers) {
        indexOf[l.name] = names.size();
        names.push_back(l.name);
    }
    // Each layer is analyzed as soon as it is quantized and its codes and float copy are
    // dropped right away; the after-weights that must be stored (GPTQ, AWQ) are kept
    // compact (codes + grid, 1/8 of float32 at INT4) beside the model's own float tensor.
    auto stored = std::make_shared<StoredWeights>(run.config.spillFolder);
    std::vector<LayerResult> analyzed(layers.size());
    QuantizeLayersOptions options;
    options.checkpoint = checkpoint;
    options.calibration =
        Windows(calibration.begin(), calibration.end() - std::ptrdiff_t(heldOut.size()));
    ActivationSide side(recipe, groups.front().layers);  // overrides are weight-only
    options.onLayer = [&](LayerQuantization& lq) {
        const size_t i = indexOf.at(lq.name);
        // An overridden layer (weight-only, no smoothing scales) keeps its inputs as they are.
        if (recipe.smooth && !lq.awqScales.empty()) side.setSmoothing(lq.name, lq.awqScales);
        // AWQ: when the scales were folded into the norms, a layer's weight in the model is
        // Q(W·diag(s)) and is compared as Q(W·diag(s))·diag(1/s); when they were not (the
        // dequantized weight is already Q(W·diag(s))·diag(1/s)), it is compared as is.
        // Either way the compared weight is the codes' grid values divided by s.
        const std::vector<float> awqScales = lq.awqScales;
        const bool folded = !awqScales.empty() && states.normsChanged();
        if (!folded) lq.awqScales.clear();
        const TensorInfo& tensor = store->get(lq.name + ".weight");
        const std::vector<float> original = store->readFloat(tensor.name);
        store->releasePages(tensor);
        analyzed[i] = analyzeLayer(layers[i], tensor, original, lq, c.histogramBins);
        if (recipe.smooth) analyzed[i].smoothScales = awqScales;
        std::tie(analyzed[i].activationClipLo, analyzed[i].activationClipHi) =
            side.clipRange(lq.name);  // calibrated before quantizing (below)
        if (analyzed[i].weightAfterSource == "stored")
            stored->put(lq.name, storedAfterWeights(lq, awqScales, folded));
        lq.codes = std::vector<int32_t>();
        lq.dequant = std::vector<float>();
        memoryTrace("layer " + lq.name);
    };
    if (side.needsCalibration()) calibrateActivations(net, side, options.calibration, rep);
    options.quantizedInputs = [&net, q = side.quantizer()](bool on) {
        net.setInputQuantizer(on ? q : InputQuantizer());
    };
    const ProgressReporter q = budget.sub(rep, "quantize");
    // Overridden (weight-only) layers first, so that a fitted base recipe fits to the
    // inputs the mixed model gives it, as the streamed engine does.
    for (size_t g = groups.size(); g-- > 0;)
        if (!groups[g].layers.empty())
            quantizeLayers(*model, groups[g].layers, groups[g].recipe, options, q);
    states.captureQuantized();
    states.setInputQuantizer(side.quantizer());
    run.layers = std::move(analyzed);
    if (stored->size() != 0) run.storedWeights = stored;
    memoryTrace("quantized");
    phases.done("quantize");

    const Windows sqnrWindows = eval ? sqnrEvaluationWindows(evalWindows) : heldOut;
    if (!sqnrWindows.empty()) {
        measureOutputSqnr(net, states, sqnrWindows, run.layers, recipe.outlierThreshold,
                          budget.sub(rep, "output SQNR"));
        run.outputSqnrSource = eval ? "evaluation" : "calibration-heldout";
        run.outputSqnrWindows = int(sqnrWindows.size());
        phases.done("output SQNR");
    } else if (calib) {
        run.outputSqnrSource = "calibration";
        run.outputSqnrWindows = int(calibration.size());
    }

    if (acts) {
        captureActivations(net, states, calibration, run.layers, c.histogramBins,
                           budget.sub(rep, "activations"));
        run.hasActivations = true;
        phases.done("activations");
        memoryTrace("activations");
    }
    if (grads) {
        const Windows few(
            calibration.begin(),
            calibration.begin() + std::ptrdiff_t(std::min<size_t>(4, calibration.size())));
        captureGradients(net, states, few, run.layers, c.histogramBins,
                         budget.sub(rep, "gradients"));
        run.hasGradients = true;
        phases.done("gradients");
        memoryTrace("gradients");
    }
    if (eval) {
        run.perplexity = jointEvaluate(net, states, evalWindows, budget.sub(rep, "evaluate"));
        run.perplexity.protocol = protocolName(parseProtocol(c.evalProtocol));
        phases.done("evaluate");
        memoryTrace("evaluated");
    }
    fillMemory(run, *store);
}

}  // namespace

RunResult runQuantization(const RunConfig& asked, const ProgressCallback& progress) {
    const auto start = Clock::now();
    RunConfig config = asked;
    Checkpoint checkpoint;
    if (!config.checkpoint.empty()) {
        // The quantized side comes from the file: its recipe is the file's.
        checkpoint = openQuantizedCheckpoint(config.checkpoint);
        config.recipe = checkpoint->recipe();
    }
    const Recipe recipe = validate(config);
    const ProgressReporter rep(progress);
    RunResult run;
    run.config = config;
    fillIdentity(run, recipe);
    if (config.threads != 0) setComputeThreads(config.threads);

    const bool calibrated = recipe.needsCalibration();
    const bool needModel =
        calibrated || !config.calibrationText.empty() || !config.evaluationText.empty();
    try {
        if (needModel) {
            runWithModel(run, recipe, rep, checkpoint);
        } else {
            if (config.captureActivations || config.captureGradients)
                run.warnings.push_back(
                    "activations and gradients not captured: no calibration text");
            runWeightsOnly(run, recipe, rep, checkpoint);
        }
    } catch (const c10::Error& e) {
        throwTorchError(e, "running '" + recipe.toString() + "' on '" + config.modelDir + "'");
    } catch (const std::bad_alloc&) {
        throwOutOfMemory("running '" + recipe.toString() + "' on '" + config.modelDir + "'");
    }
    if (checkpoint)  // re-binning reads the file again (layer_metrics.cpp)
        for (LayerResult& l : run.layers) l.weightAfterSource = "checkpoint";
    addFallbackWarnings(run);
    run.label = runDisplayLabel(run);
    run.seconds = since(start);
    rep.report("done", 1.0, run.label);
    return run;
}

}  // namespace ql
