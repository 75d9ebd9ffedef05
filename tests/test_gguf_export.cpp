// GGUF export (run/gguf_export.h) against llama.cpp's own files in ../shared/reference/gguf:
// the llama-256 folder exported as F32 and under every recipe equals convert_hf_to_gguf.py's /
// llama-quantize's file byte for byte (metadata key by key, tensors by name, then the whole
// file); stories260k (tied embedding, rows of 64 and 172) under q4_k_m too; a run's export
// keeps the tensors it did not quantize in float32 unless asked for llama-quantize's types.
#include "base/error.h"
#include "base/file_util.h"
#include "io/gguf.h"
#include "run/gguf_export.h"
#include "run/run.h"
#include "testdata.h"

#include <cstring>
#include <fstream>
#include <sstream>

using namespace ql;

namespace {

const QString kRef = "reference/gguf";

std::string refPath(const QString& file) {
    return qltest::dataPath(kRef + "/" + file);
}

std::string fileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Metadata key by key (same keys, same order, same values), then tensors by name (type, shape,
// bytes). `ordered`: the tensors in the same order too.
void compareGguf(const std::string& gotPath, const std::string& refFile, bool ordered) {
    GgufFile got(gotPath), ref(refFile);
    QCOMPARE(got.keys(), ref.keys());
    for (const std::string& k : ref.keys()) {
        const GgufValue* a = got.find(k);
        const GgufValue* b = ref.find(k);
        QVERIFY2(a->type == b->type, k.c_str());
        QVERIFY2(a->toString() == b->toString(),
                 (k + ": " + a->toString() + " vs " + b->toString()).c_str());
        QVERIFY2(a->elements.size() == b->elements.size(), k.c_str());
        for (size_t i = 0; i < a->elements.size(); ++i)
            QVERIFY2(a->elements[i].toString() == b->elements[i].toString(),
                     (k + "[" + std::to_string(i) + "]").c_str());
    }
    QCOMPARE(got.tensors().size(), ref.tensors().size());
    for (size_t i = 0; i < ref.tensors().size(); ++i) {
        const GgufTensor& r = ref.tensors()[i];
        const GgufTensor* g = ordered ? &got.tensors()[i] : got.findTensor(r.name);
        QVERIFY2(g && g->name == r.name, r.name.c_str());
        QVERIFY2(g->type == r.type,
                 (r.name + ": " + ggmlTypeName(g->type) + " vs " + ggmlTypeName(r.type)).c_str());
        QVERIFY2(g->ne == r.ne, r.name.c_str());
        QVERIFY2(g->bytes == r.bytes && std::memcmp(got.data(*g), ref.data(r), r.bytes) == 0,
                 (r.name + ": bytes differ").c_str());
    }
}

}  // namespace

class TestGgufExport : public QObject {
    Q_OBJECT

private slots:
    void modelExportEqualsReference_data();
    void modelExportEqualsReference();
    void storiesExport();
    void ggufModelExport();
    void runExport();
    void badInput();
};

void TestGgufExport::modelExportEqualsReference_data() {
    QTest::addColumn<QString>("recipe");
    QTest::addColumn<QString>("file");
    const QList<QPair<QString, QString>> rows = {
        {"f32", "F32"},        {"q8_0", "Q8_0"},      {"q4_0", "Q4_0"},      {"q4_1", "Q4_1"},
        {"q5_0", "Q5_0"},      {"q5_1", "Q5_1"},      {"q2_k", "Q2_K.pure"}, {"q3_k", "Q3_K.pure"},
        {"q4_k", "Q4_K.pure"}, {"q5_k", "Q5_K.pure"}, {"q6_k", "Q6_K.pure"}, {"q6_k", "Q6_K"},
        {"q2_k_mix", "Q2_K"},  {"q3_k_m", "Q3_K_M"},  {"q4_k_s", "Q4_K_S"},  {"q4_k_m", "Q4_K_M"},
        {"q5_k_m", "Q5_K_M"},
    };
    for (const auto& [recipe, type] : rows)
        QTest::newRow(qPrintable(recipe + " " + type)) << recipe << "llama-256." + type + ".gguf";
}

// The folder llama-256 under each recipe, with llama-quantize's types for the tensors a run does
// not quantize: the reference file, key by key, tensor by tensor and byte for byte.
void TestGgufExport::modelExportEqualsReference() {
    QFETCH(QString, recipe);
    QFETCH(QString, file);
    QL_REQUIRE_DATA(kRef + "/" + file);
    QL_REQUIRE_DATA(kRef + "/llama-256");
    const std::string out = (qltest::tempDir("gguf-export") + "/" + file).toStdString();
    GgufExportOptions o;
    o.llamaQuantizeTypes = true;
    exportModelGguf(refPath("llama-256"), recipe.toStdString(), out, o);
    compareGguf(out, refPath(file), true);
    QVERIFY(fileBytes(out) == fileBytes(refPath(file)));
}

// stories260k: tied embedding (token_embd Q8_0 as the output), rows of 172 (F16 fallbacks).
// Its F32 reference lists tensors in the safetensors header's order (QuantLens writes sorted
// names, as convert_hf_to_gguf.py does for a sorted header), so that file is compared by name.
void TestGgufExport::storiesExport() {
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA(kRef + "/stories260k.Q4_K_M.gguf");
    const QString dir = qltest::tempDir("gguf-export-stories");
    GgufExportOptions o;
    o.llamaQuantizeTypes = true;
    const std::string q = (dir + "/q4_k_m.gguf").toStdString();
    exportModelGguf(qltest::dataPath("models/stories260k"), "q4_k_m", q, o);
    compareGguf(q, refPath("stories260k.Q4_K_M.gguf"), true);
    QVERIFY(fileBytes(q) == fileBytes(refPath("stories260k.Q4_K_M.gguf")));
    const std::string f = (dir + "/f32.gguf").toStdString();
    exportModelGguf(qltest::dataPath("models/stories260k"), "f32", f);
    compareGguf(f, refPath("stories260k.F32.gguf"), false);
}

// A model that is itself a GGUF file (stories260k F32) requantized to q4_k_m is llama-quantize's
// file of it byte for byte (its keys kept, the file type last); as f32 it is the same model.
void TestGgufExport::ggufModelExport() {
    QL_REQUIRE_DATA(kRef + "/stories260k.F32.gguf");
    QL_REQUIRE_DATA(kRef + "/stories260k.Q4_K_M.gguf");
    const QString dir = qltest::tempDir("gguf-export-from-gguf");
    GgufExportOptions o;
    o.llamaQuantizeTypes = true;
    const std::string q = (dir + "/q4_k_m.gguf").toStdString();
    exportModelGguf(refPath("stories260k.F32.gguf"), "q4_k_m", q, o);
    compareGguf(q, refPath("stories260k.Q4_K_M.gguf"), true);
    QVERIFY(fileBytes(q) == fileBytes(refPath("stories260k.Q4_K_M.gguf")));
    const std::string f = (dir + "/f32.gguf").toStdString();
    exportModelGguf(refPath("stories260k.F32.gguf"), "f32", f);
    compareGguf(f, refPath("stories260k.F32.gguf"), false);
}

// A weights-only q4_k_m run: by default its export holds the projections exactly as
// llama-quantize would and token_embd / output in float32 (what the run evaluated); with
// llamaQuantizeTypes it is llama-quantize's file.
void TestGgufExport::runExport() {
    QL_REQUIRE_DATA(kRef + "/llama-256.Q4_K_M.gguf");
    RunConfig c;
    c.modelDir = refPath("llama-256");
    c.recipe = "q4_k_m";
    c.captureActivations = false;
    c.captureGradients = false;
    c.threads = 1;
    const RunResult run = runQuantization(c);
    const QString dir = qltest::tempDir("gguf-export-run");
    const std::string plain = (dir + "/plain.gguf").toStdString();
    exportRunGguf(run, plain);
    GgufFile got(plain), ref(refPath("llama-256.Q4_K_M.gguf"));
    QCOMPARE(got.tensors().size(), ref.tensors().size());
    for (const GgufTensor& r : ref.tensors()) {
        const GgufTensor* g = got.findTensor(r.name);
        QVERIFY2(g, r.name.c_str());
        const bool extra = r.name == "token_embd.weight" || r.name == "output.weight";
        QCOMPARE(g->type, extra ? GgmlType::F32 : r.type);
        if (!extra) QVERIFY2(std::memcmp(got.data(*g), ref.data(r), r.bytes) == 0, r.name.c_str());
    }
    QCOMPARE(got.find("general.file_type")->u, uint64_t(15));
    const std::string full = (dir + "/full.gguf").toStdString();
    GgufExportOptions o;
    o.llamaQuantizeTypes = true;
    exportRunGguf(run, full, o);
    QVERIFY(fileBytes(full) == fileBytes(refPath("llama-256.Q4_K_M.gguf")));
}

void TestGgufExport::badInput() {
    QL_REQUIRE_DATA(kRef + "/llama-256");
    const std::string out = (qltest::tempDir("gguf-export-bad") + "/x.gguf").toStdString();
    const auto fails = [&](const std::string& recipe, const QString& mention) {
        try {
            exportModelGguf(refPath("llama-256"), recipe, out);
            QFAIL("expected ql::Error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains(mention), e.what());
        }
    };
    fails("rtn:int4:g128:sym", "has no GGUF form");
    fails("q8_0+a8", "quantizes activations");
    QVERIFY(!QFile::exists(QString::fromStdString(out)));
}

QTEST_GUILESS_MAIN(TestGgufExport)
#include "test_gguf_export.moc"
