// The fused weights-only kernel (quant/weight_analysis.h) against the reference path it
// replaces (computeGrid + quantizeWithGrid, errorMetrics, computeHistogram on the shared
// range, as analyzeLayer does), in every vector path the CPU has and through a RowSource:
// grid, ranges and bin counts exact; metric sums and histogram moments to stated tolerances.
#include "base/error.h"
#include "quant/histogram.h"
#include "quant/quantize.h"
#include "quant/simd.h"
#include "quant/weight_analysis.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace ql;

namespace {

struct Reference {
    QuantGrid grid;
    ErrorMetrics metrics;
    Histogram before, after, error;
};

// What analyzeLayer computes for an RTN layer (core/run/layer_metrics.cpp), step by step.
Reference reference(const std::vector<float>& w, int64_t rows, int64_t cols, const Recipe& r,
                    int bins) {
    Reference ref;
    const size_t n = w.size();
    ref.grid = computeGrid(w.data(), rows, cols, r);
    std::vector<int32_t> q(n);
    std::vector<float> after(n), err(n);
    quantizeWithGrid(w.data(), ref.grid, q.data(), after.data());
    ref.metrics = errorMetrics(w.data(), after.data(), n);
    const Range wr =
        binnableRange(unionRange(finiteRange(w.data(), n, 1), finiteRange(after.data(), n, 1)));
    ref.before = computeHistogram(w.data(), n, wr.lo, wr.hi, bins, 1);
    ref.after = computeHistogram(after.data(), n, wr.lo, wr.hi, bins, 1);
    for (size_t i = 0; i < n; ++i) err[i] = w[i] - after[i];
    const Range er = binnableRange(finiteRange(err.data(), n, 1));
    ref.error = computeHistogram(err.data(), n, er.lo, er.hi, bins, 1);
    return ref;
}

// Normal weights with a few large outliers; `edgy` adds NaN, +-Inf, an all-zero row and -0.
std::vector<float> weights(int64_t rows, int64_t cols, unsigned seed, bool edgy) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::vector<float> w(size_t(rows * cols));
    for (auto& v : w) v = nd(rng);
    for (size_t i = 17; i < w.size(); i += 4099) w[i] = (i % 2 ? 0.5f : -0.4f);
    if (edgy) {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        w[3] = nan, w[w.size() / 2] = inf, w[w.size() - 5] = -inf, w[size_t(cols) + 1] = -0.0f;
        if (rows > 2)
            std::fill(w.begin() + 2 * cols, w.begin() + 3 * cols, 0.0f);  // a zero-range row
    }
    return w;
}

bool relClose(double a, double b, double tol) {
    if (std::isinf(a) || std::isinf(b)) return a == b;
    return std::fabs(a - b) <= tol * std::max(1.0, std::max(std::fabs(a), std::fabs(b)));
}

// Counts, ranges and extremes exact; moments as two float-block summations may differ.
void compareHist(const Histogram& h, const Histogram& ref, const char* what) {
    QVERIFY2(h.lo == ref.lo && h.hi == ref.hi, what);
    QVERIFY2(h.counts == ref.counts, what);
    const HistogramStats &s = h.stats, &r = ref.stats;
    QVERIFY2(s.count == r.count && s.nanCount == r.nanCount && s.posInfCount == r.posInfCount &&
                 s.negInfCount == r.negInfCount,
             what);
    QVERIFY2(s.belowRange == r.belowRange && s.aboveRange == r.aboveRange, what);
    QVERIFY2(s.min == r.min && s.max == r.max, what);
    QVERIFY2(
        relClose(s.mean, r.mean, 1e-6 * std::max(1.0, r.std / std::max(1e-30, std::fabs(r.mean)))),
        what);
    QVERIFY2(relClose(s.std, r.std, 1e-6), what);
    QVERIFY2(std::fabs(s.kurtosis - r.kurtosis) <= 1e-4 * std::max(1.0, std::fabs(r.kurtosis)),
             what);
    QVERIFY2(s.outliers == r.outliers, what);  // exact for data not sitting on 6 std
}

void compareMetrics(const ErrorMetrics& m, const ErrorMetrics& r, double tol) {
    QVERIFY(relClose(m.sqnrDb, r.sqnrDb, tol));
    QVERIFY(relClose(m.mse, r.mse, tol));
    QCOMPARE(m.maxAbsError, r.maxAbsError);  // a max: independent of the order
    QVERIFY(relClose(m.cosine, r.cosine, tol));
    QCOMPARE(m.nonFinite, r.nonFinite);
}

bool sameFloats(const std::vector<float>& a, const std::vector<float>& b) {
    // memcmp of an empty vector's null data is undefined (UBSan stops here): sizes first
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

struct PathGuard {
    ~PathGuard() { simd::setMaxKernelPath(simd::KernelPath::Avx512); }
};

}  // namespace

class TestWhatIf : public QObject {
    Q_OBJECT
private slots:
    void matchesReference_data();
    void matchesReference();
    void pathsAgree();
    void nearRoundingTies();
    void rowSourceEqualsPointer();
    void perTensor();
    void packedBytesWithoutCodes();
    void badRecipes();
    void metricsOnly();
};

void TestWhatIf::matchesReference_data() {
    QTest::addColumn<QString>("recipe");
    QTest::addColumn<int>("rows");
    QTest::addColumn<int>("cols");
    QTest::addColumn<int>("threads");
    QTest::addColumn<bool>("edgy");
    QTest::addColumn<int>("path");
    const int cpu = int(simd::cpuKernelPath());
    for (int path = 0; path <= cpu; ++path)
        for (const char* r : {"rtn:int8:channel:sym", "rtn:int4:g128:asym", "rtn:int4:g32:sym",
                              "rtn:int3:g64:asym", "rtn:int2:channel:asym"}) {
            const char* p = simd::kernelPathName(simd::KernelPath(path));
            QTest::addRow("%s %s 96x1536 2t", p, r) << r << 96 << 1536 << 2 << false << path;
            QTest::addRow("%s %s 37x384 edgy 3t", p, r) << r << 37 << 384 << 3 << true << path;
            // rows shorter than a histogram block: blocks span rows
            QTest::addRow("%s %s 51x128 edgy 1t", p, r) << r << 51 << 128 << 1 << true << path;
            // rows that no vector width divides: the scalar tail of every group
            if (QString(r).contains("channel"))
                QTest::addRow("%s %s 29x100 edgy 2t", p, r) << r << 29 << 100 << 2 << true << path;
        }
}

void TestWhatIf::matchesReference() {
    QFETCH(QString, recipe);
    QFETCH(int, rows);
    QFETCH(int, cols);
    QFETCH(int, threads);
    QFETCH(bool, edgy);
    QFETCH(int, path);
    PathGuard guard;
    const Recipe r = Recipe::parse(recipe.toStdString());
    const auto w = weights(rows, cols, unsigned(rows * 31 + cols), edgy);
    const Reference ref = reference(w, rows, cols, r, 2048);
    simd::setMaxKernelPath(simd::KernelPath(path));
    QCOMPARE(int(simd::kernelPath()), path);
    const WeightAnalysis a = analyzeRtnWeights(w.data(), rows, cols, r, 2048, threads);
    QVERIFY(sameFloats(a.grid.scales, ref.grid.scales));
    QVERIFY(sameFloats(a.grid.zeros, ref.grid.zeros));
    // errorMetrics sums in double in element order, the kernel in float lanes over 8 values
    // (then double lanes): relative differences ~1e-7
    compareMetrics(a.metrics, ref.metrics, 1e-6);
    compareHist(a.before, ref.before, "before");
    compareHist(a.after, ref.after, "after");
    compareHist(a.error, ref.error, "error");
    QVERIFY(a.error.stats.count > 0);
    QVERIFY(a.after.counts != a.before.counts);  // the comparison above is not vacuous
}

void TestWhatIf::nearRoundingTies() {
    // Values within a few ulps of (k + 1/2) * scale: where x * (1/scale) and x / scale can
    // round to different integers. The fast paths must fall back and agree with the reference.
    PathGuard guard;
    const int64_t rows = 24, cols = 512;
    for (const char* spec :
         {"rtn:int8:channel:sym", "rtn:int4:g128:asym", "rtn:int4:g32:sym", "rtn:int3:g64:asym"}) {
        const Recipe r = Recipe::parse(spec);
        const int64_t span = r.groupSize > 0 ? r.groupSize : cols;
        std::vector<float> w(size_t(rows * cols), 0.0f);
        for (int64_t row = 0; row < rows; ++row)
            for (int64_t g0 = 0; g0 < cols; g0 += span) {  // every group's extremes
                w[size_t(row * cols + g0)] = -0.3f - 0.01f * float(row);
                w[size_t(row * cols + g0 + 1)] = 0.41f + 0.007f * float(row);
            }
        const QuantGrid grid = computeGrid(w.data(), rows, cols, r);
        std::mt19937 rng(5);
        int ties = 0;
        for (int64_t row = 0; row < rows; ++row)
            for (int64_t c = 0; c < cols; ++c) {
                if (c % span < 2) continue;
                const size_t gi = grid.perTensor ? 0 : size_t(row * grid.groupsPerRow() + c / span);
                const float scale = grid.scales[gi];
                const float zero = grid.symmetric ? 0.0f : grid.zeros[gi];
                const int lo = grid.qmin(), hi = grid.qmax();
                const int q = lo + int(rng() % unsigned(hi - lo));  // (q + 1/2 - zero) * scale
                float x = (float(q) + 0.5f - zero) * scale;
                for (int u = int(rng() % 5) - 2; u != 0; u += u > 0 ? -1 : 1)
                    x = std::nextafter(x, u > 0 ? 1.0f : -1.0f);
                const float lim = 0.29f;  // inside every group's extremes: the grid stays
                w[size_t(row * cols + c)] = std::clamp(x, -lim, lim);
                ties += std::fabs(x) <= lim;
            }
        QVERIFY(sameFloats(computeGrid(w.data(), rows, cols, r).scales, grid.scales));
        const Reference ref = reference(w, rows, cols, r, 1024);
        for (int path = 0; path <= int(simd::cpuKernelPath()); ++path) {
            simd::setMaxKernelPath(simd::KernelPath(path));
            const WeightAnalysis a = analyzeRtnWeights(w.data(), rows, cols, r, 1024, 2);
            QVERIFY(sameFloats(a.grid.scales, ref.grid.scales));
            compareMetrics(a.metrics, ref.metrics, 1e-6);
            compareHist(a.after, ref.after, "after");
            compareHist(a.error, ref.error, "error");
        }
        QVERIFY(ties > rows * cols / 2);
    }
}

void TestWhatIf::pathsAgree() {
    // The same data through every path the CPU has: everything but the order of sums equal.
    PathGuard guard;
    const Recipe r = Recipe::parse("rtn:int4:g128:asym");
    const auto w = weights(200, 2048, 7, true);
    simd::setMaxKernelPath(simd::KernelPath::Baseline);
    const WeightAnalysis base = analyzeRtnWeights(w.data(), 200, 2048, r, 512, 2);
    int paths = 0;
    for (int path = 1; path <= int(simd::cpuKernelPath()); ++path, ++paths) {
        simd::setMaxKernelPath(simd::KernelPath(path));
        const WeightAnalysis a = analyzeRtnWeights(w.data(), 200, 2048, r, 512, 2);
        QVERIFY(sameFloats(a.grid.scales, base.grid.scales));
        QVERIFY(sameFloats(a.grid.zeros, base.grid.zeros));
        compareMetrics(a.metrics, base.metrics, 1e-6);
        compareHist(a.before, base.before, "before");
        compareHist(a.after, base.after, "after");
        compareHist(a.error, base.error, "error");
    }
    if (paths == 0) QSKIP("this CPU has no AVX2: only the baseline path exists");
}

void TestWhatIf::rowSourceEqualsPointer() {
    // A source that converts tiles on demand (as from bf16) gives the same result, bit for bit.
    const int64_t rows = 130, cols = 896;
    const auto w = weights(rows, cols, 11, true);
    const RowSource src = [&](int64_t r0, int64_t n, float* dst) {
        std::memcpy(dst, w.data() + r0 * cols, size_t(n * cols) * sizeof(float));
    };
    for (const char* spec : {"rtn:int8:channel:sym", "rtn:int4:g64:asym", "rtn:int4:tensor:asym"}) {
        const Recipe r = Recipe::parse(spec);
        const WeightAnalysis a = analyzeRtnWeights(w.data(), rows, cols, r, 256, 2);
        const WeightAnalysis b = analyzeRtnWeights(src, rows, cols, r, 256, 2);
        QVERIFY(sameFloats(a.grid.scales, b.grid.scales));
        QCOMPARE(a.metrics.sqnrDb, b.metrics.sqnrDb);
        QCOMPARE(a.metrics.cosine, b.metrics.cosine);
        QVERIFY(a.after.counts == b.after.counts && a.error.counts == b.error.counts);
        QCOMPARE(a.error.stats.kurtosis, b.error.stats.kurtosis);
    }
}

void TestWhatIf::perTensor() {
    for (const char* spec : {"rtn:int8:tensor:sym", "rtn:int4:tensor:asym"}) {
        const Recipe r = Recipe::parse(spec);
        const auto w = weights(64, 640, 5, true);
        const Reference ref = reference(w, 64, 640, r, 1024);
        const WeightAnalysis a = analyzeRtnWeights(w.data(), 64, 640, r, 1024, 2);
        QVERIFY(sameFloats(a.grid.scales, ref.grid.scales));
        QVERIFY(sameFloats(a.grid.zeros, ref.grid.zeros));
        compareMetrics(a.metrics, ref.metrics, 1e-6);
        compareHist(a.after, ref.after, "after");
        compareHist(a.error, ref.error, "error");
    }
}

void TestWhatIf::packedBytesWithoutCodes() {
    const auto w = weights(33, 256, 3, false);
    for (const char* spec : {"rtn:int8:channel:sym", "rtn:int4:g128:asym", "rtn:int3:g32:asym",
                             "rtn:int4:tensor:sym", "rtn:int5:g64:asym"}) {
        const Recipe r = Recipe::parse(spec);
        const QuantGrid g = computeGrid(w.data(), 33, 256, r);
        std::vector<int32_t> q(w.size());
        quantizeWithGrid(w.data(), g, q.data(), nullptr);
        QCOMPARE(packedBytes(g), pack(q.data(), g).bytes());
    }
}

void TestWhatIf::badRecipes() {
    const auto w = weights(4, 96, 1, false);
    QVERIFY_THROWS_EXCEPTION(Error, analyzeRtnWeights(w.data(), 4, 96, Recipe::parse("nf4"), 64));
    QVERIFY_THROWS_EXCEPTION(
        Error, analyzeRtnWeights(w.data(), 4, 96, Recipe::parse("rtn:int4:g128"), 64));
    QVERIFY_THROWS_EXCEPTION(Error, analyzeRtnWeights(w.data(), 4, 96, Recipe::parse("fp16"), 64));
    QVERIFY_THROWS_EXCEPTION(Error,
                             analyzeRtnWeights(w.data(), 4, 96, Recipe::parse("rtn:int8"), -1));
}

void TestWhatIf::metricsOnly() {
    // bins 0 runs pass 1 alone: the same grid and metrics, no histograms, the weight's range.
    const auto w = weights(37, 384, 9, true);
    for (const char* spec : {"rtn:int8:channel:sym", "rtn:int4:g64:asym", "rtn:int4:tensor:asym"}) {
        const Recipe r = Recipe::parse(spec);
        const WeightAnalysis full = analyzeRtnWeights(w.data(), 37, 384, r, 256, 2);
        const WeightAnalysis m = analyzeRtnWeights(w.data(), 37, 384, r, 0, 2);
        QVERIFY(sameFloats(m.grid.scales, full.grid.scales));
        QVERIFY(sameFloats(m.grid.zeros, full.grid.zeros));
        QCOMPARE(m.metrics.sqnrDb, full.metrics.sqnrDb);
        QCOMPARE(m.metrics.cosine, full.metrics.cosine);
        QCOMPARE(m.metrics.maxAbsError, full.metrics.maxAbsError);
        QCOMPARE(m.metrics.nonFinite, full.metrics.nonFinite);
        QVERIFY(m.before.counts.empty() && m.after.counts.empty() && m.error.counts.empty());
        const Range ref = finiteRange(w.data(), w.size(), 1);
        QVERIFY(m.weightRange.valid);
        QCOMPARE(m.weightRange.lo, ref.lo);
        QCOMPARE(m.weightRange.hi, ref.hi);
    }
}

QTEST_GUILESS_MAIN(TestWhatIf)
#include "test_whatif.moc"
