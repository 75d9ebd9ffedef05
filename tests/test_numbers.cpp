// Numbers a user can trust (issue 12): the llamacpp windows, what calibration actually
// used, labels after fallbacks, held-out output SQNR, unusable weights, window length and
// memory bounds, prefix tokenization and thread bounds.
#include "base/error.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "run/eval_windows.h"
#include "run/run.h"
#include "run/run_internal.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <QObject>
#include <QTest>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

using namespace ql;
namespace fs = std::filesystem;

namespace {

const char* kSmall = "models/stories260k";

RunConfig weightsOnly(const std::string& recipe) {
    RunConfig c;
    c.modelDir = qltest::dataPath(kSmall);
    c.recipe = recipe;
    c.captureActivations = false;
    c.captureGradients = false;
    c.threads = 1;
    return c;
}

std::string errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no ql::Error)";
}

void expectErrorWith(const std::function<void()>& f, const std::string& needle) {
    const std::string e = errorOf(f);
    QVERIFY2(e.find(needle) != std::string::npos,
             qPrintable(QString("'%1' not in: %2").arg(needle.c_str(), e.c_str())));
    QVERIFY2(e.find('\n') == std::string::npos, e.c_str());  // one line
}

struct ScopedEnv {
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old, had_ = true;
        setenv(name, value, 1);
    }
    ~ScopedEnv() { had_ ? setenv(name_, old_.c_str(), 1) : unsetenv(name_); }
    const char* name_;
    std::string old_;
    bool had_ = false;
};

// A copy of the small model with value `v` written at [row, col] of tensor `name`.
std::string corruptedCopy(const QString& dirName, const std::string& name, int64_t row, int64_t col,
                          float v) {
    const std::string dir = qltest::tempDir(dirName).toStdString();
    for (const auto& e : fs::directory_iterator(qltest::dataPath(kSmall)))
        fs::copy_file(e.path(), fs::path(dir) / e.path().filename());
    const std::string file = dir + "/model.safetensors";
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    uint64_t headerLength = 0;
    f.read(reinterpret_cast<char*>(&headerLength), 8);
    std::string header(headerLength, '\0');
    f.read(header.data(), std::streamsize(headerLength));
    const auto j = nlohmann::json::parse(header).at(name);
    const int64_t cols = j.at("shape").back().get<int64_t>();
    const uint64_t begin = j.at("data_offsets")[0].get<uint64_t>();
    f.seekp(std::streamoff(8 + headerLength + begin + uint64_t(row * cols + col) * 4));
    f.write(reinterpret_cast<const char*>(&v), 4);
    return dir;
}

std::vector<float> tensor(const std::string& modelDir, const std::string& name) {
    return TensorStore::open(modelDir)->readFloat(name);
}

// rtn:int8:channel:sym exactly as ../shared/README.md writes it.
std::vector<float> int8Channel(const std::vector<float>& w, int64_t rows, int64_t cols) {
    std::vector<float> q(w.size());
    for (int64_t r = 0; r < rows; ++r) {
        float m = 0.f;
        for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(w[size_t(r * cols + c)]));
        const float scale = m / 127.f;
        for (int64_t c = 0; c < cols; ++c) {
            const float v = scale > 0 ? std::round(w[size_t(r * cols + c)] / scale) : 0.f;
            q[size_t(r * cols + c)] = std::clamp(v, -128.f, 127.f) * scale;
        }
    }
    return q;
}

}  // namespace

class TestNumbers : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { setComputeThreads(1); }
    void llamacppWindowsFollowOneBosStream();
    void calibrationUsedIsRecordedAndWarned();
    void labelSaysWhatFellBack();
    void outputSqnrOnHeldOutWindows();
    void unusableWeightsAreFound();
    void scanChecksEachDTypeOnItsBits_data();
    void scanChecksEachDTypeOnItsBits();
    void windowLengthBoundedByPositions();
    void memoryEstimateCountsSequence();
    void prefixTokenizationReadsOnlyWhatIsNeeded();
    void threadsBounded();
};

// ../shared/README.md: llama.cpp puts ONE BOS in front of the whole stream, cuts windows of
// seq from that stream, then replaces each window's first token by BOS.
void TestNumbers::llamacppWindowsFollowOneBosStream() {
    const int32_t bos = 1, seq = 8;
    std::vector<int32_t> tokens(23);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int32_t(100 + i);
    std::vector<int32_t> stream{bos};
    stream.insert(stream.end(), tokens.begin(), tokens.end());
    const auto windows = buildEvalWindows(tokens, PplProtocol::LlamaCpp, seq, 0, bos);
    QCOMPARE(windows.size(), stream.size() / size_t(seq));  // 24 / 8 = 3 (gptq: 2)
    for (size_t w = 0; w < windows.size(); ++w) {
        std::vector<int32_t> expected(stream.begin() + std::ptrdiff_t(w * seq),
                                      stream.begin() + std::ptrdiff_t((w + 1) * seq));
        expected[0] = bos;
        QCOMPARE(windows[w].ids, expected);
        QCOMPARE(windows[w].firstScored, seq / 2);
    }
    QCOMPARE(buildEvalWindows(tokens, PplProtocol::Gptq, seq, 0, bos).size(), size_t(2));
    QCOMPARE(buildEvalWindows(tokens, PplProtocol::LlamaCpp, seq, 2, bos).size(), size_t(2));
}

void TestNumbers::calibrationUsedIsRecordedAndWarned() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("data/stories/calib.txt");
    RunConfig c = weightsOnly("rtn:int8:channel:sym");
    c.calibrationText = qltest::dataPath("data/stories/calib.txt");
    c.calibrationSeq = 256;
    c.calibrationWindows = 1000;  // far more than the text has
    const RunResult run = runQuantization(c);
    const size_t tokens =
        Tokenizer::load(c.modelDir)->encode(qltest::readFile(c.calibrationText)).size();
    QCOMPARE(run.calibrationTokens, int64_t(tokens));
    QCOMPARE(run.calibrationWindowsUsed, int(tokens / 256));
    QVERIFY(run.calibrationWindowsUsed < 1000);
    QCOMPARE(run.config.calibrationWindows, 1000);  // what was asked stays recorded
    bool warned = false;
    for (const auto& w : run.warnings)
        warned |= w.find("1000 x 256 tokens asked") != std::string::npos &&
                  w.find(std::to_string(run.calibrationWindowsUsed) + " window(s) used") !=
                      std::string::npos;
    QVERIFY2(warned, "no warning about the reduced calibration");

    const std::string dir = qltest::tempDir("numbers-calib").toStdString() + "/run";
    saveRun(run, dir);
    const RunResult back = loadRun(dir);
    QCOMPARE(back.calibrationWindowsUsed, run.calibrationWindowsUsed);
    QCOMPARE(back.calibrationWindowsHeldOut, run.calibrationWindowsHeldOut);
    QCOMPARE(back.calibrationTokens, run.calibrationTokens);
    QCOMPARE(back.outputSqnrSource, run.outputSqnrSource);
    QCOMPARE(back.outputSqnrWindows, run.outputSqnrWindows);
    const auto summary = nlohmann::json::parse(runSummaryJson(run));
    QCOMPARE(summary.at("calibration_windows_used").get<int>(), run.calibrationWindowsUsed);
}

// stories260k: every row is 64 wide except down_proj's 172, so g128 falls back everywhere
// and g32 only in the 5 down_proj layers.
void TestNumbers::labelSaysWhatFellBack() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult all = runQuantization(weightsOnly("rtn:int4:g128:sym"));
    QCOMPARE(all.label, std::string("RTN INT4 g128 \u2192 channel \u00d735 sym"));
    QCOMPARE(runDisplayLabel(all), all.label);
    const RunResult some = runQuantization(weightsOnly("rtn:int4:g32:sym"));
    QCOMPARE(some.label, std::string("RTN INT4 g32 \u2192 channel \u00d75 of 35 sym"));
    const RunResult none = runQuantization(weightsOnly("rtn:int8:channel:sym"));
    QCOMPARE(none.label, std::string("RTN INT8 channel sym"));
    const std::string csv = perplexityCsv({all, some});
    QVERIFY(csv.find(all.label) != std::string::npos);
    QVERIFY(csv.find(some.label) != std::string::npos);
    QCOMPARE(nlohmann::json::parse(runSummaryJson(all)).at("label").get<std::string>(), all.label);
}

// Without an evaluation text the last quarter of the calibration windows is held out; the
// q_proj of block 0 sees RMSNorm(embedding) whatever was quantized, so its output SQNR on
// the held-out window is recomputed here from the checkpoint and README's INT8 formula.
void TestNumbers::outputSqnrOnHeldOutWindows() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("data/stories/calib.txt");
    RunConfig c = weightsOnly("rtn:int8:channel:sym");
    c.calibrationText = qltest::dataPath("data/stories/calib.txt");
    c.calibrationSeq = 64;
    c.calibrationWindows = 4;
    c.layers.include = {"model.layers.0.self_attn.q_proj"};
    const RunResult run = runQuantization(c);
    QCOMPARE(run.calibrationWindowsUsed, 4);
    QCOMPARE(run.calibrationWindowsHeldOut, 1);
    QCOMPARE(run.outputSqnrSource, std::string("calibration-heldout"));
    QCOMPARE(run.outputSqnrWindows, 1);
    QVERIFY(layersCsv(run).find(",calibration-heldout\n") != std::string::npos);

    const auto ids = Tokenizer::load(c.modelDir)->encode(qltest::readFile(c.calibrationText));
    const auto embed = tensor(c.modelDir, "model.embed_tokens.weight");
    const auto gain = tensor(c.modelDir, "model.layers.0.input_layernorm.weight");
    const auto w = tensor(c.modelDir, "model.layers.0.self_attn.q_proj.weight");
    const int64_t d = 64, out = 64;
    const auto wq = int8Channel(w, out, d);
    const double eps = loadModelConfig(c.modelDir + "/config.json").rmsNormEps;
    double signal = 0.0, noise = 0.0;
    for (size_t t = 3 * 64; t < 4 * 64; ++t) {  // the held-out window: the 4th
        const float* e = &embed[size_t(ids[t]) * size_t(d)];
        double ms = 0.0;
        for (int64_t k = 0; k < d; ++k) ms += double(e[k]) * e[k];
        const double inv = 1.0 / std::sqrt(ms / double(d) + eps);
        std::vector<double> x(static_cast<size_t>(d));
        for (int64_t k = 0; k < d; ++k) x[size_t(k)] = e[k] * inv * gain[size_t(k)];
        for (int64_t r = 0; r < out; ++r) {
            double y = 0.0, dy = 0.0;
            for (int64_t k = 0; k < d; ++k) {
                y += w[size_t(r * d + k)] * x[size_t(k)];
                dy += (w[size_t(r * d + k)] - wq[size_t(r * d + k)]) * x[size_t(k)];
            }
            signal += y * y;
            noise += dy * dy;
        }
    }
    const double expected = 10.0 * std::log10(signal / noise);
    const double got = run.layers.at(0).outputSqnrDb;
    QVERIFY2(std::abs(got - expected) < 0.01,
             qPrintable(QString("output SQNR %1 vs %2 recomputed").arg(got).arg(expected)));

    // With an evaluation text the first evaluation windows are used and all calibration
    // windows fit; with a single calibration window nothing can be held out.
    RunConfig e = c;
    e.evaluationText = qltest::dataPath("data/stories/stories.txt");
    e.evalSeq = 128;
    e.evalMaxWindows = 2;
    const RunResult withEval = runQuantization(e);
    QCOMPARE(withEval.outputSqnrSource, std::string("evaluation"));
    QCOMPARE(withEval.outputSqnrWindows, 2);
    QCOMPARE(withEval.calibrationWindowsHeldOut, 0);
    QVERIFY(std::isfinite(withEval.layers.at(0).outputSqnrDb));
    RunConfig one = c;
    one.calibrationWindows = 1;
    const RunResult single = runQuantization(one);
    QCOMPARE(single.outputSqnrSource, std::string("calibration"));
    QVERIFY(outputSqnrSourceText(single).find("none held out") != std::string::npos);
}

void TestNumbers::unusableWeightsAreFound() {
    QL_REQUIRE_DATA(kSmall);
    const std::string layer = "model.layers.2.mlp.down_proj";
    const std::string dir = corruptedCopy("numbers-nan", layer + ".weight", 5, 7, NAN);
    // Model path (eval, runs with texts, the GUI): refused, naming tensor, row and count.
    expectErrorWith([&] { Model::load(dir); },
                    "tensor '" + layer + ".weight' has 1 value(s) that are NaN");
    expectErrorWith([&] { Model::load(dir); }, "first in row 5");
    // Weights-only: the run completes, the layer is marked and there is a warning.
    RunConfig c = weightsOnly("rtn:int8:channel:sym");
    c.modelDir = dir;
    const RunResult run = runQuantization(c);
    const LayerResult* l = run.layer(layer);
    QVERIFY(l);
    QCOMPARE(l->unusableWeights, uint64_t(1));
    QCOMPARE(l->firstUnusableRow, int64_t(5));
    QCOMPARE(run.layer("model.layers.2.mlp.up_proj")->unusableWeights, uint64_t(0));
    bool warned = false;
    for (const auto& w : run.warnings) warned |= w.find(layer) != std::string::npos;
    QVERIFY(warned);
    // A finite 3e38 (its square overflows float32) is as unusable as a NaN.
    const std::string big = corruptedCopy("numbers-big", "model.norm.weight", 0, 3, 3e38f);
    expectErrorWith([&] { Model::load(big); }, "tensor 'model.norm.weight' has 1 value(s)");
    const float values[] = {1.f, INFINITY, -3e38f, 2.f, NAN, 0.f};
    const UnusableWeights u = findUnusableWeights("t", values, 6, 2);
    QCOMPARE(u.count, uint64_t(3));
    QCOMPARE(u.firstRow, int64_t(0));
}

// The load's scan (scanUnusableWeights) reads BF16, F16 and F32 on their bits and F64
// converted, in chunks of kScanChunkElements: each row plants one value in an otherwise
// clean tensor (at the given element, possibly in the second chunk) and states how many
// unusable values the scan must find. Boundaries: 2^64 itself is usable, the next value
// above it is not; F16's largest finite value is usable.
void TestNumbers::scanChecksEachDTypeOnItsBits_data() {
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<double>("value");
    QTest::addColumn<qint64>("element");
    QTest::addColumn<int>("unusable");
    const double two64 = std::ldexp(1.0, 64);
    const qint64 secondChunk = qint64(kScanChunkElements) + 70;
    QTest::newRow("bf16 nan") << "BF16" << double(NAN) << qint64(5) << 1;
    QTest::newRow("bf16 2^64") << "BF16" << two64 << qint64(5) << 0;
    QTest::newRow("bf16 above 2^64") << "BF16" << two64 * (1 + 1.0 / 128) << qint64(5) << 1;
    QTest::newRow("bf16 -inf 2nd chunk") << "BF16" << -double(INFINITY) << secondChunk << 1;
    QTest::newRow("bf16 -1e-30") << "BF16" << -1e-30 << qint64(5) << 0;
    QTest::newRow("f16 65504") << "F16" << 65504.0 << qint64(9) << 0;
    QTest::newRow("f16 inf") << "F16" << double(INFINITY) << qint64(9) << 1;
    QTest::newRow("f16 -nan 2nd chunk") << "F16" << -double(NAN) << secondChunk << 1;
    QTest::newRow("f32 2^64") << "F32" << two64 << qint64(1) << 0;
    QTest::newRow("f32 -3e38") << "F32" << -3e38 << qint64(1) << 1;
    QTest::newRow("f32 above 2^64 2nd chunk")
        << "F32" << two64 * (1 + 1.0 / (1 << 23)) << secondChunk << 1;
    QTest::newRow("f64 1e20") << "F64" << 1e20 << qint64(3) << 1;
    QTest::newRow("f64 1e19") << "F64" << 1e19 << qint64(3) << 0;
}

void TestNumbers::scanChecksEachDTypeOnItsBits() {
    QFETCH(QString, dtype);
    QFETCH(double, value);
    QFETCH(qint64, element);
    QFETCH(int, unusable);
    const DType t = *parseDType(dtype.toStdString());
    constexpr int64_t cols = 1024;
    const int64_t rows = (element + 1 + cols - 1) / cols + 1;  // a row after the planted value
    const size_t n = size_t(rows * cols), size = dtypeSize(t);
    TensorToWrite w{"w", t, {rows, cols}, std::vector<unsigned char>(n * size)};
    const auto put = [&](size_t i, double v) {
        unsigned char* at = w.bytes.data() + i * size;
        const float f = float(v);
        if (t == DType::F64) std::memcpy(at, &v, 8);
        if (t == DType::F32) std::memcpy(at, &f, 4);
        const uint16_t h = t == DType::F16 ? floatToHalf(f) : floatToBf16(f);
        if (t == DType::F16 || t == DType::BF16) std::memcpy(at, &h, 2);
    };
    for (size_t i = 0; i < n; ++i) put(i, std::sin(double(i)));  // clean, mixed signs
    put(size_t(element), value);
    const std::string file = qltest::tempDir("numbers-scan").toStdString() + "/w.safetensors";
    writeSafetensors(file, {w});
    const auto store = TensorStore::open(file);
    // Independently: the planted element as float32 (the library's conversion), then the
    // rule |v| <= 2^64 in double.
    float back = 0.f;
    convertToFloat(t, w.bytes.data() + size_t(element) * size, 1, &back);
    const bool expectUnusable = !(std::fabs(double(back)) <= std::ldexp(1.0, 64));
    QCOMPARE(expectUnusable, unusable == 1);
    int checks = 0;
    const UnusableWeights u = scanUnusableWeights(*store, ProgressReporter([&](const Progress&) {
        ++checks;
        return true;
    }));
    QCOMPARE(u.count, uint64_t(unusable));
    if (unusable) {
        QCOMPARE(u.tensor, std::string("w"));
        QCOMPARE(u.firstRow, element / cols);
    }
    // One cancellation check per chunk: the tensor's chunks, none skipped.
    QCOMPARE(checks, int((n + kScanChunkElements - 1) / kScanChunkElements));
}

void TestNumbers::windowLengthBoundedByPositions() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("data/stories/stories.txt");
    RunConfig c = weightsOnly("rtn:int8:channel:sym");
    c.evaluationText = qltest::dataPath("data/stories/stories.txt");
    c.evalSeq = 4096;  // stories260k: max_position_embeddings 512
    expectErrorWith([&] { runQuantization(c); }, "max_position_embeddings (512");
    c.evalSeq = 0;
    c.calibrationText = qltest::dataPath("data/stories/calib.txt");
    c.calibrationSeq = 513;
    expectErrorWith([&] { runQuantization(c); }, "calibration window of 513 tokens");
    PerplexityOptions o;
    o.seq = 1024;
    const auto model = Model::load(qltest::dataPath(kSmall));
    expectErrorWith([&] { evaluatePerplexity(*model, std::vector<int32_t>(2048, 5), o); },
                    "longer than the model's max_position_embeddings");
}

void TestNumbers::memoryEstimateCountsSequence() {
    QL_REQUIRE_DATA(kSmall);
    ModelConfig cfg;
    cfg.numHeads = 8;
    cfg.numKvHeads = 8;
    // The case: 20000^2 scores x 8 heads x 4 bytes = 12.8 GB for one window.
    QVERIFY(forwardWorkingBytes(cfg, 20000, 1, 0) >= uint64_t(12.8e9));
    QVERIFY(forwardWorkingBytes(cfg, 512, 1, 0) < uint64_t(30e6));
    // A hostile length saturates instead of wrapping around to a small estimate.
    QCOMPARE(forwardWorkingBytes(cfg, int64_t(1) << 31, 4, 0), UINT64_MAX);
    const std::string model = qltest::dataPath(kSmall);
    {
        ScopedEnv env("QL_MEMORY_AVAILABLE_MB", "4096");
        checkEvalMemory(model, 256, 4);  // a 1 MB model with 256-token windows fits in 4 GB
        // Past max_position_embeddings the limit is named, not the memory it would take.
        expectErrorWith([&] { checkEvalMemory(model, 20000, 1); }, "max_position_embeddings (512");
        const QString longModel =
            qltest::modelWithPositions(kSmall, 32768, "numbers-long-positions");
        QVERIFY(!longModel.isEmpty());
        const std::string lm = longModel.toStdString();
        checkEvalMemory(lm, 256, 4);
        expectErrorWith([&] { checkEvalMemory(lm, 20000, 1); }, "not enough memory to evaluate");
        expectErrorWith([&] { checkEvalMemory(lm, 32768, 4096); }, "not enough memory");
        expectErrorWith([&] { checkEvalMemory(lm, 2147483647, 4096); },
                        "max_position_embeddings (32768");
        // The run's check counts the evaluation windows too.
        RunConfig c = weightsOnly("rtn:int8:channel:sym");
        c.evaluationText = qltest::dataPath("data/stories/stories.txt");
        c.evalSeq = 20000;
        expectErrorWith([&] { checkModelPathMemory(c, false); }, "not enough memory");
        c.evalSeq = 256;
        checkModelPathMemory(c, false);
    }
}

void TestNumbers::prefixTokenizationReadsOnlyWhatIsNeeded() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("data/stories/stories.txt");
    const std::string story = qltest::readFile(qltest::dataPath("data/stories/stories.txt"));
    const std::string path = qltest::tempDir("numbers-prefix").toStdString() + "/big.txt";
    {
        std::ofstream out(path, std::ios::binary);
        while (out.tellp() < std::streampos(8 << 20)) out << story;  // 8 MB
    }
    const auto tokenizer = Tokenizer::load(qltest::dataPath(kSmall));
    size_t largest = 0;
    const TextEncoder encode = [&](const std::string& text) {
        largest = std::max(largest, text.size());
        return tokenizer->encode(text);
    };
    const auto ids = tokenizeTextFile(path, 1000, encode, "evaluation");
    QCOMPARE(ids.size(), size_t(1000));
    QVERIFY2(largest < (1u << 20), qPrintable(QString("encoded %1 bytes").arg(largest)));
    const auto whole = tokenizer->encode(story);
    QVERIFY(whole.size() > 1000);
    QVERIFY(std::equal(ids.begin(), ids.end(), whole.begin()));
    // 0 = the whole file; a folder or an empty file is an error naming it.
    const std::string small = qltest::tempDir("numbers-prefix2").toStdString() + "/s.txt";
    std::ofstream(small) << story;
    QCOMPARE(tokenizeTextFile(small, 0, encode, "evaluation"), whole);
    expectErrorWith(
        [&] { tokenizeTextFile(fs::path(small).parent_path().string(), 0, encode, "x"); },
        "is a directory, expected a text file");
}

void TestNumbers::threadsBounded() {
    QL_REQUIRE_DATA(kSmall);
    RunConfig c = weightsOnly("rtn:int8:channel:sym");
    c.threads = -4;
    expectErrorWith([&] { runQuantization(c); }, "threads must be in 1..256");
    c.threads = 2000;
    expectErrorWith([&] { runQuantization(c); }, "threads must be in 1..256");
}

QTEST_GUILESS_MAIN(TestNumbers)
#include "test_numbers.moc"
