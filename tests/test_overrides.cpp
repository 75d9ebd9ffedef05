// Per-layer recipe overrides (run/layer_overrides.h): each layer gets exactly the recipe the
// last matching override states, its bytes and grid are those of a uniform run of that
// recipe, memory adds up, both engines agree, run.json keeps them, bad overrides fail with
// one message naming the override.
#include "base/error.h"
#include "run/layer_overrides.h"
#include "run/run.h"
#include "testdata.h"

#include <QObject>
#include <QTest>

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>

using namespace ql;

namespace {

const char* kModel = "models/tinystories-656k";  // 128 x 384 MLP: g32 divides every row

RunConfig weightsOnly(const std::string& recipe) {
    RunConfig c;
    c.modelDir = qltest::dataPath(kModel);
    c.recipe = recipe;
    c.captureActivations = c.captureGradients = false;
    c.threads = 1;
    return c;
}

std::vector<RecipeOverride> mixedOverrides() {
    return {{"model.layers.*.mlp.down_proj", "rtn:int8:channel:sym"},
            {"model.layers.1.*", "fp16"},
            {"model.layers.1.self_attn.q_proj", "nf4:b64"}};
}

// What mixedOverrides() states for `name` (written out, not computed by the matcher).
std::string expectedRecipe(const std::string& name) {
    if (name == "model.layers.1.self_attn.q_proj") return Recipe::parse("nf4:b64").toString();
    if (name.rfind("model.layers.1.", 0) == 0) return "fp16";
    if (name.find("down_proj") != std::string::npos) return "rtn:int8:channel:sym";
    return "rtn:int4:g32:asym";
}

QString errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

class TestOverrides : public QObject {
    Q_OBJECT
private slots:
    void badOverridesNameTheOverride_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("expected");
        QTest::newRow("no =") << "model.layers.*"
                              << "expected PATTERN=RECIPE";
        QTest::newRow("empty pattern") << "=rtn:int8"
                                       << "pattern is empty";
        QTest::newRow("empty recipe") << "model.*="
                                      << "recipe is empty";
        QTest::newRow("bad recipe") << "model.*=rtn:int9"
                                    << "int9";
        QTest::newRow("fitted") << "model.*=gptq:int4:g32:asym"
                                << "weight-only";
        QTest::newRow("activations") << "model.*=rtn:int8+a8"
                                     << "activations";
        QTest::newRow("llm.int8") << "model.*=llm_int8"
                                  << "activations";
    }
    void badOverridesNameTheOverride() {
        QFETCH(QString, text);
        QFETCH(QString, expected);
        const QString error = errorOf([&] { parseOverride(text.toStdString()); });
        QVERIFY2(error.startsWith("override '" + text + "'"), qPrintable(error));
        QVERIFY2(error.contains(expected), qPrintable(error));
        QVERIFY2(!error.contains('\n'), qPrintable(error));
    }

    void lastMatchWins() {
        const std::vector<std::string> names = {
            "model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj",
            "model.layers.1.self_attn.q_proj", "model.layers.0.self_attn.q_proj"};
        const auto r = layerRecipes(names, Recipe::parse("rtn:int4:g32:asym"), mixedOverrides());
        QCOMPARE(r.size(), names.size());
        for (size_t i = 0; i < names.size(); ++i)
            QCOMPARE(r[i].toString(), expectedRecipe(names[i]));
        const auto groups =
            groupByRecipe(names, Recipe::parse("rtn:int4:g32:asym"), mixedOverrides());
        QCOMPARE(groups.size(), size_t(4));
        QCOMPARE(groups[0].layers, std::vector<std::string>{"model.layers.0.self_attn.q_proj"});
        // A pattern matching no layer is a typo, not a no-op.
        const QString error = errorOf([&] {
            layerRecipes(names, Recipe(), {{"model.layer.*.mlp.down_proj", "fp16"}});
        });
        QVERIFY2(error.contains("matches none of the selected layers") &&
                     error.contains("model.layer.*.mlp.down_proj=fp16"),
                 qPrintable(error));
    }

    // Every layer of a mixed weights-only run is the layer of the uniform run of its recipe:
    // same method, bytes, weight SQNR and grid; int8 channel and fp16 bytes also by formula.
    void overridesApplyExactlyTheStatedRecipes() {
        QL_REQUIRE_DATA(kModel);
        RunConfig c = weightsOnly("rtn:int4:g32:asym");
        c.overrides = mixedOverrides();
        const RunResult mixed = runQuantization(c);
        QCOMPARE(mixed.layers.size(), size_t(14));
        std::map<std::string, RunResult> uniform;
        for (const char* r : {"rtn:int4:g32:asym", "rtn:int8:channel:sym", "fp16", "nf4:b64"})
            uniform[Recipe::parse(r).toString()] = runQuantization(weightsOnly(r));
        uint64_t sumQ = 0;
        std::map<std::string, int> perRecipe;
        for (const LayerResult& l : mixed.layers) {
            const std::string want = expectedRecipe(l.name);
            QVERIFY2(l.method == want, (l.name + ": " + l.method + " != " + want).c_str());
            ++perRecipe[want];
            const LayerResult* u = uniform.at(want).layer(l.name);
            QVERIFY(u);
            QCOMPARE(l.bytesQ, u->bytesQ);
            QCOMPARE(l.weightSqnrDb, u->weightSqnrDb);
            QCOMPARE(l.scales, u->scales);
            QCOMPARE(l.zeros, u->zeros);
            QCOMPARE(l.bits, u->bits);
            const uint64_t n = uint64_t(l.rows * l.cols);
            if (want == "rtn:int8:channel:sym") QCOMPARE(l.bytesQ, n + uint64_t(l.rows) * 2);
            if (want == "fp16") QCOMPARE(l.bytesQ, 2 * n);
            sumQ += l.bytesQ;
        }
        QCOMPARE(perRecipe["rtn:int8:channel:sym"], 1);  // block 0's; block 1's is fp16
        QCOMPARE(perRecipe["fp16"], 6);
        QCOMPARE(perRecipe[Recipe::parse("nf4:b64").toString()], 1);
        QCOMPARE(perRecipe["rtn:int4:g32:asym"], 6);
        QCOMPARE(mixed.memory.bytesQQuantized, sumQ);
        QCOMPARE(mixed.memory.bytesQTotal,
                 mixed.memory.bytesFpTotal - mixed.memory.bytesFpQuantized + sumQ);
        QVERIFY2(QString::fromStdString(mixed.label).endsWith("+ 3 overrides"),
                 mixed.label.c_str());
        // The CSV names each layer's actual recipe.
        const std::string csv = layersCsv(mixed);
        QVERIFY(csv.find("\"fp16\"") != std::string::npos ||
                csv.find(",fp16,") != std::string::npos);

        // run.json keeps the overrides.
        const QString dir = qltest::tempDir("overrides-run") + "/run";
        saveRun(mixed, dir.toStdString());
        const RunResult back = loadRun(dir.toStdString());
        QCOMPARE(back.config.overrides.size(), size_t(3));
        for (size_t i = 0; i < 3; ++i) {
            QCOMPARE(back.config.overrides[i].pattern, c.overrides[i].pattern);
            QCOMPARE(back.config.overrides[i].recipe, c.overrides[i].recipe);
        }
        QCOMPARE(back.label, mixed.label);
    }

    void unmatchedPatternStopsTheRun() {
        QL_REQUIRE_DATA(kModel);
        RunConfig c = weightsOnly("rtn:int4:g32:asym");
        c.overrides = {{"model.layers.7.*", "fp16"}};
        const QString error = errorOf([&] { runQuantization(c); });
        QVERIFY2(
            error.contains("override 'model.layers.7.*=fp16'") && error.contains("matches none"),
            qPrintable(error));
        c.overrides = {{"model.*", "awq:int4"}};
        QVERIFY(errorOf([&] { runQuantization(c); }).contains("weight-only"));
    }

    // Model path with a fitted base recipe: both engines give every layer its recipe and the
    // same perplexity/KL; an overridden layer matches the uniform run of its recipe.
    void bothEnginesApplyOverrides() {
        QL_REQUIRE_DATA("models/stories260k");
        QL_REQUIRE_DATA("data/stories/calib.txt");
        RunConfig c;
        c.modelDir = qltest::dataPath("models/stories260k");
        c.recipe = "gptq:int4:g32:asym";  // MLP rows of 172 fall back to channel
        c.overrides = {{"model.layers.*.mlp.down_proj", "rtn:int8:channel:sym"},
                       {"model.layers.4.self_attn.*", "fp16"}};
        c.calibrationText = qltest::dataPath("data/stories/calib.txt");
        c.evaluationText = qltest::dataPath("data/stories/stories.txt");
        c.calibrationWindows = 4;
        c.evalSeq = 128;
        c.evalMaxWindows = 4;
        c.captureActivations = c.captureGradients = false;
        c.threads = 1;
        RunResult r[2];
        const char* engines[2] = {"stream", "whole"};
        for (int e = 0; e < 2; ++e) {
            setenv("QL_ENGINE", engines[e], 1);
            r[e] = runQuantization(c);
            unsetenv("QL_ENGINE");
        }
        RunConfig u = c;
        u.recipe = "rtn:int8:channel:sym";
        u.overrides.clear();
        u.evaluationText.clear();
        const RunResult int8 = runQuantization(u);
        for (int e = 0; e < 2; ++e) {
            QCOMPARE(r[e].layers.size(), size_t(35));
            for (const LayerResult& l : r[e].layers) {
                const bool down = l.kind == "down_proj";
                const bool attn4 = l.block == 4 && l.name.find("self_attn") != std::string::npos;
                const std::string want = down    ? "rtn:int8:channel:sym"
                                         : attn4 ? "fp16"
                                                 : "gptq:int4:channel:asym";  // 172-wide rows too
                if (!down && !attn4 && l.method.rfind("gptq:int4:", 0) == 0) continue;
                QVERIFY2(l.method == want, (l.name + ": " + l.method).c_str());
                if (down) {
                    QCOMPARE(l.bytesQ, int8.layer(l.name)->bytesQ);
                    QCOMPARE(l.weightSqnrDb, int8.layer(l.name)->weightSqnrDb);
                }
            }
            QVERIFY(r[e].perplexity.valid);
        }
        for (size_t i = 0; i < r[0].layers.size(); ++i) {
            QCOMPARE(r[0].layers[i].method, r[1].layers[i].method);
            QVERIFY(std::fabs(r[0].layers[i].weightSqnrDb - r[1].layers[i].weightSqnrDb) < 1e-3);
        }
        QVERIFY(std::fabs(r[0].perplexity.pplQ - r[1].perplexity.pplQ) <
                1e-6 * r[1].perplexity.pplQ);
        QVERIFY(std::fabs(r[0].perplexity.klMean - r[1].perplexity.klMean) < 1e-4);
    }
};

QTEST_GUILESS_MAIN(TestOverrides)
#include "test_overrides.moc"
