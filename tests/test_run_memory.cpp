// Memory-saving paths of model-path runs: quantizeLayers' per-layer callback, the
// gradient capture that recomputes the float gradients instead of keeping them, and the
// up-front refusal of runs that cannot fit in memory.
#include "base/error.h"
#include "methods/quantize_layers.h"
#include "model/model.h"
#include "quant/compact_weights.h"
#include "quant/quantize.h"
#include "run/run.h"
#include "run/run_internal.h"
#include "run/stored_weights.h"
#include "testdata.h"

#include <QObject>
#include <QTest>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

using namespace ql;

namespace {

const char* kSmall = "models/stories260k";

std::vector<std::string> allLinearNames(const Model& model) {
    std::vector<std::string> names;
    for (const auto& l : model.linears()) names.push_back(l.name);
    return names;
}

RunConfig gradientConfig() {
    RunConfig c;
    c.modelDir = qltest::dataPath(kSmall);
    c.recipe = "rtn:int4:g32:asym";
    c.calibrationText = qltest::dataPath("data/stories/calib.txt");
    c.calibrationWindows = 2;
    c.calibrationSeq = 64;
    c.captureActivations = false;
    c.captureGradients = true;
    c.threads = 1;
    return c;
}

void sameHistogram(const Histogram& a, const Histogram& b) {
    QCOMPARE(a.lo, b.lo);
    QCOMPARE(a.hi, b.hi);
    QVERIFY(a.counts == b.counts);
}

// Sets an environment variable for the lifetime of the object.
struct ScopedEnv {
    std::string name;
    ScopedEnv(const char* n, const char* value) : name(n) { setenv(n, value, 1); }
    ~ScopedEnv() { unsetenv(name.c_str()); }
};

}  // namespace

class TestRunMemory : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void callbackSeesEveryLayerOnce();
    void consumingCallbackKeepsModelWeights();
    void recomputedGradientsMatchKept();
    void refusesRunThatCannotFit();
    void staleSpillFoldersRemoved();
};

// The callback gets each layer once, complete, and what it sees is what is returned.
void TestRunMemory::callbackSeesEveryLayerOnce() {
    QL_REQUIRE_DATA(kSmall);
    const auto model = Model::load(qltest::dataPath(kSmall));
    const auto names = allLinearNames(*model);
    std::map<std::string, LayerQuantization> seen;
    QuantizeLayersOptions o;
    o.onLayer = [&](LayerQuantization& lq) {
        QVERIFY(!seen.count(lq.name));
        QCOMPARE(lq.codes.size(), lq.dequant.size());
        QVERIFY(!lq.dequant.empty());
        QVERIFY(lq.seconds >= 0.0);
        // The weight is already in the model when the callback runs.
        QVERIFY(model->linearWeight(lq.name) == lq.dequant);
        seen[lq.name] = lq;
    };
    const auto results = quantizeLayers(*model, names, Recipe::parse("rtn:int4:g32:asym"), o,
                                        ProgressReporter(nullptr));
    QCOMPARE(seen.size(), names.size());
    for (const auto& r : results) {
        QVERIFY(seen.count(r.name));
        QVERIFY(seen[r.name].codes == r.codes);
        QVERIFY(seen[r.name].dequant == r.dequant);
    }
}

// A callback that takes the codes and copies away leaves the model quantized as without it
// (GPTQ, whose later layers depend on the earlier ones through the calibration inputs).
void TestRunMemory::consumingCallbackKeepsModelWeights() {
    QL_REQUIRE_DATA(kSmall);
    std::vector<std::vector<int32_t>> calibration(2, std::vector<int32_t>(32));
    for (size_t i = 0; i < calibration.size(); ++i)
        for (size_t t = 0; t < calibration[i].size(); ++t)
            calibration[i][t] = int32_t((t * 13 + i * 5) % 500 + 1);
    const Recipe recipe = Recipe::parse("gptq:int4:channel:sym");
    const auto plain = Model::load(qltest::dataPath(kSmall));
    QuantizeLayersOptions o;
    o.calibration = calibration;
    const auto expected =
        quantizeLayers(*plain, allLinearNames(*plain), recipe, o, ProgressReporter(nullptr));

    const auto model = Model::load(qltest::dataPath(kSmall));
    size_t calls = 0;
    o.onLayer = [&](LayerQuantization& lq) {
        ++calls;
        QVERIFY(std::isfinite(lq.outputSqnrDb));
        lq.codes = std::vector<int32_t>();
        lq.dequant = std::vector<float>();
    };
    const auto results =
        quantizeLayers(*model, allLinearNames(*model), recipe, o, ProgressReporter(nullptr));
    QCOMPARE(calls, expected.size());
    for (size_t i = 0; i < results.size(); ++i) {
        QVERIFY(results[i].codes.empty() && results[i].dequant.empty());
        QVERIFY(model->linearWeight(results[i].name) == expected[i].dequant);
        QCOMPARE(results[i].outputSqnrDb, expected[i].outputSqnrDb);
    }
}

// Recomputing the float gradients (the low-memory path) gives the same histograms and norms
// as keeping them: the passes are deterministic with one thread.
void TestRunMemory::recomputedGradientsMatchKept() {
    QL_REQUIRE_DATA(kSmall);
    RunResult kept, recomputed;
    {
        ScopedEnv env("QL_GRADIENTS_RECOMPUTE", "0");
        kept = runQuantization(gradientConfig());
    }
    {
        ScopedEnv env("QL_GRADIENTS_RECOMPUTE", "1");
        recomputed = runQuantization(gradientConfig());
    }
    QVERIFY(kept.hasGradients && recomputed.hasGradients);
    QCOMPARE(kept.layers.size(), recomputed.layers.size());
    for (size_t i = 0; i < kept.layers.size(); ++i) {
        const LayerResult &a = kept.layers[i], &b = recomputed.layers[i];
        QVERIFY(!a.gradientBefore.empty());
        QVERIFY(a.gradientNormBefore > 0.0);
        sameHistogram(a.gradientBefore, b.gradientBefore);
        sameHistogram(a.gradientAfter, b.gradientAfter);
        QCOMPARE(a.gradientNormBefore, b.gradientNormBefore);
        QCOMPARE(a.gradientNormAfter, b.gradientNormAfter);
    }
}

// With (pretend) 1 MB available, a model-path run is refused with a clear error before the
// model is loaded; a weights-only run is not affected.
void TestRunMemory::refusesRunThatCannotFit() {
    QL_REQUIRE_DATA(kSmall);
    ScopedEnv env("QL_MEMORY_AVAILABLE_MB", "1");
    bool refused = false;
    try {
        runQuantization(gradientConfig());
    } catch (const Error& e) {
        refused = std::string(e.what()).find("not enough memory") != std::string::npos;
    }
    QVERIFY(refused);
    RunConfig weightsOnly;
    weightsOnly.modelDir = qltest::dataPath(kSmall);
    weightsOnly.recipe = "rtn:int4:g32:asym";
    weightsOnly.threads = 1;
    QVERIFY(!runQuantization(weightsOnly).layers.empty());
}

// A killed run leaves its spill folder behind; the next run spilling into the same folder
// removes it (its process is gone), and only it: a live process's folder, an old-style name
// without a process id and other files stay. The run's own folder carries its pid and goes
// with the run.
void TestRunMemory::staleSpillFoldersRemoved() {
    namespace fs = std::filesystem;
    const fs::path dir = qltest::tempDir("test_run_memory_spill").toStdString();
    const std::string live = ".quantlens-weights-" + std::to_string(getpid()) + "-live00";
    for (const std::string& name :
         {std::string(".quantlens-weights-999999999-dead00"), live,
          std::string(".quantlens-weights-AbCdEf"), std::string("unrelated")}) {
        fs::create_directories(dir / name);
        std::ofstream(dir / name / "0.qlw") << "x";
    }
    const std::vector<float> w(2 * 64, 0.5f);
    const QuantGrid grid = computeGrid(w.data(), 2, 64, Recipe::parse("rtn:int4:g64:asym"));
    std::string own;
    {
        StoredWeights stored(dir.string());
        stored.put("a", compactFromCodes(grid, std::vector<int32_t>(2 * 64, 0)));
        own = stored.spillFolder();
        QVERIFY2(fs::path(own).filename().string().rfind(
                     ".quantlens-weights-" + std::to_string(getpid()) + "-", 0) == 0,
                 own.c_str());
        QVERIFY(!fs::exists(dir / ".quantlens-weights-999999999-dead00"));
        for (const char* kept : {".quantlens-weights-AbCdEf", "unrelated"})
            QVERIFY2(fs::exists(dir / kept / "0.qlw"), kept);
        QVERIFY(fs::exists(dir / live / "0.qlw"));
        QCOMPARE(stored.get("a").codes, compactFromCodes(grid, std::vector<int32_t>(128, 0)).codes);
    }
    QVERIFY(!fs::exists(own));
    QVERIFY(fs::exists(dir / live));
}

QTEST_GUILESS_MAIN(TestRunMemory)
#include "test_run_memory.moc"
