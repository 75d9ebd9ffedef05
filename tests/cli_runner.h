// quantlens-cli run as a child process, for the suites that test it end to end (test_cli,
// test_cli_limits, test_badinput, test_persist): one thread for OpenMP unless told
// otherwise, a timeout after which the process is killed, and its whole output.
#pragma once

#include <QElapsedTimer>
#include <QProcess>
#include <QString>
#include <QStringList>

#include <functional>
#include <map>
#include <string>

namespace qltest {

struct CliResult {
    int exitCode = -1;
    bool timedOut = false;  // killed after the timeout
    bool crashed = false;   // ended by a signal, or timed out
    std::string out, err;
    double wallSeconds = 0;
    QString qout() const { return QString::fromStdString(out); }
    QString qerr() const { return QString::fromStdString(err); }
};

struct CliOptions {
    int timeoutMs = 300000;
    QStringList unset;                     // environment variables removed
    std::map<QString, QString> set;        // environment variables added
    QString shellPrefix;                   // run by /bin/sh before exec of the CLI (e.g. ulimit)
    std::function<void(qint64 pid)> poll;  // called about every 50 ms while it runs
};

inline CliResult runCli(const QStringList& args, const CliOptions& o = {}) {
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("OMP_NUM_THREADS", "1");
    for (const QString& name : o.unset) env.remove(name);
    for (const auto& [name, value] : o.set) env.insert(name, value);
    QProcess p;
    p.setProcessEnvironment(env);
    QElapsedTimer timer;
    timer.start();
    if (o.shellPrefix.isEmpty())
        p.start(QUANTLENS_CLI_PATH, args);
    else  // the prefix, then exec of the CLI itself (same pid)
        p.start(
            "/bin/sh",
            QStringList{"-c", o.shellPrefix + "; exec \"$0\" \"$@\"", QUANTLENS_CLI_PATH} + args);
    p.waitForStarted();
    CliResult r;
    while (!p.waitForFinished(50)) {
        if (p.state() == QProcess::NotRunning) break;
        if (timer.elapsed() > o.timeoutMs) {
            r.timedOut = true;
            p.kill();
            p.waitForFinished();
            break;
        }
        if (o.poll) o.poll(p.processId());
    }
    r.wallSeconds = double(timer.elapsed()) / 1000.0;
    r.crashed = r.timedOut || p.exitStatus() != QProcess::NormalExit;
    r.exitCode = p.exitCode();
    r.out = p.readAllStandardOutput().toStdString();
    r.err = p.readAllStandardError().toStdString();
    return r;
}

}  // namespace qltest
