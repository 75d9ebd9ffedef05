// Model exports (io/gptq_checkpoint.h, io/quantized_source.h, run/model_export.h). GPTQ:
// packing checked against int32 words packed by hand; export of RTN and GPTQ runs of the
// shared TinyStories model, read back as a model, gives exactly the run's dequantized
// weights with the scales rounded to fp16 (the format's scale type); the folder's config,
// tokenizer and report; refusals for what the format cannot hold. QuantLens's own packed
// export: read back, every layer is the run's dequantized weight bit for bit.
#include "base/error.h"
#include "cli_runner.h"
#include "io/dtype.h"
#include "io/gptq_checkpoint.h"
#include "io/quantized_source.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "quant/quantize.h"
#include "run/model_export.h"
#include "run/run.h"
#include "run/run_internal.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"

#include <QObject>
#include <QTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

using namespace ql;
namespace fs = std::filesystem;

namespace {

const char* kModel = "models/tinystories-656k";

// u[j][i] = (i + j) mod 16 on an 8 x 8 weight, one group; zero of row j = j + 1.
GptqGrid handGrid4() {
    GptqGrid g;
    g.bits = 4;
    g.outFeatures = 8, g.inFeatures = 8, g.groupSize = 8;
    for (int j = 0; j < 8; ++j)
        for (int i = 0; i < 8; ++i) g.codes.push_back(uint8_t((i + j) % 16));
    for (int j = 0; j < 8; ++j) {
        g.zeros.push_back(uint8_t(j + 1));
        g.scales.push_back(0.25f + 0.5f * float(j));
    }
    return g;
}

// 8-bit, 4 x 8 weight, groups of 4: u[j][i] = 40 j + 3 i, symmetric (zero 128).
GptqGrid handGrid8() {
    GptqGrid g;
    g.bits = 8;
    g.outFeatures = 4, g.inFeatures = 8, g.groupSize = 4;
    for (int j = 0; j < 4; ++j)
        for (int i = 0; i < 8; ++i) g.codes.push_back(uint8_t(40 * j + 3 * i));
    for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 2; ++k) {
            g.zeros.push_back(128);
            g.scales.push_back(0.001f * float(1 + j + 4 * k));
        }
    return g;
}

int32_t word(uint32_t u) {
    return static_cast<int32_t>(u);
}

// The independent dequantization: (u - zero) * fp16(scale) per element, from the grid.
std::vector<float> expectedWeights(const GptqGrid& g) {
    std::vector<float> w(g.codes.size());
    const int64_t groups = g.groups();
    for (int64_t j = 0; j < g.outFeatures; ++j)
        for (int64_t i = 0; i < g.inFeatures; ++i) {
            const size_t cell = size_t(j * groups + i / g.groupSize);
            const float s = halfToFloat(floatToHalf(g.scales[cell]));
            w[size_t(j * g.inFeatures + i)] =
                (float(g.codes[size_t(j * g.inFeatures + i)]) - float(g.zeros[cell])) * s;
        }
    return w;
}

bool throwsWith(const std::function<void()>& f, const QString& text) {
    try {
        f();
    } catch (const Error& e) {
        if (QString(e.what()).contains(text)) return true;
        qWarning("unexpected message: %s", e.what());
        return false;
    }
    return false;
}

RunResult quantizeSmall(const std::string& recipe, bool calibrate) {
    RunConfig c;
    c.modelDir = qltest::dataPath(kModel);
    c.recipe = recipe;
    if (calibrate) {
        c.calibrationText = qltest::dataPath("data/stories/calib.txt");
        c.calibrationWindows = 4;
        c.calibrationSeq = 128;
    }
    c.captureActivations = c.captureGradients = false;
    c.threads = 1;
    return runQuantization(c);
}

double sqnrDb(const std::vector<float>& w, const std::vector<float>& q) {
    double s = 0, e = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        s += double(w[i]) * w[i];
        e += (double(w[i]) - q[i]) * (double(w[i]) - q[i]);
    }
    return 10.0 * std::log10(s / e);
}

}  // namespace

class TestGptqCheckpoint : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void packsInt4AsByHand() {
        const GptqTensors t = packGptq(handGrid4(), GptqZeroFormat::V1, "hand");
        QCOMPARE(t.qweightShape(), (std::vector<int64_t>{1, 8}));
        // Row j's eight codes j, j+1, ... j+7 (mod 16), the first input in the low nibble.
        const std::vector<int32_t> qweight = {
            word(0x76543210u), word(0x87654321u), word(0x98765432u), word(0xA9876543u),
            word(0xBA987654u), word(0xCBA98765u), word(0xDCBA9876u), word(0xEDCBA987u)};
        QCOMPARE(t.qweight, qweight);
        // "gptq" stores zero - 1 = j for output j, packed along the output dimension.
        QCOMPARE(t.qzerosShape(), (std::vector<int64_t>{1, 1}));
        QCOMPARE(t.qzeros, std::vector<int32_t>{word(0x76543210u)});
        QCOMPARE(packGptq(handGrid4(), GptqZeroFormat::V2, "hand").qzeros,
                 std::vector<int32_t>{word(0x87654321u)});
        QCOMPARE(t.gIdx, std::vector<int32_t>(8, 0));
        QCOMPARE(t.scales[3], floatToHalf(1.75f));
    }

    void packsInt8AsByHand() {
        const GptqTensors t = packGptq(handGrid8(), GptqZeroFormat::V1, "hand8");
        QCOMPARE(t.qweightShape(), (std::vector<int64_t>{2, 4}));
        const std::vector<int32_t> qweight = {
            word(0x09060300u), word(0x312E2B28u), word(0x59565350u), word(0x817E7B78u),
            word(0x15120F0Cu), word(0x3D3A3734u), word(0x65625F5Cu), word(0x8D8A8784u)};
        QCOMPARE(t.qweight, qweight);
        // symmetric: zero 128 stored as 127 in each byte, two groups x one word
        QCOMPARE(t.qzeros, (std::vector<int32_t>{word(0x7F7F7F7Fu), word(0x7F7F7F7Fu)}));
        QCOMPARE(t.gIdx, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1}));
        QCOMPARE(t.scalesShape(), (std::vector<int64_t>{2, 4}));
        QCOMPARE(t.scales[1 * 4 + 2], floatToHalf(0.001f * 7));  // group 1 of output 2
    }

    void dequantizesWhatWasPacked() {
        for (const GptqGrid& g : {handGrid4(), handGrid8()})
            for (GptqZeroFormat f : {GptqZeroFormat::V1, GptqZeroFormat::V2})
                QCOMPARE(dequantizeGptq(packGptq(g, f, "x"), f, "x"), expectedWeights(g));
    }

    void refusesWhatTheLayoutCannotHold() {
        GptqGrid g = handGrid4();
        g.zeros[2] = 0;
        QVERIFY(throwsWith([&] { packGptq(g, GptqZeroFormat::V1, "L"); }, "zero point 0"));
        QCOMPARE(dequantizeGptq(packGptq(g, GptqZeroFormat::V2, "L"), GptqZeroFormat::V2, "L"),
                 expectedWeights(g));
        GptqGrid odd = handGrid8();
        odd.bits = 4;  // 8 inputs fine, but 4 outputs are not a multiple of 8 for qzeros
        QVERIFY(throwsWith([&] { packGptq(odd, GptqZeroFormat::V1, "L"); }, "out_features"));
        GptqGrid three = handGrid4();
        three.bits = 3;
        QVERIFY(throwsWith([&] { packGptq(three, GptqZeroFormat::V1, "L"); }, "bits"));
        GptqTensors t = packGptq(handGrid8(), GptqZeroFormat::V1, "L");
        t.gIdx[5] = 2;
        QVERIFY(throwsWith([&] { dequantizeGptq(t, GptqZeroFormat::V1, "L"); }, "g_idx"));
    }

    // RTN int4 g32 sym: the export read back is exactly the run's grid with fp16 scales.
    void rtnExportRoundTrip() {
        if (!qltest::hasData(kModel)) QSKIP("shared model tinystories-656k missing");
        const RunResult run = quantizeSmall("rtn:int4:g32:sym", false);
        const std::string out = qltest::tempDir("gptq-rtn").toStdString() + "/export";
        const ModelExportResult r = exportGptq(run, out);
        QCOMPARE(r.folder, fs::absolute(out).lexically_normal().string());
        const auto original = TensorStore::open(qltest::dataPath(kModel));
        const auto exported = TensorStore::open(out);
        QVERIFY(exported->quantizedSource() != nullptr);
        QCOMPARE(exported->quantizedSource()->tensors().size(), run.layers.size());
        QVERIFY(!exported->find(run.layers[0].name + ".qweight"));  // hidden behind .weight
        for (const auto& l : run.layers) {
            const std::vector<float> w = original->readFloat(l.name + ".weight");
            QuantGrid grid;
            grid.bits = l.bits, grid.symmetric = l.symmetric, grid.rows = l.rows;
            grid.cols = l.cols, grid.groupSize = l.groupSize, grid.scales = l.scales;
            std::vector<int32_t> q(w.size());
            quantizeWithGrid(w.data(), grid, q.data(), nullptr);
            const std::vector<float> back = exported->readFloat(l.name + ".weight");
            QCOMPARE(back.size(), w.size());
            for (size_t i = 0; i < w.size(); ++i) {
                const float s = halfToFloat(
                    floatToHalf(grid.scaleAt(int64_t(i) / l.cols, int64_t(i) % l.cols)));
                if (back[i] != float(q[i]) * s)
                    QFAIL(qPrintable(QString("%1[%2]: %3 != %4")
                                         .arg(l.name.c_str())
                                         .arg(i)
                                         .arg(back[i])
                                         .arg(float(q[i]) * s)));
            }
            // fp16 scales move the weight SQNR by far less than 0.01 dB
            QVERIFY2(std::abs(sqnrDb(w, back) - l.weightSqnrDb) < 0.01, l.name.c_str());
        }
        // Every other tensor is copied byte for byte in its source dtype.
        for (const auto& name : original->names()) {
            if (run.layer(name.substr(0, name.size() - 7))) continue;
            const TensorInfo& a = original->get(name);
            const TensorInfo* b = exported->find(name);
            QVERIFY2(b && b->dtype == a.dtype && b->shape == a.shape, name.c_str());
            QVERIFY(std::memcmp(original->data(a), exported->data(*b), a.byteSize) == 0);
        }
        checkFolder(out, 4, 32, true);
    }

    // GPTQ int4 g32 asym with calibration: the stored codes come back (scales in fp16).
    void gptqExportRoundTrip() {
        if (!qltest::hasData(kModel) || !qltest::hasData("data/stories/calib.txt"))
            QSKIP("shared model or calibration text missing");
        const RunResult run = quantizeSmall("gptq:int4:g32:asym", true);
        QVERIFY(run.storedWeights);
        const std::string out = qltest::tempDir("gptq-gptq").toStdString() + "/export";
        ModelExportOptions v2;
        v2.gptqZeros = GptqZeroFormat::V2;  // asym may have zero 0 somewhere
        exportGptq(run, out, v2);
        const auto exported = TensorStore::open(out);
        for (const auto& l : run.layers) {
            CompactWeights c = run.storedWeights->get(l.name);
            for (float& s : c.grid.scales) s = halfToFloat(floatToHalf(s));
            QCOMPARE(exported->readFloat(l.name + ".weight"), c.decode());
        }
        checkFolder(out, 4, 32, false);
        // The folder is a model: it loads, and its linears are the dequantized weights.
        const auto model = Model::load(out);
        const std::string first = run.layers.front().name;
        QCOMPARE(model->linearWeight(first), exported->readFloat(first + ".weight"));
        const double nll = model->meanNll({1, 50, 200, 300, 17, 99, 5, 2});
        QVERIFY(std::isfinite(nll) && nll > 0);
        // and it can be quantized again: RTN INT8 of the dequantized weights
        RunConfig again;
        again.modelDir = out;
        again.recipe = "rtn:int8:channel:sym";
        again.captureActivations = again.captureGradients = false;
        const RunResult rerun = runQuantization(again);
        QCOMPARE(rerun.layers.size(), run.layers.size());
        QVERIFY(rerun.layers.front().weightSqnrDb > 30.0);
        QCOMPARE(rerun.memory.bytesFpTotal, uint64_t(656000) * 4);  // as float32
    }

    void refusesRunsTheFormatCannotHold() {
        if (!qltest::hasData(kModel)) QSKIP("shared model tinystories-656k missing");
        const RunResult fp16 = quantizeSmall("fp16", false);
        QVERIFY(whyNotGptqExportable(fp16).find("rtn or gptq") != std::string::npos);
        const RunResult int3 = quantizeSmall("rtn:int3:g32:sym", false);
        QVERIFY(whyNotGptqExportable(int3).find("4- or 8-bit") != std::string::npos);
        const std::string out = qltest::tempDir("gptq-refused").toStdString() + "/export";
        QVERIFY(throwsWith([&] { exportGptq(fp16, out); }, "rtn or gptq"));
        QVERIFY(!fs::exists(out));
        // nothing staged is left beside the destination
        for (const auto& e : fs::directory_iterator(fs::path(out).parent_path()))
            QFAIL(qPrintable("left behind: " + QString::fromStdString(e.path().string())));
    }

    void quantlensExportRoundTrip_data() {
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<bool>("calibrate");
        QTest::newRow("rtn int4 g32 asym (grid)") << "rtn:int4:g32:asym" << false;
        QTest::newRow("rtn int3 tensor sym") << "rtn:int3:tensor:sym" << false;
        QTest::newRow("rtn int8 channel sym") << "rtn:int8:channel:sym" << false;
        QTest::newRow("gptq int4 g32 sym (stored)") << "gptq:int4:g32:sym" << true;
        QTest::newRow("awq int4 g32 asym (divisors)") << "awq:int4:g32:asym" << true;
        QTest::newRow("fp16 (cast)") << "fp16" << false;
        QTest::newRow("bf16 (cast)") << "bf16" << false;
    }

    void quantlensExportRoundTrip() {
        QFETCH(QString, recipe);
        QFETCH(bool, calibrate);
        if (!qltest::hasData(kModel) || !qltest::hasData("data/stories/calib.txt"))
            QSKIP("shared model or calibration text missing");
        const RunResult run = quantizeSmall(recipe.toStdString(), calibrate);
        const std::string out = qltest::tempDir("ql-export").toStdString() + "/export";
        exportQuantLens(run, out);
        const auto original = TensorStore::open(qltest::dataPath(kModel));
        const auto exported = TensorStore::open(out);
        for (const auto& l : run.layers) {
            const std::vector<float> w = original->readFloat(l.name + ".weight");
            const std::vector<float> want = afterWeightsOf(run, l, w);
            const std::vector<float> got = exported->readFloat(l.name + ".weight");
            QCOMPARE(got.size(), want.size());
            for (size_t i = 0; i < got.size(); ++i)
                if (!(got[i] == want[i]))
                    QFAIL(qPrintable(QString("%1[%2]: %3 != %4")
                                         .arg(l.name.c_str())
                                         .arg(i)
                                         .arg(got[i])
                                         .arg(want[i])));
        }
        const SafetensorsFile file(out + "/model.safetensors");
        QCOMPARE(file.metadata().at("ql.recipe"), run.config.recipe);
        QCOMPARE(file.metadata().at("ql.architecture"), run.architecture);
        if (run.layers.front().weightAfterSource != "cast") {
            const auto meta =
                nlohmann::json::parse(file.metadata().at("ql.layer." + run.layers.front().name));
            QCOMPARE(meta["method"].get<std::string>(), run.layers.front().method);
            QCOMPARE(meta["weight_sqnr_db"].get<double>(), run.layers.front().weightSqnrDb);
        }
        QCOMPARE(nlohmann::json::parse(
                     qltest::readFile(out + "/config.json"))["quantization_config"]["quant_method"]
                     .get<std::string>(),
                 std::string("quantlens"));
        // it opens as a model whose linears are those weights
        const auto model = Model::load(out);
        const std::string first = run.layers.front().name;
        QCOMPARE(model->linearWeight(first), exported->readFloat(first + ".weight"));
    }

    // The exports reopened as models give the run's perplexity of the quantized side (same
    // windows): QuantLens's to 1e-4, GPTQ's (fp16 scales) to 0.01 (the CLI shows 41.4858 vs
    // 41.4861 for this run).
    void exportedPerplexity() {
        const std::string text = qltest::dataPath("data/stories/stories.txt");
        if (!qltest::hasData(kModel) || !qltest::hasData("data/stories/stories.txt"))
            QSKIP("shared model or texts missing");
        RunConfig c;
        c.modelDir = qltest::dataPath(kModel);
        c.recipe = "gptq:int4:g32:sym";
        c.calibrationText = qltest::dataPath("data/stories/calib.txt");
        c.calibrationWindows = 4;
        c.calibrationSeq = 128;
        c.evaluationText = text;
        c.evalSeq = 256;
        c.evalMaxWindows = 4;
        c.captureActivations = c.captureGradients = false;
        c.threads = 1;
        const RunResult run = runQuantization(c);
        QVERIFY(run.perplexity.valid);
        const QString dir = qltest::tempDir("export-ppl");
        exportQuantLens(run, (dir + "/ql").toStdString());
        exportGptq(run, (dir + "/gptq").toStdString());
        const auto tokens = Tokenizer::load(c.modelDir)->encode(qltest::readFile(text));
        PerplexityOptions o;
        o.seq = 256;
        o.maxWindows = 4;
        const double ql =
            evaluatePerplexity(*Model::load((dir + "/ql").toStdString()), tokens, o).ppl;
        const double gptq =
            evaluatePerplexity(*Model::load((dir + "/gptq").toStdString()), tokens, o).ppl;
        qInfo("run ppl_q %.6f, quantlens export %.6f, gptq export %.6f", run.perplexity.pplQ, ql,
              gptq);
        QVERIFY(std::abs(ql - run.perplexity.pplQ) < 1e-4);
        QVERIFY(std::abs(gptq - run.perplexity.pplQ) < 1e-2);
    }

    void importedExportShowsItsOwnNumbers_data() {
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("rtn");  // what the file's grid reads back as
        QTest::newRow("gptq run, gptq folder") << "gptq:int4:g32:sym"
                                               << "gptq"
                                               << "rtn:int4:g32:sym";
        QTest::newRow("gptq run, quantlens folder") << "gptq:int4:g32:sym"
                                                    << "quantlens"
                                                    << "rtn:int4:g32:sym";
        QTest::newRow("awq run, quantlens folder") << "awq:int4:g32:asym"
                                                   << "quantlens"
                                                   << "rtn:int4:g32:asym";
    }

    // A run's export compared with its original (RunConfig::checkpoint, the CLI's
    // --from-checkpoint) with a perplexity evaluation: every layer's weight SQNR is that of the
    // file's weights (computed here from the two folders) and ppl_q that of the file reopened as
    // a model — not RTN's numbers for the grid the file reads back as (the engine quantized the
    // float weight again for integer grids, showing an RTN run under the checkpoint's name).
    void importedExportShowsItsOwnNumbers() {
        QFETCH(QString, recipe);
        QFETCH(QString, format);
        QFETCH(QString, rtn);
        const std::string text = qltest::dataPath("data/stories/stories.txt");
        if (!qltest::hasData(kModel) || !qltest::hasData("data/stories/stories.txt") ||
            !qltest::hasData("data/stories/calib.txt"))
            QSKIP("shared model or texts missing");
        const RunResult run = quantizeSmall(recipe.toStdString(), true);
        const std::string out = qltest::tempDir("import-own").toStdString() + "/export";
        if (format == "gptq")
            exportGptq(run, out);
        else
            exportQuantLens(run, out);
        RunConfig c;
        c.modelDir = qltest::dataPath(kModel);
        c.checkpoint = out;
        c.evaluationText = text;
        c.evalSeq = 256;
        c.evalMaxWindows = 4;
        c.captureActivations = c.captureGradients = false;
        c.threads = 1;
        const RunResult imported = runQuantization(c);
        QVERIFY(imported.perplexity.valid);
        const auto original = TensorStore::open(c.modelDir);
        const auto exported = TensorStore::open(out);
        QCOMPARE(imported.layers.size(), run.layers.size());
        for (const LayerResult& l : imported.layers) {
            const double want = sqnrDb(original->readFloat(l.name + ".weight"),
                                       exported->readFloat(l.name + ".weight"));
            QVERIFY2(std::abs(l.weightSqnrDb - want) < 1e-6 * std::abs(want),
                     qPrintable(QString("%1: %2 dB, the file's weights %3 dB")
                                    .arg(l.name.c_str())
                                    .arg(l.weightSqnrDb)
                                    .arg(want)));
        }
        // The weights-only comparison (no texts) reads the same weights (it used to stop at
        // "no codes to pack" for an integer grid).
        RunConfig weightsOnly = c;
        weightsOnly.evaluationText.clear();
        const RunResult wo = runQuantization(weightsOnly);
        QCOMPARE(wo.layers.size(), imported.layers.size());
        for (size_t i = 0; i < wo.layers.size(); ++i) {
            QCOMPARE(wo.layers[i].weightSqnrDb, imported.layers[i].weightSqnrDb);
            QCOMPARE(wo.layers[i].weightAfterSource, std::string("checkpoint"));
            QCOMPARE(wo.layers[i].bytesQ, imported.layers[i].bytesQ);
            QVERIFY(wo.layers[i].bytesQ < wo.layers[i].bytesFp / 4);
        }
        const auto tokens = Tokenizer::load(c.modelDir)->encode(qltest::readFile(text));
        PerplexityOptions o;
        o.seq = 256;
        o.maxWindows = 4;
        const double file = evaluatePerplexity(*Model::load(out), tokens, o).ppl;
        c.checkpoint.clear();
        c.recipe = rtn.toStdString();
        const RunResult plain = runQuantization(c);
        qInfo("imported ppl_q %.6f, file reopened %.6f, %s %.6f", imported.perplexity.pplQ, file,
              qPrintable(rtn), plain.perplexity.pplQ);
        QVERIFY(std::abs(imported.perplexity.pplQ - file) < 1e-4);
        // not vacuous: the RTN run of that grid measures something else
        QVERIFY(std::abs(plain.perplexity.pplQ - file) > 1e-3);
    }

    void quantlensExportRefusesCodebooks() {
        if (!qltest::hasData(kModel)) QSKIP("shared model tinystories-656k missing");
        const RunResult run = quantizeSmall("nf4", false);
        const std::string out = qltest::tempDir("ql-export-nf4").toStdString() + "/export";
        QVERIFY(throwsWith([&] { exportQuantLens(run, out); }, "not in this build"));
        QVERIFY(!fs::exists(out));
    }

    void corruptGptqFolderNamesTensor() {
        if (!qltest::hasData(kModel)) QSKIP("shared model tinystories-656k missing");
        const RunResult run = quantizeSmall("rtn:int4:g32:sym", false);
        const std::string out = qltest::tempDir("gptq-corrupt").toStdString() + "/export";
        exportGptq(run, out);
        // drop one layer's qzeros: opening names the tensor
        const auto raw = TensorStore::openRaw(out);
        std::vector<TensorToWrite> kept;
        const std::string dropped = run.layers[3].name + ".qzeros";
        for (const auto& name : raw->names()) {
            if (name == dropped) continue;
            const TensorInfo& t = raw->get(name);
            kept.push_back({name, t.dtype, t.shape, {raw->data(t), raw->data(t) + t.byteSize}});
        }
        writeSafetensors(out + "/model.safetensors", kept);
        QVERIFY(throwsWith([&] { TensorStore::open(out); }, QString::fromStdString(dropped)));
        QVERIFY(throwsWith([&] { Model::load(out); }, QString::fromStdString(dropped)));
    }

    // quantlens-cli export end to end on saved runs, and its refusals.
    void cliExport() {
        if (!qltest::hasData(kModel) || !qltest::hasData("models/stories260k"))
            QSKIP("shared models missing");
        const QString dir = qltest::tempDir("gptq-cli");
        saveRun(quantizeSmall("rtn:int8:channel:sym", false), (dir + "/run").toStdString());
        const QString out = dir + "/export";
        auto ok = qltest::runCli({"export", dir + "/run", "--format", "gptq", "--out", out});
        QVERIFY2(ok.exitCode == 0, ok.err.c_str());
        QVERIFY(ok.qout().contains("exported rtn:int8:channel:sym run as gptq"));
        const auto config = nlohmann::json::parse(
            qltest::readFile(out.toStdString() + "/config.json"))["quantization_config"];
        QCOMPARE(config["group_size"].get<int>(), -1);  // channel-wise
        QCOMPARE(config["bits"].get<int>(), 8);
        auto again = qltest::runCli({"export", dir + "/run", "--format", "gptq", "--out", out});
        QCOMPARE(again.exitCode, 1);
        QVERIFY2(again.qerr().contains("--force"), again.err.c_str());
        auto forced = qltest::runCli(
            {"export", dir + "/run", "--format", "quantlens", "--out", out, "--force"});
        QVERIFY2(forced.exitCode == 0, forced.err.c_str());
        auto gguf = qltest::runCli({"export", dir + "/run", "--format", "gguf", "--out", out});
        QCOMPARE(gguf.exitCode, 1);
        // --format gguf goes to the GGUF writer, which names what it can write
        QVERIFY2(gguf.qerr().contains("has no GGUF form"), gguf.err.c_str());
        // stories260k's 172-wide MLP falls back to per-channel at g32: one group size only
        RunConfig c;
        c.modelDir = qltest::dataPath("models/stories260k");
        c.recipe = "rtn:int4:g32:sym";
        c.captureActivations = c.captureGradients = false;
        saveRun(runQuantization(c), (dir + "/run260").toStdString());
        auto mixed = qltest::runCli(
            {"export", dir + "/run260", "--format", "gptq", "--out", dir + "/export260"});
        QCOMPARE(mixed.exitCode, 1);
        QVERIFY2(mixed.qerr().contains("fell back") && mixed.qerr().contains("mlp"),
                 mixed.err.c_str());
        QVERIFY(!QFileInfo::exists(dir + "/export260"));
    }

private:
    void checkFolder(const std::string& out, int bits, int group, bool sym) {
        const auto config =
            nlohmann::json::parse(qltest::readFile(out + "/config.json"))["quantization_config"];
        QCOMPARE(config["quant_method"].get<std::string>(), std::string("gptq"));
        QCOMPARE(config["bits"].get<int>(), bits);
        QCOMPARE(config["group_size"].get<int>(), group);
        QCOMPARE(config["sym"].get<bool>(), sym);
        QCOMPARE(config["desc_act"].get<bool>(), false);
        QVERIFY(fs::exists(out + "/tokenizer.json"));
        QVERIFY(fs::exists(out + "/quantize_config.json"));
        const auto report = nlohmann::json::parse(qltest::readFile(out + "/quantlens_report.json"));
        QVERIFY(report["run"]["layers"].size() == 14);
        QVERIFY(report["export_peak_rss_bytes"].get<uint64_t>() > 0);
        for (const auto& e : fs::directory_iterator(fs::path(out).parent_path()))
            QCOMPARE(e.path().filename().string(), std::string("export"));
    }
};

QTEST_GUILESS_MAIN(TestGptqCheckpoint)
#include "test_gptq_checkpoint.moc"
