// Histograms against a naive loop written here: exact counts (bin rule of histogram.h:
// t = (x - lo) * float(bins / (hi - lo)) in float32, clamped to the last bin; x < lo and
// x > hi counted apart), statistics against a two-pass double computation.
#include "base/error.h"
#include "quant/histogram.h"
#include "quant/simd.h"

#include <QTest>

#include <cmath>
#include <limits>
#include <random>

using namespace ql;

namespace {

const float kNan = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

struct NaiveHist {
    std::vector<uint64_t> counts;
    uint64_t below = 0, above = 0, nan = 0, posInf = 0, negInf = 0, finite = 0, outliers = 0;
    double mean = 0, std = 0, kurtosis = 0, min = 0, max = 0;
};

NaiveHist naive(const std::vector<float>& x, double lo, double hi, int bins) {
    NaiveHist h;
    h.counts.assign(size_t(bins), 0);
    const float scale = float(double(bins) / (hi - lo)), lof = float(lo);
    double sum = 0;
    h.min = std::numeric_limits<double>::infinity(), h.max = -h.min;
    for (float v : x) {
        if (std::isnan(v)) {
            ++h.nan;
        } else if (std::isinf(v)) {
            ++(v > 0 ? h.posInf : h.negInf);
        } else {
            ++h.finite;
            sum += v;
            h.min = std::min(h.min, double(v)), h.max = std::max(h.max, double(v));
            if (double(v) < lo) {
                ++h.below;
            } else if (double(v) > hi) {
                ++h.above;
            } else {
                const float t = (v - lof) * scale;
                ++h.counts[size_t(std::min(std::max(int(t), 0), bins - 1))];
            }
        }
    }
    h.mean = sum / double(h.finite);
    double m2 = 0, m4 = 0;
    for (float v : x)
        if (std::isfinite(v)) {
            const double d = v - h.mean;
            m2 += d * d, m4 += d * d * d * d;
        }
    m2 /= double(h.finite), m4 /= double(h.finite);
    h.std = std::sqrt(m2);
    h.kurtosis = m4 / (m2 * m2) - 3;
    const float fm = float(h.mean), thr = float(6 * h.std);
    for (float v : x) h.outliers += std::isfinite(v) && std::fabs(v - fm) > thr;
    return h;
}

// Normal data with many edge values: lo, hi, neighbours of both, outside, NaN, +-Inf,
// and a few outliers far out. Edge values are clustered in some blocks and absent in others.
std::vector<float> edgyData(size_t n, float lo, float hi, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.5f * (lo + hi), 0.2f * (hi - lo));
    std::uniform_int_distribution<int> pick(0, 15);
    const float specials[] = {lo,
                              hi,
                              std::nextafter(hi, -kInf),
                              std::nextafter(lo, kInf),
                              std::nextafter(lo, -kInf),
                              std::nextafter(hi, kInf),
                              lo - 1.0f,
                              hi + 1.0f,
                              kNan,
                              kInf,
                              -kInf,
                              0.5f * (lo + hi) + 3.0f * (hi - lo)};
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) {
        x[i] = nd(rng);
        const bool edgyBlock = (i / 256) % 3 == 0;
        if (edgyBlock && pick(rng) == 0) x[i] = specials[size_t(pick(rng)) % 12];
    }
    return x;
}

void compareWithNaive(const Histogram& h, const NaiveHist& ref) {
    QCOMPARE(h.counts, ref.counts);
    QCOMPARE(h.stats.belowRange, ref.below);
    QCOMPARE(h.stats.aboveRange, ref.above);
    QCOMPARE(h.stats.nanCount, ref.nan);
    QCOMPARE(h.stats.posInfCount, ref.posInf);
    QCOMPARE(h.stats.negInfCount, ref.negInf);
    QCOMPARE(h.stats.count, ref.finite);
    QCOMPARE(h.stats.min, ref.min);
    QCOMPARE(h.stats.max, ref.max);
    // float32 sums inside 256-value blocks, merged in double
    QVERIFY2(std::fabs(h.stats.mean - ref.mean) <= 1e-6 * ref.std,
             qPrintable(QString("mean %1 vs %2").arg(h.stats.mean).arg(ref.mean)));
    QVERIFY2(std::fabs(h.stats.std - ref.std) <= 1e-5 * ref.std,
             qPrintable(QString("std %1 vs %2").arg(h.stats.std).arg(ref.std)));
    QVERIFY2(std::fabs(h.stats.kurtosis - ref.kurtosis) <= 1e-4 * (1 + std::fabs(ref.kurtosis)),
             qPrintable(QString("kurtosis %1 vs %2").arg(h.stats.kurtosis).arg(ref.kurtosis)));
    QCOMPARE(h.stats.outliers, ref.outliers);
}

}  // namespace

class TestHistogram : public QObject {
    Q_OBJECT
private slots:
    void countsMatchNaive_data();
    void countsMatchNaive();
    void plainNormalData();
    void hugeValues();
    void driftingMean();
    void emptyAndAllNan();
    void badArguments();
    void ranges();
    void accumulatorMatchesSinglePass();
};

void TestHistogram::countsMatchNaive_data() {
    QTest::addColumn<int>("threads");
    QTest::addColumn<int>("bins");
    QTest::addColumn<int>("n");
    QTest::addColumn<double>("lo");
    QTest::addColumn<double>("hi");
    QTest::addColumn<bool>("wide");  // the AVX2 kernel where the CPU has it, else baseline
    for (bool wide : {false, true}) {
        const char* w = wide ? "wide" : "baseline";
        QTest::addRow("%s 1 thread 256 bins", w) << 1 << 256 << 100003 << -1.0 << 1.0 << wide;
        QTest::addRow("%s 2 threads 7 bins", w) << 2 << 7 << 65536 << -0.3 << 0.7 << wide;
        QTest::addRow("%s 3 threads 1 bin", w) << 3 << 1 << 5000 << 0.0 << 1.0 << wide;
        QTest::addRow("%s 7 threads 2048 bins", w) << 7 << 2048 << 300001 << -0.05 << 0.125 << wide;
        QTest::addRow("%s 2 threads tiny n", w) << 2 << 16 << 13 << -1.0 << 1.0 << wide;
        QTest::addRow("%s non-float bounds", w) << 2 << 100 << 70000 << -0.1 << 0.3 << wide;
    }
}

void TestHistogram::countsMatchNaive() {
    QFETCH(int, threads);
    QFETCH(int, bins);
    QFETCH(int, n);
    QFETCH(double, lo);
    QFETCH(double, hi);
    QFETCH(bool, wide);
    simd::setWideKernels(wide);
    struct Restore {
        ~Restore() { simd::setWideKernels(true); }
    } restore;
    const auto x = edgyData(size_t(n), float(lo), float(hi), unsigned(bins + n));
    const Histogram h = computeHistogram(x.data(), x.size(), lo, hi, bins, threads);
    QCOMPARE(h.bins(), bins);
    QCOMPARE(h.lo, lo);
    QCOMPARE(h.hi, hi);
    compareWithNaive(h, naive(x, lo, hi, bins));
    // value == hi lands in the last bin, value == lo in the first
    const float top = float(hi), bottom = float(lo);
    if (double(top) == hi) {
        const Histogram e = computeHistogram(&top, 1, lo, hi, bins, threads);
        QCOMPARE(e.counts.back(), uint64_t(1));
    }
    if (double(bottom) == lo) {
        const Histogram e = computeHistogram(&bottom, 1, lo, hi, bins, threads);
        QCOMPARE(e.counts.front(), uint64_t(1));
    }
}

void TestHistogram::plainNormalData() {
    // finite blocks only (the vector path), with planted outliers at 10 std
    std::mt19937 rng(42);
    std::normal_distribution<float> nd(3.0f, 0.01f);
    std::vector<float> x(1 << 20);
    for (auto& v : x) v = nd(rng);
    for (size_t i = 1000; i < x.size(); i += 77777) x[i] = 3.0f + (i % 2 ? 0.1f : -0.1f);
    const NaiveHist ref = naive(x, 2.95, 3.05, 512);
    QVERIFY(ref.outliers >= 13);
    for (bool wide : {false, true})
        for (int threads : {1, 2, 4}) {
            simd::setWideKernels(wide);
            const Histogram h = computeHistogram(x.data(), x.size(), 2.95, 3.05, 512, threads);
            simd::setWideKernels(true);
            compareWithNaive(h, ref);
        }
}

void TestHistogram::driftingMean() {
    // The scanner sums powers of x - center in float32 and starts with center = the first
    // value. Here that value is 1000 std out: every block after the first must move the
    // center to its mean, or the power sums about 10 keep nothing of a variance of 1e-4.
    // Later blocks jump to 50 std and back (the center follows them both ways).
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 0.01f);
    std::vector<float> x(size_t(1) << 18);
    for (size_t i = 0; i < x.size(); ++i) x[i] = nd(rng) + ((i / 256) % 97 == 50 ? 0.5f : 0.0f);
    x[0] = 10.0f;
    const NaiveHist ref = naive(x, -0.1, 0.6, 1024);
    for (bool wide : {false, true})
        for (int threads : {1, 3}) {
            simd::setWideKernels(wide);
            const Histogram h = computeHistogram(x.data(), x.size(), -0.1, 0.6, 1024, threads);
            simd::setWideKernels(true);
            compareWithNaive(h, ref);
        }
}

void TestHistogram::hugeValues() {
    // x^4 overflows float32: the exact double path must take over
    std::vector<float> x(1024);
    for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 2 ? 1e20f : -1e20f) * float(1 + i % 5);
    const Histogram h = computeHistogram(x.data(), x.size(), -1e21, 1e21, 64, 2);
    compareWithNaive(h, naive(x, -1e21, 1e21, 64));
    QVERIFY(std::isfinite(h.stats.kurtosis));
}

void TestHistogram::emptyAndAllNan() {
    const Histogram e = computeHistogram(nullptr, 0, 0.0, 1.0, 10, 2);
    QCOMPARE(e.stats.count, uint64_t(0));
    QCOMPARE(e.counts, std::vector<uint64_t>(10, 0));
    std::vector<float> nans(1000, kNan);
    nans[3] = kInf;
    const Histogram h = computeHistogram(nans.data(), nans.size(), 0.0, 1.0, 10, 2);
    QCOMPARE(h.stats.count, uint64_t(0));
    QCOMPARE(h.stats.nanCount, uint64_t(999));
    QCOMPARE(h.stats.posInfCount, uint64_t(1));
    QVERIFY(!std::isnan(h.stats.mean) && !std::isnan(h.stats.std));
    QVERIFY(!finiteRange(nans.data(), nans.size()).valid);
}

void TestHistogram::badArguments() {
    const float x[] = {1.0f, 2.0f};
    QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(x, 2, 1.0, 1.0, 10));
    QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(x, 2, 2.0, 1.0, 10));
    QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(x, 2, 0.0, 1.0, 0));
    QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(x, 2, double(kNan), 1.0, 10));
    QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(x, 2, 0.0, double(kInf), 10));
    QVERIFY_THROWS_EXCEPTION(Error, HistogramAccumulator(1.0, 0.0, 10));
    QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(x, 2, 0.0, 1e-300, 10));    // too narrow
    QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(x, 2, -1e300, 1e300, 10));  // not float
    QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(x, 2, 0.0, 1.0, -3));
}

void TestHistogram::ranges() {
    auto x = edgyData(10007, -2.0f, 3.0f, 9);
    double lo = 1e30, hi = -1e30;
    for (float v : x)
        if (std::isfinite(v)) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
    for (bool wide : {false, true})
        for (int threads : {1, 2, 5}) {
            simd::setWideKernels(wide);
            const Range r = finiteRange(x.data(), x.size(), threads);
            simd::setWideKernels(true);
            QVERIFY(r.valid);
            QVERIFY(r.lo == lo && r.hi == hi);
        }
    const Range u = unionRange(Range{-1, 2, true}, Range{0, 5, true});
    QCOMPARE(u.lo, -1.0);
    QCOMPARE(u.hi, 5.0);
    QCOMPARE(unionRange(Range{}, Range{3, 4, true}).lo, 3.0);
    QCOMPARE(unionRange(Range{3, 4, true}, Range{}).hi, 4.0);
    const Range one = binnableRange(Range{2.0, 2.0, true});
    QVERIFY(one.valid && one.lo < 2.0 && one.hi > 2.0);
    const Range zero = binnableRange(Range{0.0, 0.0, true});
    QVERIFY(zero.lo < 0.0 && zero.hi > 0.0);
    const Range none = binnableRange(Range{});
    QVERIFY(none.valid && none.lo < none.hi);
    const Range ok = binnableRange(Range{-1, 1, true});
    QCOMPARE(ok.lo, -1.0);
    QCOMPARE(ok.hi, 1.0);
}

void TestHistogram::accumulatorMatchesSinglePass() {
    const auto x = edgyData(200000, -1.0f, 1.0f, 5);
    HistogramAccumulator acc(-1.0, 1.0, 128);
    size_t pos = 0;
    for (size_t piece : {size_t(1), size_t(777), size_t(50000), size_t(0), size_t(149222)}) {
        acc.add(x.data() + pos, piece);
        pos += piece;
    }
    QCOMPARE(pos, x.size());
    const Histogram a = acc.result();
    const NaiveHist ref = naive(x, -1.0, 1.0, 128);
    QCOMPARE(a.counts, ref.counts);
    QCOMPARE(a.stats.belowRange, ref.below);
    QCOMPARE(a.stats.aboveRange, ref.above);
    QCOMPARE(a.stats.nanCount, ref.nan);
    QCOMPARE(a.stats.posInfCount + a.stats.negInfCount, ref.posInf + ref.negInf);
    QCOMPARE(a.stats.count, ref.finite);
    QCOMPARE(a.stats.min, ref.min);
    QCOMPARE(a.stats.max, ref.max);
    QVERIFY(std::fabs(a.stats.mean - ref.mean) <= 1e-6 * ref.std);
    QVERIFY(std::fabs(a.stats.std - ref.std) <= 1e-5 * ref.std);
    QVERIFY(std::fabs(a.stats.kurtosis - ref.kurtosis) <= 1e-4 * (1 + std::fabs(ref.kurtosis)));
    // streamed outliers use the moments seen so far: close to, not always equal to, exact
    QVERIFY(std::fabs(double(a.stats.outliers) - double(ref.outliers)) <=
            0.05 * double(ref.outliers) + 2);
}

QTEST_GUILESS_MAIN(TestHistogram)
#include "test_histogram.moc"
