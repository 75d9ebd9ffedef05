// Compact after-weights (quant/compact_weights.h): packing round trips at every bit width
// and granularity, the file form, and bit-exactness against what quantizeLayers put in the
// model for RTN, GPTQ and AWQ on both shared models. Hostile .qlw files: test_badinput.
// ATen is included before Qt (and Qt keywords are off): torch headers use Qt's macro names.
#include "methods/gptq.h"
#include "methods/method_common.h"
#include "methods/quantize_layers.h"

#include "base/error.h"
#include "base/parallel.h"
#include "model/model.h"
#include "model/transformer.h"
#include "quant/compact_weights.h"
#include "quant/quantize.h"
#include "tokenizer/tokenizer.h"

#include <ATen/ATen.h>

#include "testdata.h"

#include <QTest>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>

using namespace ql;

namespace {

// group > 0: groups of that size; 0: per channel; -1: per tensor.
Recipe makeRecipe(QuantMethod m, int bits, int group, bool symmetric) {
    Recipe r;
    r.method = m;
    r.bits = bits;
    r.granularity = group > 0    ? Granularity::Group
                    : group == 0 ? Granularity::Channel
                                 : Granularity::Tensor;
    r.groupSize = group > 0 ? group : 0;
    r.symmetric = symmetric;
    return r;
}

std::vector<float> randomMatrix(int64_t rows, int64_t cols, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::vector<float> w(size_t(rows * cols));
    for (auto& x : w) x = nd(rng);
    for (size_t i = 0; i < w.size(); i += 37) w[i] *= 6.0f;  // uneven ranges per group
    return w;
}

uint32_t bitsOf(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// Index of the first element whose bits differ, or -1.
int64_t firstDifference(const std::vector<float>& decoded, const float* expected, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (bitsOf(decoded[i]) != bitsOf(expected[i])) return int64_t(i);
    return -1;
}

QString describe(float f) {
    return QString("%1 (0x%2)").arg(double(f), 0, 'g', 9).arg(bitsOf(f), 8, 16, QChar('0'));
}

#define QL_VERIFY_EXACT(decoded, expected, n, what)                                         \
    do {                                                                                    \
        const int64_t at_ = firstDifference(decoded, expected, n);                          \
        const size_t i_ = size_t(std::max<int64_t>(at_, 0));                                \
        QVERIFY2(at_ < 0, qPrintable(QString("%1: element %2 decodes as %3, the quantizer " \
                                             "gave %4")                                     \
                                         .arg(what)                                         \
                                         .arg(at_)                                          \
                                         .arg(describe(decoded[i_]))                        \
                                         .arg(describe(expected[i_]))));                    \
    } while (0)

size_t negativeZeros(const float* p, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; ++i) count += bitsOf(p[i]) == 0x80000000u;
    return count;
}

std::vector<std::vector<int32_t>> calibrationWindows(const std::string& modelDir) {
    const auto ids = Tokenizer::load(modelDir)->encode(
        qltest::readFile(qltest::dataPath("data/stories/calib.txt")));
    std::vector<std::vector<int32_t>> windows;
    for (size_t w = 0; w < 4 && (w + 1) * 128 <= ids.size(); ++w)
        windows.emplace_back(ids.begin() + std::ptrdiff_t(w * 128),
                             ids.begin() + std::ptrdiff_t((w + 1) * 128));
    return windows;
}

const ProgressReporter kNoProgress{ProgressCallback{}};

}  // namespace

class TestCompact : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { setComputeThreads(2); }
    void roundTrip_data();
    void roundTrip();
    void fromWeightsEqualsFromCodes_data();
    void fromWeightsEqualsFromCodes();
    void divisorsDivideLikeAwq();
    void quantizersNeverGiveNegativeZero();
    void fileRoundTrip();
    void rejectsInconsistentInput();
    void exactOnSharedModels_data();
    void exactOnSharedModels();
};

void TestCompact::roundTrip_data() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<bool>("symmetric");
    QTest::addColumn<int>("group");
    for (int bits = 2; bits <= 8; ++bits)
        for (bool sym : {true, false})
            for (int group : {9, 0, -1}) {
                const QString name = QString("int%1-%2-%3")
                                         .arg(bits)
                                         .arg(sym ? "sym" : "asym")
                                         .arg(group > 0    ? "g9"
                                              : group == 0 ? "channel"
                                                           : "tensor");
                QTest::newRow(qPrintable(name)) << bits << sym << group;
            }
}

// 5 x 27 (an odd element count: the last nibble byte is half used), every bit width.
void TestCompact::roundTrip() {
    QFETCH(int, bits);
    QFETCH(bool, symmetric);
    QFETCH(int, group);
    const int64_t rows = 5, cols = 27;
    const auto w = randomMatrix(rows, cols, unsigned(bits * 10 + group + 3));
    const Recipe r = makeRecipe(QuantMethod::Rtn, bits, group, symmetric);
    const QuantGrid grid = computeGrid(w.data(), rows, cols, r);
    std::vector<int32_t> q(w.size());
    std::vector<float> dq(w.size());
    quantizeWithGrid(w.data(), grid, q.data(), dq.data());
    const CompactWeights c = compactFromCodes(grid, q);
    QCOMPARE(c.rows(), rows);
    QCOMPARE(c.cols(), cols);
    QCOMPARE(c.codes, pack(q.data(), grid).data);  // packed as ql::pack
    const size_t codeBytes = bits <= 4 ? (w.size() + 1) / 2 : w.size();
    QCOMPARE(c.codes.size(), codeBytes);
    QCOMPARE(c.bytes(), uint64_t(codeBytes + (grid.scales.size() + grid.zeros.size()) * 4));
    const std::vector<float> d = c.decode();
    QCOMPARE(d.size(), w.size());
    QL_VERIFY_EXACT(d, dq.data(), dq.size(), "decode");
    // The codes survive too: re-quantizing the decoded values on the grid gives them back.
    std::vector<int32_t> q2(w.size());
    quantizeWithGrid(d.data(), grid, q2.data(), nullptr);
    QCOMPARE(q2, q);
}

void TestCompact::fromWeightsEqualsFromCodes_data() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<bool>("symmetric");
    QTest::addColumn<int>("group");
    QTest::addColumn<int>("rows");
    QTest::addColumn<int>("cols");
    for (int bits : {2, 3, 4, 8})
        for (int group : {64, 0, -1}) {
            const bool sym = bits % 2 == 0;
            const char* g = group > 0 ? "g64" : group == 0 ? "channel" : "tensor";
            QTest::addRow("int%d %s 37x384", bits, g) << bits << sym << group << 37 << 384;
            if (group <= 0) {
                // Odd cols and a block of 2 rows (cols > 2^17): blocks of an even count, the
                // last one odd — the nibbles must continue across blocks as in one stream.
                QTest::addRow("int%d %s 5x131073", bits, g) << bits << sym << group << 5 << 131073;
                QTest::addRow("int%d %s 7x27", bits, g) << bits << sym << group << 7 << 27;
            }
        }
}

// compactFromWeights (what packing a run's RTN layers uses, a few rows at a time) gives the
// codes of compactFromCodes over quantizeWithGrid's codes of the whole matrix, byte for byte,
// including NaN/Inf weights (codes at the zero point / the grid's ends).
void TestCompact::fromWeightsEqualsFromCodes() {
    QFETCH(int, bits);
    QFETCH(bool, symmetric);
    QFETCH(int, group);
    QFETCH(int, rows);
    QFETCH(int, cols);
    auto w = randomMatrix(rows, cols, unsigned(bits * 31 + rows));
    w[1] = std::numeric_limits<float>::quiet_NaN();
    w[w.size() - 2] = std::numeric_limits<float>::infinity();
    const QuantGrid grid =
        computeGrid(w.data(), rows, cols, makeRecipe(QuantMethod::Rtn, bits, group, symmetric));
    std::vector<int32_t> q(w.size());
    quantizeWithGrid(w.data(), grid, q.data(), nullptr);
    const CompactWeights expected = compactFromCodes(grid, q);
    const CompactWeights c = compactFromWeights(w.data(), grid);
    QCOMPARE(c.codes.size(), expected.codes.size());
    QVERIFY(c.codes == expected.codes);
    QVERIFY(c.grid.scales == expected.grid.scales && c.grid.zeros == expected.grid.zeros);
    // Rows of the middle: the same codes as the whole matrix's.
    std::vector<int32_t> part(size_t(2 * cols));
    quantizeRowsWithGrid(w.data(), grid, rows / 2, 2, part.data());
    QVERIFY(std::equal(part.begin(), part.end(), q.begin() + (rows / 2) * cols));
    QVERIFY_THROWS_EXCEPTION(Error, quantizeRowsWithGrid(w.data(), grid, rows - 1, 2, part.data()));
}

// AWQ's weight is Q(W·diag(s)) / s: decode divides by the column divisor as ATen does.
void TestCompact::divisorsDivideLikeAwq() {
    const int64_t rows = 6, cols = 32;
    const auto w = randomMatrix(rows, cols, 7);
    std::vector<float> s(static_cast<size_t>(cols));
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.05f, 9.0f);
    for (auto& x : s) x = u(rng);
    const at::Tensor wt = at::from_blob(const_cast<float*>(w.data()), {rows, cols}, at::kFloat);
    const at::Tensor st = at::from_blob(s.data(), {cols}, at::kFloat);
    GridQuant g = rtnQuantize(wt * st.unsqueeze(0), makeRecipe(QuantMethod::Rtn, 4, 16, false));
    const std::vector<float> scaled = toVector(g.dequant);
    const std::vector<float> awq = toVector(g.dequant / st.unsqueeze(0));
    QL_VERIFY_EXACT(compactFromCodes(g.grid, g.codes).decode(), scaled.data(), scaled.size(),
                    "Q(W·diag(s))");
    QL_VERIFY_EXACT(compactFromCodes(g.grid, g.codes, s).decode(), awq.data(), awq.size(),
                    "Q(W·diag(s))·diag(1/s)");
    QVERIFY(awq != scaled);  // the divisors did something
}

// Regression: the scalar rounding of RTN's group tails and of GPTQ's columns gave -0.0 for
// -0.5 < w/scale < 0 (the vector kernel +0.0), which no code can say; now +0.0 everywhere.
void TestCompact::quantizersNeverGiveNegativeZero() {
    const int64_t rows = 4, cols = 13;  // 13: vector lanes plus a scalar tail per row
    std::vector<float> w(size_t(rows * cols));
    for (size_t i = 0; i < w.size(); ++i) w[i] = i % 3 == 0 ? -1e-4f : (i % 5 == 0 ? 1.0f : -0.9f);
    const QuantGrid grid =
        computeGrid(w.data(), rows, cols, makeRecipe(QuantMethod::Rtn, 4, 0, true));
    std::vector<float> dq(w.size());
    std::vector<int32_t> q(w.size());
    quantizeWithGrid(w.data(), grid, q.data(), dq.data());
    size_t zeros = 0;
    for (float x : dq) zeros += x == 0.0f;
    QVERIFY(zeros >= size_t(rows * 4));  // the -1e-4 values round to zero, in lanes and tails
    QCOMPARE(negativeZeros(dq.data(), dq.size()), size_t(0));
    const RtnResult fused =
        quantizeRtn(w.data(), rows, cols, makeRecipe(QuantMethod::Rtn, 4, 0, true));
    QCOMPARE(negativeZeros(fused.dequant.data(), fused.dequant.size()), size_t(0));
    const at::Tensor wt = at::from_blob(w.data(), {rows, cols}, at::kFloat).clone();
    const at::Tensor h = at::eye(cols) + 0.5 * at::ones({cols, cols});  // couples the columns
    const GridQuant g =
        gptqQuantize(wt, h, makeRecipe(QuantMethod::Gptq, 4, 0, true), {}, kNoProgress);
    const std::vector<float> gdq = toVector(g.dequant);
    size_t gzeros = 0;
    for (float x : gdq) gzeros += x == 0.0f;
    QVERIFY(gzeros > 0);
    QCOMPARE(negativeZeros(gdq.data(), gdq.size()), size_t(0));
    QL_VERIFY_EXACT(compactFromCodes(g.grid, g.codes).decode(), gdq.data(), gdq.size(), "GPTQ");
}

void TestCompact::fileRoundTrip() {
    const std::string dir = qltest::tempDir("compact-file").toStdString();
    for (int bits : {3, 4, 8}) {
        const int64_t rows = 9, cols = 24;
        const auto w = randomMatrix(rows, cols, unsigned(bits));
        const QuantGrid grid =
            computeGrid(w.data(), rows, cols, makeRecipe(QuantMethod::Rtn, bits, 8, bits != 8));
        std::vector<int32_t> q(w.size());
        quantizeWithGrid(w.data(), grid, q.data(), nullptr);
        std::vector<float> s(size_t(cols), 0.5f);
        s[3] = 3.0f;
        const CompactWeights c = compactFromCodes(grid, q, bits == 4 ? s : std::vector<float>{});
        const std::string path = dir + "/w" + std::to_string(bits) + ".qlw";
        writeCompactWeights(path, c);
        const CompactWeights back = readCompactWeights(path);
        QCOMPARE(back.codes, c.codes);
        QCOMPARE(back.grid.scales, c.grid.scales);
        QCOMPARE(back.grid.zeros, c.grid.zeros);
        QCOMPARE(back.columnDivisor, c.columnDivisor);
        QCOMPARE(back.grid.groupSize, c.grid.groupSize);
        QCOMPARE(back.grid.symmetric, c.grid.symmetric);
        QCOMPARE(back.grid.perTensor, c.grid.perTensor);
        const auto d = c.decode();
        QL_VERIFY_EXACT(back.decode(), d.data(), d.size(), "file");
        // On disk: a 72-byte header, f32 scales, one byte per zero point, the codes, f32 divisors.
        const uint64_t expected = 72 + c.grid.scales.size() * 4 + c.grid.zeros.size() +
                                  c.codes.size() + c.columnDivisor.size() * 4;
        QCOMPARE(uint64_t(std::filesystem::file_size(path)), expected);
    }
}

void TestCompact::rejectsInconsistentInput() {
    const auto w = randomMatrix(4, 8, 1);
    const QuantGrid grid = computeGrid(w.data(), 4, 8, makeRecipe(QuantMethod::Rtn, 4, 4, false));
    std::vector<int32_t> q(w.size());
    quantizeWithGrid(w.data(), grid, q.data(), nullptr);
    auto expectError = [](const std::function<void()>& f, const char* needle) {
        try {
            f();
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find(needle) != std::string::npos, e.what());
            return;
        }
        QFAIL(needle);
    };
    std::vector<int32_t> off = q;
    off[5] = 16;  // off the 4-bit grid
    expectError([&] { compactFromCodes(grid, off); }, "outside the 4-bit grid");
    std::vector<int32_t> shorter(q.begin(), q.end() - 1);
    expectError([&] { compactFromCodes(grid, shorter); }, "field 'codes'");
    expectError([&] { compactFromCodes(grid, q, std::vector<float>(3, 1.0f)); },
                "field 'divisors'");
    QuantGrid bad = grid;
    bad.scales.pop_back();
    expectError([&] { compactFromCodes(bad, q); }, "field 'scales'");
}

void TestCompact::exactOnSharedModels_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("method");
    QTest::addColumn<int>("bits");
    QTest::addColumn<int>("group");
    QTest::addColumn<bool>("symmetric");
    QTest::addColumn<bool>("actOrder");
    for (const char* m : {"stories260k", "tinystories-656k"}) {
        auto row = [&](const char* method, int bits, int group, bool sym, bool actOrder) {
            const QString name = QString("%1-%2-int%3-%4-%5%6")
                                     .arg(m, method)
                                     .arg(bits)
                                     .arg(group > 0    ? "g" + QString::number(group)
                                          : group == 0 ? "channel"
                                                       : "tensor")
                                     .arg(sym ? "sym" : "asym")
                                     .arg(actOrder ? "-actorder" : "");
            QTest::newRow(qPrintable(name))
                << QString(m) << QString(method) << bits << group << sym << actOrder;
        };
        row("rtn", 4, 32, false, false);
        row("gptq", 4, 32, false, false);
        row("gptq", 3, 0, true, false);
        row("gptq", 4, 32, true, true);
        row("awq", 4, 32, false, false);
        row("awq", 8, 0, true, false);
    }
}

// quantizeLayers on every linear; each layer's codes + grid (+ AWQ scales) decode to the
// weight now in the model. AWQ also for folded scales: the model would hold Q(W·diag(s))
// (decode without divisors) and the run compares it divided by s in float32.
void TestCompact::exactOnSharedModels() {
    QFETCH(QString, model);
    QFETCH(QString, method);
    QFETCH(int, bits);
    QFETCH(int, group);
    QFETCH(bool, symmetric);
    QFETCH(bool, actOrder);
    QL_REQUIRE_DATA("models/" + model);
    QL_REQUIRE_DATA("data/stories/calib.txt");
    const std::string dir = qltest::dataPath("models/" + model);
    auto m = Model::load(dir);
    Recipe r = makeRecipe(Recipe::parse(method.toStdString()).method, bits, group, symmetric);
    r.gptqActOrder = actOrder;
    QuantizeLayersOptions o;
    o.calibration = calibrationWindows(dir);
    QVERIFY(o.calibration.size() >= 2);
    std::vector<std::string> names;
    for (const auto& l : m->linears()) names.push_back(l.name);
    const auto layers = quantizeLayers(*m, names, r, o, kNoProgress);
    QCOMPARE(layers.size(), names.size());
    for (const LayerQuantization& lq : layers) {
        const std::string what = lq.name;
        QCOMPARE(lq.awqScales.empty(), method != "awq");
        const CompactWeights c = compactFromCodes(lq.grid, lq.codes, lq.awqScales);
        const std::vector<float> d = c.decode();
        QL_VERIFY_EXACT(d, lq.dequant.data(), lq.dequant.size(), what.c_str());
        // The model's tensor is that weight too.
        const auto inModel = toVector(m->transformer().linear(lq.name).weight);
        QL_VERIFY_EXACT(d, inModel.data(), inModel.size(), (what + " in the model").c_str());
        if (method != "awq") continue;
        // Folded: the model would hold the grid values of W·diag(s) themselves.
        const at::Tensor w = m->transformer().linear(lq.name).original.to(at::kFloat);
        const at::Tensor s = at::from_blob(const_cast<float*>(lq.awqScales.data()),
                                           {int64_t(lq.awqScales.size())}, at::kFloat);
        const auto scaled = toVector(rtnQuantize(w * s.unsqueeze(0), lq.applied).dequant);
        const auto undivided = compactFromCodes(lq.grid, lq.codes).decode();
        QL_VERIFY_EXACT(undivided, scaled.data(), scaled.size(), (what + " folded").c_str());
        std::vector<float> compared(scaled.size());  // as analyzeLayer divides
        for (size_t i = 0; i < compared.size(); ++i)
            compared[i] = scaled[i] / lq.awqScales[i % size_t(lq.grid.cols)];
        QL_VERIFY_EXACT(d, compared.data(), compared.size(), (what + " folded / s").c_str());
    }
    qInfo("%s: %zu layers bit-exact", qPrintable(QTest::currentDataTag()), layers.size());
}

QTEST_GUILESS_MAIN(TestCompact)
#include "test_compact.moc"
