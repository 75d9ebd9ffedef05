// SmoothQuant ("+sq[:ALPHA]", methods/smoothquant.h): the scale formula against a scalar
// computation, the recipe grammar, the smoothed float model against the original (norm folding
// is an identity up to float rounding), and W8A8 with and without smoothing on a model with
// planted activation outliers.
#include "base/error.h"
#include "io/safetensors.h"
#include "methods/gptq.h"
#include "methods/method_common.h"
#include "methods/quantize_layers.h"
#include "methods/smoothquant.h"
#include "model/model.h"
#include "model/transformer.h"
#include "quant/method_registry.h"
#include "quant/quantize.h"
#include "quant/recipe.h"
#include "run/gguf_export.h"
#include "run/run.h"
#include "run/run_internal.h"
#include "testdata.h"

#include <QFile>
#include <QObject>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

using namespace ql;

namespace {

const char* kOther = "models/tinystories-656k";

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

// The planted-outlier copy of a shared model: in every block, input channels `channels` of
// input_layernorm and post_attention_layernorm are multiplied by `factor` and the matching
// columns of q/k/v and gate/up divided by it. The float model computes the same function (up
// to float rounding), but the inputs of those projections now have a few channels `factor`
// times larger than the rest: the activation outliers SmoothQuant is for.
QString outlierModel(const QString& relative, const std::vector<int64_t>& channels, float factor) {
    const QDir source(qltest::dataDir() + "/" + relative);
    const QString dir = qltest::tempDir("smoothquant-outliers");
    for (const QString& f : source.entryList(QDir::Files))
        if (f != "model.safetensors" && !QFile::copy(source.filePath(f), dir + "/" + f)) return {};
    const auto store = TensorStore::open(source.filePath("model.safetensors").toStdString());
    std::vector<TensorToWrite> out;
    for (const std::string& name : store->names()) {
        const TensorInfo& t = store->get(name);
        std::vector<float> v = store->readFloat(name);
        const bool norm = name.find("input_layernorm") != std::string::npos ||
                          name.find("post_attention_layernorm") != std::string::npos;
        const bool consumer = name.find("q_proj") != std::string::npos ||
                              name.find("k_proj") != std::string::npos ||
                              name.find("v_proj") != std::string::npos ||
                              name.find("gate_proj") != std::string::npos ||
                              name.find("up_proj") != std::string::npos;
        for (int64_t c : channels) {
            if (norm) v[size_t(c)] *= factor;
            if (consumer) {
                const int64_t cols = t.shape.back();
                for (int64_t r = 0; r < t.shape.front(); ++r) v[size_t(r * cols + c)] /= factor;
            }
        }
        TensorToWrite w{name, DType::F32, t.shape, {}};
        w.bytes.resize(v.size() * sizeof(float));
        std::memcpy(w.bytes.data(), v.data(), w.bytes.size());
        out.push_back(std::move(w));
    }
    writeSafetensors((dir + "/model.safetensors").toStdString(), out);
    return dir;
}

RunConfig evalConfig(const std::string& model, const std::string& recipe) {
    RunConfig c;
    c.modelDir = model;
    c.recipe = recipe;
    c.calibrationText = qltest::dataPath("data/stories/calib.txt");
    c.calibrationWindows = 8;
    c.calibrationSeq = 256;
    c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    c.evalSeq = 256;
    c.evalMaxWindows = 8;
    c.captureActivations = false;
    c.captureGradients = false;
    c.threads = 1;
    return c;
}

// Mean output SQNR (dB) of the layers of the given kinds.
double meanOutputSqnr(const RunResult& r, const std::vector<std::string>& kinds) {
    double sum = 0.0;
    int n = 0;
    for (const LayerResult& l : r.layers)
        if (std::find(kinds.begin(), kinds.end(), l.kind) != kinds.end()) {
            sum += l.outputSqnrDb;
            ++n;
        }
    return n > 0 ? sum / n : std::nan("");
}

// The per-channel ranges a SmoothQuant run stores (per-channel view): the weight column
// absmax equals the checkpoint's (exact), the planted channels stand out in the inputs of
// q_proj (> 10× the median absmax), the stored s is the formula applied to the stored input
// absmax and the q/k/v columns' absmax (relative 1e-5), and all of it survives save + load.
void checkChannelRanges(const RunResult& run, const std::string& model,
                        const std::vector<int64_t>& planted) {
    const auto store = TensorStore::open(model);
    std::map<std::string, const LayerResult*> byName;
    for (const LayerResult& l : run.layers) byName[l.name] = &l;
    for (const LayerResult& l : run.layers) {
        QCOMPARE(int64_t(l.channelInputAbsMax.size()), l.cols);
        QCOMPARE(int64_t(l.channelInputMeanAbs.size()), l.cols);
        QCOMPARE(int64_t(l.smoothScales.size()), l.cols);
        const std::vector<float> w = store->readFloat(l.name + ".weight");
        std::vector<float> colMax(size_t(l.cols), 0.0f);
        for (size_t i = 0; i < w.size(); ++i)
            colMax[i % size_t(l.cols)] = std::max(colMax[i % size_t(l.cols)], std::fabs(w[i]));
        QCOMPARE(l.channelWeightAbsMax, colMax);
        for (int64_t j = 0; j < l.cols; ++j)
            QVERIFY(l.channelInputMeanAbs[size_t(j)] <= l.channelInputAbsMax[size_t(j)]);
    }
    const std::string p = "model.layers.1.self_attn.";
    const LayerResult& q = *byName.at(p + "q_proj");
    std::vector<float> sorted = q.channelInputAbsMax;
    std::nth_element(sorted.begin(), sorted.begin() + long(sorted.size() / 2), sorted.end());
    const float median = sorted[sorted.size() / 2];
    for (int64_t c : planted) QVERIFY(q.channelInputAbsMax[size_t(c)] > 10.0f * median);
    for (int64_t j = 0; j < q.cols; ++j) {
        double wMax = 0.0;
        for (const char* k : {"q_proj", "k_proj", "v_proj"})
            wMax = std::max(wMax, double(byName.at(p + k)->channelWeightAbsMax[size_t(j)]));
        const double x = q.channelInputAbsMax[size_t(j)];
        const double want = x == 0 || wMax == 0 ? 1.0 : std::sqrt(x) / std::sqrt(wMax);
        QVERIFY2(std::fabs(q.smoothScales[size_t(j)] - want) <= 1e-5 * want,
                 qPrintable(QString("channel %1").arg(j)));
    }
    const QString folder = qltest::tempDir("smoothquant-run") + "/run";
    saveRun(run, folder.toStdString());
    const RunResult back = loadRun(folder.toStdString());
    for (size_t i = 0; i < run.layers.size(); ++i) {
        QCOMPARE(back.layers[i].channelInputAbsMax, run.layers[i].channelInputAbsMax);
        QCOMPARE(back.layers[i].channelInputMeanAbs, run.layers[i].channelInputMeanAbs);
        QCOMPARE(back.layers[i].channelWeightAbsMax, run.layers[i].channelWeightAbsMax);
        QCOMPARE(back.layers[i].smoothScales, run.layers[i].smoothScales);
    }
}

// Stage of a layer by its kind name: layers of one block and stage share their input.
int stageOfKind(const std::string& kind) {
    if (kind == "q_proj" || kind == "k_proj" || kind == "v_proj") return 0;
    if (kind == "o_proj") return 1;
    if (kind == "gate_proj" || kind == "up_proj") return 2;
    return 3;
}

// s_j = max|X_j|^a / max_group|W_j|^(1-a) in double from a run's stored input absmax and the
// checkpoint's weights of the layer's group (1 where either is 0, clamped to [1e-5, 1e5]).
std::vector<double> independentScales(const RunResult& run, const LayerResult& l,
                                      const TensorStore& store, double alpha) {
    std::vector<double> wMax(size_t(l.cols), 0.0);
    for (const LayerResult& o : run.layers) {
        if (o.block != l.block || stageOfKind(o.kind) != stageOfKind(l.kind)) continue;
        const std::vector<float> w = store.readFloat(o.name + ".weight");
        for (size_t i = 0; i < w.size(); ++i)
            wMax[i % size_t(l.cols)] = std::max(wMax[i % size_t(l.cols)], double(std::fabs(w[i])));
    }
    std::vector<double> s(size_t(l.cols));
    for (size_t j = 0; j < s.size(); ++j) {
        const double x = l.channelInputAbsMax[j];
        s[j] = x == 0 || wMax[j] == 0
                   ? 1.0
                   : std::clamp(std::pow(x, alpha) / std::pow(wMax[j], 1.0 - alpha), 1e-5, 1e5);
    }
    return s;
}

// Q(W·diag(s))·diag(1/s) for a recomputed (codebook / llama.cpp) recipe, in float32 steps.
std::vector<float> smoothedCodebook(const Recipe& r, const std::vector<float>& w,
                                    const std::vector<float>& s) {
    std::vector<float> ws(w);
    for (size_t i = 0; i < ws.size(); ++i) ws[i] *= s[i % s.size()];
    std::vector<float> q = methodSpec(r.method).recompute(r, ws.data(), ws.size());
    for (size_t i = 0; i < q.size(); ++i) q[i] /= s[i % s.size()];
    return q;
}

}  // namespace

class TestSmoothQuant : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // s_j = max|X_j|^a / max|W_j|^(1-a) over the group's weights, computed here in double
    // from the same numbers; channels without activation or weight get 1. Relative 1e-6
    // (float32 result of a double computation).
    void scalesMatchFormula() {
        const std::vector<float> xMax = {4.0f, 0.25f, 0.0f, 30.0f, 1.0f};
        const at::Tensor w1 =
            at::tensor({0.5f, -2.0f, 1.0f, 0.01f, 0.0f, -0.25f, 0.5f, 3.0f, 0.1f, 0.0f}, at::kFloat)
                .view({2, 5});
        const at::Tensor w2 = at::tensor({-1.0f, 0.5f, 0.0f, 0.02f, 0.0f}, at::kFloat).view({1, 5});
        const std::vector<double> wMax = {1.0, 2.0, 3.0, 0.1, 0.0};
        for (double alpha : {0.5, 0.8, 0.0, 1.0}) {
            const at::Tensor s = smoothScales(at::tensor(xMax, at::kFloat), {w1, w2}, alpha);
            QCOMPARE(s.numel(), int64_t(5));
            for (int j = 0; j < 5; ++j) {
                double want = xMax[size_t(j)] == 0 || wMax[size_t(j)] == 0
                                  ? 1.0
                                  : std::pow(double(xMax[size_t(j)]), alpha) /
                                        std::pow(wMax[size_t(j)], 1.0 - alpha);
                want = std::clamp(want, 1e-5, 1e5);
                const double got = s[j].item<float>();
                QVERIFY2(std::fabs(got - want) <= 1e-6 * want,
                         qPrintable(QString("alpha %1 channel %2: %3 vs %4")
                                        .arg(alpha)
                                        .arg(j)
                                        .arg(got)
                                        .arg(want)));
            }
        }
        // After smoothing, a channel's activation and weight maxima are balanced at alpha 0.5:
        // max|X_j|/s_j == max|W_j|·s_j.
        const at::Tensor s = smoothScales(at::tensor(xMax, at::kFloat), {w1, w2}, 0.5);
        for (int j : {0, 1, 3})
            QVERIFY(std::fabs(xMax[size_t(j)] / s[j].item<float>() -
                              wMax[size_t(j)] * s[j].item<float>()) <= 1e-5 * xMax[size_t(j)]);
    }

    void recipeGrammar_data() {
        QTest::addColumn<QString>("spec");
        QTest::addColumn<QString>("canonical");
        QTest::addColumn<QString>("label");
        QTest::newRow("w8a8 sq") << "rtn:int8:channel:sym+a8:token+sq"
                                 << "rtn:int8:channel:sym+a8:token:sym+sq:0.5"
                                 << "RTN INT8 channel sym A8 per-token sym SmoothQuant \u03b10.5";
        QTest::newRow("alpha") << "RTN:int8+A8+SQ:0.85"
                               << "rtn:int8:channel:sym+a8:token:sym+sq:0.85"
                               << "RTN INT8 channel sym A8 per-token sym SmoothQuant \u03b10.85";
        QTest::newRow("weights only") << "rtn:int4:g32:asym+sq:1"
                                      << "rtn:int4:g32:asym+sq:1"
                                      << "RTN INT4 g32 asym SmoothQuant \u03b11";
        QTest::newRow("gptq w4a8") << "gptq:int4:g128:asym+a8+sq:0.5"
                                   << "gptq:int4:g128:asym+a8:token:sym+sq:0.5"
                                   << "GPTQ INT4 g128 asym A8 per-token sym SmoothQuant \u03b10.5";
        QTest::newRow("nf4") << "nf4+a8+sq"
                             << "nf4:b64:fp32+a8:token:sym+sq:0.5"
                             << "NF4 b64 fp32 A8 per-token sym SmoothQuant \u03b10.5";
        QTest::newRow("fp4 dq") << "fp4:b128:dq:bf16+sq:0.75"
                                << "fp4:b128:dq:bf16+sq:0.75"
                                << "FP4 b128 dq bf16 SmoothQuant \u03b10.75";
        QTest::newRow("q4_k_m") << "Q4_K_M+sq:0.6"
                                << "q4_k_m+sq:0.6"
                                << "Q4_K_M SmoothQuant \u03b10.6";
        QTest::newRow("a16") << "rtn+a16+sq:0"
                             << "rtn:int8:channel:sym+sq:0"
                             << "RTN INT8 channel sym SmoothQuant \u03b10";
    }
    void recipeGrammar() {
        QFETCH(QString, spec);
        QFETCH(QString, canonical);
        QFETCH(QString, label);
        const Recipe r = Recipe::parse(spec.toStdString());
        QVERIFY(r.smooth);
        QVERIFY(r.needsCalibration());
        QCOMPARE(QString::fromStdString(r.toString()), canonical);
        QCOMPARE(Recipe::parse(r.toString()).toString(), r.toString());
        QCOMPARE(QString::fromStdString(runLabel(r)), label);
        QVERIFY(!Recipe::parse("rtn:int8+a8").needsCalibration());
    }

    void badRecipes_data() {
        QTest::addColumn<QString>("spec");
        QTest::addColumn<QString>("names");  // the message must name this part
        QTest::newRow("awq") << "awq:int4+sq"
                             << "'awq' takes no SmoothQuant part: it chooses its own "
                                "per-input-channel scales";
        QTest::newRow("awq w4a8") << "awq:int4:g128:asym+a8+sq:0.5"
                                  << "'awq' takes no SmoothQuant part";
        QTest::newRow("llm_int8") << "llm_int8+sq"
                                  << "'llm_int8' takes no SmoothQuant part: it handles "
                                     "activation outliers itself";
        QTest::newRow("fp16") << "fp16+a8+sq"
                              << "'fp16' takes no SmoothQuant part: a cast";
        QTest::newRow("gptq static") << "gptq:int4+a8:tensor+sq"
                                     << "per-token";
        QTest::newRow("alpha > 1") << "rtn:int8+a8+sq:1.5"
                                   << "'1.5'";
        QTest::newRow("alpha word") << "rtn:int8+a8+sq:half"
                                    << "'half'";
        QTest::newRow("alpha sign") << "rtn:int8+sq:-0.5"
                                    << "'-0.5'";
        QTest::newRow("order") << "rtn:int8+sq+a8"
                               << "comes before '+sq'";
        QTest::newRow("twice") << "rtn:int8+sq+sq"
                               << "more than one '+sq'";
        QTest::newRow("parts") << "rtn:int8+sq:0.5:1"
                               << "too many SmoothQuant parts";
        QTest::newRow("static") << "rtn:int8+a8:tensor+sq"
                                << "per-token";
    }
    void badRecipes() {
        QFETCH(QString, spec);
        QFETCH(QString, names);
        try {
            Recipe::parse(spec.toStdString());
            QFAIL("accepted");
        } catch (const Error& e) {
            const QString what = QString::fromUtf8(e.what());
            QVERIFY2(what.contains(names) && what.contains(spec) && !what.contains('\n'),
                     qPrintable(what));
        }
    }

    // SmoothQuant with a recomputed weight method (nf4, fp4, llama.cpp formats and mixes):
    // every layer's s equals the formula applied to the run's stored input absmax and the
    // checkpoint's weights (relative 1e-5, as checkChannelRanges), and its effective weight
    // is exactly Q_method(W·diag(s))·diag(1/s) computed here with the stored s (bit for bit:
    // the same float32 steps) — seen by the run's weight SQNR (computed from the model's own
    // weight, equal to 1e-9 dB), by re-binning (afterWeightsOf) and by re-binning the saved run.
    // At least one layer differs from the unsmoothed Q_method(W), so the scales matter.
    void recomputedMethodsQuantizeTheSmoothedWeight_data() {
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<double>("alpha");
        QTest::newRow("nf4 w4a8") << "nf4:b64+a8+sq" << 0.5;
        QTest::newRow("fp4 dq bf16") << "fp4:b64:dq:bf16+sq:0.8" << 0.8;
        QTest::newRow("q4_0") << "q4_0+sq" << 0.5;
        QTest::newRow("q4_k_m") << "q4_k_m+a8+sq:0.6" << 0.6;
    }
    void recomputedMethodsQuantizeTheSmoothedWeight() {
        QFETCH(QString, recipe);
        QFETCH(double, alpha);
        QL_REQUIRE_DATA(kOther);
        QL_REQUIRE_DATA("data/stories/calib.txt");
        RunConfig c = evalConfig(qltest::dataPath(kOther), recipe.toStdString());
        c.evaluationText.clear();
        const RunResult run = runQuantization(c);
        QVERIFY(!run.layers.empty());
        const auto store = TensorStore::open(qltest::dataPath(kOther));
        const QString folder = qltest::tempDir("smoothquant-codebook") + "/run";
        saveRun(run, folder.toStdString());
        const RunResult back = loadRun(folder.toStdString());
        int changed = 0;
        for (size_t li = 0; li < run.layers.size(); ++li) {
            const LayerResult& l = run.layers[li];
            QCOMPARE(int64_t(l.smoothScales.size()), l.cols);
            QCOMPARE(int64_t(l.channelInputAbsMax.size()), l.cols);
            const std::vector<double> want = independentScales(run, l, *store, alpha);
            for (size_t j = 0; j < want.size(); ++j)
                QVERIFY2(
                    std::fabs(l.smoothScales[j] - want[j]) <= 1e-5 * want[j],
                    qPrintable(QString::fromStdString(l.name) + " channel " + QString::number(j)));
            const Recipe applied = Recipe::parse(l.method);
            const std::vector<float> w = store->readFloat(l.name + ".weight");
            const std::vector<float> expect = smoothedCodebook(applied, w, l.smoothScales);
            QCOMPARE(afterWeightsOf(run, l, w), expect);
            QCOMPARE(afterWeightsOf(back, back.layers[li], w), expect);
            const ErrorMetrics m = errorMetrics(w.data(), expect.data(), w.size());
            QVERIFY2(std::fabs(m.sqnrDb - l.weightSqnrDb) <= 1e-9,
                     qPrintable(QString("%1: %2 vs %3 dB")
                                    .arg(QString::fromStdString(l.name))
                                    .arg(m.sqnrDb)
                                    .arg(l.weightSqnrDb)));
            if (methodSpec(applied.method).recompute(applied, w.data(), w.size()) != expect)
                ++changed;
        }
        QVERIFY(changed > 0);
        // A GGUF file cannot hold the input scales: the export is refused, naming why.
        if (!Recipe::parse(run.config.recipe).quantizesActivations()) {
            try {
                exportRunGguf(run, (qltest::tempDir("smoothquant-gguf") + "/x.gguf").toStdString());
                QFAIL("exported");
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find("smooths the inputs (SmoothQuant)") !=
                             std::string::npos,
                         e.what());
            }
        }
    }

    // GPTQ + SmoothQuant sees the smoothed model's problem: quantizeLayers' q/k/v of block 0
    // (inputs: the float norm of the embeddings, computed here by the model's own forward)
    // equal GPTQ run here on W·diag(s) with the Hessian 2 (X/s)^T (X/s) / n of the smoothed
    // inputs, then ·diag(1/s). s: the formula in double on the captured X (relative 1e-5 to the
    // run's), the run's s then used so that both sides quantize the same W·diag(s). Tolerance:
    // the two Hessians differ by float32 rounding (the run scales 2 X^T X / n, this test
    // squares X/s), which may move a GPTQ rounding decision: at least 99 % of the weights equal
    // to 1e-5 relative and the rest within two grid steps (measured: 100 % equal). The
    // control, GPTQ on W·diag(s) with the unsmoothed Hessian of X, must differ in > 5 % of
    // the weights (measured 8-12 %): the check can tell the Hessians apart.
    void gptqUsesTheSmoothedHessian_data() {
        QTest::addColumn<QString>("recipe");
        QTest::newRow("int4 g32 asym") << "gptq:int4:g32:asym+sq:0.5";
        QTest::newRow("int3 channel sym a8") << "gptq:int3:channel:sym+a8+sq:0.8";
    }
    void gptqUsesTheSmoothedHessian() {
        QFETCH(QString, recipe);
        QL_REQUIRE_DATA(kOther);
        at::NoGradGuard noGrad;
        const Recipe r = Recipe::parse(recipe.toStdString());
        const auto model = Model::load(qltest::dataPath(kOther));
        Transformer& net = model->transformer();
        std::mt19937 rng(5);
        std::vector<std::vector<int32_t>> windows(4, std::vector<int32_t>(64));
        at::Tensor ids = at::empty({4, 64}, at::kLong);
        for (int64_t i = 0; i < ids.numel(); ++i) {
            const int32_t id = int32_t(rng() % uint32_t(net.config().vocabSize));
            windows[size_t(i / 64)][size_t(i % 64)] = id;
            ids.data_ptr<int64_t>()[i] = id;
        }
        const std::vector<std::string> names = {"model.layers.0.self_attn.q_proj",
                                                "model.layers.0.self_attn.k_proj",
                                                "model.layers.0.self_attn.v_proj"};
        at::Tensor x;
        net.forward(ids, [&](const Linear& l, const at::Tensor& in, const at::Tensor&) {
            if (l.info.name == names[0]) x = in.reshape({-1, in.size(-1)}).to(at::kFloat).clone();
            return at::Tensor();
        });
        std::vector<at::Tensor> weights;
        for (const std::string& n : names) weights.push_back(net.linear(n).weight.clone());
        QuantizeLayersOptions options;
        options.calibration = windows;
        const std::vector<LayerQuantization> got =
            quantizeLayers(*model, names, r, options, ProgressReporter({}));
        QCOMPARE(got.size(), names.size());

        const at::Tensor xMax = std::get<0>(x.abs().max(0)).to(at::kDouble);
        at::Tensor wMax = std::get<0>(weights[0].abs().max(0));
        for (const at::Tensor& w : weights) wMax = at::maximum(wMax, std::get<0>(w.abs().max(0)));
        const at::Tensor sRun = at::tensor(got[0].awqScales, at::kFloat);
        for (int64_t j = 0; j < xMax.numel(); ++j) {
            const double xm = xMax[j].item<double>(), wm = wMax[j].item<double>();
            const double want =
                xm == 0 || wm == 0
                    ? 1.0
                    : std::clamp(std::pow(xm, r.smoothAlpha) / std::pow(wm, 1.0 - r.smoothAlpha),
                                 1e-5, 1e5);
            QVERIFY(std::fabs(sRun[j].item<double>() - want) <= 1e-5 * want);
        }
        const at::Tensor xs = (x / sRun).to(at::kDouble);
        const double n = double(x.size(0));
        const at::Tensor hSmooth = (xs.t().matmul(xs) * (2.0 / n)).to(at::kFloat);
        const at::Tensor xd = x.to(at::kDouble);
        const at::Tensor hPlain = (xd.t().matmul(xd) * (2.0 / n)).to(at::kFloat);
        const GptqOptions o{r.gptqDampening, r.gptqBlockSize, r.gptqActOrder};
        const ResolvedRecipe rr = resolveRecipe(r, weights[0].size(1));
        for (size_t i = 0; i < names.size(); ++i) {
            QCOMPARE(got[i].awqScales, got[0].awqScales);
            const at::Tensor ws = weights[i] * sRun.unsqueeze(0);
            const at::Tensor mine =
                gptqQuantize(ws, hSmooth, rr.recipe, o, ProgressReporter({})).dequant / sRun;
            const at::Tensor control =
                gptqQuantize(ws, hPlain, rr.recipe, o, ProgressReporter({})).dequant / sRun;
            const at::Tensor run =
                at::from_blob(const_cast<float*>(got[i].dequant.data()), mine.sizes(), at::kFloat);
            // One grid step of the smoothed weight, back in the original units.
            const at::Tensor step = (ws.abs().amax() * 2.0 / double((1 << r.bits) - 1)) / sRun;
            const at::Tensor diff = (run - mine).abs();
            const double equal =
                (diff <= 1e-5 * mine.abs() + 1e-12).to(at::kDouble).mean().item<double>();
            const double controlEqual = ((run - control).abs() <= 1e-5 * control.abs() + 1e-12)
                                            .to(at::kDouble)
                                            .mean()
                                            .item<double>();
            qInfo(
                "%s: %.4f %% equal to the independent GPTQ, %.2f %% to the unsmoothed-Hessian "
                "control",
                names[i].c_str(), 100 * equal, 100 * controlEqual);
            QVERIFY(equal >= 0.99);
            QVERIFY((diff <= 2.0 * step.unsqueeze(0).expand_as(diff)).all().item<bool>());
            QVERIFY(controlEqual < 0.95);
        }
    }

    // SmoothQuant's scales come from calibration: a run without a calibration text is refused
    // before anything runs, naming the recipe.
    void runNeedsCalibration() {
        QL_REQUIRE_DATA(kOther);
        RunConfig c = evalConfig(qltest::dataPath(kOther), "rtn:int8:channel:sym+a8+sq");
        c.calibrationText.clear();
        try {
            runQuantization(c);
            QFAIL("accepted");
        } catch (const Error& e) {
            const QString what = QString::fromUtf8(e.what());
            QVERIFY2(what.contains("needs a calibration text") && what.contains("+sq:0.5"),
                     qPrintable(what));
        }
    }

    // The equivalence: the smoothed FLOAT model (1/s folded into input_layernorm and
    // post_attention_layernorm, W·diag(s) in every projection, o/down's explicit input scale
    // x/s) computes the original logits. Scales from this model's own inputs at alpha 0.5 and
    // 0.85, so that they really move values (checked: some s_j far from 1). Tolerance: 1e-4 of
    // the largest logit (float32 rounding through the norm and two blocks; measured 1.4e-5
    // of 17.7).
    void smoothedFloatModelIsTheOriginal_data() {
        QTest::addColumn<double>("alpha");
        QTest::newRow("0.5") << 0.5;
        QTest::newRow("0.85") << 0.85;
    }
    void smoothedFloatModelIsTheOriginal() {
        QFETCH(double, alpha);
        QL_REQUIRE_DATA(kOther);
        at::NoGradGuard noGrad;
        const auto model = Model::load(qltest::dataPath(kOther));
        Transformer& net = model->transformer();
        std::mt19937 rng(11);
        at::Tensor ids = at::empty({2, 64}, at::kLong);
        for (int64_t i = 0; i < ids.numel(); ++i)
            ids.data_ptr<int64_t>()[i] = int64_t(rng() % uint32_t(net.config().vocabSize));
        // Per-channel input absmax of each block stage, on the float model.
        std::map<std::pair<int, int>, at::Tensor> absMax;
        const at::Tensor before = net.forward(
            ids, [&](const Linear& l, const at::Tensor& in, const at::Tensor&) -> at::Tensor {
                const at::Tensor m = std::get<0>(in.abs().reshape({-1, in.size(-1)}).max(0));
                at::Tensor& acc = absMax[{l.info.block, stageOf(l.info.kind)}];
                acc = acc.defined() ? at::maximum(acc, m) : m;
                return {};
            });
        const int blocks = net.config().numLayers;
        std::map<std::string, at::Tensor> explicitScale;  // o/down inputs
        double farthest = 0.0;
        for (int b = 0; b < blocks; ++b) {
            std::vector<std::vector<at::Tensor>> weights(4);
            for (const Linear& l : net.linears())
                if (l.info.block == b) weights[size_t(stageOf(l.info.kind))].push_back(l.weight);
            std::vector<at::Tensor> scales(4);
            for (int s = 0; s < 4; ++s) {
                scales[size_t(s)] = smoothScales(absMax.at({b, s}), weights[size_t(s)], alpha);
                farthest = std::max(farthest, scales[size_t(s)].log().abs().max().item<double>());
            }
            for (const Linear& l : net.linears())
                if (l.info.block == b &&
                    (l.info.kind == ProjKind::O || l.info.kind == ProjKind::Down))
                    explicitScale[l.info.name] = scales[size_t(stageOf(l.info.kind))];
            const at::Tensor normBefore = net.inputNorm(b).clone();
            foldSmoothing(net, b, scales);
            QVERIFY(!at::equal(normBefore, net.inputNorm(b)));
        }
        QVERIFY2(farthest > std::log(4.0), qPrintable(QString::number(farthest)));
        net.setInputQuantizer([&](const Linear& l, const at::Tensor& x) -> at::Tensor {
            const auto it = explicitScale.find(l.info.name);
            return it == explicitScale.end() ? x : x / it->second;
        });
        const at::Tensor after = net.forward(ids);
        net.setInputQuantizer({});
        const double largest = before.abs().max().item<double>();
        const double diff = (after - before).abs().max().item<double>();
        qInfo("alpha %.2f: max |logit difference| %.3g of max |logit| %.3g", alpha, diff, largest);
        QVERIFY2(diff <= 1e-4 * largest, qPrintable(QString::number(diff)));
    }

    // histograms.bin version 1 (before the per-channel arrays) is still read: a saved one-layer
    // run without per-channel data, rewritten as version 1 (its four empty arrays, 4 × u64 0,
    // dropped before the 8-byte end marker), loads with the same layer. A per-channel array
    // whose length is not the layer's input width is refused, naming the layer.
    void histogramsBinVersions() {
        QL_REQUIRE_DATA(kOther);
        RunConfig c;
        c.modelDir = qltest::dataPath(kOther);
        c.recipe = "rtn:int8:channel:sym";
        c.layers.include = {"model.layers.0.self_attn.q_proj"};
        c.captureActivations = false;
        c.captureGradients = false;
        const RunResult run = runQuantization(c);
        QCOMPARE(run.layers.size(), size_t(1));
        const std::string folder = (qltest::tempDir("smoothquant-v1") + "/run").toStdString();
        saveRun(run, folder);
        const std::string path = folder + "/histograms.bin";
        std::string bin = qltest::readFile(path);
        QCOMPARE(bin.substr(bin.size() - 40, 32), std::string(32, '\0'));
        bin.erase(bin.size() - 40, 32);
        const uint32_t one = 1;
        std::memcpy(&bin[8], &one, 4);
        {
            std::ofstream out(path, std::ios::binary | std::ios::trunc);
            out.write(bin.data(), std::streamsize(bin.size()));
        }
        const RunResult back = loadRun(folder);
        QCOMPARE(back.layers.size(), size_t(1));
        QCOMPARE(back.layers[0].scales, run.layers[0].scales);
        QCOMPARE(back.layers[0].weightAfter.counts, run.layers[0].weightAfter.counts);
        QVERIFY(back.layers[0].channelInputAbsMax.empty());

        RunResult bad = run;
        bad.layers[0].channelInputAbsMax.assign(3, 1.0f);
        const std::string badFolder =
            (qltest::tempDir("smoothquant-badchannels") + "/run").toStdString();
        saveRun(bad, badFolder);
        try {
            loadRun(badFolder);
            QFAIL("loaded");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("is corrupt (per-channel ranges of layer "
                                                "'model.layers.0.self_attn.q_proj')") !=
                         std::string::npos,
                     e.what());
        }
    }

    // The acceptance: SmoothQuant W8A8 <= plain W8A8 on a model with activation outliers.
    // TinyStories-656K with 4 planted outlier channels x40 (outlierModel): the float model is
    // unchanged (ppl equal to 1e-5 relative to the shared model's), plain W8A8 per-token loses
    // clearly (> 1 % perplexity: the outliers set every token's scale), SmoothQuant W8A8 at
    // alpha 0.5 is better in perplexity and in the mean output SQNR of q/k/v and gate/up (the
    // layers fed by the outlier channels).
    void beatsPlainW8A8OnOutliers() {
        QL_REQUIRE_DATA(kOther);
        QL_REQUIRE_DATA("data/stories/calib.txt");
        QL_REQUIRE_DATA("data/stories/stories.txt");
        const QString planted = outlierModel(kOther, {5, 40, 77, 120}, 40.0f);
        QVERIFY(!planted.isEmpty());
        const std::string dir = planted.toStdString();
        const RunResult original = runQuantization(
            evalConfig(qltest::dataPath(kOther), "rtn:int8:channel:sym+a8:token:sym"));
        const RunResult plain = runQuantization(evalConfig(dir, "rtn:int8:channel:sym+a8"));
        const RunResult smooth = runQuantization(evalConfig(dir, "rtn:int8:channel:sym+a8+sq"));
        QVERIFY(plain.perplexity.valid && smooth.perplexity.valid);
        const double fp = original.perplexity.pplFp;
        QVERIFY(std::fabs(plain.perplexity.pplFp - fp) <= 1e-5 * fp);
        QVERIFY(std::fabs(smooth.perplexity.pplFp - fp) <= 1e-5 * fp);
        const std::vector<std::string> fed = {"q_proj", "k_proj", "v_proj", "gate_proj", "up_proj"};
        qInfo(
            "ppl float %.4f; W8A8 per-token: shared model %.4f, planted outliers %.4f, "
            "SmoothQuant %.4f; output SQNR q/k/v/gate/up %.2f dB plain vs %.2f dB smoothed",
            fp, original.perplexity.pplQ, plain.perplexity.pplQ, smooth.perplexity.pplQ,
            meanOutputSqnr(plain, fed), meanOutputSqnr(smooth, fed));
        QVERIFY2(plain.perplexity.pplQ > 1.01 * fp, "the planted outliers do not hurt W8A8");
        QVERIFY(smooth.perplexity.pplQ <= plain.perplexity.pplQ);
        QVERIFY(meanOutputSqnr(smooth, fed) > meanOutputSqnr(plain, fed));
        QCOMPARE(QString::fromStdString(smooth.label),
                 QString("RTN INT8 channel sym A8 per-token sym SmoothQuant \u03b10.5"));
        checkChannelRanges(smooth, dir, {5, 40, 77, 120});
        // The plain run took no calibration statistics: no per-channel data.
        for (const LayerResult& l : plain.layers) QVERIFY(l.channelInputAbsMax.empty());
        // The smoothed layers' after-weights are Q(W·diag(s))·diag(1/s): kept compact with s.
        for (const LayerResult& l : smooth.layers)
            QCOMPARE(l.weightAfterSource, std::string("stored"));
    }
};

QTEST_GUILESS_MAIN(TestSmoothQuant)
#include "test_smoothquant.moc"
