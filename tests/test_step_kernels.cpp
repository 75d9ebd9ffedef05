// The decode step's loops that read no weights (model/step_kernels.h): the portable and the
// AVX-512 versions, each against a plain double-precision computation of the same formula
// (RMSNorm, attention over a KV cache with grouped heads, SiLU·up), on the shapes the models
// use and on the edges of the 16-key / 16-lane passes (tails, a single key, NaN, infinities).
#include "model/step_kernels.h"

#include <QTest>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

// Restores the kernels' choice; setWideStepKernels(true) keeps the portable ones on a CPU
// without AVX-512F.
struct WideGuard {
    bool was = ql::step::wideStepKernels();
    ~WideGuard() { ql::step::setWideStepKernels(was); }
};

std::vector<float> randomValues(size_t n, float scale, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// softmax(q·k / sqrt(D)) · v per query head in double, head i on kv head i / rep.
std::vector<double> attentionReference(const std::vector<float>& q, const std::vector<float>& k,
                                       const std::vector<float>& v, int64_t H, int64_t rep,
                                       int64_t D, int64_t n, int64_t capacity) {
    std::vector<double> out(size_t(H * D), 0.0);
    std::vector<double> s(static_cast<size_t>(n));
    for (int64_t i = 0; i < H; ++i) {
        const int64_t g = i / rep;
        double top = -std::numeric_limits<double>::infinity(), sum = 0.0;
        for (int64_t j = 0; j < n; ++j) {
            double d = 0.0;
            for (int64_t e = 0; e < D; ++e)
                d += double(q[size_t(i * D + e)]) * double(k[size_t((g * capacity + j) * D + e)]);
            s[size_t(j)] = d / std::sqrt(double(D));
            top = std::max(top, s[size_t(j)]);
        }
        for (int64_t j = 0; j < n; ++j) sum += (s[size_t(j)] = std::exp(s[size_t(j)] - top));
        for (int64_t j = 0; j < n; ++j)
            for (int64_t e = 0; e < D; ++e)
                out[size_t(i * D + e)] +=
                    s[size_t(j)] / sum * double(v[size_t((g * capacity + j) * D + e)]);
    }
    return out;
}

}  // namespace

class TestStepKernels : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        qInfo("wide (AVX-512) step kernels on this CPU: %s",
              ql::step::wideStepKernels() ? "yes" : "no, both rows test the portable ones");
    }

    void attentionMatchesDoubleReference_data() {
        QTest::addColumn<int>("D");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("rep");
        for (int D : {16, 32, 64, 128, 8, 80})  // 8 and 80: no wide version, both portable
            for (int n : {1, 2, 15, 16, 17, 33, 300})
                for (int rep : {1, 7, 40})  // 40: runs of at most 32 heads
                    QTest::newRow(qPrintable(QString("D%1 n%2 rep%3").arg(D).arg(n).arg(rep)))
                        << D << n << rep;
    }
    void attentionMatchesDoubleReference() {
        QFETCH(int, D);
        QFETCH(int, n);
        QFETCH(int, rep);
        const int64_t KV = 2, H = KV * rep, capacity = n + 5;  // storage longer than the keys
        const std::vector<float> q = randomValues(size_t(H * D), 1.0f, 1);
        const std::vector<float> k = randomValues(size_t(KV * capacity * D), 1.0f, 2);
        const std::vector<float> v = randomValues(size_t(KV * capacity * D), 1.0f, 3);
        const std::vector<double> ref = attentionReference(q, k, v, H, rep, D, n, capacity);
        ql::step::AttentionArgs a;
        a.q = q.data(), a.keys = k.data(), a.values = v.data();
        a.capacity = capacity, a.rep = rep, a.D = D, a.n = n;
        WideGuard guard;
        for (bool wide : {true, false}) {
            ql::step::setWideStepKernels(wide);
            std::vector<float> out(size_t(H * D), std::nanf(""));
            std::vector<float> scores(static_cast<size_t>(H * n));
            // Two calls, as the decode team splits the heads, cut inside a kv group.
            const int64_t cut = H / 2 + 1;
            ql::step::attend(a, 0, cut, scores.data(), out.data());
            ql::step::attend(a, cut, H, scores.data(), out.data());
            double worst = 0.0;
            for (size_t i = 0; i < out.size(); ++i)
                worst = std::max(worst, std::abs(double(out[i]) - ref[i]));
            // Outputs are averages of N(0,1) values: an absolute bound a few float ulps wide.
            QVERIFY2(worst <= 2e-6, qPrintable(QString("%1: %2").arg(wide).arg(worst)));
        }
    }

    void siluMatchesDoubleReference() {
        std::vector<float> x;
        for (float t = -120.0f; t <= 120.0f; t += 0.0137f) x.push_back(t);
        for (float t : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.7f, -88.7f, 89.0f, -89.0f, 103.9f, -103.9f,
                        1e30f, -1e30f})
            x.push_back(t);
        const std::vector<float> up = randomValues(x.size(), 2.0f, 4);
        WideGuard guard;
        for (bool wide : {true, false}) {
            ql::step::setWideStepKernels(wide);
            for (size_t start : {size_t(0), size_t(3)}) {  // whole 16-lane passes and a tail
                std::vector<float> g = x;
                ql::step::siluTimesUp(g.data(), up.data(), int64_t(start), int64_t(g.size()));
                for (size_t i = start; i < x.size(); ++i) {
                    const double ref = double(x[i]) / (1.0 + std::exp(-double(x[i]))) * up[i];
                    const double err = std::abs(double(g[i]) - ref);
                    // Absolute 1e-35: below x = -88.7 the float exp(-x) overflows and both
                    // versions give -0 where the true value is ~1e-37.
                    QVERIFY2(err <= 4e-7 * std::abs(ref) + 1e-35,
                             qPrintable(QString("wide %1, x %2: %3 against %4")
                                            .arg(wide)
                                            .arg(double(x[i]))
                                            .arg(double(g[i]))
                                            .arg(ref)));
                }
                for (size_t i = 0; i < start; ++i) QCOMPARE(g[i], x[i]);  // outside: untouched
            }
            // Infinities and NaN as the float formula gives them: silu(+inf) = inf,
            // -inf / (1 + inf) and NaN are NaN.
            float special[3] = {std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), std::nanf("")};
            const float ones[3] = {1.0f, 1.0f, 1.0f};
            ql::step::siluTimesUp(special, ones, 0, 3);
            QCOMPARE(special[0], std::numeric_limits<float>::infinity());
            QVERIFY(std::isnan(special[1]));
            QVERIFY(std::isnan(special[2]));
        }
    }

    void rmsNormMatchesDoubleReference() {
        WideGuard guard;
        for (int n : {1, 7, 16, 31, 33, 896, 1000})
            for (bool wide : {true, false}) {
                ql::step::setWideStepKernels(wide);
                const std::vector<float> x = randomValues(size_t(n), 3.0f, unsigned(n));
                const std::vector<float> w = randomValues(size_t(n), 1.0f, unsigned(n) + 1);
                std::vector<float> out(static_cast<size_t>(n));
                std::vector<float> inPlace = x;
                ql::step::rmsNorm(x.data(), w.data(), n, 1e-6, out.data());
                ql::step::rmsNorm(inPlace.data(), w.data(), n, 1e-6, inPlace.data());
                double ss = 0.0;
                for (float v : x) ss += double(v) * double(v);
                const double r = 1.0 / std::sqrt(ss / n + 1e-6);
                for (int i = 0; i < n; ++i) {
                    const double ref = double(w[size_t(i)]) * double(x[size_t(i)]) * r;
                    QVERIFY2(std::abs(out[size_t(i)] - ref) <= 1e-6 * (1.0 + std::abs(ref)),
                             qPrintable(QString("n %1 wide %2 i %3").arg(n).arg(wide).arg(i)));
                    QCOMPARE(inPlace[size_t(i)], out[size_t(i)]);
                }
            }
    }
};

QTEST_GUILESS_MAIN(TestStepKernels)
#include "test_step_kernels.moc"
