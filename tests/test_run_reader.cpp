// loadRun on hostile run folders (the fuzzed run reader): every damaged field is one
// ql::Error naming run.json, the field and what is expected. No undefined narrowing
// (1e300 or -1 into an int or a size), no path outside the run, no grid that re-binning
// would read past, no hang on a FIFO, no library text.
#include "base/error.h"
#include "run/run.h"
#include "testdata.h"

#include <nlohmann/json.hpp>

#include <QObject>
#include <QTest>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include <sys/stat.h>

using namespace ql;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

Histogram smallHistogram() {
    Histogram h;
    h.lo = -1.0;
    h.hi = 1.0;
    h.counts = {1, 2, 3, 4};
    h.stats.count = 10;
    return h;
}

LayerResult gridLayer(const std::string& name) {
    LayerResult l;
    l.name = name;
    l.kind = "q_proj";
    l.rows = 2;
    l.cols = 4;
    l.method = "rtn:int4:g2:asym";
    l.groupSize = 2;
    l.bits = 4;
    l.symmetric = false;
    l.weightAfterSource = "grid";
    l.scales = {0.1f, 0.2f, 0.3f, 0.4f};  // rows x groups per row
    l.zeros = {1.0f, 2.0f, 3.0f, 4.0f};
    l.weightBefore = l.weightAfter = l.weightError = smallHistogram();
    return l;
}

RunResult syntheticRun() {
    RunResult r;
    r.id = "20261202-000000-rtn-int4-g2-asym";
    r.label = "RTN INT4 g2 asym";
    r.modelName = "tiny";
    r.architecture = "llama";
    r.config.recipe = "rtn:int4:g2:asym";
    r.perplexity.windows = 3;
    r.perplexity.seq = 256;
    r.layers = {gridLayer("model.layers.0.self_attn.q_proj"),
                gridLayer("model.layers.0.self_attn.k_proj")};
    return r;
}

std::string savedRun(const QString& name, const RunResult& run = syntheticRun()) {
    const std::string folder = (qltest::tempDir(name) + "/run").toStdString();
    saveRun(run, folder);
    return folder;
}

void writeFile(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The message of the ql::Error loadRun throws ("" if it does not throw).
std::string loadError(const std::string& folder) {
    try {
        loadRun(folder);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

void expectMessage(const std::string& folder, const std::string& expected) {
    const std::string message = loadError(folder);
    QVERIFY2(message.find(expected) != std::string::npos,
             qPrintable(QString::fromStdString("got: " + message)));
    QVERIFY2(message.find("json.exception") == std::string::npos, message.c_str());
}

}  // namespace

class TestRunReader : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void syntheticRunLoads();
    void hostileField_data();
    void hostileField();
    void duplicateLayerNames();
    void notValidJson();
    void deeplyNestedRunJson();
    void hostileHistograms_data();
    void hostileHistograms();
    void gridThatRebinningWouldOverread_data();
    void gridThatRebinningWouldOverread();
    void runFilesThatAreNotFiles();
    void rebinOfARunFromAnotherModel();
};

void TestRunReader::syntheticRunLoads() {
    const RunResult loaded = loadRun(savedRun("reader-ok"));
    QCOMPARE(loaded.layers.size(), size_t(2));
    QCOMPARE(loaded.perplexity.windows, 3);
    QCOMPARE(loaded.layers[1].scales, std::vector<float>({0.1f, 0.2f, 0.3f, 0.4f}));
    QCOMPARE(loaded.layers[0].weightBefore.counts, std::vector<uint64_t>({1, 2, 3, 4}));
}

void TestRunReader::hostileField_data() {
    QTest::addColumn<QString>("pointer");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("expected");
    const QString intRange = "must be an integer from 0 to 2147483647, not ";
    QTest::newRow("windows 1e300") << "/perplexity/windows"
                                   << "1e300"
                                   << "field 'perplexity.windows' " + intRange + "1e+300";
    QTest::newRow("windows -1") << "/perplexity/windows"
                                << "-1"
                                << "field 'perplexity.windows' " + intRange + "-1";
    QTest::newRow("seq 2^31") << "/perplexity/seq"
                              << "2147483648"
                              << "field 'perplexity.seq' " + intRange + "2147483648";
    QTest::newRow("calibration windows 2.5")
        << "/config/calibration_windows"
        << "2.5"
        << "field 'config.calibration_windows' " + intRange + "2.5";
    QTest::newRow("peak rss -1")
        << "/memory/peak_rss_bytes"
        << "-1"
        << "field 'memory.peak_rss_bytes' must be an integer from 0 to 9223372036854775807";
    QTest::newRow("parameters 2^64-1") << "/layers/0/parameters"
                                       << "18446744073709551615"
                                       << "field 'layers[0].parameters' must be an integer";
    QTest::newRow("bits as text") << "/layers/1/bits"
                                  << "\"8\""
                                  << "field 'layers[1].bits' must be an integer from 0 to 32, "
                                     "not \"8\"";
    QTest::newRow("rows 2^32+1")
        << "/layers/0/rows"
        << "4294967297"
        << "field 'layers[0].rows' must be an integer from 0 to 4294967296";
    QTest::newRow("version 1e300") << "/version"
                                   << "1e300"
                                   << "field 'version' must be an integer";
    QTest::newRow("version 2") << "/version"
                               << "2"
                               << "field 'version' is 2, this QuantLens reads version 1";
    QTest::newRow("label number") << "/label"
                                  << "5"
                                  << "field 'label' must be a string, not 5";
    QTest::newRow("config null") << "/config"
                                 << "null"
                                 << "field 'config' must be a JSON object, not null";
    QTest::newRow("bins 0") << "/config/histogram_bins"
                            << "0"
                            << "field 'config.histogram_bins' must be an integer from 1 to 1048576";
    QTest::newRow("ppl text") << "/perplexity/ppl_q"
                              << "\"high\""
                              << "field 'perplexity.ppl_q' must be a number";
    QTest::newRow("warning number") << "/warnings"
                                    << "[1]"
                                    << "field 'warnings' must be an array of strings, but holds 1";
    QTest::newRow("timing seconds bool") << "/timings"
                                         << "[{\"phase\": \"x\", \"seconds\": true}]"
                                         << "field 'timings[0].seconds' must be a number";
    QTest::newRow("layer name escapes")
        << "/layers/0/name"
        << "\"../../../etc/passwd\""
        << "field 'layers[0].name' must be a layer name without '/'";
    QTest::newRow("unknown weight source") << "/layers/0/weight_after_source"
                                           << "\"elsewhere\""
                                           << "field 'layers[0].weight_after_source' must be";
    QTest::newRow("codebook of an rtn layer")
        << "/layers/0/weight_after_source"
        << "\"codebook\""
        << "field 'layers[0].method' must be a recipe whose weights are recomputed as \"codebook\"";
    QTest::newRow("grid with group 0") << "/layers/0/group_size"
                                       << "0"
                                       << "field 'layers[0].group_size' and bits must describe";
    QTest::newRow("grid with 12 bits") << "/layers/0/bits"
                                       << "12"
                                       << "field 'layers[0].group_size' and bits must describe";
    QTest::newRow("layers not array") << "/layers"
                                      << "{}"
                                      << "field 'layers' must be an array, not object";
}

void TestRunReader::hostileField() {
    QFETCH(QString, pointer);
    QFETCH(QString, value);
    QFETCH(QString, expected);
    const std::string folder = savedRun("reader-field");
    json j = json::parse(qltest::readFile(folder + "/run.json"));
    j[json::json_pointer(pointer.toStdString())] = json::parse(value.toStdString());
    writeFile(folder + "/run.json", j.dump(1));
    expectMessage(folder, "run file '" + folder + "/run.json': " + expected.toStdString());
}

void TestRunReader::duplicateLayerNames() {
    const std::string folder = savedRun("reader-dup");
    json j = json::parse(qltest::readFile(folder + "/run.json"));
    j["layers"][1]["name"] = j["layers"][0]["name"];
    writeFile(folder + "/run.json", j.dump(1));
    expectMessage(folder,
                  "field 'layers[1].name' repeats layer \"model.layers.0.self_attn.q_proj\"");
}

void TestRunReader::notValidJson() {
    const std::string folder = savedRun("reader-json");
    writeFile(folder + "/run.json", "{\"format\": \"quantlens-run\", \"version\": ");
    expectMessage(folder,
                  "run file '" + folder + "/run.json' is not valid JSON (error at byte 40)");
    // nlohmann throws out_of_range, not parse_error, for this (found by fuzz_run).
    writeFile(folder + "/run.json", "{\"format\": 111e30084}");
    expectMessage(folder, "run file '" + folder +
                              "/run.json' is not valid JSON (a number is too large to represent)");
}

// 200,000 levels (the stack overflow size): parsed without recursion, then
// rejected by the field's type; neither step may overflow the stack.
void TestRunReader::deeplyNestedRunJson() {
    const std::string folder = savedRun("reader-deep");
    const size_t depth = 200000;
    writeFile(folder + "/run.json", "{\"format\": \"quantlens-run\", \"version\": 1, \"id\": " +
                                        std::string(depth, '[') + std::string(depth, ']') + "}");
    expectMessage(folder, "field 'id' must be a string, not array");
}

// histograms.bin: "QLRUNBIN", u32 version, u32 layers, then the first histogram of layer
// 0: f64 lo (offset 16), f64 hi (24), u32 bins (32).
void TestRunReader::hostileHistograms_data() {
    QTest::addColumn<int>("offset");
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("expected");
    const double nan = std::nan("");
    const double inf = HUGE_VAL;
    const double two = 2.0;
    const uint32_t hugeBins = 0xFFFFFFFFu;
    auto raw = [](const auto& v) {
        return QByteArray(reinterpret_cast<const char*>(&v), sizeof v);
    };
    QTest::newRow("lo NaN") << 16 << raw(nan) << "is corrupt (histogram range)";
    QTest::newRow("hi inf") << 24 << raw(inf) << "is corrupt (histogram range)";
    QTest::newRow("lo above hi") << 16 << raw(two) << "is corrupt (histogram range)";
    QTest::newRow("bins 2^32-1") << 32 << raw(hugeBins) << "is corrupt (bins)";
}

void TestRunReader::hostileHistograms() {
    QFETCH(int, offset);
    QFETCH(QByteArray, bytes);
    QFETCH(QString, expected);
    const std::string folder = savedRun("reader-bin");
    std::string bin = qltest::readFile(folder + "/histograms.bin");
    std::memcpy(&bin[size_t(offset)], bytes.constData(), size_t(bytes.size()));
    writeFile(folder + "/histograms.bin", bin);
    expectMessage(folder, "run file '" + folder + "/histograms.bin' " + expected.toStdString());
}

// rebinWeights re-quantizes with the stored grid (QuantGrid::scaleAt indexes
// scales[row * groups + group]): a grid of the wrong size would be read out of bounds.
void TestRunReader::gridThatRebinningWouldOverread_data() {
    QTest::addColumn<int>("scales");
    QTest::addColumn<int>("zeros");
    QTest::addColumn<bool>("finite");
    QTest::newRow("scales short") << 3 << 4 << true;
    QTest::newRow("zeros missing") << 4 << 0 << true;
    QTest::newRow("scales long") << 5 << 5 << true;
    QTest::newRow("scale NaN") << 4 << 4 << false;
}

void TestRunReader::gridThatRebinningWouldOverread() {
    QFETCH(int, scales);
    QFETCH(int, zeros);
    QFETCH(bool, finite);
    RunResult run = syntheticRun();
    run.layers[1].scales.assign(size_t(scales), 0.5f);
    run.layers[1].zeros.assign(size_t(zeros), 1.0f);
    if (!finite) run.layers[1].scales[2] = std::nanf("");
    const std::string folder = savedRun("reader-grid", run);
    expectMessage(folder,
                  "histograms.bin' is corrupt (grid of layer "
                  "'model.layers.0.self_attn.k_proj')");
}

void TestRunReader::runFilesThatAreNotFiles() {
    const std::string folder = savedRun("reader-kinds");
    const std::string bin = folder + "/histograms.bin";
    fs::remove(bin);
    QCOMPARE(::mkfifo(bin.c_str(), 0600), 0);  // reading it would block forever
    expectMessage(folder, "run file '" + bin + "' is not a file");
    fs::remove(bin);
    const std::string json = folder + "/run.json";
    fs::remove(json);
    fs::create_directory(json);  // the stream would throw "Is a directory" with no file name
    expectMessage(folder, "run file '" + json + "' is not a file");
}

// A run whose layer shape is not the checkpoint's: re-binning through its grid would read
// rows x cols values from a smaller weight.
void TestRunReader::rebinOfARunFromAnotherModel() {
    QL_REQUIRE_DATA("models/stories260k");
    RunResult run = syntheticRun();
    run.config.modelDir = qltest::dataPath("models/stories260k");
    LayerResult& l = run.layers[0];  // q_proj is 64 x 64 there
    l.rows = 128;
    l.cols = 64;
    l.groupSize = 64;
    l.scales.assign(128, 0.01f);
    l.zeros.assign(128, 8.0f);
    const RunResult loaded = loadRun(savedRun("reader-rebin", run));
    try {
        rebinWeights(loaded, l.name, "after", -1.0, 1.0, 16);
        QFAIL("re-binned a 128 x 64 grid over a 64 x 64 weight");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("is 128 x 64 but the weight in") != std::string::npos,
                 e.what());
    }
}

QTEST_GUILESS_MAIN(TestRunReader)
#include "test_run_reader.moc"
