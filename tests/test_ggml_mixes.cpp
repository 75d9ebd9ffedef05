// llama-quantize's mixes as recipes (q4_k_m, q5_k_m, q3_k_m, q4_k_s, q2_k_mix): a run gives
// every layer the type llama-quantize gave the same tensor in the reference files, with its
// real packed bytes and the weight SQNR of llama-quantize's own bytes; the model-loaded path
// (perplexity) makes the same choices; save / load / re-binning and the label.
#include "base/error.h"
#include "base/gguf_names.h"
#include "io/gguf.h"
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

// A reference tensor's type as a layer's recipe text ("Q6_K" -> "q6_k", "F16" -> "fp16").
std::string recipeOfType(GgmlType t) {
    if (t == GgmlType::F16) return "fp16";
    std::string s = ggmlTypeName(t);
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Every layer of `run` has the reference tensor's type, bytes and (dequantized) weight SQNR.
void checkAgainst(const RunResult& run, const GgufFile& ref, const GgufFile& f32) {
    for (const LayerResult& l : run.layers) {
        const GgufTensor* t = ref.findTensor(*ggufLinearName(l.name));
        QVERIFY2(t, l.name.c_str());
        QCOMPARE(l.method, recipeOfType(t->type));
        QCOMPARE(l.bytesQ, t->bytes);
        const std::vector<float> w = f32.readFloat(*f32.findTensor(t->name));
        const std::vector<float> d = ggmlDequantize(t->type, ref.data(*t), t->numel());
        const double sqnr = errorMetrics(w.data(), d.data(), w.size()).sqnrDb;
        QVERIFY2(
            std::fabs(l.weightSqnrDb - sqnr) < 1e-9,
            qPrintable(QString("%1: %2 vs %3").arg(l.name.c_str()).arg(l.weightSqnrDb).arg(sqnr)));
    }
}

}  // namespace

class TestGgmlMixes : public QObject {
    Q_OBJECT

private slots:
    void grammar();
    void weightsOnlyRunMatchesReference_data();
    void weightsOnlyRunMatchesReference();
    void modelRunMakesTheSameChoices();
    void saveLoadRebin();
};

void TestGgmlMixes::grammar() {
    for (const char* word :
         {"q2_k_mix", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m"}) {
        const Recipe r = Recipe::parse(word);
        QCOMPARE(r.toString(), std::string(word));
        QCOMPARE(Recipe::parse(QString(word).toUpper().toStdString()).toString(),
                 std::string(word));
    }
    QCOMPARE(methodSpec(QuantMethod::Q4_K_M).label(Recipe::parse("q4_k_m")), std::string("Q4_K_M"));
    QCOMPARE(methodSpec(QuantMethod::Q2_K_Mix).label(Recipe::parse("q2_k_mix")),
             std::string("Q2_K mix"));
    QCOMPARE(Recipe::parse("q4_k_m").bits, 4);
    try {
        Recipe::parse("q4_k_m:g32");
        QFAIL("expected ql::Error");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("takes no further parts"), e.what());
    }
    // The layer's place decides: llama-256 (2 layers, GQA 2) under Q4_K_M gives attn_v and
    // ffn_down of the last layer Q6_K (use_more_bits: the last eighth), the rest Q4_K.
    const Recipe m = Recipe::parse("q4_k_m");
    const auto at = [&](const char* name, int64_t rows, int64_t cols) {
        return recipeForLayer(m, LayerPlace{name, rows, cols, 2, 2}).recipe.toString();
    };
    QCOMPARE(at("model.layers.1.self_attn.v_proj", 128, 256), std::string("q6_k"));
    QCOMPARE(at("model.layers.1.mlp.down_proj", 256, 768), std::string("q6_k"));
    QCOMPARE(at("model.layers.0.mlp.down_proj", 256, 768), std::string("q4_k"));
    QCOMPARE(at("model.layers.0.self_attn.v_proj", 128, 256), std::string("q4_k"));
    QCOMPARE(at("model.layers.0.self_attn.q_proj", 256, 256), std::string("q4_k"));
    // rows of 64: Q4_K falls back to Q5_0 (with its reason), Q6_K to Q8_0
    const ShapedRecipe q =
        recipeForLayer(m, LayerPlace{"model.layers.0.self_attn.q_proj", 64, 64, 5, 2});
    QCOMPARE(q.recipe.toString(), std::string("q5_0"));
    QVERIFY(!q.fallbackReason.empty());
    const ShapedRecipe v =
        recipeForLayer(m, LayerPlace{"model.layers.4.self_attn.v_proj", 32, 64, 5, 2});
    QCOMPARE(v.recipe.toString(), std::string("q8_0"));
    QVERIFY(v.fallbackReason.find("Q6_K") != std::string::npos);
}

void TestGgmlMixes::weightsOnlyRunMatchesReference_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("recipe");
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("f32");
    const QString l = "llama-256", s = "../../models/stories260k";
    QTest::newRow("llama-256 q4_k_m") << l << "q4_k_m"
                                      << "llama-256.Q4_K_M.gguf"
                                      << "llama-256";
    QTest::newRow("llama-256 q5_k_m") << l << "q5_k_m"
                                      << "llama-256.Q5_K_M.gguf"
                                      << "llama-256";
    QTest::newRow("llama-256 q3_k_m") << l << "q3_k_m"
                                      << "llama-256.Q3_K_M.gguf"
                                      << "llama-256";
    QTest::newRow("llama-256 q4_k_s") << l << "q4_k_s"
                                      << "llama-256.Q4_K_S.gguf"
                                      << "llama-256";
    QTest::newRow("llama-256 q2_k_mix") << l << "q2_k_mix"
                                        << "llama-256.Q2_K.gguf"
                                        << "llama-256";
    QTest::newRow("stories260k q4_k_m") << s << "q4_k_m"
                                        << "stories260k.Q4_K_M.gguf"
                                        << "stories260k";
}

// A weights-only run: each of the 14 (llama-256) or 35 (stories260k: rows of 64 and 172, the
// fallbacks) projections gets exactly llama-quantize's type, bytes and weight SQNR (1e-9 dB).
void TestGgmlMixes::weightsOnlyRunMatchesReference() {
    QFETCH(QString, model);
    QFETCH(QString, recipe);
    QFETCH(QString, file);
    QFETCH(QString, f32);
    QL_REQUIRE_DATA(QString(kRef) + "/" + file);
    QL_REQUIRE_DATA(QString(kRef) + "/" + model);
    const RunResult run = runQuantization(
        config(qltest::dataPath(QString(kRef) + "/" + model), recipe.toStdString(), false));
    QCOMPARE(run.layers.size(), size_t(model.contains("stories") ? 35 : 14));
    GgufFile ref(qltest::dataPath(QString(kRef) + "/" + file));
    GgufFile source(qltest::dataPath(QString(kRef) + "/" + f32 + ".F32.gguf"));
    checkAgainst(run, ref, source);
}

// With texts the model-loaded path quantizes (quantizeLayers): the same types as llama-quantize
// on stories260k, and a perplexity between Q8_0's and the float model's neighbourhood.
void TestGgmlMixes::modelRunMakesTheSameChoices() {
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA("data/stories/stories.txt");
    QL_REQUIRE_DATA(QString(kRef) + "/stories260k.Q4_K_M.gguf");
    const RunResult run =
        runQuantization(config(qltest::dataPath("models/stories260k"), "q4_k_m", true));
    QVERIFY(run.perplexity.valid);
    QVERIFY(run.perplexity.pplQ > run.perplexity.pplFp * 0.99);
    QVERIFY(run.perplexity.pplQ < run.perplexity.pplFp * 1.5);
    GgufFile ref(qltest::dataPath(QString(kRef) + "/stories260k.Q4_K_M.gguf"));
    GgufFile source(qltest::dataPath(QString(kRef) + "/stories260k.F32.gguf"));
    checkAgainst(run, ref, source);
    std::map<std::string, int> methods;
    for (const LayerResult& l : run.layers) ++methods[l.method];
    QCOMPARE(methods["q5_0"], 28);
    QCOMPARE(methods["q8_0"], 2);
    QCOMPARE(methods["fp16"], 5);
}

void TestGgmlMixes::saveLoadRebin() {
    QL_REQUIRE_DATA(QString(kRef) + "/llama-256");
    const RunResult run =
        runQuantization(config(qltest::dataPath(QString(kRef) + "/llama-256"), "q3_k_m", false));
    QCOMPARE(runDisplayLabel(run), std::string("Q3_K_M"));
    const QString dir = qltest::tempDir("ggml-mix-run") + "/run";
    saveRun(run, dir.toStdString());
    const RunResult loaded = loadRun(dir.toStdString());
    QCOMPARE(loaded.config.recipe, std::string("q3_k_m"));
    for (size_t i = 0; i < loaded.layers.size(); ++i) {
        const LayerResult& l = loaded.layers[i];
        QCOMPARE(l.method, run.layers[i].method);
        const Histogram again = rebinWeights(loaded, l.name, "after", l.weightAfter.lo,
                                             l.weightAfter.hi, l.weightAfter.bins());
        QVERIFY2(again.counts == l.weightAfter.counts, l.name.c_str());
    }
}

QTEST_GUILESS_MAIN(TestGgmlMixes)
#include "test_ggml_mixes.moc"
