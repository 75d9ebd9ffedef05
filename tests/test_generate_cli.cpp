// quantlens-cli generate end to end on stories260k: float and two runs' texts, the
// teacher-forced numbers checked against an independent computation (RTN INT8 written out
// here, KL in double from Model::lastLogits), and refusals of bad input. Also the engine's
// token stream and runs given in memory (the workbench's Generate tab).
#include "base/error.h"
#include "cli_runner.h"
#include "kl_reference.h"
#include "model/model.h"
#include "run/generation_compare.h"
#include "run/run.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"

#include <QRegularExpression>
#include <QTest>
#include <nlohmann/json.hpp>

#include <cmath>

namespace {

using nlohmann::json;

QString modelDir() {
    return QString::fromStdString(qltest::dataPath("models/stories260k"));
}

// A run folder of `recipe` (weights only), made once per recipe.
QString runOf(const QString& recipe) {
    static std::map<QString, QString> made;
    if (made.count(recipe)) return made[recipe];
    const QString dir =
        qltest::tempDir("generate-cli-" + QString(recipe).replace(':', '-')) + "/run";
    const auto r = qltest::runCli({"quantize", "--model", modelDir(), "--recipe", recipe, "--out",
                                   dir, "--no-activations", "--no-gradients", "--json"});
    if (r.exitCode != 0) throw ql::Error("quantize failed: " + r.err);
    return made[recipe] = dir;
}

// RTN INT8 per-channel symmetric, as ../shared/README.md defines it.
std::vector<float> rtnInt8(const std::vector<float>& w, int64_t cols) {
    std::vector<float> out(w.size());
    for (size_t r = 0; r < w.size() / size_t(cols); ++r) {
        float absmax = 0;
        for (int64_t c = 0; c < cols; ++c) absmax = std::max(absmax, std::abs(w[r * cols + c]));
        const float scale = absmax / 127.0f;
        for (int64_t c = 0; c < cols; ++c) {
            const float q =
                scale > 0 ? std::clamp(std::round(w[r * cols + c] / scale), -128.0f, 127.0f) : 0;
            out[r * cols + c] = q * scale;
        }
    }
    return out;
}

double klOf(const std::vector<float>& p, const std::vector<float>& q) {
    return qltest::klOfLogits(p.data(), q.data(), int64_t(p.size()));
}

}  // namespace

class TestGenerateCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        if (!qltest::hasData("models/stories260k")) QSKIP("shared model stories260k is missing");
    }

    void floatAndRunsSideBySide() {
        const QString int8 = runOf("rtn:int8:channel:sym");
        const QString int3 = runOf("rtn:int3:channel:sym");
        const auto r =
            qltest::runCli({"generate", "--model", modelDir(), "--run", int8, "--run", int3,
                            "--prompt", "Once upon a time", "--max-new-tokens", "24", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        const json j = json::parse(r.out);
        const json& outs = j["outputs"];
        QCOMPARE(outs.size(), size_t(3));
        const std::vector<int32_t> floatTokens = outs[0]["tokens"].get<std::vector<int32_t>>();
        QVERIFY(!floatTokens.empty() && floatTokens.size() <= 24);
        QVERIFY(!outs[0]["text"].get<std::string>().empty());
        for (size_t k = 1; k < 3; ++k) {
            const json& o = outs[k];
            QCOMPARE(o["per_token"].size(), floatTokens.size());
            const auto runTokens = o["tokens"].get<std::vector<int32_t>>();
            int expected = -1;
            for (size_t i = 0; i < std::min(runTokens.size(), floatTokens.size()); ++i)
                if (runTokens[i] != floatTokens[i]) {
                    expected = int(i);
                    break;
                }
            if (expected < 0 && runTokens.size() != floatTokens.size())
                expected = int(std::min(runTokens.size(), floatTokens.size()));
            QCOMPARE(o["first_divergence"].is_null() ? -1 : o["first_divergence"].get<int>(),
                     expected);
            for (const json& t : o["per_token"]) {
                QVERIFY(t["kl"].get<double>() >= 0);
                const double p = t["p_float_of_run_token"].get<double>();
                QVERIFY(p >= 0 && p <= 1);
                if (t["run_token"] == t["float_token"])
                    QCOMPARE(p, t["p_float_of_float_token"].get<double>());
            }
        }
        // INT3 per-channel moves the distributions much more than INT8.
        QVERIFY(outs[2]["mean_kl"].get<double>() > 5 * outs[1]["mean_kl"].get<double>());

        // Independent: the INT8 weights written out here, KL(float || int8) in double at
        // three positions of the float text. Tolerance 1e-4 relative + 1e-7 absolute.
        const auto model = ql::Model::load(modelDir().toStdString());
        std::vector<int32_t> ids = j["prompt_tokens"].get<std::vector<int32_t>>();
        const size_t promptSize = ids.size();
        ids.insert(ids.end(), floatTokens.begin(), floatTokens.end());
        std::vector<std::vector<float>> floatRows;
        const std::vector<size_t> positions = {0, floatTokens.size() / 2, floatTokens.size() - 1};
        for (size_t i : positions)
            floatRows.push_back(
                model->lastLogits({ids.begin(), ids.begin() + std::ptrdiff_t(promptSize + i)}));
        for (const ql::LinearLayerInfo& l : model->linears())
            model->setLinearWeight(l.name, rtnInt8(model->linearWeight(l.name), l.inFeatures));
        for (size_t n = 0; n < positions.size(); ++n) {
            const size_t i = positions[n];
            const double kl = klOf(
                floatRows[n],
                model->lastLogits({ids.begin(), ids.begin() + std::ptrdiff_t(promptSize + i)}));
            const double got = outs[1]["per_token"][i]["kl"].get<double>();
            QVERIFY2(std::abs(got - kl) <= 1e-4 * kl + 1e-7,
                     qPrintable(QString("position %1: %2 vs %3").arg(i).arg(got).arg(kl)));
        }
        // The text form prints the same, with the divergence line and the table.
        const auto text =
            qltest::runCli({"generate", "--model", modelDir(), "--run", int3, "--prompt",
                            "Once upon a time", "--max-new-tokens", "24"});
        QVERIFY2(text.exitCode == 0, text.err.c_str());
        QVERIFY(text.qout().contains("KL(f||run)"));
        QVERIFY(text.qout().contains(QString::fromStdString(outs[0]["name"].get<std::string>())));
    }

    // --packed: each run decodes on the packed INT8/INT4 kernels. The tokens and the
    // teacher-forced numbers are the simulated run's (the kernels equal the dequantized layer
    // up to float summation order: KL within 1e-4 relative + 1e-6 absolute), and each run says
    // what it computed with; the text form prints the runs' own seconds.
    void packedKernelsGiveTheSimulatedText() {
        const QStringList runs = {"--run", runOf("rtn:int8:channel:sym"), "--run",
                                  runOf("rtn:int4:g32:asym")};
        const QStringList common =
            QStringList{"generate", "--model", modelDir()} + runs +
            QStringList{"--prompt", "Once upon a time", "--max-new-tokens", "20", "--json"};
        const auto simulated = qltest::runCli(common);
        const auto packed = qltest::runCli(common + QStringList{"--packed"});
        QVERIFY2(simulated.exitCode == 0, simulated.err.c_str());
        QVERIFY2(packed.exitCode == 0, packed.err.c_str());
        const json s = json::parse(simulated.out)["outputs"],
                   p = json::parse(packed.out)["outputs"];
        QCOMPARE(p.size(), size_t(3));
        QVERIFY(p[0]["tokens"] == s[0]["tokens"]);  // the float model is the same either way
        // stories260k's 32-wide heads fall back to per-channel under g32: "packed 30 (int4
        // g32 asym) + f32 5" (those five compute with their dequantized weights).
        const std::vector<std::string> formats = {"(int8 channel sym)", "(int4 g32 asym)"};
        for (size_t k = 1; k < 3; ++k) {
            QCOMPARE(s[k]["weights"].get<std::string>(),
                     std::string("dequantized float32 (simulated)"));
            const std::string weights = p[k]["weights"].get<std::string>();
            QVERIFY2(weights.rfind("packed", 0) == 0 &&
                         weights.find(formats[k - 1]) != std::string::npos,
                     weights.c_str());
            QVERIFY(p[k]["tokens"] == s[k]["tokens"]);
            QCOMPARE(p[k]["per_token"].size(), s[k]["per_token"].size());
            for (size_t i = 0; i < p[k]["per_token"].size(); ++i) {
                const double a = p[k]["per_token"][i]["kl"].get<double>();
                const double b = s[k]["per_token"][i]["kl"].get<double>();
                QVERIFY2(std::abs(a - b) <= 1e-4 * b + 1e-6,
                         qPrintable(
                             QString("run %1 position %2: %3 vs %4").arg(k).arg(i).arg(a).arg(b)));
            }
        }
        const auto text = qltest::runCli(
            QStringList{"generate", "--model", modelDir()} + runs +
            QStringList{"--prompt", "Once upon a time", "--max-new-tokens", "8", "--packed"});
        QVERIFY2(text.exitCode == 0, text.err.c_str());
        QVERIFY(
            text.qout().contains(QRegularExpression("weights packed [0-9 ]*\\(int4 g32 asym\\)")));
    }

    // --packed --activations int8 --head int8: the configuration bench-infer measures fastest.
    // The float output is untouched; the run says what it computed with; its teacher-forced
    // KL includes the int8 activations (one-token decode steps, not the float-activation
    // prefill: with the one pass it was the float-activation run's to the last digit) and
    // the int8 head. Each option alone without --packed is refused, naming it.
    void packedInt8ActivationsAndHead() {
        const QStringList common = {"generate",
                                    "--model",
                                    modelDir(),
                                    "--run",
                                    runOf("rtn:int8:channel:sym"),
                                    "--prompt",
                                    "Once upon a time",
                                    "--max-new-tokens",
                                    "16",
                                    "--packed",
                                    "--json"};
        const auto plain = qltest::runCli(common);
        const auto act = qltest::runCli(common + QStringList{"--activations", "int8"});
        const auto both =
            qltest::runCli(common + QStringList{"--activations", "int8", "--head", "int8"});
        for (const auto* r : {&plain, &act, &both}) QVERIFY2(r->exitCode == 0, r->err.c_str());
        const json p = json::parse(plain.out)["outputs"], a = json::parse(act.out)["outputs"],
                   b = json::parse(both.out)["outputs"];
        QVERIFY(a[0]["tokens"] == p[0]["tokens"]);
        QVERIFY(b[0]["tokens"] == p[0]["tokens"]);
        QCOMPARE(a[1]["weights"].get<std::string>(),
                 std::string("packed (int8 channel sym), int8 activations"));
        QCOMPARE(b[1]["weights"].get<std::string>(),
                 std::string("packed (int8 channel sym), int8 activations, int8 channel sym head"));
        const double klPlain = p[1]["mean_kl"].get<double>(), klAct = a[1]["mean_kl"].get<double>(),
                     klBoth = b[1]["mean_kl"].get<double>();
        qInfo("mean KL: packed %.3g, int8 activations %.3g, and int8 head %.3g", klPlain, klAct,
              klBoth);
        QVERIFY(klPlain > 0);
        QVERIFY2(std::abs(klAct - klPlain) > 1e-3 * klPlain,
                 "int8 activations left the KL as it was");
        QVERIFY2(std::abs(klBoth - klAct) > 1e-3 * klAct, "the int8 head left the KL as it was");
        // Quantizing activations and the head adds error of its own: within an order of
        // magnitude of the weights' (stories260k: 6.9e-5, 1.6e-4, 2.3e-4).
        QVERIFY(klAct < 10 * klPlain && klBoth < 10 * klPlain);
        for (const QStringList& extra :
             {QStringList{"--activations", "int8"}, QStringList{"--head", "int8"}}) {
            const auto r =
                qltest::runCli(QStringList{"generate", "--model", modelDir(), "--run",
                                           runOf("rtn:int8:channel:sym"), "--prompt", "Hi"} +
                               extra);
            QVERIFY(r.exitCode != 0);
            QVERIFY2(QString::fromStdString(r.err).contains(extra[0] + " " + extra[1] +
                                                            " needs --packed"),
                     r.err.c_str());
        }
    }

    // Regression: a model whose embedding has more rows than its tokenizer has tokens (a
    // synthetic model: 512 rows, 331 tokens; Qwen2.5 pads its vocabulary too) failed the
    // whole generation with "token id N is outside the vocabulary" when it sampled such an
    // id. Now the id reads "<id N>" in the pieces and the text.
    void idsWithoutTextAreShown() {
        const QString model = qltest::tempDir("generate-cli-padded-vocab") + "/model";
        const auto synth = qltest::runCli({"synth", "--preset", "qwen2-tiny", "--out", model});
        QVERIFY2(synth.exitCode == 0, synth.err.c_str());
        const auto r =
            qltest::runCli({"generate", "--model", model, "--prompt", "Hello", "--max-new-tokens",
                            "48", "--temperature", "1", "--seed", "1", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        const int known = ql::Tokenizer::load(model.toStdString())->vocabSize();
        const json all = json::parse(r.out);
        const json& out = all["outputs"][0];
        const auto tokens = out["tokens"].get<std::vector<int32_t>>();
        const auto pieces = out["pieces"].get<std::vector<std::string>>();
        QCOMPARE(pieces.size(), tokens.size());
        int unknown = 0;
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (tokens[i] < known) continue;
            ++unknown;
            const std::string mark = "<id " + std::to_string(tokens[i]) + ">";
            QCOMPARE(pieces[i], mark);
            QVERIFY(out["text"].get<std::string>().find(mark) != std::string::npos);
        }
        QVERIFY2(unknown > 0, "the seeded text samples an id past the tokenizer's vocabulary");
    }

    // The engine's stream (what the Generate tab shows while decoding): every token in
    // order, each with its share of the text, the shares adding up to the decoded text (the
    // spaces SentencePiece drops from a token decoded alone kept); runs in memory give what
    // the same runs read from their folders give; a run of another model fails before any
    // token is generated.
    void streamSharesAndRunsInMemory() {
        ql::GenerationRequest r;
        r.modelDir = modelDir().toStdString();
        r.prompt = "Once upon a time";
        r.options.maxNewTokens = 30;
        r.runFolders = {runOf("rtn:int4:g32:asym").toStdString()};
        std::vector<std::vector<std::string>> streamed(2);
        const auto stream = [&](int output, int index, int32_t, const std::string& piece) {
            QVERIFY(output >= 0 && output < 2);
            QCOMPARE(index, int(streamed[size_t(output)].size()));
            streamed[size_t(output)].push_back(piece);
        };
        const ql::GenerationComparison fromFolder = ql::compareGeneration(r, stream);
        bool spaced = false;
        for (int o = 0; o < 2; ++o) {
            const ql::GeneratedText& out = fromFolder.outputs[size_t(o)];
            QCOMPARE(streamed[size_t(o)], out.textPieces);
            QCOMPARE(out.textPieces.size(), out.tokens.size());
            std::string joined;
            for (size_t i = 0; i + (out.stopped ? 1 : 0) < out.textPieces.size(); ++i)
                joined += out.textPieces[i];
            QCOMPARE(joined, out.text);
            for (size_t i = 1; i < out.pieces.size(); ++i)
                spaced |= out.textPieces[i] == " " + out.pieces[i];
        }
        QVERIFY2(spaced, "some token's share has the leading space its piece alone lacks");
        ql::GenerationRequest inMemory = r;
        inMemory.runFolders.clear();
        inMemory.runs = {std::make_shared<const ql::RunResult>(ql::loadRun(r.runFolders[0]))};
        const ql::GenerationComparison fromMemory = ql::compareGeneration(inMemory);
        QCOMPARE(fromMemory.outputs.size(), size_t(2));
        QCOMPARE(fromMemory.outputs[1].tokens, fromFolder.outputs[1].tokens);
        QCOMPARE(fromMemory.outputs[1].meanKl, fromFolder.outputs[1].meanKl);
        QCOMPARE(fromMemory.outputs[1].runFolder, r.runFolders[0]);  // the run knows its folder

        if (!qltest::hasData("models/tinystories-656k"))
            QSKIP("shared model tinystories-656k is missing (the run of another model)");
        ql::GenerationRequest bad = r;
        ql::RunConfig other;
        other.recipe = "rtn:int8:channel:sym";
        other.modelDir = qltest::dataPath("models/tinystories-656k");
        other.captureActivations = other.captureGradients = false;
        bad.runs = {std::make_shared<const ql::RunResult>(ql::runQuantization(other))};
        int tokens = 0;
        try {
            ql::compareGeneration(bad, [&](int, int, int32_t, const std::string&) { ++tokens; });
            QFAIL("a run of another model was accepted");
        } catch (const ql::Error& e) {
            QVERIFY2(std::string(e.what()).find("another model") != std::string::npos, e.what());
        }
        QCOMPARE(tokens, 0);
    }

    void seededSamplingIsReproducible() {
        const QStringList args = {"generate", "--model",          modelDir(), "--prompt",
                                  "Lily",     "--max-new-tokens", "16",       "--temperature",
                                  "0.9",      "--top-k",          "40",       "--top-p",
                                  "0.95",     "--seed",           "7",        "--json"};
        const auto a = qltest::runCli(args), b = qltest::runCli(args);
        QVERIFY2(a.exitCode == 0, a.err.c_str());
        const auto tokensOf = [](const std::string& out) {
            return json::parse(out)["outputs"][0]["tokens"].get<std::vector<int32_t>>();
        };
        QCOMPARE(tokensOf(a.out), tokensOf(b.out));
        QVERIFY(!tokensOf(a.out).empty());
    }

    // bench-infer: KV cache and weight bytes per token against the architecture written out
    // (stories260k: 5 blocks, 4 KV heads x head_dim 8, hidden 64, MLP 172, vocab 512, tied).
    // The INT8 run computes from its packed codes: 1 byte per weight + a float32 scale per row
    // (q 64, k 32, v 32, o 64, gate 172, up 172, down 64 rows per block); with --simulated it
    // is read as float32, as the float model.
    void benchInferNumbers() {
        const QString int8 = runOf("rtn:int8:channel:sym");
        const uint64_t perBlock = 64 * 64 + 32 * 64 + 32 * 64 + 64 * 64 + 3 * 172 * 64;
        const uint64_t perToken = 4 * (5 * perBlock + 512 * 64 + 64 * (2 * 5 + 2));
        const uint64_t packedPerToken = perToken - 4 * 5 * perBlock + 5 * perBlock + 4 * 5 * 600;
        for (const bool simulated : {false, true}) {
            QStringList args = {"bench-infer",     "--model", modelDir(),     "--run", int8,
                                "--prompt-tokens", "8",       "--gen-tokens", "4",     "--json"};
            if (simulated) args << "--simulated";
            const auto r = qltest::runCli(args);
            QVERIFY2(r.exitCode == 0, r.err.c_str());
            const json j = json::parse(r.out);
            QCOMPARE(j["models"].size(), size_t(2));
            for (size_t i = 0; i < 2; ++i) {
                const json& m = j["models"][i];
                const uint64_t bytes = i == 1 && !simulated ? packedPerToken : perToken;
                // Held: 5 blocks x (K + V) x 4 kv heads x 256 positions of storage (12 used)
                // x head_dim 8 x 4 bytes (Decoder::cacheBytes).
                QCOMPARE(m["kv_cache_bytes"].get<uint64_t>(), uint64_t(5 * 2 * 4 * 256 * 8 * 4));
                QCOMPARE(m["weight_bytes_per_token"].get<uint64_t>(), bytes);
                QVERIFY(m["decode_tokens_per_second"].get<double>() > 0);
                QVERIFY(m["prefill_tokens_per_second"].get<double>() > 0);
                const double limit =
                    j["read_bandwidth_bytes_per_second"].get<double>() / double(bytes);
                QVERIFY(std::abs(m["bandwidth_limit_tokens_per_second"].get<double>() - limit) <=
                        1e-9 * limit);
            }
            QCOMPARE(j["models"][0]["weights_as"].get<std::string>(), std::string("f32"));
            QCOMPARE(j["models"][1]["weights_as"].get<std::string>(),
                     std::string(simulated ? "simulated-f32" : "packed (int8 channel sym)"));
        }
        const auto bad = qltest::runCli({"bench-infer", "--model", modelDir(), "--prompt-tokens",
                                         "500", "--gen-tokens", "100"});
        QCOMPARE(bad.exitCode, 1);
        QVERIFY2(bad.qerr().contains("max_position_embeddings"), bad.err.c_str());
        // --repeats: the median lies within the passes' range, the KV cache is one pass's.
        const auto rep =
            qltest::runCli({"bench-infer", "--model", modelDir(), "--run", int8, "--prompt-tokens",
                            "8", "--gen-tokens", "4", "--repeats", "3", "--json"});
        QVERIFY2(rep.exitCode == 0, rep.err.c_str());
        const json j = json::parse(rep.out);
        QCOMPARE(j["repeats"].get<int>(), 3);
        for (const json& m : j["models"]) {
            QCOMPARE(m["repeats"].get<int>(), 3);
            QCOMPARE(m["kv_cache_bytes"].get<uint64_t>(), uint64_t(5 * 2 * 4 * 256 * 8 * 4));
            for (const char* what : {"decode", "prefill"}) {
                const std::string key = std::string(what) + "_tokens_per_second";
                const double median = m[key].get<double>();
                const json& range = m[key + "_range"];
                QVERIFY(range[0].get<double>() > 0);
                QVERIFY2(range[0].get<double>() <= median && median <= range[1].get<double>(),
                         m.dump().c_str());
            }
        }
        const auto zero = qltest::runCli({"bench-infer", "--model", modelDir(), "--repeats", "0"});
        QCOMPARE(zero.exitCode, 1);
        QVERIFY2(zero.qerr().contains("--repeats"), zero.err.c_str());
    }

    void badInput_data() {
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<QString>("message");
        QTest::newRow("chat without template")
            << QStringList{"--prompt", "x", "--chat"} << "has no chat_template";
        QTest::newRow("no prompt") << QStringList{} << "--prompt";
        QTest::newRow("temperature 0")
            << QStringList{"--prompt", "x", "--temperature", "0"} << "--temperature";
        QTest::newRow("greedy and top-k")
            << QStringList{"--prompt", "x", "--greedy", "--top-k", "3"} << "--greedy";
        QTest::newRow("max-new-tokens 0")
            << QStringList{"--prompt", "x", "--max-new-tokens", "0"} << "--max-new-tokens";
        QTest::newRow("bad seed") << QStringList{"--prompt", "x", "--seed", "-1"} << "--seed";
        QTest::newRow("not a run")
            << QStringList{"--prompt", "x", "--run", modelDir()} << "stories260k";
    }
    void badInput() {
        QFETCH(QStringList, extra);
        QFETCH(QString, message);
        const auto r = qltest::runCli(QStringList{"generate", "--model", modelDir()} + extra);
        QCOMPARE(r.exitCode, 1);
        QVERIFY(!r.crashed);
        QVERIFY2(r.qerr().contains(message), r.err.c_str());
        QCOMPARE(r.qerr().trimmed().count('\n'), 0);  // one line
    }
};

QTEST_GUILESS_MAIN(TestGenerateCli)
#include "test_generate_cli.moc"
