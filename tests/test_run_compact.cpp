// Run folders with compact after-weights: a GPTQ run keeps weights/<layer>.qlw (codes +
// grid), within 1.2x of the packed size of its layers; re-binning from memory and from
// disk reproduces the run's histograms; runs saved before with weights/<layer>.f32 still
// load, re-bin, count as runs and re-save; a .qlw that does not fit its layer is refused.
// histograms.bin keeps no copy of a stored layer's grid (version 3): loading takes it from
// the .qlw.
#include "base/error.h"
#include "quant/compact_weights.h"
#include "quant/histogram.h"
#include "run/run.h"
#include "run/run_internal.h"
#include "testdata.h"

#include <QObject>
#include <QTest>

#include <filesystem>
#include <fstream>
#include <functional>

using namespace ql;
namespace fs = std::filesystem;

namespace {

const char* kSmall = "models/stories260k";

const RunResult& gptqRun() {
    static const RunResult run = [] {
        RunConfig c;
        c.modelDir = qltest::dataPath(kSmall);
        c.recipe = "gptq:int4:g32:asym";
        c.calibrationText = qltest::dataPath("data/stories/calib.txt");
        c.calibrationWindows = 4;
        c.calibrationSeq = 128;
        c.captureActivations = c.captureGradients = false;
        c.threads = 1;
        return runQuantization(c);
    }();
    return run;
}

// Full-range re-binning gives back the histograms the run computed from the same values.
void checkRebin(const RunResult& run, const char* where) {
    for (const LayerResult& l : run.layers) {
        const std::string what = std::string(where) + " " + l.name;
        QVERIFY2(l.weightAfterSource == "stored", what.c_str());
        const Histogram a = rebinWeights(run, l.name, "after", l.weightAfter.lo, l.weightAfter.hi,
                                         l.weightAfter.bins());
        QVERIFY2(a.counts == l.weightAfter.counts, what.c_str());
        const Histogram e = rebinWeights(run, l.name, "error", l.weightError.lo, l.weightError.hi,
                                         l.weightError.bins());
        QVERIFY2(e.counts == l.weightError.counts, what.c_str());
    }
}

uint64_t filesWith(const std::string& dir, const std::string& extension, size_t* count) {
    uint64_t bytes = 0;
    *count = 0;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == extension) bytes += fs::file_size(e.path()), ++*count;
    return bytes;
}

void expectError(const std::function<void()>& f, const std::string& needle) {
    try {
        f();
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find(needle) != std::string::npos, e.what());
        return;
    }
    QFAIL(needle.c_str());
}

// `folder`'s run as runs were saved before compact storage: float32 weights/*.f32, and
// the grids in histograms.bin (saved from a source folder that holds only .f32 files).
std::string legacyCopy(const RunResult& run, const std::string& folder, const QString& name) {
    const std::string source = (qltest::tempDir(name + "-src") + "/run").toStdString();
    fs::create_directories(source + "/weights");
    for (const LayerResult& l : run.layers) {
        const CompactWeights w = readCompactWeights(storedWeightPath(folder, l.name));
        writeStoredWeight(legacyStoredWeightPath(source, l.name), w.decode());
    }
    RunResult copy = run;
    copy.storedWeights.reset();
    copy.folder = source;
    const std::string legacy = (qltest::tempDir(name) + "/run").toStdString();
    saveRun(copy, legacy);
    return legacy;
}

}  // namespace

class TestRunCompact : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void gptqFolderIsCompact();
    void legacyF32RunsLoad();
    void mismatchedWeightsRefused();
    void spilledWeightsLeaveMemory();
};

void TestRunCompact::gptqFolderIsCompact() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult& run = gptqRun();
    QVERIFY(run.storedWeights);
    QCOMPARE(run.storedWeights->size(), run.layers.size());
    const uint64_t inMemory = run.storedWeights->residentBytes();
    QCOMPARE(inMemory, run.storedWeights->totalBytes());
    // codes at 4 bits + float32 scales and zeros: far below the float32 copies of before
    QVERIFY(inMemory * 4 < run.memory.bytesFpQuantized);
    checkRebin(run, "memory");

    const std::string folder = (qltest::tempDir("run-compact") + "/run").toStdString();
    saveRun(run, folder);
    size_t qlw = 0, f32 = 0;
    const uint64_t bytes = filesWith(folder + "/weights", ".qlw", &qlw);
    filesWith(folder + "/weights", ".f32", &f32);
    QCOMPARE(qlw, run.layers.size());
    QCOMPARE(f32, size_t(0));
    const double ratio = double(bytes) / double(run.memory.bytesQQuantized);
    qInfo("weights/ %llu bytes, packed quantized layers %llu bytes: %.3fx",
          (unsigned long long)bytes, (unsigned long long)run.memory.bytesQQuantized, ratio);
    QVERIFY2(ratio <= 1.2, qPrintable(QString::number(ratio)));
    for (const LayerResult& l : run.layers) {
        const CompactWeights disk = readCompactWeights(storedWeightPath(folder, l.name));
        QVERIFY(disk.decode() == run.storedWeights->get(l.name).decode());
    }
    const RunResult loaded = loadRun(folder);
    QVERIFY(!loaded.storedWeights);
    checkRebin(loaded, "disk");
    // histograms.bin leaves the grids to the .qlw files; the loaded run has them all.
    uint64_t gridBytes = 0;
    for (size_t i = 0; i < run.layers.size(); ++i) {
        QVERIFY(loaded.layers[i].scales == run.layers[i].scales);
        QVERIFY(loaded.layers[i].zeros == run.layers[i].zeros);
        gridBytes += 4 * (run.layers[i].scales.size() + run.layers[i].zeros.size());
    }
    QVERIFY(gridBytes > 0);
    // .f32 weights hold no grid: there histograms.bin keeps it.
    const std::string legacy = legacyCopy(run, folder, "run-compact-legacy");
    QCOMPARE(uint64_t(fs::file_size(legacy + "/histograms.bin")),
             uint64_t(fs::file_size(folder + "/histograms.bin")) + gridBytes);
    // Saved again from the loaded run: the .qlw files are copied.
    const std::string again = (qltest::tempDir("run-compact-again") + "/run").toStdString();
    saveRun(loaded, again);
    QVERIFY(fs::exists(storedWeightPath(again, run.layers[0].name)));
    checkRebin(loadRun(again), "re-saved");
}

void TestRunCompact::legacyF32RunsLoad() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult& run = gptqRun();
    const std::string folder = (qltest::tempDir("run-compact-src") + "/run").toStdString();
    saveRun(run, folder);
    const std::string legacy = legacyCopy(run, folder, "run-legacy");
    const RunResult loaded = loadRun(legacy);
    checkRebin(loaded, "legacy");
    // Still a run: it may be replaced with --force, and re-saving copies the .f32 files.
    const std::string copy = (qltest::tempDir("run-legacy-copy") + "/run").toStdString();
    saveRun(loaded, copy);
    QVERIFY(fs::exists(legacyStoredWeightPath(copy, run.layers[0].name)));
    QVERIFY(!fs::exists(storedWeightPath(copy, run.layers[0].name)));
    checkRebin(loadRun(copy), "legacy re-saved");
    QCOMPARE(checkRunDestination(legacy), RunDestination::ExistingRun);
    saveRun(run, legacy, Overwrite::ExistingRun);
    QVERIFY(fs::exists(storedWeightPath(legacy, run.layers[0].name)));
    QVERIFY(!fs::exists(legacyStoredWeightPath(legacy, run.layers[0].name)));
    // Anything else in weights/ is not QuantLens's: never replaced.
    std::ofstream(legacy + "/weights/notes.txt") << "mine";
    expectError([&] { checkRunDestination(legacy); }, "QuantLens did not write");
}

void TestRunCompact::mismatchedWeightsRefused() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult& run = gptqRun();
    const std::string folder = (qltest::tempDir("run-compact-bad") + "/run").toStdString();
    saveRun(run, folder);
    const RunResult loaded = loadRun(folder);
    // Two layers of different shapes: one's file in place of the other's.
    const LayerResult* a = &run.layers.front();
    const LayerResult* b = nullptr;
    for (const LayerResult& l : run.layers)
        if (l.rows != a->rows || l.cols != a->cols) b = &l;
    QVERIFY(b);
    fs::copy_file(storedWeightPath(folder, b->name), storedWeightPath(folder, a->name),
                  fs::copy_options::overwrite_existing);
    // Loading reads each stored layer's grid from its file: a wrong file is named.
    expectError([&] { loadRun(folder); },
                storedWeightPath(folder, a->name) + "': field 'rows' / 'cols'");
    const Histogram& h = a->weightAfter;
    expectError([&] { rebinWeights(loaded, a->name, "after", h.lo, h.hi, 10); },
                storedWeightPath(folder, a->name) + "': field 'rows' / 'cols'");
    fs::remove(storedWeightPath(folder, a->name));
    expectError([&] { rebinWeights(loaded, a->name, "after", h.lo, h.hi, 10); },
                storedWeightPath(folder, a->name) + "' cannot be read");
}

// RunConfig::spillFolder: the same run keeps its codes in files, not in memory; re-binning,
// saving and loading give what the in-memory run gives; the private folder goes with the run.
void TestRunCompact::spilledWeightsLeaveMemory() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult& inMemory = gptqRun();
    const std::string spill = (qltest::tempDir("run-spill") + "/spill").toStdString();
    RunConfig c = inMemory.config;
    c.spillFolder = spill;
    std::string privateFolder;
    {
        const RunResult run = runQuantization(c);
        QVERIFY(run.storedWeights && run.storedWeights->spilled());
        QCOMPARE(run.storedWeights->residentBytes(), uint64_t(0));
        QCOMPARE(run.storedWeights->totalBytes(), inMemory.storedWeights->totalBytes());
        privateFolder = run.storedWeights->spillFolder();
        QVERIFY(privateFolder.rfind(spill + "/.quantlens-weights-", 0) == 0);
        size_t files = 0;
        filesWith(privateFolder, ".qlw", &files);
        QCOMPARE(files, run.layers.size());
        for (const LayerResult& l : run.layers)
            QVERIFY(run.storedWeights->get(l.name).decode() ==
                    inMemory.storedWeights->get(l.name).decode());
        checkRebin(run, "spilled");
        const std::string folder = spill + "/run";  // same disk: hard links
        saveRun(run, folder);
        const RunResult loaded = loadRun(folder);
        checkRebin(loaded, "spilled, saved");
        const std::string first = storedWeightPath(folder, run.layers[0].name);
        QVERIFY(fs::hard_link_count(first) == 2);
    }
    QVERIFY(!fs::exists(privateFolder));
    checkRebin(loadRun(spill + "/run"), "spill folder gone");
}

QTEST_GUILESS_MAIN(TestRunCompact)
#include "test_run_compact.moc"
