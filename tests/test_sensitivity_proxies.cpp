// The proxies of measured sensitivity (run/sensitivity.h) against an independent computation
// in this file, on the shared tinystories-656k: w_hat by plain RTN, the layer inputs from
// whole-model forward passes, H = X^T X built explicitly, the kurtosis from central
// moments, the Fisher gradients by autograd through the whole model and a full log-softmax
// (the engine recomputes block by block and applies the head in vocabulary chunks).
// ATen is included before Qt (Qt keywords are off), as in test_methods.
#include "base/error.h"
#include "model/model.h"
#include "model/transformer.h"
#include "quant/quantize.h"
#include "quant/recipe.h"
#include "run/run.h"
#include "run/sensitivity.h"
#include "tokenizer/tokenizer.h"

#include <ATen/ATen.h>

#include "testdata.h"

#include <QTest>

#include <cmath>
#include <map>
#include <string>
#include <vector>

using namespace ql;

namespace {

using Windows = std::vector<std::vector<int32_t>>;

constexpr int kSeq = 128, kWindows = 4, kCalibrationWindows = 3, kFisherWindows = 2;
const char* kModel = "models/tinystories-656k";

SensitivityConfig proxyConfig(const std::string& recipe, bool calibration) {
    SensitivityConfig c;
    c.modelDir = qltest::dataPath(kModel);
    c.recipe = recipe;
    c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    if (calibration) c.calibrationText = qltest::dataPath("data/stories/calib.txt");
    c.calibrationWindows = kCalibrationWindows;
    c.calibrationSeq = kSeq;
    c.evalSeq = kSeq;
    c.evalWindows = kWindows;
    c.fisherWindows = kFisherWindows;
    c.threads = 1;
    return c;
}

// `count` consecutive windows of `seq` tokens from the start of the text (the gptq protocol's
// evaluation windows, and the calibration windows).
Windows windowsOf(const std::string& path, const std::string& modelDir, int count, int seq) {
    const auto tokenizer = Tokenizer::load(modelDir);
    const TextEncoder encode = [&](const std::string& t) { return tokenizer->encode(t); };
    const std::vector<int32_t> tokens =
        tokenizeTextFile(path, size_t(count) * size_t(seq), encode, "text");
    Windows out;
    for (int i = 0; i < count; ++i)
        out.emplace_back(tokens.begin() + i * seq, tokens.begin() + (i + 1) * seq);
    return out;
}

at::Tensor ids(const std::vector<int32_t>& w) {
    return at::tensor(std::vector<int64_t>(w.begin(), w.end()), at::kLong).unsqueeze(0);
}

// Every linear's input over `windows`, rows [tokens, in] in double.
std::map<std::string, at::Tensor> layerInputs(const Transformer& net, const Windows& windows) {
    std::map<std::string, std::vector<at::Tensor>> parts;
    const LinearObserver keep = [&](const Linear& l, const at::Tensor& x, const at::Tensor&) {
        parts[l.info.name].push_back(x.detach().reshape({-1, x.size(-1)}).to(at::kDouble));
        return at::Tensor();
    };
    at::NoGradGuard noGrad;
    for (const auto& w : windows) net.forward(ids(w), keep);
    std::map<std::string, at::Tensor> out;
    for (auto& [name, p] : parts) out[name] = at::cat(p, 0);
    return out;
}

struct Expected {
    double errorSq = 0, outputSqnrDb = 0, fisher = 0, hessian = 0, kurtosis = 0;
};

std::map<std::string, Expected> independent(const SensitivityConfig& c) {
    const auto model = Model::load(c.modelDir);
    Transformer& net = model->transformer();
    const Recipe recipe = Recipe::parse(c.recipe);
    const Windows eval = windowsOf(c.evaluationText, c.modelDir, c.evalWindows, c.evalSeq);
    const Windows hessianWindows =
        c.calibrationText.empty()
            ? eval
            : windowsOf(c.calibrationText, c.modelDir, c.calibrationWindows, c.calibrationSeq);
    std::map<std::string, at::Tensor> w, delta;  // double [out, in]
    std::map<std::string, std::vector<float>> wHat;
    for (const Linear& l : net.linears()) {
        const at::Tensor f = l.original.contiguous();
        const RtnResult q = quantizeRtn(f.data_ptr<float>(), f.size(0), f.size(1), recipe);
        wHat[l.info.name] = q.dequant;
        w[l.info.name] = f.to(at::kDouble);
        delta[l.info.name] =
            w[l.info.name] - at::tensor(q.dequant).reshape(f.sizes()).to(at::kDouble);
    }
    std::map<std::string, Expected> out;
    // Hessian-weighted error and kurtosis: the float model's inputs.
    for (const auto& [name, x] : layerInputs(net, hessianWindows)) {
        Expected& e = out[name];
        const at::Tensor h = at::matmul(x.t(), x) / double(x.size(0));
        e.hessian = at::matmul(at::matmul(delta[name], h), delta[name].t()).trace().item<double>();
        const at::Tensor centred = x - x.mean();
        const double m2 = centred.pow(2).mean().item<double>();
        e.kurtosis = centred.pow(4).mean().item<double>() / (m2 * m2);
        e.errorSq = delta[name].pow(2).sum().item<double>();
    }
    // Fisher: per window, autograd through the whole float model, full log-softmax.
    net.setRequiresGrad(true);
    for (int k = 0; k < c.fisherWindows; ++k) {
        const at::Tensor t = ids(eval[size_t(k)]);
        const at::Tensor logits = net.forward(t).squeeze(0);
        const int64_t T = t.size(1);
        const at::Tensor logp = at::log_softmax(logits.narrow(0, 0, T - 1), -1);
        const at::Tensor targets = t.squeeze(0).narrow(0, 1, T - 1).unsqueeze(1);
        (-logp.gather(1, targets).mean()).backward();
        for (Linear& l : net.linears()) {
            const at::Tensor g = l.weight.grad().to(at::kDouble);
            out[l.info.name].fisher += (g.pow(2) * delta[l.info.name].pow(2)).sum().item<double>() /
                                       double(c.fisherWindows);
            l.weight.mutable_grad() = at::Tensor();
        }
    }
    net.setRequiresGrad(false);
    // Output SQNR: the fully quantized model's own inputs, held-out (evaluation) windows.
    for (auto& [name, values] : wHat) model->setLinearWeight(name, values);
    for (const auto& [name, x] : layerInputs(net, eval)) {
        const at::Tensor reference = at::matmul(x, w[name].t());
        const at::Tensor quantized = at::matmul(x, (w[name] - delta[name]).t());
        out[name].outputSqnrDb =
            10.0 * std::log10(reference.pow(2).sum().item<double>() /
                              (reference - quantized).pow(2).sum().item<double>());
    }
    return out;
}

void relClose(double a, double b, double tolerance, const std::string& what) {
    QVERIFY2(std::fabs(a - b) <= tolerance * std::fabs(b),
             (what + ": " + std::to_string(a) + " vs " + std::to_string(b)).c_str());
}

const UnitSensitivity& unitOf(const SensitivityResult& r, const std::string& name) {
    for (const UnitSensitivity& u : r.units)
        if (u.unit == name) return u;
    throw Error("no unit " + name);
}

}  // namespace

class TestSensitivityProxies : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void proxiesMatchIndependentComputation_data() {
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<bool>("calibration");
        QTest::newRow("int4 g32 asym, Hessian on calibration") << "rtn:int4:g32:asym" << true;
        QTest::newRow("int3 g32 sym, Hessian on evaluation") << "rtn:int3:g32:sym" << false;
    }
    void proxiesMatchIndependentComputation() {
        QFETCH(QString, recipe);
        QFETCH(bool, calibration);
        QL_REQUIRE_DATA(kModel);
        QL_REQUIRE_DATA("data/stories/stories.txt");
        QL_REQUIRE_DATA("data/stories/calib.txt");
        const SensitivityConfig c = proxyConfig(recipe.toStdString(), calibration);
        const SensitivityResult r = measureSensitivity(c);
        QCOMPARE(r.units.size(), size_t(14));
        QCOMPARE(r.hessianWindows, std::string(calibration ? "calibration" : "evaluation"));
        QCOMPARE(r.fisherWindows, kFisherWindows);
        const std::map<std::string, Expected> expected = independent(c);
        for (const auto& [name, e] : expected) {
            const UnitSensitivity& u = unitOf(r, name);
            // The same w_hat (sums of the same float differences in double).
            relClose(u.weightErrorSq, e.errorSq, 1e-9, name + " weight error");
            // Float32 products in another order (the difference of two of them, ~20 dB
            // below each): 1e-4 relative; 1e-3 dB.
            relClose(u.hessianError, e.hessian, 1e-4, name + " Hessian");
            QVERIFY2(std::fabs(u.outputSqnrDb - e.outputSqnrDb) <= 1e-3,
                     (name + " output SQNR " + std::to_string(u.outputSqnrDb) + " vs " +
                      std::to_string(e.outputSqnrDb))
                         .c_str());
            // Raw moments in double vs central moments, inputs rounded differently: 1e-5.
            relClose(u.inputKurtosis, e.kurtosis, 1e-5, name + " kurtosis");
            // float32 gradients by different routes (block recomputation, chunked head),
            // squared: 1e-3 relative.
            relClose(u.fisherError, e.fisher, 1e-3, name + " Fisher");
            QVERIFY2(e.fisher > 0 && e.hessian > 0 && e.kurtosis > 1, name.c_str());
        }
        // One-in: the fully quantized pass from the first block, the Hessian pass, and the
        // Fisher backward down to block 0.
        QCOMPARE(r.proxyBlockPasses, int64_t(2 + 2 + 2));
    }

    void unitsAggregateTheirLayers() {
        QL_REQUIRE_DATA(kModel);
        QL_REQUIRE_DATA("data/stories/stories.txt");
        QL_REQUIRE_DATA("data/stories/calib.txt");
        SensitivityConfig c = proxyConfig("rtn:int4:g32:asym", true);
        const SensitivityResult layers = measureSensitivity(c);
        c.unit = SensitivityUnit::Kind;
        const SensitivityResult kinds = measureSensitivity(c);
        QCOMPARE(kinds.units.size(), size_t(7));
        for (const UnitSensitivity& k : kinds.units) {
            double fisher = 0, hessian = 0, kurtosis = 0;
            for (const std::string& name : k.layers) {
                const UnitSensitivity& l = unitOf(layers, name);
                fisher += l.fisherError;
                hessian += l.hessianError;
                kurtosis = std::max(kurtosis, l.inputKurtosis);
            }
            relClose(k.fisherError, fisher, 1e-12, k.unit + " Fisher sum");
            relClose(k.hessianError, hessian, 1e-12, k.unit + " Hessian sum");
            QCOMPARE(k.inputKurtosis, kurtosis);
            // Output SQNR pools the energies: between its layers' SQNRs.
            const UnitSensitivity& a = unitOf(layers, k.layers[0]);
            const UnitSensitivity& b = unitOf(layers, k.layers[1]);
            QVERIFY(k.outputSqnrDb >= std::min(a.outputSqnrDb, b.outputSqnrDb) - 1e-9);
            QVERIFY(k.outputSqnrDb <= std::max(a.outputSqnrDb, b.outputSqnrDb) + 1e-9);
        }
    }

    void correlationsAndSkippedFisher() {
        QL_REQUIRE_DATA(kModel);
        QL_REQUIRE_DATA("data/stories/stories.txt");
        SensitivityConfig c = proxyConfig("rtn:int4:g32:asym", false);
        const SensitivityResult r = measureSensitivity(c);
        std::vector<double> dkl, sqnr, fisher;
        for (const UnitSensitivity& u : r.units) {
            dkl.push_back(u.deltaKlMean);
            sqnr.push_back(-u.outputSqnrDb);
            fisher.push_back(u.fisherError);
        }
        QCOMPARE(r.correlations.size(), size_t(6));
        for (const ProxyCorrelation& p : r.correlations) {
            if (p.proxy == "output_sqnr_db") {
                QVERIFY(p.negated && p.label == "-output SQNR");
                QCOMPARE(p.spearman, spearmanCorrelation(sqnr, dkl));
            }
            if (p.proxy == "fisher_error") QCOMPARE(p.spearman, spearmanCorrelation(fisher, dkl));
            QVERIFY2(std::isfinite(p.spearman) && std::fabs(p.spearman) <= 1.0, p.proxy.c_str());
        }
        c.fisherWindows = 0;  // skipped: no backward pass, NaN proxy and correlation
        const SensitivityResult skipped = measureSensitivity(c);
        QCOMPARE(skipped.fisherWindows, 0);
        QCOMPARE(skipped.proxyBlockPasses, r.proxyBlockPasses - 2);
        for (const UnitSensitivity& u : skipped.units) QVERIFY(std::isnan(u.fisherError));
        for (const ProxyCorrelation& p : skipped.correlations)
            QCOMPARE(std::isnan(p.spearman), p.proxy == "fisher_error");
        // The measurement itself does not change.
        for (size_t i = 0; i < r.units.size(); ++i)
            QCOMPARE(skipped.units[i].deltaKlMean, r.units[i].deltaKlMean);
        c.fisherWindows = -1;
        QString error;
        try {
            measureSensitivity(c);
        } catch (const Error& e) {
            error = e.what();
        }
        QVERIFY2(error.contains("Fisher windows"), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TestSensitivityProxies)
#include "test_sensitivity_proxies.moc"
