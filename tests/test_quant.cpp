// Recipes, RTN grids, packing and error metrics, checked against naive per-element
// implementations written here from ../shared/README.md, and against the reference
// per-layer SQNRs of stories260k.
#include "base/error.h"
#include "io/safetensors.h"
#include "quant/quantize.h"
#include "quant/recipe.h"
#include "quant/simd.h"
#include "testdata.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <random>

using namespace ql;

namespace {

std::vector<float> randomMatrix(int64_t rows, int64_t cols, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::vector<float> w(size_t(rows * cols));
    for (auto& x : w) x = nd(rng);
    // a few larger values so that ranges differ between rows and groups
    for (size_t i = 0; i < w.size(); i += 97) w[i] *= 5.0f;
    return w;
}

// The README formulas, one element at a time, in float32.
struct Naive {
    std::vector<int32_t> q;
    std::vector<float> deq;
};

Naive naiveQuantize(const std::vector<float>& w, int64_t rows, int64_t cols, const Recipe& r) {
    const int64_t gs = r.granularity == Granularity::Group ? r.groupSize : cols;
    Naive out{std::vector<int32_t>(w.size()), std::vector<float>(w.size())};
    auto quantSpan = [&](const std::vector<size_t>& idx) {
        float mn = 0, mx = 0;
        for (size_t i : idx) mn = std::min(mn, w[i]), mx = std::max(mx, w[i]);
        if (r.symmetric) {
            const int qmax = (1 << (r.bits - 1)) - 1, qmin = -qmax - 1;
            float scale = std::max(std::fabs(mn), std::fabs(mx)) / float(qmax);
            if (scale == 0) scale = 1;
            for (size_t i : idx) {
                const float q =
                    std::min(std::max(std::nearbyint(w[i] / scale), float(qmin)), float(qmax));
                out.q[i] = int32_t(q);
                out.deq[i] = q * scale;
            }
        } else {
            const int qmax = (1 << r.bits) - 1;
            float scale = (mx - mn) / float(qmax);
            float zero = 0;
            if (scale == 0)
                scale = 1;
            else
                zero = std::nearbyint(-mn / scale);
            for (size_t i : idx) {
                const float q =
                    std::min(std::max(std::nearbyint(w[i] / scale) + zero, 0.0f), float(qmax));
                out.q[i] = int32_t(q);
                out.deq[i] = (q - zero) * scale;
            }
        }
    };
    if (r.granularity == Granularity::Tensor) {
        std::vector<size_t> all(w.size());
        for (size_t i = 0; i < w.size(); ++i) all[i] = i;
        quantSpan(all);
        return out;
    }
    for (int64_t row = 0; row < rows; ++row)
        for (int64_t c0 = 0; c0 < cols; c0 += gs) {
            std::vector<size_t> idx;
            for (int64_t c = c0; c < c0 + gs; ++c) idx.push_back(size_t(row * cols + c));
            quantSpan(idx);
        }
    return out;
}

double naiveSqnr(const std::vector<float>& w, const std::vector<float>& h) {
    double s = 0, e = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        s += double(w[i]) * w[i];
        e += (double(w[i]) - h[i]) * (double(w[i]) - h[i]);
    }
    return 10 * std::log10(s / e);
}

float halfToFloatNaive(uint16_t h) {
    const int e = (h >> 10) & 31, m = h & 1023;
    const float v = e == 0 ? std::ldexp(float(m), -24) : std::ldexp(float(1024 + m), e - 25);
    return (h & 0x8000) ? -v : v;
}

}  // namespace

class TestQuant : public QObject {
    Q_OBJECT
private slots:
    void recipeParse_data();
    void recipeParse();
    void recipeErrors_data();
    void recipeErrors();
    void gridMatchesNaive_data();
    void gridMatchesNaive();
    void zeroRangeRows();
    void nonFiniteRows();
    void groupNotDividing();
    void packRoundTrip_data();
    void packRoundTrip();
    void metricsMatchNaive();
    void sqnrOrdering();
    void castRoundTrip();
    void referenceSqnrStories260k();
};

void TestQuant::recipeParse_data() {
    QTest::addColumn<QString>("spec");
    QTest::addColumn<QString>("canonical");
    QTest::newRow("full") << "rtn:int8:channel:sym"
                          << "rtn:int8:channel:sym";
    QTest::newRow("group asym") << "rtn:int4:g128:asym"
                                << "rtn:int4:g128:asym";
    QTest::newRow("gptq") << "gptq:int4:g128:asym"
                          << "gptq:int4:g128:asym";
    QTest::newRow("awq") << "awq:int4:g64:sym"
                         << "awq:int4:g64:sym";
    QTest::newRow("tensor int3") << "rtn:int3:tensor:asym"
                                 << "rtn:int3:tensor:asym";
    QTest::newRow("int2 g32") << "rtn:int2:g32:sym"
                              << "rtn:int2:g32:sym";
    QTest::newRow("method only") << "rtn"
                                 << "rtn:int8:channel:sym";
    QTest::newRow("bits only") << "rtn:int4"
                               << "rtn:int4:channel:sym";
    QTest::newRow("no symmetry") << "gptq:int4:g128"
                                 << "gptq:int4:g128:sym";
    QTest::newRow("upper case") << "RTN:INT4:G32:ASYM"
                                << "rtn:int4:g32:asym";
    QTest::newRow("fp16") << "fp16"
                          << "fp16";
    QTest::newRow("bf16") << "bf16"
                          << "bf16";
}

void TestQuant::recipeParse() {
    QFETCH(QString, spec);
    QFETCH(QString, canonical);
    const Recipe r = Recipe::parse(spec.toStdString());
    QCOMPARE(QString::fromStdString(r.toString()), canonical);
    const Recipe again = Recipe::parse(r.toString());
    QCOMPARE(again.toString(), r.toString());
    QCOMPARE(int(again.method), int(r.method));
    QCOMPARE(again.bits, r.bits);
    QCOMPARE(int(again.granularity), int(r.granularity));
    QCOMPARE(again.groupSize, r.groupSize);
    QCOMPARE(again.symmetric, r.symmetric);
    if (canonical == "rtn:int4:g128:asym") {
        QCOMPARE(r.groupSize, 128);
        QVERIFY(!r.symmetric);
        QCOMPARE(int(r.granularity), int(Granularity::Group));
    }
}

void TestQuant::recipeErrors_data() {
    QTest::addColumn<QString>("spec");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("empty") << ""
                           << "method";
    QTest::newRow("bad method") << "foo:int8"
                                << "'foo'";
    QTest::newRow("bad bits") << "rtn:int9"
                              << "'int9'";
    QTest::newRow("int1") << "rtn:int1"
                          << "'int1'";
    QTest::newRow("bits word") << "rtn:eight"
                               << "'eight'";
    QTest::newRow("bad granularity") << "rtn:int8:row"
                                     << "'row'";
    QTest::newRow("group zero") << "rtn:int4:g0"
                                << "'g0'";
    QTest::newRow("group sign") << "rtn:int4:g-32"
                                << "'g-32'";
    QTest::newRow("group junk") << "rtn:int4:g12x"
                                << "'g12x'";
    QTest::newRow("bad symmetry") << "rtn:int8:channel:both"
                                  << "'both'";
    QTest::newRow("too many") << "rtn:int8:channel:sym:x"
                              << "too many";
    QTest::newRow("empty part") << "rtn::channel"
                                << "empty part";
    QTest::newRow("cast with bits") << "fp16:int8"
                                    << "'int8'";
}

void TestQuant::recipeErrors() {
    QFETCH(QString, spec);
    QFETCH(QString, mentions);
    try {
        Recipe::parse(spec.toStdString());
        QFAIL("expected ql::Error");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains(mentions), e.what());
    }
}

void TestQuant::gridMatchesNaive_data() {
    QTest::addColumn<QString>("spec");
    for (const char* s : {"rtn:int8:channel:sym", "rtn:int8:channel:asym", "rtn:int4:g32:sym",
                          "rtn:int4:g32:asym", "rtn:int3:g16:asym", "rtn:int2:channel:sym",
                          "rtn:int8:tensor:sym", "rtn:int4:tensor:asym", "rtn:int4:g5:asym"})
        QTest::newRow(s) << s;
}

void TestQuant::gridMatchesNaive() {
    QFETCH(QString, spec);
    const Recipe r = Recipe::parse(spec.toStdString());
    const int64_t rows = 37, cols = r.granularity == Granularity::Group ? r.groupSize * 7 : 83;
    const auto w = randomMatrix(rows, cols, 7);
    const Naive naive = naiveQuantize(w, rows, cols, r);

    const QuantGrid g = computeGrid(w.data(), rows, cols, r);
    std::vector<int32_t> q(w.size());
    std::vector<float> deq(w.size());
    quantizeWithGrid(w.data(), g, q.data(), deq.data());
    for (size_t i = 0; i < w.size(); ++i) {
        QCOMPARE(q[i], naive.q[i]);
        QVERIFY(deq[i] == naive.deq[i]);  // bit-exact: same float32 operations
        QVERIFY(q[i] >= g.qmin() && q[i] <= g.qmax());
    }
    // the fused kernel, baseline and (where the CPU has it) AVX2
    simd::setWideKernels(false);
    const RtnResult baseline = quantizeRtn(w.data(), rows, cols, r);
    simd::setWideKernels(true);
    const RtnResult fused = quantizeRtn(w.data(), rows, cols, r);
    for (const RtnResult* res : {&baseline, &fused}) {
        QCOMPARE(res->grid.scales, g.scales);
        QCOMPARE(res->grid.zeros, g.zeros);
        for (size_t i = 0; i < w.size(); ++i)
            QVERIFY2(res->dequant[i] == naive.deq[i],
                     qPrintable(QString("element %1: %2 vs naive %3 (w %4)")
                                    .arg(i)
                                    .arg(double(res->dequant[i]), 0, 'g', 9)
                                    .arg(double(naive.deq[i]), 0, 'g', 9)
                                    .arg(double(w[i]), 0, 'g', 9)));
    }
    // lane counts differ, so do float partial sums
    QVERIFY(std::fabs(fused.metrics.sqnrDb - baseline.metrics.sqnrDb) < 1e-6);
    // the kernel squares in float32 and sums in double per 128-element block
    QVERIFY2(std::fabs(fused.metrics.sqnrDb - naiveSqnr(w, naive.deq)) < 1e-5,
             qPrintable(QString::number(fused.metrics.sqnrDb - naiveSqnr(w, naive.deq))));
}

void TestQuant::zeroRangeRows() {
    for (const char* spec : {"rtn:int8:channel:sym", "rtn:int4:g8:asym", "rtn:int4:tensor:asym"}) {
        const Recipe r = Recipe::parse(spec);
        std::vector<float> w(4 * 16, 0.0f);
        for (int c = 0; c < 16; ++c)
            w[size_t(16 + c)] = 0.0123f * float(c - 5) + 0.001f;  // row 1 not zero
        const RtnResult res = quantizeRtn(w.data(), 4, 16, r);
        for (float s : res.grid.scales) QVERIFY2(std::isfinite(s) && s > 0, spec);
        for (size_t i = 0; i < w.size(); ++i) {
            QVERIFY2(std::isfinite(res.dequant[i]), spec);
            if (i < 16 || i >= 32) QCOMPARE(res.dequant[i], 0.0f);
        }
        QVERIFY(std::isfinite(res.metrics.sqnrDb));
    }
    // an all-zero matrix is reproduced exactly: SQNR +inf, no NaN
    std::vector<float> zeros(64, 0.0f);
    const RtnResult res = quantizeRtn(zeros.data(), 8, 8, Recipe::parse("rtn:int8:channel:asym"));
    QVERIFY(std::isinf(res.metrics.sqnrDb) && res.metrics.sqnrDb > 0);
    QCOMPARE(res.metrics.mse, 0.0);
}

void TestQuant::nonFiniteRows() {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const int64_t rows = 3, cols = 32;
    auto w = randomMatrix(rows, cols, 3);
    w[1] = nan, w[5] = inf, w[20] = -inf;  // row 0 has NaN/Inf, rows 1-2 are clean
    for (const char* spec : {"rtn:int8:channel:sym", "rtn:int4:g16:asym"}) {
        const Recipe r = Recipe::parse(spec);
        const RtnResult res = quantizeRtn(w.data(), rows, cols, r);
        QVERIFY(std::isnan(res.dequant[1]));
        QCOMPARE(res.dequant[5], inf);
        QCOMPARE(res.dequant[20], -inf);
        QCOMPARE(res.metrics.nonFinite, uint64_t(3));
        QVERIFY(std::isfinite(res.metrics.sqnrDb) && std::isfinite(res.metrics.cosine));
        // the finite values of row 0 are quantized on the range of the finite values only
        auto clean = w;
        clean[1] = clean[5] = clean[20] = 0.0f;
        const Naive naive = naiveQuantize(clean, rows, cols, r);
        for (size_t i = 0; i < w.size(); ++i)
            if (std::isfinite(w[i])) QVERIFY(res.dequant[i] == naive.deq[i]);
        std::vector<int32_t> q(w.size());
        quantizeWithGrid(w.data(), res.grid, q.data(), nullptr);
        QCOMPARE(q[1], int32_t(res.grid.zeroAt(0, 1)));  // NaN -> zero point
        QCOMPARE(q[5], res.grid.qmax());
        QCOMPARE(q[20], res.grid.qmin());
        // metrics over finite elements equal those of the clean matrix without them
        const ErrorMetrics m = errorMetrics(w.data(), res.dequant.data(), w.size());
        QCOMPARE(m.nonFinite, uint64_t(3));
        QVERIFY(std::fabs(m.sqnrDb - res.metrics.sqnrDb) < 1e-4);
    }
}

void TestQuant::groupNotDividing() {
    const auto w = randomMatrix(4, 172, 1);  // like stories260k's MLP width
    const Recipe r = Recipe::parse("rtn:int4:g32:sym");
    QVERIFY_THROWS_EXCEPTION(Error, computeGrid(w.data(), 4, 172, r));
    QVERIFY_THROWS_EXCEPTION(Error, quantizeRtn(w.data(), 4, 172, r));
    try {
        computeGrid(w.data(), 4, 172, r);
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("172") && QString(e.what()).contains("32"), e.what());
    }
    QVERIFY_THROWS_EXCEPTION(Error, computeGrid(w.data(), 4, 172, Recipe::parse("fp16")));
    // the caller's fallback, per channel, works on the same matrix
    QCOMPARE(computeGrid(w.data(), 4, 172, Recipe::parse("rtn:int4:channel:sym")).scales.size(),
             size_t(4));
}

void TestQuant::packRoundTrip_data() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<bool>("symmetric");
    QTest::addColumn<QString>("gran");
    for (int bits : {2, 3, 4, 5, 8})
        for (bool sym : {true, false}) {
            QTest::addRow("int%d %s g3", bits, sym ? "sym" : "asym") << bits << sym << "g3";
            QTest::addRow("int%d %s channel", bits, sym ? "sym" : "asym")
                << bits << sym << "channel";
            QTest::addRow("int%d %s tensor", bits, sym ? "sym" : "asym") << bits << sym << "tensor";
        }
}

void TestQuant::packRoundTrip() {
    QFETCH(int, bits);
    QFETCH(bool, symmetric);
    QFETCH(QString, gran);
    const Recipe r = Recipe::parse("rtn:int" + std::to_string(bits) + ":" + gran.toStdString() +
                                   (symmetric ? ":sym" : ":asym"));
    const int64_t rows = 7, cols = 15;  // 105 elements: odd, so a half-filled last byte
    const auto w = randomMatrix(rows, cols, unsigned(bits));
    const QuantGrid g = computeGrid(w.data(), rows, cols, r);
    std::vector<int32_t> q(w.size());
    quantizeWithGrid(w.data(), g, q.data(), nullptr);
    bool sawMin = false, sawMax = false;
    for (int32_t c : q)
        sawMin |= c == g.qmin(),
            sawMax |= std::abs(c - int32_t(g.zeros.empty() ? 0 : g.zeros[0])) >= g.qmax() / 2;
    QVERIFY(sawMin || sawMax);  // the grid ends are exercised

    const PackedTensor p = pack(q.data(), g);
    QCOMPARE(unpackCodes(p), q);
    const size_t nScales = g.scales.size();
    const size_t dataBytes = bits > 4 ? w.size() : (w.size() + 1) / 2;
    const size_t zeroBytes = symmetric ? 0 : (bits > 4 ? nScales : (nScales + 1) / 2);
    QCOMPARE(p.data.size(), dataBytes);
    QCOMPARE(p.scalesF16.size(), nScales);
    QCOMPARE(p.zerosPacked.size(), zeroBytes);
    QCOMPARE(p.bytes(), uint64_t(dataBytes + 2 * nScales + zeroBytes));

    // dequantize uses the stored fp16 scales and packed zeros
    const std::vector<float> deq = dequantize(p);
    for (int64_t row = 0; row < rows; ++row)
        for (int64_t c = 0; c < cols; ++c) {
            const size_t i = size_t(row * cols + c);
            const size_t k = g.perTensor ? 0 : size_t(row * g.groupsPerRow() + c / g.groupSize);
            const float s16 = halfToFloatNaive(p.scalesF16[k]);
            QVERIFY(std::fabs(s16 - g.scales[k]) <= g.scales[k] * 0.0005f);
            QVERIFY(deq[i] == float(q[i] - int32_t(g.zeroAt(row, c))) * s16);
        }
    // out-of-grid codes are rejected
    auto bad = q;
    bad[3] = g.qmax() + 1;
    QVERIFY_THROWS_EXCEPTION(Error, pack(bad.data(), g));
}

void TestQuant::metricsMatchNaive() {
    const auto w = randomMatrix(64, 96, 11);
    const RtnResult res = quantizeRtn(w.data(), 64, 96, Recipe::parse("rtn:int4:g32:asym"));
    double s = 0, e = 0, wh = 0, hh = 0, mx = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        const double x = w[i], h = res.dequant[i];
        s += x * x, e += (x - h) * (x - h), wh += x * h, hh += h * h;
        mx = std::max(mx, std::fabs(x - h));
    }
    const double sqnr = 10 * std::log10(s / e), cos = wh / std::sqrt(s * hh);
    for (const ErrorMetrics& m :
         {res.metrics, errorMetrics(w.data(), res.dequant.data(), w.size())}) {
        QVERIFY(std::fabs(m.sqnrDb - sqnr) < 1e-5);  // float32 products, double sums
        QVERIFY(std::fabs(m.mse - e / double(w.size())) <= 1e-6 * e / double(w.size()));
        QVERIFY(std::fabs(m.maxAbsError - mx) <= 1e-6 * mx);
        QVERIFY(std::fabs(m.cosine - cos) < 1e-7);
        QCOMPARE(m.nonFinite, uint64_t(0));
    }
    const ErrorMetrics exact = errorMetrics(w.data(), w.data(), w.size());
    QVERIFY(std::isinf(exact.sqnrDb) && exact.sqnrDb > 0);
    QCOMPARE(exact.mse, 0.0);
    QVERIFY(std::fabs(exact.cosine - 1.0) < 1e-12);
}

void TestQuant::sqnrOrdering() {
    const auto w = randomMatrix(128, 256, 5);
    auto sqnr = [&](const char* spec) {
        return quantizeRtn(w.data(), 128, 256, Recipe::parse(spec)).metrics.sqnrDb;
    };
    const double i8 = sqnr("rtn:int8:channel:sym"), i4g32 = sqnr("rtn:int4:g32:sym");
    const double i4ch = sqnr("rtn:int4:channel:sym"), i4g32a = sqnr("rtn:int4:g32:asym");
    const double i8t = sqnr("rtn:int8:tensor:sym"), i2 = sqnr("rtn:int2:g32:sym");
    QVERIFY(i8 > i4g32);
    QVERIFY(i4g32 > i4ch);  // smaller groups, finer grid
    QVERIFY(i8 >= i8t);     // per channel at least as good as per tensor
    QVERIFY(i4g32 > i2);
    QVERIFY(i4g32a > i4ch);
    // each bit is worth roughly 6 dB: int8 vs int4 on the same channel grid
    QVERIFY(i8 - i4ch > 20 && i8 - i4ch < 28);
}

void TestQuant::castRoundTrip() {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> w = {
        1.0f,  -2.5f, 65504.0f, 1e6f,       1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048,
        6e-8f, 0.0f,  nan,      3.14159265f};
    const auto h = ql::castRoundTrip(w.data(), w.size(), QuantMethod::Fp16);
    QCOMPARE(h[0], 1.0f);
    QCOMPARE(h[1], -2.5f);
    QCOMPARE(h[2], 65504.0f);
    QVERIFY(std::isinf(h[3]));
    QCOMPARE(h[4], 1.0f);                   // tie rounds to even
    QCOMPARE(h[5], 1.0f + 4.0f / 2048);     // tie rounds to even (up)
    QCOMPARE(h[6], std::ldexp(1.0f, -24));  // nearest subnormal
    QCOMPARE(h[7], 0.0f);
    QVERIFY(std::isnan(h[8]));
    QCOMPARE(h[9], 3.140625f);
    const auto b = ql::castRoundTrip(w.data(), w.size(), QuantMethod::Bf16);
    QCOMPARE(b[0], 1.0f);
    QCOMPARE(b[4], 1.0f);
    QCOMPARE(b[3], 999424.0f);  // 1e6 = 0x497424 00 -> bf16 0x4974 (truncates to 999424)
    QVERIFY(std::isnan(b[8]));
    QCOMPARE(b[9], 3.140625f);
    QVERIFY_THROWS_EXCEPTION(Error, ql::castRoundTrip(w.data(), w.size(), QuantMethod::Rtn));
}

void TestQuant::referenceSqnrStories260k() {
    QL_REQUIRE_DATA("models/stories260k/model.safetensors");
    QL_REQUIRE_DATA("reference/model-reference.json");
    const auto ref =
        nlohmann::json::parse(qltest::readFile(qltest::dataPath("reference/model-reference.json")));
    const nlohmann::json* sqnrs = nullptr;
    for (const auto& entry : ref["stories260k"]["ppl"])
        if (entry.value("recipe", "") == "rtn:int8:channel:sym") sqnrs = &entry["weight_sqnr_db"];
    QVERIFY(sqnrs != nullptr);
    QCOMPARE(int(sqnrs->size()), 5 * 7);
    const auto store = TensorStore::open(qltest::dataPath("models/stories260k/model.safetensors"));
    const Recipe recipe = Recipe::parse("rtn:int8:channel:sym");
    for (const auto& [layer, expected] : sqnrs->items()) {
        const TensorInfo& info = store->get(layer + ".weight");
        QCOMPARE(int(info.shape.size()), 2);
        const std::vector<float> w = store->readFloat(layer + ".weight");
        const RtnResult res = quantizeRtn(w.data(), info.shape[0], info.shape[1], recipe);
        const double diff = std::fabs(res.metrics.sqnrDb - expected.get<double>());
        QVERIFY2(diff < 0.01, qPrintable(QString("%1: %2 dB vs reference %3")
                                             .arg(QString::fromStdString(layer))
                                             .arg(res.metrics.sqnrDb)
                                             .arg(expected.get<double>())));
    }
}

QTEST_GUILESS_MAIN(TestQuant)
#include "test_quant.moc"
