// quantlens-cli resource limits (issue 12), each command run as a separate process:
// --threads bounds every thread pool, bad --threads / extra arguments / too long windows
// are one-line errors, memory is estimated before loading, and output shows what a run
// really used.
#include "cli_runner.h"
#include "testdata.h"

#include <QObject>
#include <QTest>
#include <QThread>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

const char* kSmall = "models/stories260k";

struct Result : qltest::CliResult {
    int busyThreads = 0;    // threads of the process that used >= 0.2 s of CPU
    double cpuSeconds = 0;  // user + system CPU of the process
};

// CPU ticks per thread of `pid`, read from /proc/<pid>/task/*/stat (fields 14, 15).
std::map<std::string, long> threadTicks(qint64 pid) {
    std::map<std::string, long> ticks;
    std::error_code ec;
    const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& t : fs::directory_iterator(tasks, ec)) {
        std::ifstream in(t.path() / "stat");
        std::string line;
        if (!std::getline(in, line)) continue;
        const size_t close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(line.substr(close + 2));
        std::string field;
        long utime = 0, stime = 0;
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 14) utime = std::stol(field);
            if (i == 15) stime = std::stol(field);
        }
        ticks[t.path().filename().string()] = utime + stime;
    }
    return ticks;
}

double childrenCpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_CHILDREN, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Runs the CLI; `unset` names environment variables to remove, `set` adds some. The
// process's threads are sampled while it runs (after a re-execution: same pid).
Result runCli(const QStringList& args, const QStringList& unset = {},
              const std::map<QString, QString>& set = {}) {
    std::map<std::string, long> maxTicks;
    qltest::CliOptions o;
    o.unset = unset;
    o.set = set;
    o.poll = [&maxTicks](qint64 pid) {
        for (const auto& [tid, t] : threadTicks(pid)) maxTicks[tid] = std::max(maxTicks[tid], t);
    };
    const double cpuBefore = childrenCpuSeconds();
    Result r;
    static_cast<qltest::CliResult&>(r) = qltest::runCli(args, o);
    r.cpuSeconds = childrenCpuSeconds() - cpuBefore;
    const long hz = sysconf(_SC_CLK_TCK);
    for (const auto& [tid, t] : maxTicks) r.busyThreads += double(t) / double(hz) >= 0.2 ? 1 : 0;
    return r;
}

QString data(const char* relative) {
    return QString::fromStdString(qltest::dataPath(relative));
}

// Exit 1, no crash, one line on stderr with "error" and `needle`.
void expectFailure(const Result& r, const std::string& needle) {
    QVERIFY2(!r.crashed, r.err.c_str());
    QVERIFY2(r.exitCode == 1,
             qPrintable(QString("exit %1: %2").arg(r.exitCode).arg(r.err.c_str())));
    QVERIFY2(r.err.find("error") != std::string::npos, r.err.c_str());
    QVERIFY2(r.err.find(needle) != std::string::npos,
             qPrintable(QString("'%1' not in: %2").arg(needle.c_str(), r.err.c_str())));
    QCOMPARE(std::count(r.err.begin(), r.err.end(), '\n'), std::ptrdiff_t(1));
}

}  // namespace

class TestCliLimits : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void badThreads_data();
    void badThreads();
    void extraPositionalRejected();
    void windowLongerThanPositions();
    void evalMemoryEstimatedUpFront();
    void modelFileIsNotAFolder();
    void oneThreadMeansOneBusyThread();
    void quantizePrintsWhatWasUsed();
};

void TestCliLimits::badThreads_data() {
    QTest::addColumn<QString>("command");
    QTest::addColumn<QString>("threads");
    for (const char* cmd : {"eval", "quantize"})
        for (const char* t : {"-4", "0", "2000"})
            QTest::newRow(qPrintable(QString("%1 %2").arg(cmd, t))) << cmd << t;
}

void TestCliLimits::badThreads() {
    QFETCH(QString, command);
    QFETCH(QString, threads);
    QL_REQUIRE_DATA(kSmall);
    QStringList args = {command, "--model", data(kSmall), "--threads", threads};
    if (command == "eval")
        args << "--text" << data("data/stories/stories.txt");
    else
        args << "--recipe"
             << "rtn:int8:channel:sym"
             << "--out" << qltest::tempDir("limits-threads") + "/run";
    expectFailure(runCli(args), "--threads expects a number of threads in 1..256");
}

void TestCliLimits::extraPositionalRejected() {
    QL_REQUIRE_DATA(kSmall);
    expectFailure(runCli({"eval", "--model", data(kSmall), "--text",
                          data("data/stories/stories.txt"), "stray"}),
                  "unexpected argument 'stray'");
}

void TestCliLimits::windowLongerThanPositions() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("data/stories/stories.txt");
    // stories260k has max_position_embeddings 512: a ppl over 4096-token windows is noise.
    expectFailure(runCli({"eval", "--model", data(kSmall), "--text",
                          data("data/stories/stories.txt"), "--seq", "4096"}),
                  "max_position_embeddings (512");
    expectFailure(runCli({"quantize", "--model", data(kSmall), "--recipe", "rtn:int8:channel:sym",
                          "--calib", data("data/stories/calib.txt"), "--calib-seq", "1024", "--out",
                          qltest::tempDir("limits-seq") + "/run"}),
                  "calibration window of 1024 tokens");
}

void TestCliLimits::evalMemoryEstimatedUpFront() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("data/stories/stories.txt");
    // 20000^2 scores x 8 heads x 4 bytes = 12.8 GB: refused before anything is loaded (on
    // a copy of the model whose positions allow such windows).
    const QString longModel = qltest::modelWithPositions(kSmall, 32768, "limits-long-positions");
    QVERIFY(!longModel.isEmpty());
    const QStringList args = {
        "eval", "--text", data("data/stories/stories.txt"), "--seq", "20000", "--batch", "1"};
    const Result r =
        runCli(args + QStringList{"--model", longModel}, {}, {{"QL_MEMORY_AVAILABLE_MB", "8192"}});
    expectFailure(r, "not enough memory to evaluate");
    QVERIFY(r.err.find("window(s) of 20000 tokens") != std::string::npos);
    // Past max_position_embeddings that limit is named, not the memory: it says which
    // --seq works, and more memory would not make the perplexity meaningful.
    const Result p = runCli(args + QStringList{"--model", data(kSmall)}, {},
                            {{"QL_MEMORY_AVAILABLE_MB", "8192"}});
    expectFailure(p, "max_position_embeddings (512");
    QVERIFY2(p.err.find("memory") == std::string::npos, p.err.c_str());
}

// A model file instead of its folder: one line naming the path, for every command that
// loads a model (a file alone has no config.json or tokenizer to run with).
void TestCliLimits::modelFileIsNotAFolder() {
    QL_REQUIRE_DATA(kSmall);
    const QString file = data(kSmall) + "/model.safetensors";
    const QString out = qltest::tempDir("limits-model-file") + "/run";
    expectFailure(
        runCli({"quantize", "--model", file, "--recipe", "rtn:int8:channel:sym", "--out", out}),
        file.toStdString() + ": is a file, expected a model folder");
    expectFailure(runCli({"eval", "--model", file, "--text", data("data/stories/stories.txt")}),
                  file.toStdString() + ": is a file, expected a model folder");
    QVERIFY(!QFileInfo::exists(out));
}

// The bug: OpenBLAS sized its own pthread pool from the core count when it loaded, so a
// "1-thread" eval kept a second thread busy. Without OMP_NUM_THREADS in the environment
// (OpenBLAS falls back to it), --threads 1 must leave one busy thread and CPU <= wall.
void TestCliLimits::oneThreadMeansOneBusyThread() {
    QL_REQUIRE_DATA("data/wikitext-2-raw/wiki.test.raw");
    if (QThread::idealThreadCount() < 2) QSKIP("needs at least 2 cores to see a second thread");
    const QString model = qltest::tempDir("limits-synth") + "/llama-tiny";
    const Result synth =
        runCli({"synth", "--preset", "llama-tiny", "--dtype", "f32", "--out", model});
    QVERIFY2(synth.exitCode == 0, synth.err.c_str());
    const Result r =
        runCli({"eval", "--model", model, "--text", data("data/wikitext-2-raw/wiki.test.raw"),
                "--seq", "512", "--max-windows", "24", "--threads", "1"},
               {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "QUANTLENS_THREADS"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QVERIFY2(r.cpuSeconds > 1.0, qPrintable(QString("too short to tell: %1 s").arg(r.cpuSeconds)));
    QVERIFY2(r.busyThreads == 1, qPrintable(QString("%1 busy threads").arg(r.busyThreads)));
    QVERIFY2(r.cpuSeconds <= 1.15 * r.wallSeconds + 0.1,
             qPrintable(QString("CPU %1 s in %2 s wall").arg(r.cpuSeconds).arg(r.wallSeconds)));
}

void TestCliLimits::quantizePrintsWhatWasUsed() {
    QL_REQUIRE_DATA(kSmall);
    QL_REQUIRE_DATA("data/stories/calib.txt");
    const Result r = runCli({"quantize", "--model", data(kSmall), "--recipe", "rtn:int4:g128:sym",
                             "--calib", data("data/stories/calib.txt"), "--calib-windows", "500",
                             "--calib-seq", "256", "--no-activations", "--no-gradients",
                             "--threads", "1", "--out", qltest::tempDir("limits-used") + "/run"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QVERIFY2(r.out.find("of 500 window(s) of 256 tokens used") != std::string::npos, r.out.c_str());
    QVERIFY2(r.out.find("warning: calibration: 500 x 256 tokens asked") != std::string::npos,
             r.out.c_str());
    QVERIFY2(
        r.out.find("output SQNR measured on: held-out calibration windows") != std::string::npos,
        r.out.c_str());
    QVERIFY2(r.out.find("(RTN INT4 g128 \u2192 channel \u00d735 sym)") != std::string::npos,
             r.out.c_str());
}

QTEST_GUILESS_MAIN(TestCliLimits)
#include "test_cli_limits.moc"
