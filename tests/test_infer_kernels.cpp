// Packed INT8/INT4 kernels (core/infer): for every format x shape class x instruction-set
// path, forward() equals x · decode()ᵀ computed in double, and the prefill path's
// dequantized panel equals CompactWeights::decode() bit for bit. Sizes of the packed form,
// and refusals of the formats the kernels do not take.
#include "infer/packed_kernels_a8.h"
#include "infer/packed_linear.h"
#include "infer/stealing_shares.h"

#include "base/error.h"
#include "quant/compact_weights.h"
#include "quant/quantize.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <vector>

using namespace ql;
using infer::A8Isa;
using infer::ActivationMode;
using infer::ForwardMode;
using infer::Isa;
using infer::PackedLinear;

namespace {

struct Format {
    const char* name;
    int bits;
    int group;  // 0: per channel
    bool symmetric;
};

const Format kFormats[] = {
    {"int8-channel-sym", 8, 0, true}, {"int8-channel-asym", 8, 0, false},
    {"int4-g32-sym", 4, 32, true},    {"int4-g32-asym", 4, 32, false},
    {"int4-g64-sym", 4, 64, true},    {"int4-g64-asym", 4, 64, false},
    {"int4-g128-sym", 4, 128, true},  {"int4-g128-asym", 4, 128, false},
};

Recipe recipeOf(const Format& f) {
    Recipe r;
    r.method = QuantMethod::Rtn;
    r.bits = f.bits;
    r.granularity = f.group > 0 ? Granularity::Group : Granularity::Channel;
    r.groupSize = f.group;
    r.symmetric = f.symmetric;
    return r;
}

std::vector<float> randomValues(size_t n, unsigned seed, float sd) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, sd);
    std::vector<float> v(n);
    for (auto& x : v) x = nd(rng);
    for (size_t i = 0; i < n; i += 37) v[i] *= 6.0f;  // uneven ranges per group
    return v;
}

// RTN-quantized random weights in QuantLens' compact form, with AWQ-style column divisors
// when asked.
CompactWeights makeCompact(const Format& f, int64_t rows, int64_t cols, bool divisors,
                           unsigned seed) {
    const std::vector<float> w = randomValues(size_t(rows * cols), seed, 0.02f);
    const QuantGrid grid = computeGrid(w.data(), rows, cols, recipeOf(f));
    std::vector<int32_t> q(w.size());
    quantizeWithGrid(w.data(), grid, q.data(), nullptr);
    std::vector<float> d;
    if (divisors) {
        std::mt19937 rng(seed + 1);
        std::uniform_real_distribution<float> u(0.5f, 2.0f);
        for (int64_t j = 0; j < cols; ++j) d.push_back(u(rng));
    }
    return compactFromCodes(grid, q, d);
}

// Columns for a shape class: multiples of the group, odd counts of groups; INT8 takes any
// width (173: the kernels' scalar tail).
int64_t colsFor(const Format& f, int64_t groupsWanted) {
    return f.group > 0 ? f.group * groupsWanted : 173;
}

struct Worst {
    double relL2 = 0.0;     // ||y - ref|| / ||ref||
    double boundUse = 0.0;  // max over outputs of |y - ref| / (sum_j |x_j| |w_j| + scale range)
};

// y against x · Wᵀ in double, W = decode() of the compact weights.
Worst compare(const std::vector<float>& y, const std::vector<float>& x, const std::vector<float>& w,
              const CompactWeights& c, int64_t tokens) {
    const int64_t rows = c.rows(), cols = c.cols();
    Worst out;
    double err2 = 0.0, ref2 = 0.0;
    for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < rows; ++r) {
            double ref = 0.0, mag = 0.0;
            for (int64_t j = 0; j < cols; ++j) {
                const double xj = x[size_t(t * cols + j)], wj = w[size_t(r * cols + j)];
                ref += xj * wj;
                // What the float sums carry: |x| times |w| plus the zero-point term.
                const double s = c.grid.scaleAt(r, j) /
                                 (c.columnDivisor.empty() ? 1.0 : c.columnDivisor[size_t(j)]);
                mag += std::fabs(xj) * (std::fabs(wj) + s * double(1 << c.grid.bits));
            }
            const double e = double(y[size_t(t * rows + r)]) - ref;
            err2 += e * e, ref2 += ref * ref;
            out.boundUse = std::max(out.boundUse, std::fabs(e) / (1e-6 * mag));
        }
    out.relL2 = std::sqrt(err2 / ref2);
    return out;
}

const Isa kPaths[] = {Isa::Baseline, Isa::Avx2, Isa::Avx512};

// The int8 activations of the A8 path, computed here from its definition (not with the
// kernels' code): per block of 32 values d = amax / 127 and q = nearbyint(x * (127 / amax))
// clamped to [-127, 127]; returned as the dequantized values d * q (in double) and the
// block scale of each value. AWQ: the values are x / divisor first.
struct QuantizedX {
    std::vector<double> xhat;
    std::vector<double> step;  // d of the value's block
};
QuantizedX quantizeX(const float* x, int64_t cols, const std::vector<float>& divisor) {
    QuantizedX out{std::vector<double>(size_t(cols)), std::vector<double>(size_t(cols))};
    std::vector<float> xs(x, x + cols);
    if (!divisor.empty())
        for (int64_t j = 0; j < cols; ++j) xs[size_t(j)] = x[j] / divisor[size_t(j)];
    for (int64_t j0 = 0; j0 < cols; j0 += 32) {
        const int64_t j1 = std::min(cols, j0 + 32);
        float amax = 0.0f;
        for (int64_t j = j0; j < j1; ++j) amax = std::max(amax, std::fabs(xs[size_t(j)]));
        const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (int64_t j = j0; j < j1; ++j) {
            const float q = std::clamp(std::nearbyint(xs[size_t(j)] * id), -127.0f, 127.0f);
            out.xhat[size_t(j)] = double(d) * double(q);
            out.step[size_t(j)] = double(d);
        }
    }
    return out;
}

}  // namespace

class TestInferKernels : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void cleanup() { infer::setMaxInferIsa(Isa::Avx512); }

    void forwardMatchesDecodedWeights_data();
    void forwardMatchesDecodedWeights();
    void bytesArePackedSize_data();
    void bytesArePackedSize();
    void refusesOtherFormats();
    void emptyInputLeavesOutput();
    void decodeRowRangesCoverEveryRowOnce();
    void decodeRunsOnEveryThread();
    void a8ModeHoldsOneForm_data();
    void a8ModeHoldsOneForm();
    void a8MatchesQuantizedReference_data();
    void a8MatchesQuantizedReference();
    void a8ZeroAndNonFiniteActivations();
    void a8QuantizerMatchesScalar_data();
    void a8QuantizerMatchesScalar();
    void a8PrefillStaysFloat();
    void groupEqualsSeparateCalls_data();
    void groupEqualsSeparateCalls();
    void groupRefusesMixedWidths();
    void shareBalanceLearnsWithinBounds();
    void stealingSharesTakeTheBackHalf();
    void stealingSharesRunEveryUnitOnce_data();
    void stealingSharesRunEveryUnitOnce();
};

void TestInferKernels::forwardMatchesDecodedWeights_data() {
    QTest::addColumn<int>("format");
    QTest::addColumn<int>("path");
    QTest::addColumn<qint64>("rows");
    QTest::addColumn<qint64>("groups");
    QTest::addColumn<qint64>("tokens");
    QTest::addColumn<bool>("divisors");
    struct Shape {
        const char* name;
        int64_t rows, groups, tokens;
        bool divisors;
    };
    // decode (1 token), small batch (3; 6 = a block of 4 and one of 2), prefill (64, 67);
    // 37 and 301 output rows (301 x 7 groups is split over threads); AWQ column divisors.
    // rows 0: ~4.6 M weights, more than one 16 MiB float32 prefill panel (the prefill path
    // splits it into two equal panels). 37 groups: the INT4 zero-point terms run as vectors
    // over the groups (16 and 8 lanes) with a scalar tail.
    const Shape shapes[] = {
        {"decode", 37, 5, 1, false},          {"batch3", 37, 5, 3, false},
        {"batch6", 37, 3, 6, false},          {"prefill64", 37, 5, 64, false},
        {"prefill67", 301, 7, 67, false},     {"decode-threads", 301, 7, 1, false},
        {"awq-decode", 37, 3, 1, true},       {"awq-prefill", 37, 3, 64, true},
        {"prefill-2panels", 0, 4, 9, false},  {"decode-37groups", 37, 37, 1, false},
        {"batch3-37groups", 19, 37, 3, false}};
    for (int f = 0; f < int(std::size(kFormats)); ++f)
        for (Isa p : kPaths)
            for (const Shape& s : shapes) {
                const int64_t rows =
                    s.rows ? s.rows : (int64_t(4500) << 10) / colsFor(kFormats[f], s.groups);
                QTest::newRow(QString("%1/%2/%3")
                                  .arg(kFormats[f].name, infer::isaName(p), s.name)
                                  .toUtf8()
                                  .constData())
                    << f << int(p) << qint64(rows) << qint64(s.groups) << qint64(s.tokens)
                    << s.divisors;
            }
}

// Every mode (Auto and both forced paths) against the double reference. Tolerances: the
// float32 sums of up to ~1000 products: relative L2 error <= 1e-5, and per output
// |error| <= 1e-6 x sum_j |x_j| (|w_j| + scale_j 2^bits) (the zero-point term's size).
void TestInferKernels::forwardMatchesDecodedWeights() {
    QFETCH(int, format);
    QFETCH(int, path);
    QFETCH(qint64, rows);
    QFETCH(qint64, groups);
    QFETCH(qint64, tokens);
    QFETCH(bool, divisors);
    if (int(infer::cpuIsa()) < path)
        QSKIP(qPrintable(QString("this CPU has no %1").arg(infer::isaName(Isa(path)))));
    infer::setMaxInferIsa(Isa(path));
    QCOMPARE(int(infer::activeIsa()), path);
    const Format& f = kFormats[format];
    const int64_t cols = colsFor(f, groups);
    const CompactWeights c = makeCompact(f, rows, cols, divisors, unsigned(rows * 7 + cols));
    const PackedLinear p = PackedLinear::fromCompact(c, "test");
    QCOMPARE(p.outFeatures(), rows);
    QCOMPARE(p.inFeatures(), cols);

    const std::vector<float> w = c.decode();
    const std::vector<float> panel = p.decode();
    QCOMPARE(panel.size(), w.size());
    QVERIFY2(std::memcmp(panel.data(), w.data(), w.size() * sizeof(float)) == 0,
             "the dequantized panel differs from CompactWeights::decode");

    const std::vector<float> x = randomValues(size_t(tokens * cols), unsigned(tokens + 11), 1.0f);
    for (ForwardMode mode : {ForwardMode::Auto, ForwardMode::Decode, ForwardMode::Prefill}) {
        std::vector<float> y(size_t(tokens * rows), std::nanf(""));
        p.forward(x.data(), tokens, y.data(), mode);
        const Worst worst = compare(y, x, w, c, tokens);
        const QString what =
            QString("mode %1: relative L2 error %2, worst output at %3 of its bound")
                .arg(int(mode))
                .arg(worst.relL2, 0, 'g', 3)
                .arg(worst.boundUse, 0, 'g', 3);
        QVERIFY2(worst.relL2 <= 1e-5, qPrintable(what));
        QVERIFY2(worst.boundUse <= 1.0, qPrintable(what));
    }
}

void TestInferKernels::bytesArePackedSize_data() {
    QTest::addColumn<int>("format");
    QTest::addColumn<bool>("divisors");
    QTest::addColumn<double>("bytesPerWeight");  // 896 x 4864 without divisors
    const double expected[] = {1.0 + 4.0 / 4864, 1.0 + 5.0 / 4864, 0.5 + 4.0 / 32,
                               0.5 + 5.0 / 32,   0.5 + 4.0 / 64,   0.5 + 5.0 / 64,
                               0.5 + 4.0 / 128,  0.5 + 5.0 / 128};
    for (int f = 0; f < int(std::size(kFormats)); ++f) {
        QTest::newRow(kFormats[f].name) << f << false << expected[f];
        QTest::newRow((std::string(kFormats[f].name) + "-awq").c_str()) << f << true << 0.0;
    }
}

// Codes at bits/8 per weight, a float32 scale per group, a byte per asymmetric zero point,
// AWQ divisors as float32: e.g. INT4 g128 sym = 0.53125 B/weight on a 0.5B model's MLP.
void TestInferKernels::bytesArePackedSize() {
    QFETCH(int, format);
    QFETCH(bool, divisors);
    QFETCH(double, bytesPerWeight);
    const Format& f = kFormats[format];
    const int64_t rows = 896, cols = 4864;
    const CompactWeights c = makeCompact(f, rows, cols, divisors, 5);
    const PackedLinear p = PackedLinear::fromCompact(c, "test");
    const uint64_t groups = uint64_t(rows) * uint64_t(f.group > 0 ? cols / f.group : 1);
    const uint64_t expected = uint64_t(rows * cols) * uint64_t(f.bits) / 8 + groups * 4 +
                              (f.symmetric ? 0 : groups) + (divisors ? uint64_t(cols) * 4 : 0);
    QCOMPARE(p.bytes(), expected);
    if (!divisors) QCOMPARE(double(p.bytes()) / double(rows * cols), bytesPerWeight);
}

void TestInferKernels::refusesOtherFormats() {
    struct Case {
        Format f;
        int64_t cols;
        const char* field;
    };
    const Case cases[] = {{{"int4-g16", 4, 16, true}, 64, "'group_size'"},
                          {{"int4-channel", 4, 0, true}, 96, "'group_size'"},
                          {{"int3-g32", 3, 32, true}, 64, "'bits'"},
                          {{"int8-g32", 8, 32, true}, 64, "'group_size'"},
                          {{"int2-channel", 2, 0, false}, 64, "'bits'"}};
    for (const Case& k : cases) {
        const CompactWeights c = makeCompact(k.f, 4, k.cols, false, 3);
        try {
            PackedLinear::fromCompact(c, "model.layers.0.mlp.up_proj");
            QFAIL(qPrintable(QString("%1 was accepted").arg(k.f.name)));
        } catch (const Error& e) {
            const QString msg = e.what();
            QVERIFY2(msg.startsWith("model.layers.0.mlp.up_proj: field ") && msg.contains(k.field),
                     qPrintable(msg));
        }
    }
    // Per-tensor INT8 and a grid whose scales do not match its shape.
    CompactWeights t = makeCompact(kFormats[0], 4, 64, false, 3);
    t.grid.perTensor = true;
    QVERIFY_THROWS_EXCEPTION(Error, PackedLinear::fromCompact(t));
    CompactWeights s = makeCompact(kFormats[2], 4, 64, false, 3);
    s.grid.scales.pop_back();
    QVERIFY_THROWS_EXCEPTION(Error, PackedLinear::fromCompact(s));
}

void TestInferKernels::emptyInputLeavesOutput() {
    const PackedLinear p = PackedLinear::fromCompact(makeCompact(kFormats[2], 4, 64, false, 3));
    float y = 42.0f;
    p.forward(nullptr, 0, &y);
    QCOMPARE(y, 42.0f);
}

// Every row of every layer shape in exactly one range, ranges in order, boundaries on the
// INT4 pass (4 rows), one range per thread once the layer is large enough to split.
void TestInferKernels::decodeRowRangesCoverEveryRowOnce() {
    const int64_t rowsList[] = {1, 3, 4, 5, 13, 64, 896, 1536, 4864, 8960, 151936};
    const int64_t colsList[] = {32, 896, 8960};
    for (int64_t rows : rowsList)
        for (int64_t cols : colsList)
            for (int threads = 1; threads <= 4; ++threads) {
                const QString where =
                    QString("%1 x %2, %3 threads").arg(rows).arg(cols).arg(threads);
                const std::vector<infer::RowRange> ranges =
                    infer::decodeRowRanges(rows, cols, threads);
                std::vector<int> hits(size_t(rows), 0);
                for (const infer::RowRange& r : ranges) {
                    QVERIFY2(r.begin < r.end && r.begin % 4 == 0, qPrintable(where));
                    for (int64_t i = r.begin; i < r.end; ++i) ++hits[size_t(i)];
                }
                QVERIFY2(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }),
                         qPrintable(where));
                for (size_t k = 1; k < ranges.size(); ++k)
                    QVERIFY2(ranges[k].begin == ranges[k - 1].end, qPrintable(where));
                QVERIFY2(int(ranges.size()) <= threads, qPrintable(where));
                // Large enough: 2^16 weights per share and more than 4 t (t - 1) rows.
                if (rows * cols >= int64_t(threads) << 16 && rows > 4 * threads * (threads - 1))
                    QVERIFY2(int(ranges.size()) == threads, qPrintable(where));
            }
}

// The decode path's tasks run on distinct pool threads (before, core/infer was compiled
// without OpenMP and at::parallel_for ran every task on the calling thread).
void TestInferKernels::decodeRunsOnEveryThread() {
    const int threads = infer::intraOpThreads();
    if (threads < 2) QSKIP("the intra-op pool has 1 thread here (OMP_NUM_THREADS=2 in CTest)");
    std::vector<int> ran(size_t(threads), 0);
    QCOMPARE(infer::runOnThreads(threads, [&](int64_t i) { ++ran[size_t(i)]; }), threads);
    QVERIFY(std::all_of(ran.begin(), ran.end(), [](int h) { return h == 1; }));
    QCOMPARE(infer::runOnThreads(1, [](int64_t) {}), 1);
    // A layer whose decode splits: forward still equals the one-thread result exactly (each
    // row is computed by one thread in the same order).
    const CompactWeights c = makeCompact(kFormats[0], 1536, 512, false, 5);
    const PackedLinear p = PackedLinear::fromCompact(c);
    QCOMPARE(int(infer::decodeRowRanges(1536, 512, threads).size()), threads);
    const std::vector<float> x = randomValues(512, 9, 1.0f);
    std::vector<float> y(1536), y1(1536);
    p.forward(x.data(), 1, y.data(), ForwardMode::Decode);
    // Inside a pool task the decode cannot split again: task 0 computes it on one thread.
    infer::runOnThreads(threads, [&](int64_t i) {
        if (i == 0) p.forward(x.data(), 1, y1.data(), ForwardMode::Decode);
    });
    QVERIFY(std::memcmp(y.data(), y1.data(), y.size() * sizeof(float)) == 0);
}

void TestInferKernels::a8MatchesQuantizedReference_data() {
    QTest::addColumn<int>("format");
    QTest::addColumn<int>("path");
    QTest::addColumn<qint64>("rows");
    QTest::addColumn<qint64>("groups");
    QTest::addColumn<qint64>("tokens");
    QTest::addColumn<bool>("divisors");
    struct Shape {
        const char* name;
        int64_t rows, groups, tokens;
        bool divisors;
    };
    // Rows not a multiple of 16 (the tile) nor of 4: 37, 19, 5; 301 x 7 groups is split over
    // threads; INT4 columns 3 x 32 = 96 (not a multiple of 64), INT8 173 (a partial last
    // activation block); 37 groups; AWQ divisors; 3 tokens (one pass per token).
    const Shape shapes[] = {{"decode", 37, 5, 1, false},
                            {"rows19-groups3", 19, 3, 1, false},
                            {"rows5", 5, 1, 1, false},
                            {"batch3", 37, 5, 3, false},
                            {"decode-threads", 301, 7, 1, false},
                            {"awq-decode", 37, 3, 1, true},
                            {"decode-37groups", 37, 37, 1, false},
                            // 29 whole tiles and a partial one (one thread's range): the
                            // AVX-512 path's runs of several tiles per broadcast (8 INT8, 4
                            // INT4), then single tiles.
                            {"tile-runs", 29 * 16 + 5, 3, 2, false}};
    for (int f = 0; f < int(std::size(kFormats)); ++f)
        for (Isa p : kPaths)
            for (const Shape& s : shapes)
                QTest::newRow(QString("%1/%2/%3")
                                  .arg(kFormats[f].name, infer::isaName(p), s.name)
                                  .toUtf8()
                                  .constData())
                    << f << int(p) << qint64(s.rows) << qint64(s.groups) << qint64(s.tokens)
                    << s.divisors;
}

void TestInferKernels::a8ModeHoldsOneForm_data() {
    QTest::addColumn<int>("format");
    QTest::addColumn<qint64>("rows");
    QTest::addColumn<qint64>("groups");
    QTest::addColumn<bool>("divisors");
    QTest::addColumn<qint64>("int8Cols");  // INT8 columns instead of colsFor's 173, when > 0
    for (int f = 0; f < int(std::size(kFormats)); ++f) {
        const char* n = kFormats[f].name;
        QTest::addRow("%s/32 rows", n) << f << qint64(32) << qint64(3) << false << qint64(0);
        QTest::addRow("%s/37 rows", n) << f << qint64(37) << qint64(5) << false << qint64(0);
        QTest::addRow("%s/awq", n) << f << qint64(19) << qint64(3) << true << qint64(0);
        // more rows than one prefill panel: the panels convert their rows back separately
        QTest::addRow("%s/2 panels", n)
            << f << qint64((int64_t(4500) << 10) / colsFor(kFormats[f], 4)) << qint64(4) << false
            << qint64(0);
        // whole tiles and widths the 16-rows-at-a-time conversion takes (INT8: a multiple of
        // 16 columns), with a partial tile after them
        QTest::addRow("%s/whole tiles", n)
            << f << qint64(16 * 5 + 7) << qint64(7) << false << qint64(896);
    }
}

// Int8 mode keeps only the interleaved form (no second copy of the codes): bytes() is its
// size (the Float form's when rows are a multiple of 16 and columns of 32, padded otherwise);
// prefill and decode() give the Float mode's bits from it; back in Float mode the layer is
// what it was (bytes, decode output bit for bit).
void TestInferKernels::a8ModeHoldsOneForm() {
    QFETCH(int, format);
    QFETCH(qint64, rows);
    QFETCH(qint64, groups);
    QFETCH(bool, divisors);
    QFETCH(qint64, int8Cols);
    const Format& f = kFormats[format];
    const int64_t cols = f.bits == 8 && int8Cols > 0 ? int64_t(int8Cols) : colsFor(f, groups);
    const CompactWeights c = makeCompact(f, rows, cols, divisors, unsigned(rows * 3 + cols));
    PackedLinear p = PackedLinear::fromCompact(c, "test");
    const uint64_t floatBytes = p.bytes(), divisorBytes = c.columnDivisor.size() * 4;
    QCOMPARE(p.a8Bytes(), uint64_t(0));
    const int64_t tokens = 9;
    const std::vector<float> x = randomValues(size_t(tokens * cols), unsigned(rows), 1.0f);
    std::vector<float> prefill(size_t(tokens * rows)), decode(size_t(2 * rows));
    p.forward(x.data(), tokens, prefill.data(), ForwardMode::Prefill);
    p.forward(x.data(), 2, decode.data(), ForwardMode::Decode);
    const std::vector<float> w = p.decode();

    p.setActivationMode(ActivationMode::Int8);
    QVERIFY(p.a8Bytes() > 0);
    QCOMPARE(p.bytes(), p.a8Bytes() + divisorBytes);
    // packed_kernels_a8.h: tiles of 16 rows, columns padded to 32, a scale (and zero) per
    // row and group
    const int64_t paddedRows = (rows + 15) / 16 * 16, paddedCols = (cols + 31) / 32 * 32;
    const int64_t G = c.grid.groupsPerRow();
    QCOMPARE(p.a8Bytes(), uint64_t(paddedRows * paddedCols * f.bits / 8 + paddedRows * G * 4 +
                                   (f.symmetric ? 0 : paddedRows * G)));
    if (rows % 16 == 0 && cols % 32 == 0) QCOMPARE(p.bytes(), floatBytes);
    const std::vector<float> w8 = p.decode();
    QVERIFY2(std::memcmp(w8.data(), w.data(), w.size() * sizeof(float)) == 0,
             "decode() from the interleaved form differs");
    std::vector<float> prefill8(prefill.size(), std::nanf(""));
    p.forward(x.data(), tokens, prefill8.data(), ForwardMode::Prefill);
    QVERIFY2(std::memcmp(prefill8.data(), prefill.data(), prefill.size() * sizeof(float)) == 0,
             "prefill from the interleaved form differs");

    p.setActivationMode(ActivationMode::Float);
    QCOMPARE(p.a8Bytes(), uint64_t(0));
    QCOMPARE(p.bytes(), floatBytes);
    std::vector<float> again(decode.size(), std::nanf(""));
    p.forward(x.data(), 2, again.data(), ForwardMode::Decode);
    QVERIFY2(std::memcmp(again.data(), decode.data(), decode.size() * sizeof(float)) == 0,
             "decode after the round trip differs");
}

// The Int8 activation path (W8A8 / W4A8), per format x shape x instruction-set path:
//  1. it equals x̂ · Wᵀ in double, x̂ the int8-quantized activations computed here and W the
//     decoded weights (without the AWQ divisor, which x̂ carries), to float rounding: per
//     output |error| <= (blocks + groups + 3) 2^-24 sum_j |x̂_j| (|w_j| + s_j) (the
//     products are exact in int32; each float step of the kernel rounds once, and the
//     longest chain of sums is blocks + groups long);
//  2. every VNNI path gives the scalar path's bits;
//  3. against the float-activation path, the difference is what rounding x to its block's
//     grid can do: per output <= sum_j |w_j| d_j / 2 (x 1.01, plus the float paths' own
//     1e-5 x sum |x||w|), d_j the step of x_j's block; and over all outputs the relative L2
//     difference <= 2 %: the rounding error of a value is about d / sqrt(12) = amax /
//     (127 sqrt(12)), i.e. 0.23 % of its block's amax, and amax here is at most a few times
//     the values' size (x is N(0, 1) with every 37th value x6).
void TestInferKernels::a8MatchesQuantizedReference() {
    QFETCH(int, format);
    QFETCH(int, path);
    QFETCH(qint64, rows);
    QFETCH(qint64, groups);
    QFETCH(qint64, tokens);
    QFETCH(bool, divisors);
    infer::setMaxInferIsa(Isa(path));
    if (int(infer::activeA8Isa()) != path)
        QSKIP(qPrintable(
            QString("this CPU has no VNNI for the %1 path").arg(infer::isaName(Isa(path)))));
    const Format& f = kFormats[format];
    const int64_t cols = colsFor(f, groups);
    const CompactWeights c = makeCompact(f, rows, cols, divisors, unsigned(rows * 5 + cols));
    PackedLinear p = PackedLinear::fromCompact(c, "test");
    QCOMPARE(p.activationMode(), ActivationMode::Float);
    const std::vector<float> x = randomValues(size_t(tokens * cols), unsigned(tokens + 3), 1.0f);
    std::vector<float> yf(size_t(tokens * rows), std::nanf(""));
    p.forward(x.data(), tokens, yf.data(), ForwardMode::Decode);
    p.setActivationMode(ActivationMode::Int8);
    QCOMPARE(p.activationMode(), ActivationMode::Int8);
    QCOMPARE(p.bytes(), p.a8Bytes() + c.columnDivisor.size() * 4);
    std::vector<float> y(size_t(tokens * rows), std::nanf(""));
    p.forward(x.data(), tokens, y.data(), ForwardMode::Decode);

    CompactWeights plain = c;
    plain.columnDivisor.clear();
    const std::vector<float> w = plain.decode();
    const std::vector<float> wdiv = c.decode();
    const int64_t blocks = (cols + 31) / 32;
    const int64_t G = c.grid.groupsPerRow();
    const double u = std::ldexp(1.0, -24);
    double diff2 = 0.0, ref2 = 0.0, worstRef = 0.0, worstQuant = 0.0;
    for (int64_t t = 0; t < tokens; ++t) {
        const QuantizedX q = quantizeX(x.data() + t * cols, cols, c.columnDivisor);
        for (int64_t r = 0; r < rows; ++r) {
            double ref = 0.0, mag = 0.0, quantBound = 0.0, fmag = 0.0;
            for (int64_t j = 0; j < cols; ++j) {
                const double wj = w[size_t(r * cols + j)], xh = q.xhat[size_t(j)];
                ref += xh * wj;
                mag += std::fabs(xh) * (std::fabs(wj) + c.grid.scaleAt(r, j));
                quantBound += std::fabs(wj) * q.step[size_t(j)] / 2;
                fmag += std::fabs(x[size_t(t * cols + j)] * wdiv[size_t(r * cols + j)]);
            }
            const double yr = y[size_t(t * rows + r)], yfr = yf[size_t(t * rows + r)];
            worstRef = std::max(worstRef,
                                std::fabs(yr - ref) / (double(blocks + G + 3) * u * mag + 1e-30));
            worstQuant = std::max(worstQuant,
                                  std::fabs(yr - yfr) / (1.01 * quantBound + 1e-5 * fmag + 1e-30));
            diff2 += (yr - yfr) * (yr - yfr), ref2 += yfr * yfr;
        }
    }
    const double relL2 = std::sqrt(diff2 / ref2);
    const QString what = QString(
                             "path %1: worst output at %2 of the rounding bound, %3 of the "
                             "quantization bound; relative L2 vs float activations %4")
                             .arg(infer::a8IsaName(infer::activeA8Isa()))
                             .arg(worstRef, 0, 'g', 3)
                             .arg(worstQuant, 0, 'g', 3)
                             .arg(relL2, 0, 'g', 3);
    QVERIFY2(worstRef <= 1.0, qPrintable(what));
    QVERIFY2(worstQuant <= 1.0, qPrintable(what));
    QVERIFY2(relL2 <= 0.02, qPrintable(what));

    // The scalar path's bits.
    infer::setMaxInferIsa(Isa::Baseline);
    QCOMPARE(int(infer::activeA8Isa()), int(A8Isa::Scalar));
    std::vector<float> ys(y.size(), std::nanf(""));
    p.forward(x.data(), tokens, ys.data(), ForwardMode::Decode);
    QVERIFY2(std::memcmp(ys.data(), y.data(), y.size() * sizeof(float)) == 0,
             "a VNNI path differs from the scalar path");
    // Back to float activations: the float path's bits again.
    p.setActivationMode(ActivationMode::Float);
    infer::setMaxInferIsa(Isa(path));
    std::vector<float> yf2(y.size(), std::nanf(""));
    p.forward(x.data(), tokens, yf2.data(), ForwardMode::Decode);
    QVERIFY(std::memcmp(yf2.data(), yf.data(), yf.size() * sizeof(float)) == 0);
}

// A block of zeros quantizes to q = 0 with scale 0 (outputs exactly 0); an infinite or NaN
// activation makes the outputs NaN, as the float path's (not a silently clamped code).
void TestInferKernels::a8ZeroAndNonFiniteActivations() {
    for (int f : {0, 3}) {
        PackedLinear p = PackedLinear::fromCompact(makeCompact(kFormats[f], 21, 96, false, 4));
        p.setActivationMode(ActivationMode::Int8);
        std::vector<float> x(96, 0.0f), y(21, std::nanf(""));
        p.forward(x.data(), 1, y.data());
        for (float v : y) QCOMPARE(v, 0.0f);
        x[40] = std::numeric_limits<float>::infinity();
        p.forward(x.data(), 1, y.data());
        for (float v : y) QVERIFY(std::isnan(v));
        x[40] = std::nanf("");
        p.forward(x.data(), 1, y.data());
        for (float v : y) QVERIFY(std::isnan(v));
    }
}

void TestInferKernels::a8QuantizerMatchesScalar_data() {
    QTest::addColumn<qint64>("cols");
    // Whole blocks only (the 0.5B widths), a partial last block, one partial block.
    QTest::newRow("896") << qint64(896);
    QTest::newRow("4864") << qint64(4864);
    QTest::newRow("100") << qint64(100);
    QTest::newRow("7") << qint64(7);
}

// The vector quantizer (32 values at a time where AVX-512 is present) gives the scalar
// loop's bits on every block: ordinary values, exact ties of the rounding (x * 127 / amax =
// k + 0.5, which round to even), a block of zeros, negative zeros, subnormals, values near
// FLT_MAX, and blocks holding an infinity or a NaN (zeros and a NaN scale).
void TestInferKernels::a8QuantizerMatchesScalar() {
    QFETCH(qint64, cols);
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(cols));
    for (float& v : x) v = nd(rng);
    const auto block = [&](int64_t b) { return std::min<int64_t>(b * 32, cols - 1); };
    // Block 1: amax 127 makes id = 1 exactly, so k + 0.5 are ties (2.5 -> 2, 3.5 -> 4).
    for (int64_t j = block(1); j < std::min<int64_t>(block(1) + 32, cols); ++j)
        x[size_t(j)] = float(j % 9) - 4.5f;
    if (block(1) + 1 < cols) x[size_t(block(1) + 1)] = -127.0f;
    for (int64_t j = block(2); j < std::min<int64_t>(block(2) + 32, cols); ++j)
        x[size_t(j)] = (j % 2) ? 0.0f : -0.0f;
    for (int64_t j = block(3); j < std::min<int64_t>(block(3) + 32, cols); ++j)
        x[size_t(j)] = float(j % 5) * std::numeric_limits<float>::denorm_min();
    x[size_t(block(4))] = std::numeric_limits<float>::max();
    x[size_t(std::min<int64_t>(block(4) + 3, cols - 1))] = -std::numeric_limits<float>::max() / 3;
    x[size_t(block(5) + (cols > 5 * 32 ? 7 : 0))] = std::numeric_limits<float>::infinity();
    x[size_t(block(6))] = std::nanf("");
    const int64_t blocks = (cols + 31) / 32;
    std::vector<int8_t> q(size_t(blocks * 32), 99), qs(q);
    std::vector<float> d(size_t(blocks), -1.0f), ds(d);
    std::vector<int32_t> s(size_t(blocks), -1), ss(s);
    infer::detail::quantizeActivationsA8(x.data(), cols, q.data(), d.data(), s.data());
    infer::detail::quantizeActivationsA8Scalar(x.data(), cols, qs.data(), ds.data(), ss.data());
    for (int64_t b = 0; b < blocks; ++b) {
        QVERIFY2(
            std::memcmp(&d[size_t(b)], &ds[size_t(b)], sizeof(float)) == 0,
            qPrintable(
                QString("block %1: scale %2 vs %3").arg(b).arg(d[size_t(b)]).arg(ds[size_t(b)])));
        QCOMPARE(s[size_t(b)], ss[size_t(b)]);
        for (int i = 0; i < 32; ++i)
            QCOMPARE(int(q[size_t(b * 32 + i)]), int(qs[size_t(b * 32 + i)]));
    }
    if (cols == 896) {
        // Block 3's largest value is subnormal (127 / amax overflows): zeros, scale 0.
        QCOMPARE(d[3], 0.0f);
        for (int i = 0; i < 32; ++i) QCOMPARE(int(q[size_t(3 * 32 + i)]), 0);
        QVERIFY(std::isnan(d[6]));  // a NaN: the scale is NaN, so every output is
    }
    if (cols == 896) {  // the ties round to even: -4.5 -> -4, -3.5 -> -4, 2.5 -> 2, 3.5 -> 4
        const int8_t* t = q.data() + 32;
        for (int i = 0; i < 32; ++i) {
            const int64_t j = 32 + i;
            if (j == 33) continue;
            QCOMPARE(int(t[i]), int(std::nearbyint(float(j % 9) - 4.5f)));
        }
    }
}

// Int8 activations are a decode option: Auto with 8+ tokens and forced Prefill still run the
// float sgemm path, bit for bit as in Float mode.
void TestInferKernels::a8PrefillStaysFloat() {
    PackedLinear p = PackedLinear::fromCompact(makeCompact(kFormats[2], 40, 128, false, 6));
    const std::vector<float> x = randomValues(size_t(9 * 128), 8, 1.0f);
    std::vector<float> yf(9 * 40), y8(9 * 40), d8(40), df(40);
    p.forward(x.data(), 9, yf.data());
    p.forward(x.data(), 1, df.data(), ForwardMode::Decode);
    p.setActivationMode(ActivationMode::Int8);
    p.forward(x.data(), 9, y8.data());
    p.forward(x.data(), 1, d8.data(), ForwardMode::Decode);
    QVERIFY(std::memcmp(yf.data(), y8.data(), yf.size() * sizeof(float)) == 0);
    QVERIFY(std::memcmp(df.data(), d8.data(), df.size() * sizeof(float)) != 0);
}

// PackedLinear::forwardGroup (a decode step's q/k/v and gate/up in one parallel region):
// each layer's output equals its own forward(x, 1) bit for bit, for every format, both
// activation modes and every instruction-set path; rows not a multiple of 4 nor of 16
// (the INT4 pass, the Int8 tile), one layer with AWQ divisors (its own scaled input), and
// a mixed group (INT8 q with the format's k and v). Neighbours without AWQ share one
// prepared input: the mixed group's k and v, and in Int8 mode its q too. 1024 columns x
// ~1.2 k rows is split over the pool's threads, and the shares cut through the layers at
// other rows than the separate calls' ranges.
void TestInferKernels::groupEqualsSeparateCalls_data() {
    QTest::addColumn<int>("format");
    QTest::addColumn<int>("path");
    QTest::addColumn<bool>("int8Activations");
    for (int f = 0; f < int(std::size(kFormats)); ++f)
        for (Isa p : kPaths)
            for (bool a8 : {false, true})
                QTest::newRow(QString("%1/%2/%3")
                                  .arg(kFormats[f].name, infer::isaName(p), a8 ? "a8" : "f32")
                                  .toUtf8()
                                  .constData())
                    << f << int(p) << a8;
}

void TestInferKernels::groupEqualsSeparateCalls() {
    QFETCH(int, format);
    QFETCH(int, path);
    QFETCH(bool, int8Activations);
    infer::setMaxInferIsa(Isa(path));
    const Format& f = kFormats[format];
    const int64_t cols = f.group > 0 ? 1024 : 1000;  // INT8: a partial last 32-block
    struct Member {
        int64_t rows;
        bool divisors, int8;  // int8: INT8 channel sym instead of the row's format
    };
    const Member members[] = {{905, false, false}, {150, true, false}, {150, false, false}};
    const Member mixed[] = {{905, false, true}, {150, false, false}, {150, false, false}};
    for (const auto* group : {members, mixed}) {
        std::vector<PackedLinear> layers;
        for (int i = 0; i < 3; ++i) {
            const Format& fi = group[i].int8 ? kFormats[0] : f;
            layers.push_back(PackedLinear::fromCompact(
                makeCompact(fi, group[i].rows, cols, group[i].divisors, unsigned(11 + i))));
            if (int8Activations) layers.back().setActivationMode(ActivationMode::Int8);
        }
        const std::vector<float> x = randomValues(size_t(cols), 21, 1.0f);
        std::vector<std::vector<float>> separate, grouped;
        std::vector<float*> ys;
        std::vector<const PackedLinear*> ptrs;
        // The separate calls' reference: two tokens (x twice) through decodeForward(A8), the
        // per-layer path with its own row ranges; one-token forward() is a group of one.
        std::vector<float> x2 = x;
        x2.insert(x2.end(), x.begin(), x.end());
        for (const PackedLinear& l : layers) {
            std::vector<float> two(size_t(2 * l.outFeatures()));
            l.forward(x2.data(), 2, two.data(), ForwardMode::Decode);
            separate.emplace_back(two.begin(), two.begin() + l.outFeatures());
            QVERIFY(std::equal(two.begin(), two.begin() + l.outFeatures(),
                               two.begin() + l.outFeatures()));
            // NaN-filled: a row the group call misses stays NaN and fails the comparison.
            grouped.emplace_back(size_t(l.outFeatures()), std::numeric_limits<float>::quiet_NaN());
            ptrs.push_back(&l);
        }
        for (auto& g : grouped) ys.push_back(g.data());
        PackedLinear::forwardGroup(ptrs, x.data(), ys.data());
        for (size_t i = 0; i < layers.size(); ++i) {
            const bool nonzero = std::any_of(separate[i].begin(), separate[i].end(),
                                             [](float v) { return v != 0.0f; });
            QVERIFY(nonzero);
            QVERIFY2(std::memcmp(separate[i].data(), grouped[i].data(),
                                 separate[i].size() * sizeof(float)) == 0,
                     qPrintable(QString("layer %1 of the %2 group differs")
                                    .arg(i)
                                    .arg(group == mixed ? "mixed" : "uniform")));
        }
    }
}

void TestInferKernels::groupRefusesMixedWidths() {
    const PackedLinear a = PackedLinear::fromCompact(makeCompact(kFormats[0], 8, 64, false, 1));
    const PackedLinear b = PackedLinear::fromCompact(makeCompact(kFormats[0], 8, 96, false, 2));
    std::vector<float> x(96, 1.0f), ya(8), yb(8);
    float* ys[2] = {ya.data(), yb.data()};
    QVERIFY_THROWS_EXCEPTION(Error, PackedLinear::forwardGroup({&a, &b}, x.data(), ys));
}

// infer::ShareBalance (the learned split of one-token calls): equal shares until it has
// learned, then shares proportional to the threads' rates, bounded to 0.5-1.5x an equal
// share, nothing learned from empty shares or times, and a new thread count starts equal.
void TestInferKernels::shareBalanceLearnsWithinBounds() {
    using infer::ShareBalance;
    const auto cutsOf = [](const ShareBalance& b, int64_t total, int n) {
        std::vector<int64_t> c(size_t(n) + 1);
        b.cuts(total, n, c.data());
        return c;
    };
    ShareBalance b;
    QCOMPARE(cutsOf(b, 1000, 2), (std::vector<int64_t>{0, 500, 1000}));
    QCOMPARE(cutsOf(b, 1000, 3), (std::vector<int64_t>{0, 333, 667, 1000}));
    // Thread 1 streams at half thread 0's rate: the split converges to 2/3 : 1/3.
    for (int i = 0; i < 60; ++i) {
        const std::vector<int64_t> c = cutsOf(b, 3000, 2);
        const double seconds[2] = {double(c[1]) * 1e-9, double(c[2] - c[1]) * 2e-9};
        b.record(2, c.data(), seconds);
    }
    QVERIFY2(std::abs(cutsOf(b, 3000, 2)[1] - 2000) <= 10,
             qPrintable(QString::number(cutsOf(b, 3000, 2)[1])));
    const ShareBalance copy = b;
    QCOMPARE(cutsOf(copy, 3000, 2), cutsOf(b, 3000, 2));
    QCOMPARE(cutsOf(b, 3000, 3), (std::vector<int64_t>{0, 1000, 2000, 3000}));  // not learned
    // Nothing to learn: an empty share or a zero time leaves the split as it was.
    const std::vector<int64_t> before = cutsOf(b, 3000, 2);
    const int64_t empty[3] = {0, 0, 3000};
    const double some[2] = {1e-6, 1e-6}, none[2] = {0.0, 1e-6};
    b.record(2, empty, some);
    b.record(2, before.data(), none);
    QCOMPARE(cutsOf(b, 3000, 2), before);
    // Thread 1 ten times slower: thread 0's share stops at 1.5x an equal one.
    for (int i = 0; i < 60; ++i) {
        const std::vector<int64_t> c = cutsOf(b, 1000, 2);
        const double seconds[2] = {double(c[1]) * 1e-9, double(c[2] - c[1]) * 1e-8};
        b.record(2, c.data(), seconds);
    }
    QCOMPARE(cutsOf(b, 1000, 2)[1], int64_t(750));
}

// infer::StealingShares, one thread calling for each in turn (so the order is fixed): chunks
// from the front of the own share, then the back half of the largest rest of more than two
// chunks, which becomes the thief's share (and can be stolen back); smaller rests stay.
void TestInferKernels::stealingSharesTakeTheBackHalf() {
    using infer::StealingShares;
    using Range = std::vector<int64_t>;
    StealingShares s;
    const int64_t cuts[4] = {0, 40, 44, 44};  // thread 2's share is empty
    s.start(3, cuts);
    std::vector<int> hits(44, 0);
    const auto take = [&](int t) {
        int64_t b = -1, e = -1;
        if (!s.next(t, 4, b, e)) return Range{};
        for (int64_t u = b; u < e; ++u) ++hits[size_t(u)];
        return Range{b, e};
    };
    QCOMPARE(take(0), (Range{0, 4}));
    QCOMPARE(take(1), (Range{40, 44}));
    // Thread 1 is done; thread 0 has [4, 40): 36 left > 2 chunks, the back 16 (half, in whole
    // chunks) go to thread 1.
    QCOMPARE(take(1), (Range{24, 28}));
    QCOMPARE(s.steals(1), 16);
    // Thread 2 (empty share): the larger rest is 0's [4, 24) (20) against 1's [28, 40) (12).
    QCOMPARE(take(2), (Range{16, 20}));
    QCOMPARE(s.steals(2), 8);
    QCOMPARE(take(0), (Range{4, 8}));
    QCOMPARE(take(0), (Range{8, 12}));
    QCOMPARE(take(0), (Range{12, 16}));
    // Thread 0 done: 1's [28, 40) has 12 > 8 left, 2's [20, 24) 4: the back chunk of 1's.
    QCOMPARE(take(0), (Range{36, 40}));
    QCOMPARE(s.steals(0), 4);
    // No rest is above 2 chunks now: each owner finishes its own, nobody steals.
    QCOMPARE(take(0), Range{});
    QCOMPARE(take(2), (Range{20, 24}));
    QCOMPARE(take(2), Range{});
    QCOMPARE(take(1), (Range{28, 32}));
    QCOMPARE(take(1), (Range{32, 36}));
    QCOMPARE(take(1), Range{});
    QVERIFY(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
}

void TestInferKernels::stealingSharesRunEveryUnitOnce_data() {
    QTest::addColumn<int>("threads");
    QTest::addColumn<int>("slow");              // this thread sleeps after each chunk; -1 none
    QTest::addColumn<QVector<int>>("weights");  // relative share sizes
    QTest::newRow("2 equal") << 2 << -1 << QVector<int>{1, 1};
    QTest::newRow("2, the first slow, 9:1") << 2 << 0 << QVector<int>{9, 1};
    QTest::newRow("3, one empty, the last slow") << 3 << 2 << QVector<int>{2, 0, 5};
    QTest::newRow("4 uneven") << 4 << 1 << QVector<int>{1, 3, 0, 2};
}

// Real threads, a slow one among them: every unit is taken exactly once, and a slow thread's
// rest is taken over by the others.
void TestInferKernels::stealingSharesRunEveryUnitOnce() {
    QFETCH(int, threads);
    QFETCH(int, slow);
    QFETCH(QVector<int>, weights);
    const int64_t total = 5000;
    int sum = 0;
    for (int w : weights) sum += w;
    std::vector<int64_t> cuts(size_t(threads) + 1, 0);
    for (int t = 0, before = 0; t < threads; ++t) {
        before += weights[t];
        cuts[size_t(t) + 1] = total * before / sum;
    }
    for (int round = 0; round < 20; ++round) {
        infer::StealingShares s;
        s.start(threads, cuts.data());
        std::vector<std::atomic<int>> hits(static_cast<size_t>(total));
        for (auto& h : hits) h.store(0);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                int64_t b = 0, e = 0;
                while (s.next(t, 7, b, e)) {
                    for (int64_t u = b; u < e; ++u) hits[size_t(u)].fetch_add(1);
                    if (t == slow) std::this_thread::sleep_for(std::chrono::microseconds(50));
                }
            });
        for (std::thread& t : pool) t.join();
        for (int64_t u = 0; u < total; ++u)
            QVERIFY2(
                hits[size_t(u)].load() == 1,
                qPrintable(QString("unit %1 taken %2 times").arg(u).arg(hits[size_t(u)].load())));
        if (slow >= 0) {
            int stolen = 0;
            for (int t = 0; t < threads; ++t)
                if (t != slow) stolen += s.steals(t);
            QVERIFY2(stolen > 0, "nobody took over the slow thread's rest");
        }
    }
}

QTEST_GUILESS_MAIN(TestInferKernels)
#include "test_infer_kernels.moc"
