// The block-streamed engine of model-path runs (see stream_engine.h for the design).
// Phase order per block b (weights of b loaded, nothing else):
//   1. float stream: calibration batches (activation ranges; gradient windows' inputs kept)
//      and evaluation batches;
//   2. quantize b's selected layers on the quantized stream's fit inputs (GPTQ/AWQ) and
//      analyze each layer as it is done;
//   3. quantized stream: calibration batches (ranges; output SQNR on held-out windows) and
//      evaluation batches (output SQNR on the first ones);
//   4. activation counts: b again over its stored calibration inputs, both streams;
//   5. release b.
// Then the head scores both evaluation streams, and gradients run backwards.
#include "run/stream_engine.h"

#include "base/error.h"
#include "base/process_env.h"
#include "methods/method_common.h"
#include "methods/quantize_block.h"
#include "run/activation_side.h"
#include "run/heap_trim.h"
#include "run/run_internal.h"

#include <set>
#include <tuple>

namespace ql {

namespace {

// What one stream's pass over a set of batches observes and how it quantizes inputs:
// `observer` on every batch, except output SQNR batches (sqnr*) and fit batches (fit*)
// when those are set.
struct Pass {
    LinearObserver observer, sqnrObserver, fitObserver;
    InputQuantizer quantizer, sqnrQuantizer;
};

// Runs block b over every batch of one stream; the input states are kept in `inputs`
// when asked (for the activation counting pass), then replaced by the block's output.
void advance(Transformer& net, int b, std::vector<StreamBatch>& batches, int stream,
             const Pass& pass, std::vector<at::Tensor>* inputs, const ProgressReporter& rep) {
    for (StreamBatch& batch : batches) {
        rep.checkCancelled();
        at::Tensor& h = batch.hidden[size_t(stream)];
        if (inputs) inputs->push_back(h);
        const bool sqnr = batch.sqnr && pass.sqnrObserver;
        const LinearObserver& obs = sqnr                            ? pass.sqnrObserver
                                    : batch.fit && pass.fitObserver ? pass.fitObserver
                                                                    : pass.observer;
        net.setInputQuantizer(sqnr && pass.sqnrQuantizer ? pass.sqnrQuantizer : pass.quantizer);
        h = net.block(b, h, obs);
    }
    net.setInputQuantizer({});
}

LinearObserver both(const LinearObserver& a, const LinearObserver& b) {
    if (!a) return b;
    if (!b) return a;
    return [a, b](const Linear& l, const at::Tensor& in, const at::Tensor& out) -> at::Tensor {
        a(l, in, out);
        b(l, in, out);
        return {};
    };
}

std::vector<at::Tensor> fitInputs(const std::vector<StreamBatch>& batches) {
    std::vector<at::Tensor> out;
    for (const StreamBatch& b : batches)
        if (b.fit) out.push_back(b.hidden[kQuant]);
    return out;
}

// Makes every projection of `net` check for cancellation (see setInterruptCheck) while
// the engine runs.
class InterruptScope {
public:
    InterruptScope(Transformer& net, const ProgressReporter& rep) : net_(net) {
        net.setInterruptCheck([&rep] { rep.checkCancelled(); });
    }
    ~InterruptScope() { net_.setInterruptCheck({}); }
    InterruptScope(const InterruptScope&) = delete;
    InterruptScope& operator=(const InterruptScope&) = delete;

private:
    Transformer& net_;
};

}  // namespace

void runStreamEngine(RunResult& run, Model& model, const TensorStore& store, const StreamPlan& plan,
                     const ProgressReporter& rep) {
    Transformer& net = model.transformer();
    if (net.residency() != Residency::Streamed) throw Error("internal: model not streamed");
    at::NoGradGuard noGrad;
    const InterruptScope interruptible(net, rep);
    const int blocks = net.config().numLayers;
    PhaseRecorder phases(run);

    // Window sets and their batches, embedded into both streams.
    const size_t calibPerBatch =
        plan.calibration.empty() ? 1
                                 : size_t(std::max<size_t>(1, size_t(kCalibrationBatchTokens) /
                                                                  plan.calibration.front().size()));
    std::vector<StreamBatch> calib =
        makeBatches(plan.calibration, plan.calibration.size() - plan.heldOut, calibPerBatch);
    for (StreamBatch& b : calib) {
        b.fit = b.firstWindow < plan.calibration.size() - plan.heldOut;
        b.sqnr = !b.fit && plan.sqnrOnHeldOut;
    }
    std::vector<StreamBatch> eval = makeBatches(plan.evaluation, plan.sqnrEvalWindows, 4);
    for (StreamBatch& b : eval) b.sqnr = b.firstWindow < plan.sqnrEvalWindows;
    for (auto* set : {&calib, &eval})
        for (StreamBatch& b : *set) b.hidden[kFloat] = b.hidden[kQuant] = net.embed(b.ids);

    std::vector<std::string> names;
    std::map<std::string, size_t> indexOf;
    for (const auto& l : plan.layers) {
        indexOf[l.name] = names.size();
        names.push_back(l.name);
    }
    std::vector<LayerResult> analyzed(plan.layers.size());
    for (size_t i = 0; i < analyzed.size(); ++i) analyzed[i].name = plan.layers[i].name;
    auto stored = std::make_shared<StoredWeights>(run.config.spillFolder);
    ActivationStats acts(analyzed, plan.bins);
    SqnrStats sqnr(analyzed);
    const std::vector<RecipeGroup> groups =
        plan.groups.empty() ? std::vector<RecipeGroup>{{plan.recipe, names}} : plan.groups;
    ActivationSide side(plan.recipe, groups.front().layers);  // overrides are weight-only
    const bool measureSqnr = plan.sqnrOnHeldOut || plan.sqnrEvalWindows > 0;
    // Calibration statistics: GPTQ/AWQ need them; RTN only for its output SQNR when no
    // held-out or evaluation windows measure it (as the whole-model path).
    const bool fitStats = plan.needsFit || (!measureSqnr && !plan.calibration.empty());
    std::array<std::vector<at::Tensor>, 2> gradInputs;
    const size_t gradWindows = plan.gradients ? std::min<size_t>(4, plan.calibration.size()) : 0;

    std::vector<float> errorScratch;  // reused by every layer: no page faults per layer
    QuantizeLayersOptions options;
    options.dequantCopy = false;  // the quantized weight is read from the model below
    options.checkpoint = plan.checkpoint;
    options.onLayer = [&](LayerQuantization& lq) {
        const size_t i = indexOf.at(lq.name);
        // AWQ never folds its scales here (quantizeLayers' contract): the effective weight
        // is Q(W·diag(s))·diag(1/s), compared as it is and stored with s as divisors.
        const std::vector<float> awqScales = lq.awqScales;
        lq.awqScales.clear();
        // An overridden layer (weight-only, no smoothing scales) keeps its inputs as they are.
        if (plan.recipe.smooth && !awqScales.empty()) side.setSmoothing(lq.name, awqScales);
        // Both weights are the block's loaded tensors (float32, contiguous): no copies.
        const Linear& l = net.linear(lq.name);
        const LayerWeights w{l.original.data_ptr<float>(), l.weight.data_ptr<float>(),
                             size_t(l.weight.numel())};
        // RTN quantized exactly l.original with quantizeWithGrid (rtnQuantize), unless
        // SmoothQuant scaled it first.
        const bool gridExact = lq.applied.method == QuantMethod::Rtn && awqScales.empty();
        analyzed[i] = analyzeLayer(plan.layers[i], store.get(lq.name + ".weight"), w, lq, plan.bins,
                                   gridExact, &errorScratch);
        if (plan.recipe.smooth) analyzed[i].smoothScales = awqScales;
        // The block's float pass calibrated the static ranges before quantizeBlock.
        std::tie(analyzed[i].activationClipLo, analyzed[i].activationClipHi) =
            side.clipRange(lq.name);
        if (analyzed[i].weightAfterSource == "stored")
            stored->put(lq.name, storedAfterWeights(lq, awqScales, /*folded=*/false, w.after));
        recycleCodes(std::move(lq.codes));  // the next layer's codes reuse its pages
    };

    const ProgressReporter blockRep = rep.sub(0.0, plan.gradients ? 0.75 : 0.9);
    size_t done = 0;
    BlockStates states;
    for (int b = 0; b < blocks; ++b) {
        const ProgressReporter br = blockRep.sub(double(b) / blocks, double(b + 1) / blocks);
        br.report("blocks", 0.0, "block " + std::to_string(b + 1) + "/" + std::to_string(blocks));
        net.loadBlock(b);
        std::vector<std::string> here;
        for (const auto& l : plan.layers)
            if (l.block == b) here.push_back(l.name);
        std::array<std::vector<at::Tensor>, 2> calibInputs;
        const bool countActs = plan.activations && !here.empty();
        if (gradWindows > 0) gradInputs[kFloat].push_back(firstWindows(calib, kFloat, gradWindows));
        Pass floatPass;
        floatPass.observer = plan.activations ? acts.rangeObserver(kFloat) : LinearObserver();
        if (side.needsCalibration())
            floatPass.fitObserver = both(floatPass.observer, side.calibrationObserver());
        advance(net, b, calib, kFloat, floatPass, countActs ? &calibInputs[kFloat] : nullptr, br);
        advance(net, b, eval, kFloat, Pass{}, nullptr, br);

        // Overridden (weight-only) layers first: a fitted recipe then fits to the inputs the
        // mixed model gives it. quantizeBlock ignores the group's layers of other blocks.
        for (size_t g = groups.size(); g-- > 0;)
            quantizeBlock(net, b, groups[g].layers, groups[g].recipe,
                          fitStats ? fitInputs(calib) : std::vector<at::Tensor>{}, options, br,
                          done, plan.layers.size());
        states.captureQuantized(net, here);

        if (gradWindows > 0) gradInputs[kQuant].push_back(firstWindows(calib, kQuant, gradWindows));
        const LinearObserver sqnrObs = measureSqnr ? sqnr.observer() : LinearObserver();
        const LinearObserver rangeQ =
            plan.activations ? acts.rangeObserver(kQuant) : LinearObserver();
        const InputQuantizer quantizer = side.quantizer();
        const InputQuantizer sqnrQuantizer =
            measureSqnr ? sqnr.measuring(quantizer, plan.recipe.outlierThreshold) : quantizer;
        advance(net, b, calib, kQuant,
                Pass{rangeQ, both(rangeQ, sqnrObs), {}, quantizer, sqnrQuantizer},
                countActs ? &calibInputs[kQuant] : nullptr, br);
        advance(net, b, eval, kQuant, Pass{{}, sqnrObs, {}, quantizer, sqnrQuantizer}, nullptr, br);

        if (countActs) {
            acts.beginCounting(b, net);
            for (int s : {kQuant, kFloat}) {
                states.use(net, b, s);
                net.setInputQuantizer(s == kQuant ? quantizer : InputQuantizer());
                const LinearObserver count = acts.countObserver(s);
                for (const at::Tensor& in : calibInputs[size_t(s)]) {
                    br.checkCancelled();
                    net.block(b, in, count);
                }
            }
        }
        net.setInputQuantizer({});
        states.clear();
        net.releaseBlock(b);
        releaseFreeMemoryAbove(kFreeHeapBetweenBlocks);
    }
    errorScratch = std::vector<float>();
    dropRecycledCodes();
    releaseFreeMemory();
    phases.done("blocks");
    if (measureSqnr) sqnr.finish(analyzed);
    if (plan.activations) {
        acts.finish(analyzed);
        run.hasActivations = true;
    }
    run.layers = std::move(analyzed);
    if (stored->size() != 0) run.storedWeights = stored;

    if (!eval.empty()) {
        run.perplexity =
            scoreStreams(net, eval, plan.evaluationFirstScored,
                         rep.sub(plan.gradients ? 0.75 : 0.9, plan.gradients ? 0.8 : 1.0));
        run.perplexity.windows = int(plan.evaluation.size());
        run.perplexity.seq = int(plan.evaluation.front().size());
        run.perplexity.tokensPerSecond = 0.0;
        phases.done("evaluate");
    }
    if (gradWindows > 0) {
        std::array<at::Tensor, 2> final = {firstWindows(calib, kFloat, gradWindows),
                                           firstWindows(calib, kQuant, gradWindows)};
        const at::Tensor ids = idsTensor(plan.calibration, 0, gradWindows);
        calib.clear();
        eval.clear();
        const ProgressReporter gr = rep.sub(0.8, 1.0);
        std::array<at::Tensor, 2> gradOut = lossGradients(net, final, ids, gr);
        phases.done("loss gradients");
        streamedGradients(net, run, gradInputs, gradOut, run.layers, plan.bins, side.quantizer(),
                          gr);
        run.hasGradients = true;
        phases.done("weight gradients");
    }
}

}  // namespace ql
