// "Compare a quantized file with its original" (RunConfig::checkpoint): llama-quantize's
// stories260k Q4_K_M file against the stories260k folder gives, layer by layer, the types,
// bytes and weights of QuantLens's own q4_k_m run (whose blocks are byte-identical to
// llama-quantize's), and the same perplexity; the Llama q/k rows come back in Hugging Face
// order; save / load / re-binning read the file again; the CLI; wrong files are refused.
#include "base/error.h"
#include "cli_runner.h"
#include "run/gguf_source.h"
#include "run/run.h"
#include "testdata.h"

#include <cmath>

using namespace ql;

namespace {

const QString kRef = "reference/gguf";

RunConfig config(const std::string& checkpoint, const std::string& recipe, bool texts) {
    RunConfig c;
    c.modelDir = qltest::dataPath("models/stories260k");
    c.recipe = recipe;
    c.checkpoint = checkpoint;
    c.captureActivations = false;
    c.captureGradients = false;
    c.threads = 1;
    if (texts) {
        c.evaluationText = qltest::dataPath("data/stories/stories.txt");
        c.evalSeq = 256;
    }
    return c;
}

std::string q4km() {
    return qltest::dataPath(kRef + "/stories260k.Q4_K_M.gguf");
}

// Same types, bytes, metrics and histograms layer by layer (the blocks are llama-quantize's in
// both, so the weights are equal bit for bit and every derived number exactly).
void compareRuns(const RunResult& file, const RunResult& own) {
    QCOMPARE(file.layers.size(), own.layers.size());
    for (size_t i = 0; i < own.layers.size(); ++i) {
        const LayerResult& a = file.layers[i];
        const LayerResult& b = own.layers[i];
        QCOMPARE(a.name, b.name);
        QCOMPARE(a.method, b.method);
        QCOMPARE(a.bytesQ, b.bytesQ);
        QCOMPARE(a.weightSqnrDb, b.weightSqnrDb);
        QCOMPARE(a.maxAbsError, b.maxAbsError);
        QVERIFY2(a.weightAfter.counts == b.weightAfter.counts, a.name.c_str());
        QCOMPARE(a.weightAfterSource, std::string("checkpoint"));
    }
}

}  // namespace

class TestGgufCompare : public QObject {
    Q_OBJECT

private slots:
    void weightsOnlyEqualsOwnRun();
    void perplexityEqualsOwnRun();
    void saveLoadRebin();
    void cli();
    void wrongFiles();
};

void TestGgufCompare::weightsOnlyEqualsOwnRun() {
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA(kRef + "/stories260k.Q4_K_M.gguf");
    const RunResult file = runQuantization(config(q4km(), "", false));
    QCOMPARE(file.config.recipe, std::string("q4_k_m"));
    QCOMPARE(file.label, std::string("Q4_K_M (stories260k.Q4_K_M.gguf)"));
    const RunResult own = runQuantization(config("", "q4_k_m", false));
    compareRuns(file, own);
    // the un-permuted q/k rows: a permutation left in would make the SQNR differ
    QVERIFY(file.layers[0].weightSqnrDb > 20);
}

void TestGgufCompare::perplexityEqualsOwnRun() {
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA("data/stories/stories.txt");
    QL_REQUIRE_DATA(kRef + "/stories260k.Q4_K_M.gguf");
    const RunResult file = runQuantization(config(q4km(), "", true));
    const RunResult own = runQuantization(config("", "q4_k_m", true));
    QVERIFY(file.perplexity.valid && own.perplexity.valid);
    qInfo("stories260k Q4_K_M file: ppl %.6f, own q4_k_m %.6f, float %.6f", file.perplexity.pplQ,
          own.perplexity.pplQ, own.perplexity.pplFp);
    QVERIFY(std::fabs(file.perplexity.pplQ / own.perplexity.pplQ - 1) < 1e-9);
    QCOMPARE(file.perplexity.pplFp, own.perplexity.pplFp);
    QVERIFY(file.perplexity.pplQ != file.perplexity.pplFp);
    compareRuns(file, own);
}

void TestGgufCompare::saveLoadRebin() {
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA(kRef + "/stories260k.Q4_K_M.gguf");
    const RunResult run = runQuantization(config(q4km(), "", false));
    const QString dir = qltest::tempDir("gguf-compare") + "/run";
    saveRun(run, dir.toStdString());
    const RunResult loaded = loadRun(dir.toStdString());
    QCOMPARE(loaded.config.checkpoint, q4km());
    for (const LayerResult& l : loaded.layers) {
        QCOMPARE(l.weightAfterSource, std::string("checkpoint"));
        const Histogram again = rebinWeights(loaded, l.name, "after", l.weightAfter.lo,
                                             l.weightAfter.hi, l.weightAfter.bins());
        QVERIFY2(again.counts == l.weightAfter.counts, l.name.c_str());
    }
}

void TestGgufCompare::cli() {
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA(kRef + "/stories260k.Q4_K_M.gguf");
    const QString out = qltest::tempDir("gguf-compare-cli") + "/run";
    const QString model = QString::fromStdString(qltest::dataPath("models/stories260k"));
    const auto r = qltest::runCli({"quantize", "--model", model, "--from-checkpoint",
                                   QString::fromStdString(q4km()), "--out", out});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const RunResult run = loadRun(out.toStdString());
    std::map<std::string, int> methods;
    for (const LayerResult& l : run.layers) ++methods[l.method];
    QCOMPARE(methods["q5_0"], 28);
    QCOMPARE(methods["q8_0"], 2);
    QCOMPARE(methods["fp16"], 5);
    const auto both =
        qltest::runCli({"quantize", "--model", model, "--recipe", "q4_k", "--from-checkpoint",
                        QString::fromStdString(q4km()), "--out", out + "2"});
    QVERIFY(both.exitCode != 0);
    QVERIFY2(both.qerr().contains("drop --recipe"), both.err.c_str());
}

// Another model's file (llama-256: other shapes) and an unquantized F32 file: one line naming
// the file and what is wrong.
void TestGgufCompare::wrongFiles() {
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA(kRef + "/llama-256.Q4_K_M.gguf");
    const auto fails = [](const std::string& file, const QString& mention) {
        try {
            runQuantization(config(file, "", false));
            QFAIL("expected ql::Error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains(mention), e.what());
            QVERIFY2(QString(e.what()).contains(QString::fromStdString(file)), e.what());
        }
    };
    fails(qltest::dataPath(kRef + "/llama-256.Q4_K_M.gguf"), "another shape");
    fails(qltest::dataPath(kRef + "/stories260k.F32.gguf"), "not a quantized file");
}

QTEST_GUILESS_MAIN(TestGgufCompare)
#include "test_gguf_compare.moc"
