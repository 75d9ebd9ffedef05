// Tests of core/methods. ATen is included before Qt (and Qt keywords are off) because
// torch headers use identifiers that Qt defines as macros.
#include "methods/awq.h"
#include "methods/gptq.h"
#include "methods/inverse_factor.h"
#include "methods/method_common.h"
#include "methods/quantize_layers.h"

#include "base/error.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "model/transformer.h"
#include "quant/quantize.h"
#include "tokenizer/tokenizer.h"

#include <ATen/ATen.h>

#include "testdata.h"

#include <QTest>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace {

// group > 0: groups of that size; 0: per channel; -1: per tensor.
ql::Recipe makeRecipe(ql::QuantMethod m, int bits, int group, bool symmetric) {
    ql::Recipe r;
    r.method = m;
    r.bits = bits;
    r.granularity = group > 0    ? ql::Granularity::Group
                    : group == 0 ? ql::Granularity::Channel
                                 : ql::Granularity::Tensor;
    r.groupSize = group;
    r.symmetric = symmetric;
    return r;
}

// ||(W - W_hat) X^T||^2 with plain loops in double: independent of the ATen paths.
double naiveOutputError(const at::Tensor& w, const at::Tensor& wHat, const at::Tensor& x) {
    const at::Tensor d = (w - wHat).to(at::kDouble).contiguous();
    const at::Tensor xd = x.to(at::kDouble).contiguous();
    const double* dp = d.data_ptr<double>();
    const double* xp = xd.data_ptr<double>();
    const int64_t rows = d.size(0), cols = d.size(1), n = xd.size(0);
    double sum = 0.0;
    for (int64_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < rows; ++r) {
            double acc = 0.0;
            for (int64_t c = 0; c < cols; ++c) acc += dp[r * cols + c] * xp[t * cols + c];
            sum += acc * acc;
        }
    return sum;
}

// Correlated inputs with uneven channel magnitudes, like real activations.
at::Tensor correlatedInputs(int64_t n, int64_t in, uint64_t seed) {
    auto gen = at::detail::createCPUGenerator(seed);
    const at::Tensor z = at::randn({n, in}, gen);
    const at::Tensor mix = at::eye(in) + 0.3 * at::randn({in, in}, gen) / std::sqrt(double(in));
    const at::Tensor scale = at::exp(at::randn({in}, gen));
    return z.mm(mix) * scale;
}

at::Tensor hessianOf(const at::Tensor& x) {
    return 2.0 * x.t().mm(x) / double(x.size(0));
}

// Every dequantized value must equal (q - zero) * scale of its grid cell.
void checkCodesMatchDequant(const ql::GridQuant& q) {
    const at::Tensor dq = q.dequant.contiguous();
    const float* p = dq.data_ptr<float>();
    const int64_t rows = dq.size(0), cols = dq.size(1);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            const int32_t code = q.codes[r * cols + c];
            QVERIFY(code >= q.grid.qmin() && code <= q.grid.qmax());
            const float expect = (float(code) - q.grid.zeroAt(r, c)) * q.grid.scaleAt(r, c);
            QVERIFY2(std::abs(expect - p[r * cols + c]) <= 1e-6f * (1.0f + std::abs(expect)),
                     qPrintable(QString("row %1 col %2").arg(r).arg(c)));
        }
}

struct Corpus {
    std::vector<std::vector<int32_t>> calibration;
    std::vector<int32_t> evalTokens;
};

std::vector<int32_t> tokenize(const std::string& modelDir, const std::string& textFile) {
    return ql::Tokenizer::load(modelDir)->encode(qltest::readFile(textFile));
}

Corpus loadCorpus(const std::string& modelDir, int windows, int len) {
    Corpus c;
    const auto calib = tokenize(modelDir, qltest::dataPath("data/stories/calib.txt"));
    for (int w = 0; w < windows && size_t(w + 1) * len <= calib.size(); ++w)
        c.calibration.emplace_back(calib.begin() + w * len, calib.begin() + (w + 1) * len);
    c.evalTokens = tokenize(modelDir, qltest::dataPath("data/stories/stories.txt"));
    if (c.evalTokens.size() < 1000) throw std::runtime_error("too few evaluation tokens");
    return c;
}

std::vector<std::string> allLinears(const ql::Model& m) {
    std::vector<std::string> names;
    for (const auto& l : m.linears()) names.push_back(l.name);
    return names;
}

double perplexity(const ql::Model& m, const std::vector<int32_t>& tokens) {
    ql::PerplexityOptions o;
    o.seq = 256;
    return ql::evaluatePerplexity(m, tokens, o).ppl;
}

double meanSqnr(const std::vector<ql::LayerQuantization>& rs) {
    double s = 0.0;
    for (const auto& r : rs) s += r.outputSqnrDb;
    return s / double(rs.size());
}

const ql::ProgressReporter kNoProgress{ql::ProgressCallback{}};

}  // namespace

// Data rows shared by the data-driven tests: both shared models, int4 g32 and per-channel.
static void addModelGridRows() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<int>("group");
    for (const char* m : {"stories260k", "tinystories-656k"}) {
        QTest::newRow((std::string(m) + "-g32").c_str()) << QString(m) << 32;
        QTest::newRow((std::string(m) + "-channel").c_str()) << QString(m) << 0;
    }
}

class TestMethods : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { ql::setComputeThreads(2); }

    // --- synthetic layers (no shared data) ---
    void gptqBeatsRtnOnSyntheticLayer_data() {
        QTest::addColumn<int>("group");
        QTest::addColumn<bool>("symmetric");
        QTest::addColumn<bool>("actOrder");
        QTest::newRow("channel-sym") << 0 << true << false;
        QTest::newRow("channel-asym") << 0 << false << false;
        QTest::newRow("g32-sym") << 32 << true << false;
        QTest::newRow("g32-asym") << 32 << false << false;
        QTest::newRow("g32-asym-actorder") << 32 << false << true;
        QTest::newRow("channel-sym-actorder") << 0 << true << true;
        QTest::newRow("tensor-sym") << -1 << true << false;
    }
    void gptqBeatsRtnOnSyntheticLayer() {
        QFETCH(int, group);
        QFETCH(bool, symmetric);
        QFETCH(bool, actOrder);
        auto gen = at::detail::createCPUGenerator(7);
        const at::Tensor w = at::randn({48, 192}, gen) * 0.05;
        const at::Tensor x = correlatedInputs(1024, 192, 11);
        const ql::Recipe recipe = makeRecipe(ql::QuantMethod::Gptq, 4, group, symmetric);
        const ql::GptqOptions options{0.01, 64, actOrder};  // 3 lazy blocks
        const ql::GridQuant g = ql::gptqQuantize(w, hessianOf(x), recipe, options, kNoProgress);
        const ql::GridQuant r = ql::rtnQuantize(w, recipe);
        checkCodesMatchDequant(g);
        QCOMPARE(g.grid.groupSize, int64_t(group > 0 ? group : 192));
        QCOMPARE(g.grid.perTensor, group < 0);
        const double eG = naiveOutputError(w, g.dequant, x);
        const double eR = naiveOutputError(w, r.dequant, x);
        qInfo("output error GPTQ %.5g vs RTN %.5g", eG, eR);
        QVERIFY(eG < 0.9 * eR);  // GPTQ: 0.6-0.8x of RTN on these correlated inputs
    }
    void gptqEqualsRtnWithOrthonormalInputs_data() {
        QTest::addColumn<int>("group");
        QTest::newRow("channel") << 0;
        QTest::newRow("g32") << 32;
    }
    void gptqEqualsRtnWithOrthonormalInputs() {
        // X^T X = I: H is diagonal, no error feedback, so GPTQ reduces to RTN.
        QFETCH(int, group);
        auto gen = at::detail::createCPUGenerator(3);
        const at::Tensor w = at::randn({32, 128}, gen);
        const at::Tensor x = std::get<0>(at::linalg_qr(at::randn({512, 128}, gen)));
        const ql::Recipe recipe = makeRecipe(ql::QuantMethod::Gptq, 4, group, false);
        const ql::GridQuant g = ql::gptqQuantize(w, hessianOf(x), recipe,
                                                 ql::GptqOptions{0.0, 128, false}, kNoProgress);
        const ql::GridQuant r = ql::rtnQuantize(w, recipe);
        int64_t same = 0;
        for (size_t i = 0; i < g.codes.size(); ++i) same += g.codes[i] == r.codes[i];
        QVERIFY2(same >= int64_t(g.codes.size()) - 2, qPrintable(QString::number(same)));
        const double eG = naiveOutputError(w, g.dequant, x);
        const double eR = naiveOutputError(w, r.dequant, x);
        QVERIFY(std::abs(eG - eR) <= 1e-3 * eR);
    }
    void gptqSurvivesSingularHessianWithoutDampening() {
        // duplicated input channels and fewer rows than inputs: H is singular, damp 0
        auto gen = at::detail::createCPUGenerator(8);
        const at::Tensor w = at::randn({16, 64}, gen);
        at::Tensor x = at::randn({32, 64}, gen);
        x.select(1, 5).copy_(x.select(1, 4));
        const ql::Recipe recipe = makeRecipe(ql::QuantMethod::Gptq, 4, 0, true);
        const ql::GridQuant g = ql::gptqQuantize(w, hessianOf(x), recipe,
                                                 ql::GptqOptions{0.0, 128, false}, kNoProgress);
        QVERIFY(at::isfinite(g.dequant).all().item<bool>());
        checkCodesMatchDequant(g);
    }
    // The in-place, panelled factor against float64 torch (the reference GPTQ's
    // cholesky(cholesky_inverse(cholesky(H)), upper=True)), for sizes that are and are not
    // multiples of the panel. H = 2 X^T X / m with m = 2n rows: condition number ~ 34, so
    // float32 factors agree to ~1e-5 of the largest entry; 1e-4 stated.
    void inverseFactorMatchesFloat64Reference_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("panel");
        QTest::newRow("1 x 1") << 1 << 256;
        QTest::newRow("7, panel 3") << 7 << 3;
        QTest::newRow("64, panel 16") << 64 << 16;
        QTest::newRow("300, panel 64") << 300 << 64;
        QTest::newRow("513, panel 128") << 513 << 128;
        QTest::newRow("200, one panel") << 200 << 256;
    }
    void inverseFactorMatchesFloat64Reference() {
        QFETCH(int, n);
        QFETCH(int, panel);
        const at::Tensor h = hessianOf(correlatedInputs(2 * n, n, 11 + uint64_t(n)));
        const at::Tensor h64 = h.to(at::kDouble);
        const at::Tensor ref =
            at::linalg_cholesky(at::cholesky_inverse(at::linalg_cholesky(h64)), /*upper=*/true);
        at::Tensor u = h.clone().contiguous();
        QVERIFY(ql::upperFactorOfInverse(u.data_ptr<float>(), n, kNoProgress, panel));
        const double scale = ref.abs().max().item<double>();
        const double err = (u.to(at::kDouble) - ref).abs().max().item<double>();
        QVERIFY2(err <= 1e-4 * scale,
                 qPrintable(QString("max error %1 of %2").arg(err).arg(scale)));
        QVERIFY(at::equal(u, at::triu(u)));  // strict lower triangle exactly zero
    }
    // Not positive definite (a negative pivot in the second panel): false, and the buffer
    // holds the (exactly symmetric) input again, bit for bit, for the float64 retries.
    void inverseFactorRestoresInputWhenNotPositiveDefinite() {
        const int n = 64;
        at::Tensor h = hessianOf(correlatedInputs(2 * n, n, 5));
        h = ((h + h.t()) / 2).contiguous();  // a GEMM's X^T X is symmetric only to rounding
        h.index_put_({40, 40}, -1.0f);
        const at::Tensor original = h.clone();
        QVERIFY(!ql::upperFactorOfInverse(h.data_ptr<float>(), n, kNoProgress, 16));
        const at::Tensor differ = (h != original).nonzero();
        QVERIFY2(differ.size(0) == 0,
                 qPrintable(QString("%1 entries differ, first (%2, %3)")
                                .arg(differ.size(0))
                                .arg(differ.size(0) ? differ[0][0].item<int64_t>() : -1)
                                .arg(differ.size(0) ? differ[0][1].item<int64_t>() : -1)));
    }
    // Cancellation is asked after every panel of both passes (so a 7B layer's 18944-column
    // factor stops within one panel's work) and ends the call with ql::Cancelled.
    void inverseFactorChecksCancelEveryPanel() {
        const int n = 300, panel = 32, panels = (n + panel - 1) / panel;
        const at::Tensor h = hessianOf(correlatedInputs(2 * n, n, 3));
        int checks = 0;
        at::Tensor u = h.clone();
        const ql::ProgressReporter counting([&](const ql::Progress&) { return ++checks, true; });
        QVERIFY(ql::upperFactorOfInverse(u.data_ptr<float>(), n, counting, panel));
        QCOMPARE(checks, 2 * panels);
        int asked = 0;
        u = h.clone();
        const ql::ProgressReporter stopping([&](const ql::Progress&) { return ++asked < 3; });
        QVERIFY_EXCEPTION_THROWN(ql::upperFactorOfInverse(u.data_ptr<float>(), n, stopping, panel),
                                 ql::Cancelled);
        QCOMPARE(asked, 3);
    }
    // InputStats' Gram matrix in column panels (upper triangle multiplied, lower mirrored):
    // against float64 XᵀX over two added batches, exactly symmetric, and one cancellation
    // check per panel per batch; a stop at the second check ends with ql::Cancelled.
    void gramInPanelsMatchesFloat64() {
        for (int64_t in : {int64_t(7), ql::kGramPanel, ql::kGramPanel + 1, int64_t(1300)}) {
            const at::Tensor x1 = correlatedInputs(300, in, 40 + uint64_t(in));
            const at::Tensor x2 = correlatedInputs(200, in, 41 + uint64_t(in));
            int checks = 0;
            const ql::ProgressReporter counting(
                [&](const ql::Progress&) { return ++checks, true; });
            ql::InputStats stats;
            stats.add(x1, 1, &counting);
            stats.add(x2.view({4, 50, in}), 1, &counting);
            const at::Tensor x = at::cat({x1, x2}, 0).to(at::kDouble);
            const at::Tensor ref = x.t().mm(x);
            const double err = (stats.gram.to(at::kDouble) - ref).abs().max().item<double>();
            const double scale = ref.abs().max().item<double>();
            const QString at = QString("in %1: max error %2 of %3").arg(in).arg(err).arg(scale);
            QVERIFY2(err <= 1e-5 * scale, qPrintable(at));
            QVERIFY2(at::equal(stats.gram, stats.gram.t()), qPrintable(at));
            QCOMPARE(stats.rows, int64_t(500));
            QCOMPARE(checks, 2 * int((in + ql::kGramPanel - 1) / ql::kGramPanel));
        }
        int asked = 0;
        const ql::ProgressReporter stopping([&](const ql::Progress&) { return ++asked < 2; });
        ql::InputStats stats;
        QVERIFY_EXCEPTION_THROWN(stats.add(correlatedInputs(64, 1300, 3), 1, &stopping),
                                 ql::Cancelled);
        QCOMPARE(asked, 2);
    }
    // A layer's codes reuse the buffer the previous layer gave back (no fresh pages), and a
    // larger request than its capacity gets a new one; RTN's codes are right either way.
    void codesBufferIsRecycled() {
        ql::dropRecycledCodes();
        std::vector<int32_t> first = ql::codesBuffer(1000);
        const int32_t* data = first.data();
        ql::recycleCodes(std::move(first));
        QVERIFY(first.empty());
        std::vector<int32_t> again = ql::codesBuffer(800);
        QCOMPARE(again.data(), data);
        QCOMPARE(again.size(), size_t(800));
        ql::recycleCodes(std::move(again));
        QVERIFY(ql::codesBuffer(5000).data() != data);
        auto gen = at::detail::createCPUGenerator(8);
        const at::Tensor w = at::randn({32, 64}, gen);
        const ql::Recipe r = makeRecipe(ql::QuantMethod::Rtn, 4, 32, false);
        const ql::GridQuant fresh = ql::rtnQuantize(w, r);
        ql::recycleCodes(std::vector<int32_t>(4096, -7));  // stale values in the kept buffer
        const ql::GridQuant reused = ql::rtnQuantize(w, r);
        QVERIFY(reused.codes == fresh.codes);
        ql::dropRecycledCodes();
    }
    void gptqZeroesDeadColumns() {
        auto gen = at::detail::createCPUGenerator(5);
        const at::Tensor w = at::randn({16, 64}, gen);
        at::Tensor x = correlatedInputs(256, 64, 9);
        x.select(1, 10).zero_();
        const ql::Recipe recipe = makeRecipe(ql::QuantMethod::Gptq, 4, 0, true);
        const ql::GridQuant g =
            ql::gptqQuantize(w, hessianOf(x), recipe, ql::GptqOptions{}, kNoProgress);
        QCOMPARE(g.dequant.select(1, 10).abs().max().item<float>(), 0.0f);
        QVERIFY(g.dequant.select(1, 11).abs().max().item<float>() > 0.0f);
    }
    void awqNeverWorseThanRtnAndHelpsWithOutliers() {
        auto gen = at::detail::createCPUGenerator(21);
        const at::Tensor w = at::randn({64, 128}, gen) * 0.05;
        at::Tensor x = at::randn({512, 128}, gen);
        x.slice(1, 0, 4).mul_(30.0);  // a few salient channels, as AWQ assumes
        ql::InputStats stats;
        stats.add(x, 1);
        const ql::Recipe recipe = makeRecipe(ql::QuantMethod::Awq, 4, 32, false);
        const ql::AwqResult a = ql::awqSearch({w}, stats, recipe, 20);
        QCOMPARE(int(a.lossByAlpha.size()), 20);
        const double eA = naiveOutputError(w, a.layers[0].dequant, x);
        const double eR = naiveOutputError(w, ql::rtnQuantize(w, recipe).dequant, x);
        QVERIFY(eA < 0.9 * eR);
        QVERIFY(a.alpha > 0.0);
        // the loss the search reports agrees with the naive error at the chosen alpha
        const double chosen = a.lossByAlpha[size_t(std::lround(a.alpha * 20))];
        QVERIFY(std::abs(chosen - eA) <= 1e-3 * eA);
        // s normalized: sqrt(max * min) == 1
        QVERIFY(std::abs((a.scales.max() * a.scales.min()).sqrt().item<double>() - 1.0) < 1e-5);
        checkCodesMatchDequant(ql::GridQuant{a.layers[0].grid, a.layers[0].codes,
                                             a.layers[0].dequant * a.scales.unsqueeze(0)});
    }
    void outputErrorEnergyPathsAgree() {
        // Gram path (all rows) and sample path (fewer rows than inputs) vs naive loops.
        auto gen = at::detail::createCPUGenerator(2);
        const at::Tensor d = at::randn({8, 40}, gen);
        const at::Tensor x = at::randn({30, 40}, gen);
        ql::InputStats stats;
        stats.add(x.reshape({3, 10, 40}), 1);
        QCOMPARE(stats.rows, int64_t(30));
        const double naive = naiveOutputError(d, at::zeros_like(d), x);
        QVERIFY(std::abs(ql::outputErrorEnergy(d, stats) - naive) <= 1e-4 * naive);
        ql::InputStats strided;
        strided.add(x.slice(0, 0, 7), 3);   // rows 0, 3, 6 ...
        strided.add(x.slice(0, 7, 30), 3);  // ... 9, 12, ..., 27
        QCOMPARE(strided.sample.size(0), int64_t(10));
        QVERIFY(at::equal(strided.sample, x.slice(0, 0, 30, 3)));
    }

    // --- real models ---
    void rtnInt8MatchesReference() {
        QL_REQUIRE_DATA("models/stories260k");
        const std::string dir = qltest::dataPath("models/stories260k");
        auto model = ql::Model::load(dir);
        const Corpus c = loadCorpus(dir, 0, 128);
        std::map<std::string, std::vector<float>> original;
        for (const auto& n : allLinears(*model)) original[n] = model->linearWeight(n);
        const auto rs =
            ql::quantizeLayers(*model, allLinears(*model),
                               makeRecipe(ql::QuantMethod::Rtn, 8, 0, true), {}, kNoProgress);
        QCOMPARE(rs.size(), size_t(35));
        const std::string ref =
            qltest::readFile(qltest::dataPath("reference/model-reference.json"));
        for (const auto& r : rs) {
            QVERIFY(std::isnan(r.outputSqnrDb));  // no calibration given
            QVERIFY(model->linearWeight(r.name) == r.dequant);
            const auto& w = original[r.name];
            const double sqnr = ql::errorMetrics(w.data(), r.dequant.data(), w.size()).sqnrDb;
            // reference: "<name>": <sqnr> in the rtn:int8:channel:sym entry
            const auto at = ref.find("\"" + r.name + "\":");
            QVERIFY(at != std::string::npos);
            const double expect = std::stod(ref.substr(ref.find(':', at) + 1));
            QVERIFY2(std::abs(sqnr - expect) < 0.01, qPrintable(QString::fromStdString(r.name)));
        }
        QVERIFY(std::abs(perplexity(*model, c.evalTokens) - 4.45872) < 2e-3);
    }
    void fallbackRecordedFor172Columns() {
        QL_REQUIRE_DATA("models/stories260k");
        const std::string dir = qltest::dataPath("models/stories260k");
        auto model = ql::Model::load(dir);
        const auto rs =
            ql::quantizeLayers(*model, allLinears(*model),
                               makeRecipe(ql::QuantMethod::Rtn, 4, 32, true), {}, kNoProgress);
        int fallbacks = 0;
        for (const auto& r : rs) {
            const bool down = r.name.find("down_proj") != std::string::npos;
            QCOMPARE(r.fallback, down);
            if (!down) {
                QCOMPARE(r.grid.groupSize, int64_t(32));
                continue;
            }
            ++fallbacks;
            QVERIFY(r.fallbackReason.find("172") != std::string::npos);
            QVERIFY(r.applied.granularity == ql::Granularity::Channel);
            QCOMPARE(r.applied.bits, 4);
            QCOMPARE(r.grid.groupSize, int64_t(172));
        }
        QCOMPARE(fallbacks, 5);
    }
    void castsKeepHighSqnr() {
        QL_REQUIRE_DATA("models/stories260k");
        const std::string dir = qltest::dataPath("models/stories260k");
        auto model = ql::Model::load(dir);
        ql::QuantizeLayersOptions o;
        o.calibration = loadCorpus(dir, 4, 128).calibration;
        ql::Recipe fp16;
        fp16.method = ql::QuantMethod::Fp16;
        fp16.bits = 16;
        ql::Recipe bf16 = fp16;
        bf16.method = ql::QuantMethod::Bf16;
        const auto a = ql::quantizeLayers(*model, allLinears(*model), fp16, o, kNoProgress);
        model->restoreWeights();
        const auto b = ql::quantizeLayers(*model, allLinears(*model), bf16, o, kNoProgress);
        for (size_t i = 0; i < a.size(); ++i) {
            QVERIFY(a[i].codes.empty());
            QVERIFY2(a[i].outputSqnrDb > 60.0, qPrintable(QString::number(a[i].outputSqnrDb)));
            QVERIFY(b[i].outputSqnrDb > 40.0 && b[i].outputSqnrDb < a[i].outputSqnrDb);
            QVERIFY(model->linearWeight(b[i].name) == b[i].dequant);
        }
    }
    // Check of the GPTQ update itself on real layers: with the float model's inputs X of
    // every linear (calib.txt) as both the Hessian source and the measure, GPTQ's output
    // error ||(W - W_hat) X^T||^2 must be below RTN's on every layer (it is 0.4-0.75x).
    void gptqLowersEveryLayerOutputError_data() { addModelGridRows(); }
    void gptqLowersEveryLayerOutputError() {
        QFETCH(QString, model);
        QFETCH(int, group);
        QL_REQUIRE_DATA("models/" + model);
        const std::string dir = qltest::dataPath("models/" + model);
        auto m = ql::Model::load(dir);
        const Corpus c = loadCorpus(dir, 8, 128);
        const int64_t T = 128;
        at::Tensor ids = at::empty({int64_t(c.calibration.size()), T}, at::kLong);
        for (size_t w = 0; w < c.calibration.size(); ++w)
            for (int64_t t = 0; t < T; ++t) ids[int64_t(w)][t] = c.calibration[w][t];
        std::map<std::string, at::Tensor> inputs;  // layer -> X [n, in]
        m->transformer().forward(
            ids, [&](const ql::Linear& l, const at::Tensor& x, const at::Tensor&) -> at::Tensor {
                inputs[l.info.name] = x.reshape({-1, x.size(-1)}).to(at::kDouble).clone();
                return {};
            });
        for (const auto& name : allLinears(*m)) {
            const at::Tensor w = m->transformer().linear(name).weight.clone();
            const at::Tensor& x = inputs.at(name);
            const ql::Recipe r =
                ql::resolveRecipe(makeRecipe(ql::QuantMethod::Gptq, 4, group, false), w.size(1))
                    .recipe;
            const at::Tensor H = 2.0 * x.t().mm(x).to(at::kFloat) / double(x.size(0));
            const auto g = ql::gptqQuantize(w, H, r, {}, kNoProgress);
            auto err = [&](const at::Tensor& dq) {
                return (w - dq).to(at::kDouble).mm(x.t()).pow(2).sum().item<double>();
            };
            const double eG = err(g.dequant), eR = err(ql::rtnQuantize(w, r).dequant);
            QVERIFY2(
                eG < 0.9 * eR,
                qPrintable(QString("%1: GPTQ %2 vs RTN %3").arg(name.c_str()).arg(eG).arg(eR)));
        }
    }
    void methodsBeatRtn_data() { addModelGridRows(); }
    void methodsBeatRtn() {
        QFETCH(QString, model);
        QFETCH(int, group);
        QL_REQUIRE_DATA("models/" + model);
        const std::string dir = qltest::dataPath("models/" + model);
        auto m = ql::Model::load(dir);
        const Corpus c = loadCorpus(dir, 8, 128);
        QVERIFY(c.calibration.size() >= 4);
        ql::QuantizeLayersOptions o;
        o.calibration = c.calibration;
        const double pplFloat = perplexity(*m, c.evalTokens);
        std::map<ql::QuantMethod, std::pair<double, double>> res;  // ppl, mean output SQNR
        for (auto method : {ql::QuantMethod::Rtn, ql::QuantMethod::Gptq, ql::QuantMethod::Awq}) {
            m->restoreWeights();
            const auto rs = ql::quantizeLayers(*m, allLinears(*m),
                                               makeRecipe(method, 4, group, false), o, kNoProgress);
            res[method] = {perplexity(*m, c.evalTokens), meanSqnr(rs)};
            qInfo("%s %s: ppl %.4f (float %.4f), mean output SQNR %.2f dB", qPrintable(model),
                  ql::methodName(method).c_str(), res[method].first, pplFloat, res[method].second);
        }
        const auto rtn = res[ql::QuantMethod::Rtn];
        // tinystories-656k at int4:g32 (asym) is the one case where only "not materially
        // worse than RTN" is asserted. Measured (8x128 calib.txt windows -> 7 = 896 tokens,
        // stories.txt 2090 tokens, seq 256): float 40.00, RTN 40.73, GPTQ 42.02, AWQ 40.81;
        // GPTQ/AWQ mean output SQNR 27.0/24.5 dB vs RTN 24.3 dB. Cause, not a bug: GPTQ
        // lowers every layer's output error on its calibration inputs (0.41-0.72x RTN, see
        // gptqLowersEveryLayerOutputError) and on held-out stories.txt inputs for 13 of 14
        // layers (layers.1.mlp.down_proj: 1.12x, the 384-wide Hessian from 896 rows), but
        // at g32 RTN costs only +1.8% perplexity and that layer-wise objective does not
        // track perplexity any more: even calibrating on stories.txt itself GPTQ gives
        // 40.85 (AWQ 42.40), with 8192 WikiText tokens 42.16, and GPTQ stays above RTN
        // for dampening 0.01-0.3 (41.17 at 0.3). See bench_gptq_vs_rtn and BENCHMARKS.md
        // "GPTQ vs RTN on tinystories-656k g32".
        const bool nearLossless = model == "tinystories-656k" && group == 32;
        for (auto method : {ql::QuantMethod::Gptq, ql::QuantMethod::Awq}) {
            const char* name = ql::methodName(method).c_str();
            QVERIFY2(res[method].second > rtn.second, name);
            if (nearLossless)
                QVERIFY2(res[method].first < 1.05 * rtn.first, name);
            else
                QVERIFY2(res[method].first < rtn.first, name);
        }
        QVERIFY(rtn.first > pplFloat);
    }
    void cancelRestoresWeights() {
        QL_REQUIRE_DATA("models/stories260k");
        const std::string dir = qltest::dataPath("models/stories260k");
        auto model = ql::Model::load(dir);
        std::map<std::string, std::vector<float>> original;
        for (const auto& n : allLinears(*model)) original[n] = model->linearWeight(n);
        ql::QuantizeLayersOptions o;
        o.calibration = loadCorpus(dir, 4, 128).calibration;
        int layersSeen = 0;
        std::vector<std::string> messages;
        const ql::ProgressReporter cancelAfterSix([&](const ql::Progress& p) {
            if (p.phase == "quantize" && !p.message.empty()) {
                messages.push_back(p.message);
                ++layersSeen;
            }
            return layersSeen < 6;
        });
        QVERIFY_THROWS_EXCEPTION(
            ql::Cancelled,
            ql::quantizeLayers(*model, allLinears(*model),
                               makeRecipe(ql::QuantMethod::Gptq, 4, 32, false), o, cancelAfterSix));
        QCOMPARE(layersSeen, 6);
        QVERIFY(messages.front() == "model.layers.0.self_attn.q_proj");
        for (const auto& [name, w] : original) QVERIFY(model->linearWeight(name) == w);
    }
    void progressCoversEveryLayer() {
        QL_REQUIRE_DATA("models/stories260k");
        auto model = ql::Model::load(qltest::dataPath("models/stories260k"));
        std::vector<double> fractions;
        std::vector<std::string> names;
        const ql::ProgressReporter record([&](const ql::Progress& p) {
            if (p.fraction >= 0) fractions.push_back(p.fraction);
            if (p.phase == "quantize" && !p.message.empty()) names.push_back(p.message);
            return true;
        });
        const std::vector<std::string> some = {"model.layers.1.mlp.up_proj",
                                               "model.layers.0.self_attn.k_proj"};
        const auto rs = ql::quantizeLayers(
            *model, some, makeRecipe(ql::QuantMethod::Rtn, 4, 0, true), {}, record);
        QCOMPARE(rs.size(), size_t(2));
        QVERIFY(rs[0].name == some[1]);  // model order
        QVERIFY(names == (std::vector<std::string>{some[1], some[0]}));
        QVERIFY(std::is_sorted(fractions.begin(), fractions.end()));
        QCOMPARE(fractions.back(), 1.0);
        // unselected layers untouched
        const auto q = model->linearWeight("model.layers.0.self_attn.q_proj");
        QVERIFY(q == ql::Model::load(qltest::dataPath("models/stories260k"))
                         ->linearWeight("model.layers.0.self_attn.q_proj"));
    }

    // --- bad input, one test each ---
    void gptqWithoutCalibrationThrows() {
        QL_REQUIRE_DATA("models/stories260k");
        auto model = ql::Model::load(qltest::dataPath("models/stories260k"));
        QVERIFY_THROWS_EXCEPTION(
            ql::Error,
            ql::quantizeLayers(*model, allLinears(*model),
                               makeRecipe(ql::QuantMethod::Gptq, 4, 0, true), {}, kNoProgress));
    }
    void awqWithoutCalibrationThrows() {
        QL_REQUIRE_DATA("models/stories260k");
        auto model = ql::Model::load(qltest::dataPath("models/stories260k"));
        QVERIFY_THROWS_EXCEPTION(
            ql::Error,
            ql::quantizeLayers(*model, allLinears(*model),
                               makeRecipe(ql::QuantMethod::Awq, 4, 0, true), {}, kNoProgress));
    }
    void unknownLayerThrows() {
        QL_REQUIRE_DATA("models/stories260k");
        auto model = ql::Model::load(qltest::dataPath("models/stories260k"));
        try {
            ql::quantizeLayers(*model, {"model.layers.9.mlp.up_proj"},
                               makeRecipe(ql::QuantMethod::Rtn, 8, 0, true), {}, kNoProgress);
            QFAIL("no error");
        } catch (const ql::Error& e) {
            QVERIFY(std::string(e.what()).find("model.layers.9.mlp.up_proj") != std::string::npos);
        }
    }
    void unequalCalibrationWindowsThrow() {
        QL_REQUIRE_DATA("models/stories260k");
        auto model = ql::Model::load(qltest::dataPath("models/stories260k"));
        ql::QuantizeLayersOptions o;
        o.calibration = {{1, 2, 3, 4}, {5, 6, 7}};
        QVERIFY_THROWS_EXCEPTION(
            ql::Error,
            ql::quantizeLayers(*model, allLinears(*model),
                               makeRecipe(ql::QuantMethod::Gptq, 4, 0, true), o, kNoProgress));
    }
    void calibrationTokenOutsideVocabThrows() {
        QL_REQUIRE_DATA("models/stories260k");
        auto model = ql::Model::load(qltest::dataPath("models/stories260k"));
        ql::QuantizeLayersOptions o;
        o.calibration = {{1, 2, 512, 4}};
        QVERIFY_THROWS_EXCEPTION(
            ql::Error,
            ql::quantizeLayers(*model, allLinears(*model),
                               makeRecipe(ql::QuantMethod::Awq, 4, 0, true), o, kNoProgress));
    }
    void badBitsThrow() {
        QL_REQUIRE_DATA("models/stories260k");
        auto model = ql::Model::load(qltest::dataPath("models/stories260k"));
        QVERIFY_THROWS_EXCEPTION(
            ql::Error,
            ql::quantizeLayers(*model, allLinears(*model),
                               makeRecipe(ql::QuantMethod::Rtn, 1, 0, true), {}, kNoProgress));
    }
};

QTEST_GUILESS_MAIN(TestMethods)
#include "test_methods.moc"
