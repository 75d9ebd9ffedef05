// Bad-input corpus: hostile files (generated here into a temp dir) run through
// quantlens-cli info / tokenize / eval as child processes. Each must end within the
// timeout, by itself (no signal), with a non-zero exit and exactly one line on stderr
// that names the file and the field. The valid baselines they are mutated from must pass.
#include "test_badinput.h"

#include "cli_runner.h"
#include "testdata.h"

#include <QtTest>

#include <sys/stat.h>

#include <filesystem>
#include <functional>

using namespace badinput;
namespace fs = std::filesystem;

namespace {

// The messages as QString, for the substring checks of the cases.
struct Result {
    int exitCode = -1;
    bool timedOut = false, crashed = false;
    QString out, err;
};

// Each case ends by itself well within a minute, or it hangs.
Result runCli(const QStringList& args) {
    qltest::CliOptions o;
    o.timeoutMs = 60000;
    const qltest::CliResult r = qltest::runCli(args, o);
    return {r.exitCode, r.timedOut, r.crashed, r.qout(), r.qerr()};
}

}  // namespace

void TestBadInput::initTestCase() {
    root_ = qltest::tempDir("badinput");
    text_ = path("text.txt");
    writeFile(text_, "ab ab a b\n");
    writeModel(path("valid"), tinyConfig(), tinyTensors());
    writeFile(path("valid-sp/tokenizer.model"), spModel(tinySpPieces(), {{40, 0}, {41, 1}}));
    addHeaderCases();
    addFileTypeCases();
    addIndexCases();
    addConfigCases();
    addValidationCases();
    addTokenizerJsonCases();
    addSentencePieceCases();
    addArgumentCases();
    QVERIFY2(cases_.size() >= 80, qPrintable(QString::number(cases_.size()) + " cases"));
}

// The files every hostile case is derived from are accepted, so that each failure below
// comes from its one change.
void TestBadInput::baselines() {
    Result r = runCli({"info", path("valid")});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY2(r.out.contains("Linear layers:  14"), qPrintable(r.out));
    r = runCli({"tokenize", "--tokenizer", path("valid"), "--text", text_, "--json"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY2(r.out.contains("\"count\":8"), qPrintable(r.out));  // ab " " ab " " a " " b <unk>
    r = runCli({"tokenize", "--tokenizer", path("valid-sp"), "--text", text_, "--json"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    // A Hugging Face cache snapshot links its files into the repo's blobs/: accepted.
    const QString hub = path("hub/models--x/");
    writeTensors(hub + "blobs/0123abcd", tinyTensors());
    QDir().mkpath(hub + "snapshots/rev");
    fs::create_symlink("../../blobs/0123abcd",
                       (hub + "snapshots/rev/model.safetensors").toStdString());
    r = runCli({"info", hub + "snapshots/rev"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
}

void TestBadInput::weightsOnlyReason() {
    json config = tinyConfig();
    config["architectures"] = {"GPT2LMHeadModel"};
    writeModel(path("gpt2"), config, tinyTensors());
    Result r = runCli({"info", path("gpt2")});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY2(r.out.contains("weights only (") && r.out.contains("GPT2LMHeadModel"),
             qPrintable(r.out));
    writeTensors(path("bare/w.safetensors"), tinyTensors());
    r = runCli({"info", path("bare/w.safetensors")});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY2(r.out.contains("weights only (no config.json"), qPrintable(r.out));
}

void TestBadInput::hostile_data() {
    QTest::addColumn<int>("index");
    for (size_t i = 0; i < cases_.size(); ++i) QTest::newRow(qPrintable(cases_[i].name)) << int(i);
}

void TestBadInput::hostile() {
    QFETCH(int, index);
    const BadInputCase& c = cases_[size_t(index)];
    const Result r = runCli(c.args);
    const QString context = c.args.join(' ') + "\nstderr: " + r.err.left(2000);
    QVERIFY2(!r.timedOut, qPrintable("timed out: " + context));
    QVERIFY2(!r.crashed, qPrintable("killed by a signal: " + context));
    QVERIFY2(r.exitCode == 1, qPrintable("exit " + QString::number(r.exitCode) + ": " + context));
    const QStringList lines = r.err.trimmed().split('\n');
    QVERIFY2(lines.size() == 1, qPrintable("not one stderr line: " + context));
    for (const QString& e : c.expect)
        QVERIFY2(r.err.contains(e), qPrintable("missing '" + e + "': " + context));
    for (const char* raw : {"json.exception", "filesystem error", "basic_filebuf", "stoi"})
        QVERIFY2(!r.err.contains(raw), qPrintable("library text: " + context));
}

QTEST_GUILESS_MAIN(TestBadInput)
