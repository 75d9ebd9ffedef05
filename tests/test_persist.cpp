// Nothing lost, every write crash-safe: what saveRun / compare --out may replace, the
// atomic file writer under write errors, recovery of interrupted saves, the CLI killed
// at every step of a write (QUANTLENS_TEST_CRASH_AT), and checked run.json numbers.
#include "cli_runner.h"
#include "testdata.h"

#include "base/atomic_write.h"
#include "base/error.h"
#include "base/output_folder.h"
#include "run/run.h"

#include <nlohmann/json.hpp>

#include <QObject>
#include <QTest>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ql;

namespace {

const char* kSmall = "models/stories260k";

void writeText(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// Names in `dir` other than the listed ones (leftovers of interrupted writes).
QStringList entries(const std::string& dir) {
    QStringList out;
    for (const auto& e : fs::directory_iterator(dir))
        out << QString::fromStdString(e.path().filename().string());
    out.sort();
    return out;
}

// The error message of `f`, or "" when it did not throw ql::Error.
QString errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

// A small run built in memory (no model needed): one layer with real-looking values.
RunResult syntheticRun(const std::string& id) {
    RunResult r;
    r.id = id;
    r.label = "INT8 channel RTN";
    r.createdAt = "2026-12-02T07:00:00Z";
    r.modelName = "synthetic";
    r.architecture = "LlamaForCausalLM";
    LayerResult l;
    l.name = "model.layers.0.self_attn.q_proj";
    l.kind = "q_proj";
    l.rows = l.cols = 4;
    l.parameters = 16;
    l.bytesFp = 64;
    l.bytesQ = 24;
    l.method = "rtn:int8:channel:sym";
    l.bits = 8;
    l.groupSize = 4;
    l.weightAfterSource = "grid";
    l.weightSqnrDb = 41.5;
    l.scales = {0.5f, 0.25f, 0.125f, 1.0f};
    r.layers.push_back(l);
    r.perplexity.valid = true;
    r.perplexity.pplFp = 10.0;
    r.perplexity.pplQ = 10.1;
    r.perplexity.windows = 3;
    r.perplexity.seq = 256;
    r.perplexity.scoredTokens = 765;
    r.perplexity.protocol = "gptq";
    r.memory.parametersTotal = 16;
    return r;
}

struct Result {
    int exitCode = -1;
    bool normalExit = false;
    std::string err;
};

Result runCli(const QStringList& args, const QString& crashAt = {},
              const QString& shellPrefix = {}) {
    qltest::CliOptions o;
    if (!crashAt.isEmpty()) o.set["QUANTLENS_TEST_CRASH_AT"] = crashAt;
    o.shellPrefix = shellPrefix;  // e.g. a file size limit set by the shell
    const qltest::CliResult r = qltest::runCli(args, o);
    return {r.exitCode, !r.crashed, r.err};
}

QStringList quantizeArgs(const QString& recipe, const QString& out) {
    return {"quantize",       "--model",   QString::fromStdString(qltest::dataPath(kSmall)),
            "--recipe",       recipe,      "--no-activations",
            "--no-gradients", "--threads", "1",
            "--out",          out};
}

// Temp / old siblings saveRun leaves when interrupted.
QStringList runLeftovers(const std::string& run) {
    QStringList out;
    const std::string base = fs::path(run).filename().string();
    for (const QString& e : entries(fs::path(run).parent_path().string()))
        if (e.startsWith(QString::fromStdString(base) + ".")) out << e;
    return out;
}

// Makes every write beyond `bytes` fail with EFBIG while alive (SIGXFSZ ignored).
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        getrlimit(RLIMIT_FSIZE, &saved_);
        oldHandler_ = std::signal(SIGXFSZ, SIG_IGN);
        rlimit l = saved_;
        l.rlim_cur = bytes;
        setrlimit(RLIMIT_FSIZE, &l);
    }
    ~FileSizeLimit() {
        setrlimit(RLIMIT_FSIZE, &saved_);
        std::signal(SIGXFSZ, oldHandler_);
    }

private:
    rlimit saved_{};
    void (*oldHandler_)(int) = nullptr;
};

}  // namespace

class TestPersist : public QObject {
    Q_OBJECT
private slots:
    void atomicWriteReplacesAndCleans();
    void atomicWriteErrorLeavesNothing();
    void runDestinationRefusesNonRuns_data();
    void runDestinationRefusesNonRuns();
    void replacingARunNeedsConsent();
    void interruptedSaveIsRecovered();
    void runJsonNumbersAreChecked_data();
    void runJsonNumbersAreChecked();
    void outputFolderRules();
    void cliRefusesBeforeComputing();
    void cliKilledAtEveryStep();
    void compareOutIsSafe();
    void synthOutIsSafe();
};

void TestPersist::atomicWriteReplacesAndCleans() {
    const std::string dir = qltest::tempDir("persist-atomic").toStdString();
    const std::string path = dir + "/layers.csv";
    writeFileAtomic(path, "a,b\n1,2\n");
    QCOMPARE(qltest::readFile(path), std::string("a,b\n1,2\n"));
    // Leftover of a writer killed mid-write: removed by the next write into the folder.
    writeText(dir + "/.memory.csv.tmp-Ab12Cd", "partial");
    // A live writer's temp file (locked) is left alone.
    writeText(dir + "/.perplexity.csv.tmp-Zz99Yy", "in progress");
    const int live = ::open((dir + "/.perplexity.csv.tmp-Zz99Yy").c_str(), O_RDONLY);
    QVERIFY(live >= 0 && ::flock(live, LOCK_EX) == 0);
    writeFileAtomic(path, "a,b\n3,4\n");
    QCOMPARE(qltest::readFile(path), std::string("a,b\n3,4\n"));
    QCOMPARE(entries(dir), QStringList({".perplexity.csv.tmp-Zz99Yy", "layers.csv"}));
    ::close(live);
    writeFileAtomic(path, "x\n");
    QCOMPARE(entries(dir), QStringList({"layers.csv"}));
    // A missing folder: one line naming the file.
    const QString err = errorOf([&] { writeFileAtomic(dir + "/missing/x.csv", "x"); });
    QVERIFY2(err.contains(QString::fromStdString(dir + "/missing/x.csv")), qPrintable(err));
}

void TestPersist::atomicWriteErrorLeavesNothing() {
    const std::string dir = qltest::tempDir("persist-full").toStdString();
    const std::string path = dir + "/layers.csv";
    writeFileAtomic(path, "old\n");
    QString err;
    {
        const FileSizeLimit limit(4096);
        err = errorOf([&] { writeFileAtomic(path, std::string(100000, 'x')); });
    }
    QVERIFY2(err.contains(QString::fromStdString(path)), qPrintable(err));
    QVERIFY2(err.contains("file size limit"), qPrintable(err));
    QCOMPARE(qltest::readFile(path), std::string("old\n"));  // untouched, not truncated
    QCOMPARE(entries(dir), QStringList({"layers.csv"}));     // no temp file left
    // A full disk (ENOSPC) as the kernel reports it for /dev/full.
    if (fs::exists("/dev/full")) {
        err = errorOf([&] { writeFileDurable("/dev/full", "data"); });
        QVERIFY2(err.contains("/dev/full") && err.contains("disk is full"), qPrintable(err));
    }
}

void TestPersist::runDestinationRefusesNonRuns_data() {
    QTest::addColumn<QString>("out");     // relative to the test folder (the cwd)
    QTest::addColumn<QString>("needle");  // expected in the one-line error
    QTest::newRow("existing file") << "notes.txt"
                                   << "is a file";
    QTest::newRow("user folder") << "photos"
                                 << "holds 'cat.jpg'";
    QTest::newRow("dot") << "."
                         << "not a QuantLens run folder";
    QTest::newRow("x/..") << "photos/.."
                          << "not a QuantLens run folder";
    QTest::newRow("model folder") << "model"
                                  << "holds 'config.json'";
    QTest::newRow("run.json not ours") << "fake"
                                       << "not a QuantLens run file";
    QTest::newRow("missing parent") << "nowhere/run"
                                    << "does not exist";
    QTest::newRow("parent is a file") << "notes.txt/run"
                                      << "is not a folder";
    QTest::newRow("symlink") << "link"
                             << "symbolic link";
    QTest::newRow("not writable") << "/proc/run"
                                  << "is not writable";
}

void TestPersist::runDestinationRefusesNonRuns() {
    QFETCH(QString, out);
    QFETCH(QString, needle);
    const std::string dir = qltest::tempDir("persist-dest").toStdString();
    writeText(dir + "/notes.txt", "my notes");
    fs::create_directories(dir + "/photos");
    writeText(dir + "/photos/cat.jpg", "jpeg");
    fs::create_directories(dir + "/model");
    writeText(dir + "/model/config.json", "{}");
    fs::create_directories(dir + "/fake");
    writeText(dir + "/fake/run.json", "{\"format\": \"something-else\"}");
    fs::create_directory_symlink(dir + "/photos", dir + "/link");
    const fs::path cwd = fs::current_path();
    fs::current_path(dir);  // "." and "x/.." name this sandbox, never the build folder
    const std::string path = out.toStdString();
    const QString checkErr = errorOf([&] { checkRunDestination(path); });
    const QString saveErr =
        errorOf([&] { saveRun(syntheticRun("new"), path, Overwrite::ExistingRun); });
    fs::current_path(cwd);
    QVERIFY2(checkErr.contains(needle), qPrintable(checkErr));
    QVERIFY2(saveErr.contains(needle), qPrintable(saveErr));
    QVERIFY2(!checkErr.contains('\n'), qPrintable(checkErr));
    // Everything is still there, untouched.
    QCOMPARE(qltest::readFile(dir + "/notes.txt"), std::string("my notes"));
    QCOMPARE(qltest::readFile(dir + "/photos/cat.jpg"), std::string("jpeg"));
    QCOMPARE(qltest::readFile(dir + "/model/config.json"), std::string("{}"));
    QCOMPARE(entries(dir), QStringList({"fake", "link", "model", "notes.txt", "photos"}));
}

void TestPersist::replacingARunNeedsConsent() {
    const std::string dir = qltest::tempDir("persist-replace").toStdString();
    const std::string run = dir + "/run";
    QVERIFY(checkRunDestination(run) == RunDestination::New);
    const mode_t oldMask = ::umask(022);
    saveRun(syntheticRun("first"), run);
    ::umask(oldMask);
    // The user's usual permissions (umask), not mkdtemp's 0700: runs can be shared.
    QCOMPARE(fs::status(run).permissions() & fs::perms::all, fs::perms(0755));
    QVERIFY(checkRunDestination(run) == RunDestination::ExistingRun);
    const QString err = errorOf([&] { saveRun(syntheticRun("second"), run); });
    QVERIFY2(err.contains("already holds a QuantLens run"), qPrintable(err));
    QCOMPARE(loadRun(run).id, std::string("first"));
    saveRun(syntheticRun("second"), run, Overwrite::ExistingRun);
    QCOMPARE(loadRun(run).id, std::string("second"));
    QCOMPARE(entries(dir), QStringList({"run"}));
    // A run folder the user added a file to is no longer only a run: never replaced.
    writeText(run + "/notes.txt", "mine");
    QVERIFY(errorOf([&] {
                saveRun(syntheticRun("third"), run, Overwrite::ExistingRun);
            }).contains("holds 'notes.txt'"));
    QCOMPARE(qltest::readFile(run + "/notes.txt"), std::string("mine"));
}

void TestPersist::interruptedSaveIsRecovered() {
    const std::string dir = qltest::tempDir("persist-recover").toStdString();
    const std::string run = dir + "/run";
    saveRun(syntheticRun("old"), run);
    saveRun(syntheticRun("new"), dir + "/staging");
    // Killed between the two renames: RUN missing, old and new beside it.
    fs::rename(run, run + ".old-Ab12Cd");
    fs::rename(dir + "/staging", run + ".tmp-Xy34Zw");
    fs::create_directory(run + ".tmp-Em9tY0");  // killed right after mkdtemp
    // A user's folder that merely looks like a leftover is never removed.
    fs::create_directory(run + ".tmp-user01");
    writeText(run + ".tmp-user01/thesis.tex", "chapter 1");
    // A temporary folder is not a run, even when complete.
    QVERIFY(errorOf([&] { loadRun(run + ".tmp-Xy34Zw"); }).contains("interrupted save"));
    QCOMPARE(loadRun(run).id, std::string("old"));  // restored, complete
    QCOMPARE(runLeftovers(run), QStringList({"run.tmp-user01"}));
    QCOMPARE(qltest::readFile(run + ".tmp-user01/thesis.tex"), std::string("chapter 1"));
    // Killed after the new folder was renamed: the old one is just removed.
    fs::create_directory(run + ".old-Qq11Ww");
    writeText(run + ".old-Qq11Ww/run.json", "{}");
    saveRun(syntheticRun("newer"), run, Overwrite::ExistingRun);
    QCOMPARE(loadRun(run).id, std::string("newer"));
    QCOMPARE(runLeftovers(run), QStringList({"run.tmp-user01"}));
}

void TestPersist::runJsonNumbersAreChecked_data() {
    QTest::addColumn<QString>("pointer");  // JSON pointer of the field
    QTest::addColumn<QString>("value");    // JSON text put there
    QTest::addColumn<QString>("field");    // expected in the message
    QTest::newRow("windows 1e300") << "/perplexity/windows"
                                   << "1e300"
                                   << "perplexity.windows";
    QTest::newRow("windows -1") << "/perplexity/windows"
                                << "-1"
                                << "perplexity.windows";
    QTest::newRow("windows 2.5") << "/perplexity/windows"
                                 << "2.5"
                                 << "perplexity.windows";
    QTest::newRow("windows string") << "/perplexity/windows"
                                    << "\"3\""
                                    << "perplexity.windows";
    QTest::newRow("seq 2^31") << "/perplexity/seq"
                              << "2147483648"
                              << "perplexity.seq";
    QTest::newRow("scored -5") << "/perplexity/scored_tokens"
                               << "-5"
                               << "perplexity.scored_tokens";
    QTest::newRow("params -1") << "/memory/parameters_total"
                               << "-1"
                               << "memory.parameters_total";
    QTest::newRow("params 2^64") << "/memory/parameters_total"
                                 << "18446744073709551616"
                                 << "memory.parameters_total";
    QTest::newRow("bins true") << "/config/histogram_bins"
                               << "true"
                               << "config.histogram_bins";
    QTest::newRow("calib nan") << "/config/calibration_windows"
                               << "\"nan\""
                               << "config.calibration_windows";
    QTest::newRow("min params 1e19") << "/config/layers/min_parameters"
                                     << "1e19"
                                     << "config.layers.min_parameters";
    QTest::newRow("bits 99") << "/layers/0/bits"
                             << "99"
                             << "layers[0].bits";
    QTest::newRow("rows -3") << "/layers/0/rows"
                             << "-3"
                             << "layers[0].rows";
    QTest::newRow("bytes_q 1.5") << "/layers/0/bytes_q"
                                 << "1.5"
                                 << "layers[0].bytes_q";
    QTest::newRow("version 1e300") << "/version"
                                   << "1e300"
                                   << "version";
}

void TestPersist::runJsonNumbersAreChecked() {
    QFETCH(QString, pointer);
    QFETCH(QString, value);
    QFETCH(QString, field);
    const std::string run = qltest::tempDir("persist-numbers").toStdString() + "/run";
    saveRun(syntheticRun("n"), run);
    json j = json::parse(qltest::readFile(run + "/run.json"));
    j[json::json_pointer(pointer.toStdString())] = json::parse(value.toStdString());
    writeText(run + "/run.json", j.dump(1));
    const QString err = errorOf([&] { loadRun(run); });
    QVERIFY2(err.contains("run.json"), qPrintable(err));
    QVERIFY2(err.contains("'" + field + "'"), qPrintable(err));
    QVERIFY2(!err.contains('\n') && !err.contains("json.exception"), qPrintable(err));
    // The largest values that fit load exactly; a whole number written as a float is fine.
    saveRun(syntheticRun("n"), run, Overwrite::ExistingRun);
    j = json::parse(qltest::readFile(run + "/run.json"));
    j["perplexity"]["windows"] = 2147483647;
    j["memory"]["parameters_total"] = uint64_t(9223372036854775807ULL);
    j["perplexity"]["seq"] = 256.0;
    writeText(run + "/run.json", j.dump(1));
    const RunResult r = loadRun(run);
    QCOMPARE(r.perplexity.windows, 2147483647);
    QCOMPARE(r.memory.parametersTotal, uint64_t(9223372036854775807ULL));
    QCOMPARE(r.perplexity.seq, 256);
}

void TestPersist::outputFolderRules() {
    const std::string dir = qltest::tempDir("persist-output").toStdString();
    QVERIFY(checkOutputFolder(dir + "/new") == OutputFolder::New);
    fs::create_directory(dir + "/empty");
    QVERIFY(checkOutputFolder(dir + "/empty") == OutputFolder::Empty);
    claimOutputFolder(dir + "/new", "quantlens-compare");
    QVERIFY(checkOutputFolder(dir + "/new") == OutputFolder::Ours);
    fs::create_directory(dir + "/user");
    writeText(dir + "/user/layers.csv", "my table");
    QVERIFY(errorOf([&] { checkOutputFolder(dir + "/user"); }).contains("not empty"));
    QVERIFY(errorOf([&] { checkOutputFolder(dir + "/user/layers.csv"); }).contains("is a file"));
    QVERIFY(errorOf([&] { checkOutputFolder(dir + "/no/such"); }).contains("does not exist"));
    QVERIFY(errorOf([&] { checkOutputFolder("/proc/report"); }).contains("cannot write"));
    QCOMPARE(qltest::readFile(dir + "/user/layers.csv"), std::string("my table"));
}

void TestPersist::cliRefusesBeforeComputing() {
    QL_REQUIRE_DATA(kSmall);
    const std::string dir = qltest::tempDir("persist-cli-refuse").toStdString();
    const QString d = QString::fromStdString(dir);
    writeText(dir + "/notes.txt", "my notes");
    fs::create_directories(dir + "/photos");
    writeText(dir + "/photos/cat.jpg", "jpeg");
    const QString model = QString::fromStdString(qltest::dataPath(kSmall));
    const QStringList model2 = entries(qltest::dataPath(kSmall));
    struct Case {
        QString out, needle;
    };
    const std::vector<Case> cases = {{d + "/notes.txt", "is a file"},
                                     {d + "/photos", "holds 'cat.jpg'"},
                                     {d + "/photos/..", "not a QuantLens run folder"},
                                     {model, "not a QuantLens run folder"},
                                     {d + "/nowhere/run", "does not exist"},
                                     {d + "/notes.txt/run", "is not a folder"}};
    for (const Case& c : cases) {
        const Result r = runCli(quantizeArgs("rtn:int8:channel:sym", c.out) << "--force");
        QVERIFY2(r.normalExit && r.exitCode == 1, qPrintable(c.out));
        QVERIFY2(QString::fromStdString(r.err).contains(c.needle), r.err.c_str());
        // Refused before computing: no progress line was printed.
        QVERIFY2(r.err.find("%]") == std::string::npos, r.err.c_str());
    }
    QCOMPARE(qltest::readFile(dir + "/notes.txt"), std::string("my notes"));
    QCOMPARE(qltest::readFile(dir + "/photos/cat.jpg"), std::string("jpeg"));
    QCOMPARE(entries(qltest::dataPath(kSmall)), model2);
    // An existing run: replaced only with --force, refused at once without it.
    const QString run = d + "/run";
    QCOMPARE(runCli(quantizeArgs("rtn:int8:channel:sym", run)).exitCode, 0);
    const std::string firstId = loadRun(run.toStdString()).id;
    const Result again = runCli(quantizeArgs("rtn:int4:channel:sym", run));
    QCOMPARE(again.exitCode, 1);
    QVERIFY2(again.err.find("--force") != std::string::npos, again.err.c_str());
    QVERIFY2(again.err.find("%]") == std::string::npos, again.err.c_str());
    QCOMPARE(loadRun(run.toStdString()).id, firstId);
    QCOMPARE(runCli(quantizeArgs("rtn:int4:channel:sym", run) << "--force").exitCode, 0);
    QVERIFY(loadRun(run.toStdString()).id != firstId);
}

void TestPersist::cliKilledAtEveryStep() {
    QL_REQUIRE_DATA(kSmall);
    const std::string dir = qltest::tempDir("persist-crash").toStdString();
    const QString run = QString::fromStdString(dir) + "/run";
    QCOMPARE(runCli(quantizeArgs("rtn:int8:channel:sym", run)).exitCode, 0);
    // Every step of saveRun, in order; the CLI dies with _exit(9) there.
    const QStringList steps = {"run-temp-created", "run-json-written", "run-temp-complete",
                               "run-old-moved", "run-new-moved"};
    for (const QString& step : steps) {
        const Result r = runCli(quantizeArgs("rtn:int4:channel:sym", run) << "--force", step);
        QVERIFY2(r.normalExit && r.exitCode == 9, qPrintable(step + ": not killed there"));
        // RUN loads, complete: the old run, or the new one once it was renamed into place.
        const RunResult loaded = loadRun(run.toStdString());
        QCOMPARE(loaded.layers.size(), size_t(35));
        const bool isNew = loaded.config.recipe == "rtn:int4:channel:sym";
        QVERIFY2(isNew == (step == "run-new-moved"), qPrintable(step));
        // The next save cleans every leftover.
        const Result next = runCli(quantizeArgs("rtn:int8:channel:sym", run) << "--force");
        QCOMPARE(next.exitCode, 0);
        QCOMPARE(runLeftovers(run.toStdString()), QStringList());
        QCOMPARE(entries(dir), QStringList({"run"}));
    }
}

void TestPersist::compareOutIsSafe() {
    QL_REQUIRE_DATA(kSmall);
    const std::string dir = qltest::tempDir("persist-compare").toStdString();
    const QString d = QString::fromStdString(dir);
    QCOMPARE(runCli(quantizeArgs("rtn:int8:channel:sym", d + "/a")).exitCode, 0);
    QCOMPARE(runCli(quantizeArgs("rtn:int4:channel:sym", d + "/b")).exitCode, 0);
    auto compare = [&](const QString& out) {
        return QStringList{"compare", d + "/a", d + "/b", "--out", out};
    };
    // A folder of the user's files is refused; nothing in it changes.
    fs::create_directories(dir + "/mine");
    writeText(dir + "/mine/layers.csv", "my table");
    Result r = runCli(compare(d + "/mine"));
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.find("not empty") != std::string::npos, r.err.c_str());
    QCOMPARE(qltest::readFile(dir + "/mine/layers.csv"), std::string("my table"));
    // New folder: written; again: needs --force.
    QCOMPARE(runCli(compare(d + "/cmp")).exitCode, 0);
    const std::string layers = qltest::readFile(dir + "/cmp/layers.csv");
    QVERIFY(layers.size() > 2048);
    r = runCli(compare(d + "/cmp"));
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.find("--force") != std::string::npos, r.err.c_str());
    // Killed at each step of a file write: the old or the new file, complete.
    for (const char* step : {"file-written:layers.csv", "file-renamed:layers.csv"}) {
        r = runCli(compare(d + "/cmp") << "--force", step);
        QVERIFY2(r.normalExit && r.exitCode == 9, step);
        QCOMPARE(qltest::readFile(dir + "/cmp/layers.csv"), layers);
    }
    QCOMPARE(runCli(compare(d + "/cmp") << "--force").exitCode, 0);
    QCOMPARE(entries(dir + "/cmp"),
             QStringList({".quantlens-output", "layers.csv", "memory.csv", "perplexity.csv"}));
    // Write error (file size limit, as on a full disk): one line naming the file, no
    // partial or 0-byte layers.csv and no temp file left.
    r = runCli(compare(d + "/limited"), {}, "trap '' XFSZ; ulimit -f 2");
    QVERIFY2(r.normalExit && r.exitCode == 1, r.err.c_str());
    QVERIFY2(r.err.find(dir + "/limited/layers.csv") != std::string::npos, r.err.c_str());
    QVERIFY2(r.err.find("file size limit") != std::string::npos, r.err.c_str());
    QCOMPARE(entries(dir + "/limited"), QStringList({".quantlens-output"}));
}

void TestPersist::synthOutIsSafe() {
    const std::string dir = qltest::tempDir("persist-synth").toStdString();
    const QString d = QString::fromStdString(dir);
    // A real model's folder (here: a stand-in) is never overwritten by synthetic weights.
    fs::create_directories(dir + "/real");
    writeText(dir + "/real/config.json", "{\"real\": true}");
    writeText(dir + "/real/model.safetensors", "real weights");
    const QStringList synth = {"synth", "--preset", "llama-tiny", "--json", "--out"};
    Result r = runCli(QStringList(synth) << d + "/real"
                                         << "--force");
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.find("not empty") != std::string::npos, r.err.c_str());
    QCOMPARE(qltest::readFile(dir + "/real/model.safetensors"), std::string("real weights"));
    QCOMPARE(runCli(QStringList(synth) << d + "/synth").exitCode, 0);
    r = runCli(QStringList(synth) << d + "/synth");
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.find("--force") != std::string::npos, r.err.c_str());
    QCOMPARE(runCli(QStringList(synth) << d + "/synth"
                                       << "--force")
                 .exitCode,
             0);
    QVERIFY(fs::exists(dir + "/synth/model.safetensors"));
    for (const QString& e : entries(dir + "/synth")) QVERIFY2(!e.contains(".tmp-"), qPrintable(e));
}

QTEST_GUILESS_MAIN(TestPersist)
#include "test_persist.moc"
