// llama.cpp formats as recipes (quant/ggml_recipe.cpp): grammar, packed bytes at the real block
// sizes, the row-length fallbacks against llama-quantize's choices in the stories260k reference
// file, and runs end to end: a weights-only run whose every layer's weight SQNR equals that of
// llama-quantize's own bytes (llama-256, rows permuted by the converter for q/k), save / load /
// re-binning, and a perplexity run.
#include "base/error.h"
#include "cli_runner.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "quant/ggml_quants.h"
#include "quant/method_registry.h"
#include "quant/quantize.h"
#include "quant/recipe.h"
#include "run/run.h"
#include "testdata.h"

#include <cmath>
#include <map>

using namespace ql;

namespace {

const char* kRef = "reference/gguf";
const char* kSmall = "models/stories260k";

RunConfig config(const std::string& model, const std::string& recipe, bool texts) {
    RunConfig c;
    c.modelDir = model;
    c.recipe = recipe;
    c.captureActivations = false;
    c.captureGradients = false;
    c.threads = 1;
    if (texts) {
        c.calibrationText = qltest::dataPath("data/stories/calib.txt");
        c.evaluationText = qltest::dataPath("data/stories/stories.txt");
        c.evalSeq = 256;
    }
    return c;
}

// "model.layers.1.self_attn.q_proj" -> "blk.1.attn_q.weight"
std::string ggufName(const std::string& layer) {
    static const std::map<std::string, std::string> proj = {
        {"self_attn.q_proj", "attn_q"}, {"self_attn.k_proj", "attn_k"},
        {"self_attn.v_proj", "attn_v"}, {"self_attn.o_proj", "attn_output"},
        {"mlp.gate_proj", "ffn_gate"},  {"mlp.up_proj", "ffn_up"},
        {"mlp.down_proj", "ffn_down"}};
    const std::string prefix = "model.layers.";
    const size_t dot = layer.find('.', prefix.size());
    return "blk." + layer.substr(prefix.size(), dot - prefix.size()) + "." +
           proj.at(layer.substr(dot + 1)) + ".weight";
}

}  // namespace

class TestGgmlRecipes : public QObject {
    Q_OBJECT

private slots:
    void grammar_data();
    void grammar();
    void bytes_data();
    void bytes();
    void fallbackMatchesLlamaQuantize();
    void weightsOnlyRunMatchesReference_data();
    void weightsOnlyRunMatchesReference();
    void fallbackRunSaveLoadRebin();
    void perplexityRun();
    void cliRun();
};

void TestGgmlRecipes::grammar_data() {
    QTest::addColumn<QString>("spec");
    QTest::addColumn<QString>("label");
    QTest::addColumn<int>("bits");
    QTest::addColumn<int>("block");
    QTest::newRow("q8_0") << "q8_0"
                          << "Q8_0" << 8 << 32;
    QTest::newRow("q4_0") << "Q4_0"
                          << "Q4_0" << 4 << 32;
    QTest::newRow("q4_1") << "q4_1"
                          << "Q4_1" << 4 << 32;
    QTest::newRow("q5_0") << "q5_0"
                          << "Q5_0" << 5 << 32;
    QTest::newRow("q5_1") << "q5_1"
                          << "Q5_1" << 5 << 32;
    QTest::newRow("q2_k") << "q2_k"
                          << "Q2_K" << 2 << 256;
    QTest::newRow("q3_k") << "Q3_K"
                          << "Q3_K" << 3 << 256;
    QTest::newRow("q4_k") << "q4_k"
                          << "Q4_K" << 4 << 256;
    QTest::newRow("q5_k") << "q5_k"
                          << "Q5_K" << 5 << 256;
    QTest::newRow("q6_k") << "q6_k"
                          << "Q6_K" << 6 << 256;
}

void TestGgmlRecipes::grammar() {
    QFETCH(QString, spec);
    QFETCH(QString, label);
    QFETCH(int, bits);
    QFETCH(int, block);
    const Recipe r = Recipe::parse(spec.toStdString());
    QCOMPARE(QString::fromStdString(r.toString()), spec.toLower());
    QCOMPARE(QString::fromStdString(methodSpec(r.method).label(r)), label);
    QCOMPARE(r.bits, bits);
    QCOMPARE(r.blockSize, block);
    QCOMPARE(methodSpec(r.method).afterSource, AfterSource::Codebook);
    QVERIFY(!methodSpec(r.method).needsCalibration);
    try {
        Recipe::parse(spec.toStdString() + ":int4");
        QFAIL("a further part was accepted");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("takes no further parts"), e.what());
    }
}

void TestGgmlRecipes::bytes_data() {
    QTest::addColumn<QString>("spec");
    QTest::addColumn<int>("rows");
    QTest::addColumn<int>("cols");
    QTest::addColumn<qulonglong>("bytes");
    // whole blocks: bytes per block x blocks (Q4_0 = 18 / 32, Q4_K = 144 / 256, ...)
    QTest::newRow("q8_0") << "q8_0" << 64 << 256 << qulonglong(64 * 8 * 34);
    QTest::newRow("q4_0") << "q4_0" << 64 << 256 << qulonglong(64 * 8 * 18);
    QTest::newRow("q4_1") << "q4_1" << 64 << 256 << qulonglong(64 * 8 * 20);
    QTest::newRow("q5_0") << "q5_0" << 64 << 256 << qulonglong(64 * 8 * 22);
    QTest::newRow("q5_1") << "q5_1" << 64 << 256 << qulonglong(64 * 8 * 24);
    QTest::newRow("q2_k") << "q2_k" << 10 << 512 << qulonglong(10 * 2 * 84);
    QTest::newRow("q3_k") << "q3_k" << 10 << 512 << qulonglong(10 * 2 * 110);
    QTest::newRow("q4_k") << "q4_k" << 10 << 512 << qulonglong(10 * 2 * 144);
    QTest::newRow("q5_k") << "q5_k" << 10 << 512 << qulonglong(10 * 2 * 176);
    QTest::newRow("q6_k") << "q6_k" << 10 << 512 << qulonglong(10 * 2 * 210);
    // fallbacks: rows of 64 (Q5_0, Q5_1, Q8_0, Q4_0 blocks), rows of 172 (F16)
    QTest::newRow("q4_k 64") << "q4_k" << 32 << 64 << qulonglong(32 * 2 * 22);
    QTest::newRow("q5_k 64") << "q5_k" << 32 << 64 << qulonglong(32 * 2 * 24);
    QTest::newRow("q6_k 64") << "q6_k" << 32 << 64 << qulonglong(32 * 2 * 34);
    QTest::newRow("q2_k 64") << "q2_k" << 32 << 64 << qulonglong(32 * 2 * 18);
    QTest::newRow("q4_k 172") << "q4_k" << 64 << 172 << qulonglong(64 * 172 * 2);
    QTest::newRow("q8_0 172") << "q8_0" << 64 << 172 << qulonglong(64 * 172 * 2);
}

void TestGgmlRecipes::bytes() {
    QFETCH(QString, spec);
    QFETCH(int, rows);
    QFETCH(int, cols);
    QFETCH(qulonglong, bytes);
    const Recipe r = Recipe::parse(spec.toStdString());
    QCOMPARE(qulonglong(methodSpec(r.method).bytesFor(r, rows, cols)), bytes);
}

// stories260k.Q6_K.gguf is llama-quantize's Q6_K of a model whose rows are 64 and 172 wide:
// every 2-D tensor's type there is the type q6_k falls back to for its row length.
void TestGgmlRecipes::fallbackMatchesLlamaQuantize() {
    QL_REQUIRE_DATA(QString(kRef) + "/stories260k.Q6_K.gguf");
    GgufFile g(qltest::dataPath(QString(kRef) + "/stories260k.Q6_K.gguf"));
    const Recipe q6 = Recipe::parse("q6_k");
    int checked = 0;
    for (const GgufTensor& t : g.tensors()) {
        if (t.ne.size() != 2) continue;
        const ShapedRecipe s = recipeForRowLength(q6, t.rowLength());
        const std::string expected = t.type == GgmlType::F16 ? "fp16" : "q8_0";
        QCOMPARE(s.recipe.toString(), expected);
        QVERIFY(!s.fallbackReason.empty());
        ++checked;
    }
    QCOMPARE(checked, 36);
    // and the k-quant row lengths that need none
    QVERIFY(recipeForRowLength(Recipe::parse("q4_k"), 768).fallbackReason.empty());
    QCOMPARE(recipeForRowLength(Recipe::parse("q4_k"), 64).recipe.toString(), std::string("q5_0"));
    QCOMPARE(recipeForRowLength(Recipe::parse("q5_k"), 96).recipe.toString(), std::string("q5_1"));
    QCOMPARE(recipeForRowLength(Recipe::parse("q3_k"), 96).recipe.toString(), std::string("q4_0"));
    QCOMPARE(recipeForRowLength(Recipe::parse("q5_0"), 48).recipe.toString(), std::string("fp16"));
}

void TestGgmlRecipes::weightsOnlyRunMatchesReference_data() {
    QTest::addColumn<QString>("recipe");
    QTest::addColumn<QString>("file");
    QTest::newRow("q8_0") << "q8_0"
                          << "llama-256.Q8_0.gguf";
    QTest::newRow("q4_1") << "q4_1"
                          << "llama-256.Q4_1.gguf";
    QTest::newRow("q2_k") << "q2_k"
                          << "llama-256.Q2_K.pure.gguf";
    QTest::newRow("q4_k") << "q4_k"
                          << "llama-256.Q4_K.pure.gguf";
    QTest::newRow("q6_k") << "q6_k"
                          << "llama-256.Q6_K.pure.gguf";
}

// A weights-only run of the llama-256 Hugging Face folder: every layer's packed bytes are the
// reference tensor's size and its weight SQNR is that of llama-quantize's bytes dequantized
// (the converter's q/k row permutation does not change an SQNR; 1e-9 dB covers the order of
// the sums).
void TestGgmlRecipes::weightsOnlyRunMatchesReference() {
    QFETCH(QString, recipe);
    QFETCH(QString, file);
    QL_REQUIRE_DATA(QString(kRef) + "/" + file);
    const RunResult run = runQuantization(
        config(qltest::dataPath(QString(kRef) + "/llama-256"), recipe.toStdString(), false));
    GgufFile ref(qltest::dataPath(QString(kRef) + "/" + file));
    GgufFile f32(qltest::dataPath(QString(kRef) + "/llama-256.F32.gguf"));
    QCOMPARE(run.layers.size(), size_t(14));
    for (const LayerResult& l : run.layers) {
        const GgufTensor* t = ref.findTensor(ggufName(l.name));
        QVERIFY2(t, l.name.c_str());
        QCOMPARE(QString::fromStdString(l.method), recipe);
        QVERIFY(!l.fallback);
        QCOMPARE(l.weightAfterSource, std::string("codebook"));
        QCOMPARE(l.bytesQ, t->bytes);
        const std::vector<float> w = f32.readFloat(*f32.findTensor(t->name));
        const std::vector<float> d = ggmlDequantize(t->type, ref.data(*t), t->numel());
        const double sqnr = errorMetrics(w.data(), d.data(), w.size()).sqnrDb;
        QVERIFY2(
            std::fabs(l.weightSqnrDb - sqnr) < 1e-9,
            qPrintable(QString("%1: %2 vs %3").arg(l.name.c_str()).arg(l.weightSqnrDb).arg(sqnr)));
    }
}

// stories260k (rows of 64 and 172): q4_k falls back to Q5_0 and F16 per layer as llama-quantize
// does; the run records it, saves, loads and re-bins from the recipe of each layer.
void TestGgmlRecipes::fallbackRunSaveLoadRebin() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult run = runQuantization(config(qltest::dataPath(kSmall), "q4_k", false));
    const auto store = TensorStore::open(run.config.modelDir);
    QCOMPARE(run.layers.size(), size_t(35));
    for (const LayerResult& l : run.layers) {
        QVERIFY(l.fallback);
        const bool wide = l.cols == 172;
        QCOMPARE(l.method, std::string(wide ? "fp16" : "q5_0"));
        QCOMPARE(l.weightAfterSource, std::string(wide ? "cast" : "codebook"));
        QCOMPARE(l.bytesQ, uint64_t(wide ? l.rows * l.cols * 2 : l.rows * (l.cols / 32) * 22));
        QVERIFY2(QString::fromStdString(l.fallbackReason)
                     .contains(wide ? "rows of 172 values are not a multiple of Q4_K's block of "
                                      "256: F16"
                                    : "rows of 64 values are not a multiple of Q4_K's block of "
                                      "256: Q5_0"),
                 l.fallbackReason.c_str());
        if (!wide) {
            const std::vector<float> w = store->readFloat(l.name + ".weight");
            const auto q = ggmlQuantize(GgmlType::Q5_0, w.data(), l.rows, l.cols);
            const auto d = ggmlDequantize(GgmlType::Q5_0, q.data(), l.rows * l.cols);
            QCOMPARE(l.weightSqnrDb, errorMetrics(w.data(), d.data(), w.size()).sqnrDb);
        }
    }
    QCOMPARE(runDisplayLabel(run), std::string("Q4_K (35 of 35 layers fell back)"));
    const QString dir = qltest::tempDir("ggml-run") + "/run";
    saveRun(run, dir.toStdString());
    const RunResult loaded = loadRun(dir.toStdString());
    QCOMPARE(loaded.config.recipe, std::string("q4_k"));
    for (const LayerResult& l : loaded.layers) {
        const Histogram again = rebinWeights(loaded, l.name, "after", l.weightAfter.lo,
                                             l.weightAfter.hi, l.weightAfter.bins());
        QVERIFY2(again.counts == l.weightAfter.counts, l.name.c_str());
    }
}

// With texts: Q8_0 costs almost nothing in perplexity, Q2_K much more (stories260k's 64-wide
// rows make q2_k fall back to Q4_0 and the 172-wide ones to F16, so the gap is moderate).
void TestGgmlRecipes::perplexityRun() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("data/stories/stories.txt");
    std::map<std::string, double> ppl;
    double fp = 0;
    for (const char* recipe : {"q8_0", "q4_k", "q2_k"}) {
        const RunResult r = runQuantization(config(qltest::dataPath(kSmall), recipe, true));
        QVERIFY(r.perplexity.valid);
        ppl[recipe] = r.perplexity.pplQ;
        fp = r.perplexity.pplFp;
        qInfo("stories260k %s: ppl %.4f (float %.4f)", recipe, r.perplexity.pplQ, fp);
    }
    QVERIFY(std::fabs(ppl["q8_0"] / fp - 1) < 0.01);
    QVERIFY(ppl["q8_0"] < ppl["q4_k"]);
    QVERIFY(ppl["q4_k"] < ppl["q2_k"]);
}

// quantlens-cli takes the recipes: a weights-only q5_k run of stories260k writes a run whose
// layers fell back to Q5_1 (rows of 64) and F16 (rows of 172), and help lists the formats.
void TestGgmlRecipes::cliRun() {
    QL_REQUIRE_DATA(kSmall);
    const QString out = qltest::tempDir("ggml-cli") + "/run";
    const auto r =
        qltest::runCli({"quantize", "--model", QString::fromStdString(qltest::dataPath(kSmall)),
                        "--recipe", "q5_k", "--out", out});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const RunResult run = loadRun(out.toStdString());
    QCOMPARE(run.config.recipe, std::string("q5_k"));
    std::map<std::string, int> methods;
    for (const LayerResult& l : run.layers) ++methods[l.method];
    QCOMPARE(methods["q5_1"], 30);
    QCOMPARE(methods["fp16"], 5);
    const auto help = qltest::runCli({"quantize", "--help"});
    QVERIFY(help.qout().contains("q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k"));
    const auto bad =
        qltest::runCli({"quantize", "--model", QString::fromStdString(qltest::dataPath(kSmall)),
                        "--recipe", "q4_k:g32", "--out", out + "2"});
    QVERIFY(bad.exitCode != 0);
    QVERIFY2(bad.qerr().contains("takes no further parts"), bad.err.c_str());
}

QTEST_GUILESS_MAIN(TestGgmlRecipes)
#include "test_ggml_recipes.moc"
