// File → Export model (app/gui/modelexport.h): the format dialog offers GGUF for a llama.cpp
// recipe and disables it, with core's reason as tooltip, for one GGUF cannot hold; the GUI's
// background export of a q8_0 run of stories260k writes the same file, byte for byte, as
// `quantlens-cli export RUN --format gguf` of the saved run; errors and cancellation are one
// outcome with nothing written; a run whose model is a .gguf file exports as GGUF (the same file
// llama-quantize made) and is refused as GPTQ / QuantLens folder, in the GUI and the CLI.
#include "app/gui/modelexport.h"
#include "cli_runner.h"
#include "io/gguf.h"
#include "io/gguf_model.h"
#include "run/run.h"
#include "testdata.h"

#include <QFile>
#include <QRadioButton>
#include <QTest>

#include <QDir>

#include <memory>
#include <optional>

using namespace ql;

namespace {

const QString kStories = "models/stories260k";
const QString kStoriesF32 = "reference/gguf/stories260k.F32.gguf";
const QString kStoriesQ4KM = "reference/gguf/stories260k.Q4_K_M.gguf";

RunPtr weightsOnlyRun(const std::string& model, const std::string& recipe) {
    RunConfig c;
    c.modelDir = model;
    c.recipe = recipe;
    c.captureActivations = false;
    c.captureGradients = false;
    c.threads = 1;
    return std::make_shared<const RunResult>(runQuantization(c));
}

QByteArray fileBytes(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// The GUI path: the background export behind its progress dialog, waited for.
ModelExportOutcome exportFromGui(const RunPtr& run, const ModelExportRequest& request) {
    auto result = std::make_shared<std::optional<ModelExportOutcome>>();
    startModelExport(nullptr, run, request,
                     [result](const ModelExportOutcome& out) { *result = out; });
    if (QTest::qWaitFor([&] { return result->has_value(); }, 60000)) return **result;
    ModelExportOutcome timedOut;
    timedOut.error = "timed out";
    return timedOut;
}

}  // namespace

class TestGuiExport : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void formatsOfARun_data();
    void formatsOfARun();
    void ggufEqualsCliExport();
    void errorAndCancelLeaveNothing();
    void runOfAGgufModel();

private:
    RunPtr q8_, int8_;
};

void TestGuiExport::initTestCase() {
    QL_REQUIRE_DATA(kStories);
    q8_ = weightsOnlyRun(qltest::dataPath(kStories), "q8_0");
    int8_ = weightsOnlyRun(qltest::dataPath(kStories), "rtn:int8:channel:sym");
}

void TestGuiExport::formatsOfARun_data() {
    QTest::addColumn<bool>("q8");
    QTest::addColumn<int>("format");
    QTest::addColumn<QString>("whyNot");  // empty: offered
    const int gguf = int(ModelExportFormat::Gguf), gptq = int(ModelExportFormat::Gptq);
    const int packed = int(ModelExportFormat::QuantLens);
    QTest::newRow("q8_0 gguf") << true << gguf << "";
    QTest::newRow("q8_0 gptq") << true << gptq << "GPTQ export takes rtn or gptq runs";
    QTest::newRow("q8_0 quantlens") << true << packed << "llama.cpp block formats";
    QTest::newRow("int8 gguf") << false << gguf << "has no GGUF form";
    QTest::newRow("int8 gptq") << false << gptq << "";
    QTest::newRow("int8 quantlens") << false << packed << "";
}

// The dialog's buttons follow core's checks: enabled, or disabled with the reason as tooltip;
// the first format offered is the one checked.
void TestGuiExport::formatsOfARun() {
    QFETCH(bool, q8);
    QFETCH(int, format);
    QFETCH(QString, whyNot);
    const RunResult& run = q8 ? *q8_ : *int8_;
    ModelExportDialog dialog(run);
    QRadioButton* b = dialog.button(ModelExportFormat(format));
    QCOMPARE(b->isEnabled(), whyNot.isEmpty());
    if (whyNot.isEmpty())
        QVERIFY(b->toolTip().isEmpty());
    else
        QVERIFY2(b->toolTip().contains(whyNot), qPrintable(b->toolTip()));
    QVERIFY(dialog.anyAvailable());
    QCOMPARE(dialog.format(), q8 ? ModelExportFormat::Gguf : ModelExportFormat::Gptq);
    QVERIFY(!dialog.llamaQuantizeTypes());
}

// The GUI's GGUF export of a q8_0 run is the CLI's export of the same (saved) run, byte for
// byte; the reader opens it with every projection in Q8_0 and the rest float32.
void TestGuiExport::ggufEqualsCliExport() {
    const QString dir = qltest::tempDir("gui_export_gguf");
    const QString runDir = dir + "/run", cliFile = dir + "/cli.gguf", guiFile = dir + "/gui.gguf";
    saveRun(*q8_, runDir.toStdString());
    const auto cli = qltest::runCli({"export", runDir, "--format", "gguf", "--out", cliFile});
    QVERIFY2(cli.exitCode == 0, cli.err.c_str());

    ModelExportRequest request;
    request.format = ModelExportFormat::Gguf;
    request.path = guiFile.toStdString();
    const ModelExportOutcome out = exportFromGui(q8_, request);
    QVERIFY2(out.error.isEmpty() && !out.cancelled, qPrintable(out.error));
    QCOMPARE(out.path, guiFile);
    QVERIFY(modelExportLogLine(out).contains(guiFile));

    const QByteArray gui = fileBytes(guiFile);
    QVERIFY(gui.size() > 100000);
    QVERIFY(gui == fileBytes(cliFile));
    GgufFile file(guiFile.toStdString());
    int q8Tensors = 0;
    for (const GgufTensor& t : file.tensors()) {
        const bool projection =
            t.name.find("attn_") != std::string::npos || t.name.find("ffn_") != std::string::npos;
        if (t.name.find("norm") != std::string::npos || !projection) {
            QVERIFY2(t.type == GgmlType::F32, t.name.c_str());
            continue;
        }
        // Rows of 172 (ffn_down) are not whole Q8_0 blocks: the run fell back, and the file
        // holds what the run did; every other projection is Q8_0.
        if (t.type == GgmlType::Q8_0) ++q8Tensors;
    }
    QVERIFY2(q8Tensors >= 5 * 6, qPrintable(QString::number(q8Tensors)));
    QCOMPARE(QString::fromStdString(file.find("general.architecture")->s), QString("llama"));
}

// A format the run cannot be written in: one error message naming the reason, no file; a
// cancelled export leaves nothing either.
void TestGuiExport::errorAndCancelLeaveNothing() {
    const QString dir = qltest::tempDir("gui_export_refused");
    ModelExportRequest request;
    request.format = ModelExportFormat::Gguf;
    request.path = (dir + "/int8.gguf").toStdString();
    const ModelExportOutcome refused = exportFromGui(int8_, request);
    QVERIFY2(refused.error.contains("has no GGUF form"), qPrintable(refused.error));
    QVERIFY(modelExportLogLine(refused).startsWith("Model export failed: "));
    QVERIFY(!QFile::exists(dir + "/int8.gguf"));

    request.path = (dir + "/cancelled.gguf").toStdString();
    int calls = 0;
    const ModelExportOutcome cancelled = runModelExport(*q8_, request, [&](const Progress&) {
        return ++calls < 3;  // stop at the third tensor
    });
    QVERIFY(cancelled.cancelled && cancelled.error.isEmpty());
    QCOMPARE(calls, 3);
    QVERIFY(!QFile::exists(dir + "/cancelled.gguf"));
    QCOMPARE(QDir(dir).entryList(QDir::Files | QDir::Hidden).size(), 0);  // no temp file left
}

// A run whose model is a .gguf file (stories260k F32, as convert_hf_to_gguf.py wrote it): GGUF
// export with llama-quantize's types is llama-quantize's Q4_K_M file byte for byte, from the
// GUI and the CLI; the folder formats (GPTQ for an int8 run of it, QuantLens) are refused with
// the reason, in the dialog, the GUI's export call and the CLI.
void TestGuiExport::runOfAGgufModel() {
    QL_REQUIRE_DATA(kStoriesF32);
    QL_REQUIRE_DATA(kStoriesQ4KM);
    const std::string model = qltest::dataPath(kStoriesF32);
    const RunPtr q4km = weightsOnlyRun(model, "q4_k_m");
    const RunPtr int8 = weightsOnlyRun(model, "rtn:int8:channel:sym");
    QVERIFY(ModelExportDialog(*q4km).button(ModelExportFormat::Gguf)->isEnabled());
    ModelExportDialog dialog(*int8);
    QVERIFY(!dialog.anyAvailable());
    for (ModelExportFormat f : {ModelExportFormat::Gptq, ModelExportFormat::QuantLens}) {
        QVERIFY(!dialog.button(f)->isEnabled());
        QVERIFY2(dialog.button(f)->toolTip().contains("is a GGUF file"),
                 qPrintable(dialog.button(f)->toolTip()));
    }

    const QString dir = qltest::tempDir("gui_export_gguf_model");
    ModelExportRequest request;
    request.format = ModelExportFormat::Gguf;
    request.path = (dir + "/gui.gguf").toStdString();
    request.llamaQuantizeTypes = true;
    const ModelExportOutcome out = exportFromGui(q4km, request);
    QVERIFY2(out.error.isEmpty(), qPrintable(out.error));
    const QByteArray reference = fileBytes(QString::fromStdString(qltest::dataPath(kStoriesQ4KM)));
    QVERIFY(!reference.isEmpty());
    QVERIFY(fileBytes(dir + "/gui.gguf") == reference);

    request.format = ModelExportFormat::QuantLens;
    request.path = (dir + "/packed").toStdString();
    const ModelExportOutcome refused = runModelExport(*int8, request);
    QVERIFY2(refused.error.contains("is a GGUF file"), qPrintable(refused.error));
    QVERIFY(!QFile::exists(dir + "/packed"));

    // The CLI: the saved q4_k_m run exports as GGUF (the same file); the int8 run is refused as
    // either folder format, with the reason on stderr and nothing written.
    const QString q4Dir = dir + "/q4km", int8Dir = dir + "/int8";
    saveRun(*q4km, q4Dir.toStdString());
    saveRun(*int8, int8Dir.toStdString());
    const auto gguf = qltest::runCli(
        {"export", q4Dir, "--format", "gguf", "--out", dir + "/cli.gguf", "--llama-types"});
    QVERIFY2(gguf.exitCode == 0, gguf.err.c_str());
    QVERIFY(fileBytes(dir + "/cli.gguf") == reference);
    for (const QString format : {"gptq", "quantlens"}) {
        const auto r =
            qltest::runCli({"export", int8Dir, "--format", format, "--out", dir + "/" + format});
        QVERIFY(r.exitCode != 0 && !r.crashed);
        QVERIFY2(r.qerr().contains("is a GGUF file"), r.err.c_str());
        QVERIFY(!QFile::exists(dir + "/" + format));
    }
}

QTEST_MAIN(TestGuiExport)
#include "test_gui_export.moc"
