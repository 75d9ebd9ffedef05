// installPackedKernels (run/packed_install.h) on the shared stories260k model: with the
// kernels installed, the Transformer's logits equal those of the simulated model (every run
// layer's dequantized float32 weight) for RTN INT8/INT4, GPTQ and AWQ runs, in the decode
// (5 tokens) and prefill (64 tokens) paths; packed layers hold no float32 weight any more and
// the report's byte counts are the packed sizes.
// ATen is included before Qt (and Qt keywords are off): torch headers use Qt's macro names.
#include "base/error.h"
#include "model/model.h"
#include "model/transformer.h"
#include "run/packed_install.h"
#include "run/run.h"
#include "run/run_internal.h"

#include <ATen/ATen.h>

#include "testdata.h"

#include <QTest>

#include <map>

using namespace ql;

namespace {

const char* kModel = "models/stories260k";

const RunResult& runOf(const std::string& recipe) {
    static std::map<std::string, RunResult> runs;
    auto it = runs.find(recipe);
    if (it != runs.end()) return it->second;
    RunConfig c;
    c.modelDir = qltest::dataPath(kModel);
    c.recipe = recipe;
    if (recipe.rfind("rtn", 0) != 0) {
        c.calibrationText = qltest::dataPath("data/stories/calib.txt");
        c.calibrationWindows = 4;
        c.calibrationSeq = 128;
    }
    c.captureActivations = c.captureGradients = false;
    c.threads = 2;
    return runs.emplace(recipe, runQuantization(c)).first->second;
}

at::Tensor idsOf(int64_t tokens) {
    std::vector<int64_t> ids;
    for (int64_t t = 0; t < tokens; ++t) ids.push_back((t * 37 + 11) % 512);
    return at::tensor(ids, at::kLong).view({1, tokens});
}

// Packed bytes of a layer's codes as PackedLinear holds them (independent of it).
uint64_t expectedPackedBytes(const LayerResult& l, const std::string& format) {
    const bool int4 = format.rfind("int4", 0) == 0, asym = format.find("asym") != std::string::npos;
    const uint64_t weights = uint64_t(l.rows) * uint64_t(l.cols);
    const uint64_t groups =
        int4 ? weights / uint64_t(std::stoi(format.substr(6))) : uint64_t(l.rows);
    const bool awq = l.method.rfind("awq", 0) == 0;
    return (int4 ? weights / 2 : weights) + groups * 4 + (asym ? groups : 0) +
           (awq ? uint64_t(l.cols) * 4 : 0);
}

}  // namespace

class TestInferInstall : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        if (!qltest::hasData(kModel)) QSKIP("../shared/models/stories260k is missing");
        setComputeThreads(2);
    }
    void packedEqualsSimulated_data();
    void packedEqualsSimulated();
    void streamedModelIsRefused();
};

void TestInferInstall::packedEqualsSimulated_data() {
    QTest::addColumn<QString>("recipe");
    QTest::addColumn<int>("packedLayers");  // of 35: the 5 down_proj (in 172) fall back to channel
    QTest::addColumn<QString>("format");    // of the packed layers
    QTest::newRow("rtn int8") << "rtn:int8:channel:sym" << 35 << "int8 channel sym";
    QTest::newRow("rtn int8 asym") << "rtn:int8:channel:asym" << 35 << "int8 channel asym";
    QTest::newRow("rtn int4 g32") << "rtn:int4:g32:asym" << 30 << "int4 g32 asym";
    QTest::newRow("rtn int4 g64 sym") << "rtn:int4:g64:sym" << 30 << "int4 g64 sym";
    QTest::newRow("gptq int4 g32") << "gptq:int4:g32:sym" << 30 << "int4 g32 sym";
    QTest::newRow("awq int4 g32") << "awq:int4:g32:asym" << 30 << "int4 g32 asym";
    QTest::newRow("rtn nf4 (no codes)") << "nf4" << 0 << "";
}

// Logits of the packed model against the simulated one: max |difference| <= 1e-4 x max
// |logit| (float sums in another order), while quantization itself moves them far more.
void TestInferInstall::packedEqualsSimulated() {
    QFETCH(QString, recipe);
    QFETCH(int, packedLayers);
    QFETCH(QString, format);
    const RunResult& run = runOf(recipe.toStdString());
    const auto packedModel = Model::load(qltest::dataPath(kModel));
    const auto simulated = Model::load(qltest::dataPath(kModel));
    const auto floatModel = Model::load(qltest::dataPath(kModel));
    Transformer& net = packedModel->transformer();
    const PackedInstallReport report = installPackedKernels(net, run);
    for (const LayerResult& l : run.layers)
        simulated->setLinearWeight(l.name,
                                   afterWeightsOf(run, l, floatModel->linearWeight(l.name)));

    QCOMPARE(int(report.layers.size()), 35);
    QCOMPARE(report.packedLayers, packedLayers);
    uint64_t packedBytes = 0, released = 0, kept = 0;
    for (const PackedLayerInstall& item : report.layers) {
        const Linear& lin = net.linear(item.name);
        const LayerResult* l = run.layer(item.name);
        QVERIFY(l);
        if (item.packed) {
            QCOMPARE(QString::fromStdString(item.format), format);
            QVERIFY2(!lin.weight.defined() && !lin.original.defined() && lin.kernel,
                     item.name.c_str());
            QCOMPARE(item.packedBytes, expectedPackedBytes(*l, item.format));
            packedBytes += item.packedBytes, released += item.floatBytes;
        } else {
            QVERIFY2(item.simulated && !item.reason.empty() && lin.weight.defined() && !lin.kernel,
                     item.name.c_str());
            kept += uint64_t(lin.weight.numel()) * 4;
        }
    }
    QCOMPARE(report.packedBytes, packedBytes);
    QCOMPARE(report.floatBytesReleased, released);
    QCOMPARE(report.floatBytesKept, kept);
    if (packedLayers > 0)  // INT8 ~ 1/4, INT4 ~ 1/8 + scales of the float32 bytes
        QVERIFY2(double(packedBytes) < 0.4 * double(released),
                 qPrintable(QString::number(packedBytes)));

    for (int64_t tokens : {int64_t(5), int64_t(64)}) {
        const at::Tensor ids = idsOf(tokens);
        const at::Tensor a = net.forward(ids), b = simulated->transformer().forward(ids);
        const at::Tensor f = floatModel->transformer().forward(ids);
        const double scale = b.abs().max().item<double>();
        const double diff = (a - b).abs().max().item<double>();
        const double quantShift = (f - b).abs().max().item<double>();
        const QString what = QString(
                                 "%1 tokens: packed vs simulated %2, float vs simulated %3, "
                                 "max |logit| %4")
                                 .arg(tokens)
                                 .arg(diff)
                                 .arg(quantShift)
                                 .arg(scale);
        qInfo("%s", qPrintable(what));
        QVERIFY2(diff <= 1e-4 * scale, qPrintable(what));
        if (packedLayers > 0) QVERIFY2(quantShift > 100 * diff, qPrintable(what));
    }
}

void TestInferInstall::streamedModelIsRefused() {
    const RunResult& run = runOf("rtn:int8:channel:sym");
    const auto streamed = Model::loadStreamed(qltest::dataPath(kModel));
    try {
        installPackedKernels(streamed->transformer(), run);
        QFAIL("a streamed model was accepted");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("resident"), e.what());
    }
}

QTEST_GUILESS_MAIN(TestInferInstall)
#include "test_infer_install.moc"
