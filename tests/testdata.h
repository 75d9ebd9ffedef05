// Locating ../shared for tests: one setting, QUANTLENS_TEST_DATA (environment, else the
// CMake cache value compiled in). Missing data skips loudly (QSKIP -> CTest "Skipped").
#pragma once

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>
#include <QTest>

#include <fstream>
#include <sstream>
#include <string>

namespace qltest {

inline QString dataDir() {
    const QByteArray env = qgetenv("QUANTLENS_TEST_DATA");
    return QDir::cleanPath(env.isEmpty() ? QString(QUANTLENS_TEST_DATA_DEFAULT)
                                         : QString::fromLocal8Bit(env));
}

inline std::string dataPath(const QString& relative) {
    return (dataDir() + "/" + relative).toStdString();
}

inline bool hasData(const QString& relative) {
    return QFileInfo::exists(dataDir() + "/" + relative);
}

inline std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline QString tempDir(const QString& name) {
    const QString dir = QString(QUANTLENS_BINARY_DIR) + "/test-tmp/" + name;
    QDir(dir).removeRecursively();
    QDir().mkpath(dir);
    return dir;
}

// The shared model `relative` with config.json's max_position_embeddings set to
// `positions` (the other files copied: links leading outside the folder are refused as
// shards), under test-tmp/<name>: for checks that must get past the window length to the
// memory estimate. Empty when it cannot be made.
inline QString modelWithPositions(const QString& relative, int positions, const QString& name) {
    const QDir source(dataDir() + "/" + relative);
    const QString dir = tempDir(name);
    for (const QString& f : source.entryList(QDir::Files))
        if (f != "config.json" && !QFile::copy(source.filePath(f), dir + "/" + f)) return {};
    QFile in(source.filePath("config.json"));
    if (!in.open(QIODevice::ReadOnly)) return {};
    QJsonObject config = QJsonDocument::fromJson(in.readAll()).object();
    config["max_position_embeddings"] = positions;
    QFile out(dir + "/config.json");
    if (!out.open(QIODevice::WriteOnly)) return {};
    out.write(QJsonDocument(config).toJson());
    return dir;
}

}  // namespace qltest

// Use at the start of a test function that needs ../shared.
#define QL_REQUIRE_DATA(relative)                                                     \
    do {                                                                              \
        if (!qltest::hasData(relative))                                               \
            QSKIP(qPrintable("shared test data missing: " + qltest::dataDir() + "/" + \
                             QString(relative) + " (set QUANTLENS_TEST_DATA)"));      \
    } while (0)
