// quantlens-cli bench-infer --activations and --head end to end on stories260k (vocab 512,
// hidden 64, head tied to the embedding): the options are accepted, the JSON says the head's
// format per row (the float row stays float32), its byte counts follow from the architecture
// written out here, the head's KL is there for a quantized head only; bad values give one
// clear error line.
#include "cli_runner.h"
#include "testdata.h"

#include <QTest>
#include <nlohmann/json.hpp>

#include <cmath>

namespace {

using nlohmann::json;

constexpr uint64_t kVocab = 512, kHidden = 64;

QString modelDir() {
    return QString::fromStdString(qltest::dataPath("models/stories260k"));
}

// An RTN INT8 per-channel run folder (weights only), made once.
QString int8Run() {
    static QString made;
    if (!made.isEmpty()) return made;
    const QString dir = qltest::tempDir("infer-cli") + "/run";
    const auto r =
        qltest::runCli({"quantize", "--model", modelDir(), "--recipe", "rtn:int8:channel:sym",
                        "--out", dir, "--no-activations", "--no-gradients", "--json"});
    if (r.exitCode != 0) qFatal("quantize failed: %s", r.err.c_str());
    return made = dir;
}

json bench(const QStringList& extra) {
    const auto r =
        qltest::runCli(QStringList{"bench-infer", "--model", modelDir(), "--run", int8Run(),
                                   "--prompt-tokens", "8", "--gen-tokens", "4", "--json"} +
                       extra);
    if (r.exitCode != 0) qFatal("bench-infer failed: %s", r.err.c_str());
    return json::parse(r.out);
}

}  // namespace

class TestInferCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QL_REQUIRE_DATA("models/stories260k"); }

    // The same run with the default head and float activations, and with --head int8
    // --activations int8: the float row is the same float32 model in both; the run's row
    // reads the int8 head (codes + a float32 scale per row) instead of the float32 table, and
    // keeps that table resident (tied: the embedding lookups read it).
    void headAndActivations() {
        const json plain = bench({});
        const json quant = bench({"--head", "int8", "--activations", "int8"});
        QCOMPARE(plain["head"].get<std::string>(), std::string("f32"));
        QCOMPARE(plain["int8_activations"].get<bool>(), false);
        QCOMPARE(quant["head"].get<std::string>(), std::string("int8"));
        QCOMPARE(quant["int8_activations"].get<bool>(), true);
        QCOMPARE(plain["models"].size(), size_t(2));
        QCOMPARE(quant["models"].size(), size_t(2));
        const uint64_t f32Head = kVocab * kHidden * 4, int8Head = kVocab * kHidden + kVocab * 4;
        for (const json* j : {&plain, &quant}) {
            const json& f = (*j)["models"][0];
            QCOMPARE(f["head_format"].get<std::string>(), std::string("f32"));
            QCOMPARE(f["head_bytes_per_token"].get<uint64_t>(), f32Head);
            QCOMPARE(f["head_kl_positions"].get<int>(), 0);
            QCOMPARE(f["weights_as"].get<std::string>(), std::string("f32"));
            QVERIFY(f["head_tied"].get<bool>());
            // A probe before the first model and one after each; the limit is the best.
            QCOMPARE((*j)["read_probes"].get<int>(), 1 + int((*j)["models"].size()));
            const double lowest = (*j)["read_bandwidth_lowest_bytes_per_second"].get<double>();
            QVERIFY(lowest > 0);
            QVERIFY(lowest <= (*j)["read_bandwidth_bytes_per_second"].get<double>());
            for (const json& m : (*j)["models"]) {
                const double limit = (*j)["read_bandwidth_bytes_per_second"].get<double>() /
                                     double(m["weight_bytes_per_token"].get<uint64_t>());
                QVERIFY(std::abs(m["bandwidth_limit_tokens_per_second"].get<double>() - limit) <=
                        1e-9 * limit);
                QVERIFY(m["decode_tokens_per_second"].get<double>() > 0);
                // Beside the steps (one pass: the mean of the reads before and after it over
                // its decode seconds) = the decode's rate x the bytes / the reads' rate.
                const double beside = m["fraction_of_limit_beside_steps"].get<double>();
                const double readRate =
                    m["read_bandwidth_beside_steps_bytes_per_second"].get<double>();
                QVERIFY(beside > 0 && readRate > 0);
                const double expected = m["decode_tokens_per_second"].get<double>() *
                                        double(m["weight_bytes_per_token"].get<uint64_t>()) /
                                        readRate;
                QVERIFY2(std::abs(beside - expected) <= 1e-6 * expected,
                         qPrintable(QString("%1 vs %2").arg(beside).arg(expected)));
            }
        }
        QCOMPARE(quant["models"][0]["weight_bytes_per_token"].get<uint64_t>(),
                 plain["models"][0]["weight_bytes_per_token"].get<uint64_t>());
        const json &p = plain["models"][1], &q = quant["models"][1];
        QCOMPARE(p["head_format"].get<std::string>(), std::string("f32"));
        QCOMPARE(p["head_kl_positions"].get<int>(), 0);
        QCOMPARE(p["weights_as"].get<std::string>(), std::string("packed (int8 channel sym)"));
        QCOMPARE(q["head_format"].get<std::string>(), std::string("int8 channel sym"));
        QCOMPARE(q["weights_as"].get<std::string>(),
                 std::string("packed (int8 channel sym), int8 activations"));
        QVERIFY(q["head_tied"].get<bool>());
        QCOMPARE(q["head_bytes_per_token"].get<uint64_t>(), int8Head);
        // With int8 activations the projections are held (and read) in the interleaved form of
        // packed_kernels_a8.h: rows padded to 16 and columns to 32, a float32 scale per padded
        // row. stories260k (config.json): 5 blocks, hidden 64, MLP 172, 8 heads / 4 KV heads
        // of 8: gate and up are 172 x 64, down 64 x 172, the attention projections aligned.
        const auto padded = [](uint64_t rows, uint64_t cols) {
            const uint64_t r = (rows + 15) / 16 * 16, c = (cols + 31) / 32 * 32;
            return (r * c + r * 4) - (rows * cols + rows * 4);
        };
        const uint64_t a8Padding = 5 * (2 * padded(172, 64) + padded(64, 172));
        QCOMPARE(q["weight_bytes_per_token"].get<uint64_t>(),
                 p["weight_bytes_per_token"].get<uint64_t>() - f32Head + int8Head + a8Padding);
        QCOMPARE(q["weight_bytes"].get<uint64_t>(),
                 p["weight_bytes"].get<uint64_t>() + int8Head + a8Padding);
        QCOMPARE(q["head_kl_positions"].get<int>(), 8);
        const double mean = q["head_kl_mean"].get<double>(), max = q["head_kl_max"].get<double>();
        QVERIFY2(mean > 0.0 && mean <= max && max < 0.1,
                 qPrintable(QString("KL mean %1 max %2").arg(mean).arg(max)));
    }

    // The table names the head per row and its KL.
    void table() {
        const auto r =
            qltest::runCli({"bench-infer", "--model", modelDir(), "--run", int8Run(),
                            "--prompt-tokens", "8", "--gen-tokens", "4", "--head", "int8"});
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        QVERIFY2(r.qout().contains("head KL"), r.out.c_str());
        QVERIFY2(r.qout().contains("int8 channel sym  "), r.out.c_str());
        QVERIFY2(r.qout().contains("KL(run + f32 head || run + quantized head)"), r.out.c_str());
    }

    void badValues_data() {
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<QString>("message");
        QTest::newRow("head int3")
            << QStringList{"--head", "int3"} << "--head must be f32, int8 or int4, not 'int3'";
        QTest::newRow("head empty") << QStringList{"--head", ""} << "--head must be";
        QTest::newRow("activations fp16") << QStringList{"--activations", "fp16"}
                                          << "--activations must be float or int8, not 'fp16'";
        QTest::newRow("head int8 simulated")
            << QStringList{"--head", "int8", "--simulated"} << "needs the packed kernels";
        QTest::newRow("activations int8 simulated")
            << QStringList{"--activations", "int8", "--simulated"} << "needs the packed kernels";
        QTest::newRow("head int4 on hidden 64")
            << QStringList{"--head", "int4"} << "hidden size that 128 divides";
    }
    void badValues() {
        QFETCH(QStringList, extra);
        QFETCH(QString, message);
        const auto r =
            qltest::runCli(QStringList{"bench-infer", "--model", modelDir(), "--run", int8Run(),
                                       "--prompt-tokens", "8", "--gen-tokens", "4"} +
                           extra);
        QCOMPARE(r.exitCode, 1);
        QVERIFY(!r.crashed);
        QVERIFY2(r.qerr().contains(message), r.err.c_str());
        QCOMPARE(r.qerr().trimmed().count('\n'), 0);  // one line
        QVERIFY2(r.out.empty(), r.out.c_str());       // refused before measuring
    }
};

QTEST_GUILESS_MAIN(TestInferCli)
#include "test_infer_cli.moc"
