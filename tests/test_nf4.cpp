// bitsandbytes NF4/FP4 (quant/codebook4.h) and the method registry: codebooks, a hand
// computation written here independently (argmin over the code values, as bnb's default
// backend does it), the packed byte layout, the recipe grammar, and the method end to end
// on the shared models (run, save/load, re-binning, perplexity ordering).
#include "base/error.h"
#include "io/safetensors.h"
#include "quant/codebook4.h"
#include "quant/method_registry.h"
#include "quant/quantize.h"
#include "quant/recipe.h"
#include "run/run.h"
#include "testdata.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <tuple>

using namespace ql;

namespace {

const char* kSmall = "models/stories260k";
const char* kOther = "models/tinystories-656k";

// QLoRA / bitsandbytes NF4 values, as published (double literals).
const double kNf4Published[16] = {-1.0,
                                  -0.6961928009986877,
                                  -0.5250730514526367,
                                  -0.39491748809814453,
                                  -0.28444138169288635,
                                  -0.18477343022823334,
                                  -0.09105003625154495,
                                  0.0,
                                  0.07958029955625534,
                                  0.16093020141124725,
                                  0.24611230194568634,
                                  0.33791524171829224,
                                  0.44070982933044434,
                                  0.5626170039176941,
                                  0.7229568362236023,
                                  1.0};

// Index of the nearest value; ties to the lower index (torch.argmin, bnb's default backend).
// The library uses bnb's CUDA decision trees instead; both agree except for values within
// float rounding of a pivot, which random data does not hit.
template <class Table>
int argminCode(const Table& values, float x) {
    int best = 0;
    for (int k = 1; k < int(values.size()); ++k)
        if (std::fabs(x - values[size_t(k)]) < std::fabs(x - values[size_t(best)])) best = k;
    return best;
}

// The whole bnb computation, element by element, without double quantization.
struct Hand {
    std::vector<uint8_t> codes;
    std::vector<float> absmax, dequant;
};

Hand handQuantize(const std::vector<float>& w, Codebook4 c, size_t block) {
    const auto& values = codebookValues(c);
    Hand h;
    for (size_t b0 = 0; b0 < w.size(); b0 += block) {
        float m = 0.0f;
        for (size_t i = b0; i < std::min(w.size(), b0 + block); ++i)
            m = std::max(m, std::fabs(w[i]));
        h.absmax.push_back(m);
        for (size_t i = b0; i < std::min(w.size(), b0 + block); ++i)
            h.codes.push_back(uint8_t(argminCode(values, w[i] * (1.0f / m))));
    }
    for (size_t i = 0; i < w.size(); ++i)
        h.dequant.push_back(values[h.codes[i]] * h.absmax[i / block]);
    return h;
}

// bnb's double quantization of `absmax`, by hand: offset = mean, then 8-bit blocks of 256.
std::vector<float> handDoubleQuantScales(const std::vector<float>& absmax) {
    double sum = 0;
    for (float a : absmax) sum += a;
    const float offset = float(sum / double(absmax.size()));
    std::vector<float> out;
    for (size_t b0 = 0; b0 < absmax.size(); b0 += 256) {
        const size_t b1 = std::min(absmax.size(), b0 + 256);
        float m = 0.0f;
        for (size_t i = b0; i < b1; ++i) m = std::max(m, std::fabs(absmax[i] - offset));
        for (size_t i = b0; i < b1; ++i) {
            const float x = (absmax[i] - offset) * (1.0f / m);
            out.push_back(dynamicMap8()[size_t(argminCode(dynamicMap8(), x))] * m + offset);
        }
    }
    return out;
}

std::vector<float> normalWeights(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::vector<float> w(n);
    for (auto& x : w) x = nd(rng);
    for (size_t i = 0; i < n; i += 37) w[i] *= 4.0f;  // blocks with different absmax
    return w;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

RunConfig config(const char* model, const std::string& recipe, bool texts) {
    RunConfig c;
    c.modelDir = qltest::dataPath(model);
    c.recipe = recipe;
    c.captureActivations = false;
    c.captureGradients = false;
    c.threads = 1;
    if (texts) {
        c.calibrationText = qltest::dataPath("data/stories/calib.txt");
        c.evaluationText = qltest::dataPath("data/stories/stories.txt");
        c.evalSeq = 256;
    }
    return c;
}

}  // namespace

class TestNf4 : public QObject {
    Q_OBJECT
private slots:
    void codebooksExact();
    void dynamicMap();
    void nf4MatchesHandComputation();
    void nf4DoubleQuantMatchesHandComputation();
    void fp4MatchesHandComputation();
    void tiesAndSpecialValues();
    void computeDtypeRounding();
    void bytesMatchPackedLayout();
    void recipeGrammar();
    void badRecipes_data();
    void badRecipes();
    void registryCoversEveryMethod();
    void weightsOnlyRunSaveLoadRebin();
    void perplexityOrdering();
};

void TestNf4::codebooksExact() {
    const auto& nf4 = codebookValues(Codebook4::Nf4);
    for (int k = 0; k < 16; ++k) QCOMPARE(nf4[size_t(k)], float(kNf4Published[k]));
    // FP4 is e2m1 {0, 0.0625, 2, 3, 4, 6, 8, 12} / 12 in bnb's bit order (bit 3 = sign).
    const double e2m1[8] = {0, 0.0625, 8, 12, 4, 6, 2, 3};
    const auto& fp4 = codebookValues(Codebook4::Fp4);
    for (int k = 0; k < 8; ++k) {
        QCOMPARE(fp4[size_t(k)], float(e2m1[k] / 12.0));
        QCOMPARE(fp4[size_t(k + 8)], -float(e2m1[k] / 12.0));
    }
    QVERIFY(std::signbit(fp4[8]));
}

void TestNf4::dynamicMap() {
    const auto& m = dynamicMap8();
    for (size_t i = 1; i < m.size(); ++i) QVERIFY(m[i - 1] < m[i]);
    QCOMPARE(m[255], 1.0f);
    QCOMPARE(m[127], 0.0f);  // 127 negative values, 0, 127 positive values, 1
    // Smallest magnitude: 10^-6 * the one midpoint of linspace(0.1, 1, 2) = 0.55.
    QCOMPARE(m[128], float(1e-6) * ((0.1f + 1.0f) / 2.0f));
    QCOMPARE(m[126], -m[128]);
    QCOMPARE(m[0], -m[254]);
}

void TestNf4::nf4MatchesHandComputation() {
    // Block 0 holds the 16 code values times 0.5 (exact codes), blocks 1 and 2 normal values;
    // 160 elements in blocks of 64: the last block is partial and blocks span the two rows.
    std::vector<float> w = normalWeights(160, 7);
    for (size_t i = 0; i < 64; ++i) w[i] = 0.5f * float(kNf4Published[i % 16]);
    const Blockwise4 q =
        quantizeBlockwise4(w.data(), w.size(), Codebook4::Nf4, 64, false, ComputeDtype::Fp32);
    const Hand h = handQuantize(w, Codebook4::Nf4, 64);
    QCOMPARE(q.blocks(), uint64_t(3));
    QVERIFY(q.absmax == h.absmax);
    for (size_t i = 0; i < w.size(); ++i) {
        QCOMPARE(int(q.code(i)), int(h.codes[i]));
        if (i < 64) QCOMPARE(int(q.code(i)), int(i % 16));
    }
    QCOMPARE(int(q.packed[0]), (0 << 4) | 1);  // first element in the high nibble
    QCOMPARE(int(q.packed[7]), (14 << 4) | 15);
    QVERIFY(sameBits(dequantizeBlockwise4(q), h.dequant));
}

void TestNf4::nf4DoubleQuantMatchesHandComputation() {
    // 300 blocks of 64: two second-level blocks (256 + 44).
    const std::vector<float> w = normalWeights(300 * 64, 11);
    const Blockwise4 q =
        quantizeBlockwise4(w.data(), w.size(), Codebook4::Nf4, 64, true, ComputeDtype::Fp32);
    const Hand h = handQuantize(w, Codebook4::Nf4, 64);
    QVERIFY(q.absmax.empty());
    QCOMPARE(q.absmaxCodes.size(), size_t(300));
    QCOMPARE(q.absmax2.size(), size_t(2));
    const std::vector<float> scales = handDoubleQuantScales(h.absmax);
    QVERIFY(sameBits(q.scales(), scales));
    // The 4-bit codes do not depend on double quantization; the weight uses the new scales.
    std::vector<float> expect(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
        QCOMPARE(int(q.code(i)), int(h.codes[i]));
        expect[i] = codebookValues(Codebook4::Nf4)[h.codes[i]] * scales[i / 64];
    }
    QVERIFY(sameBits(dequantizeBlockwise4(q), expect));
    // 8-bit absmax is coarser than fp32 but close: the dynamic map's step near +-1 is 0.014 of
    // the second-level absmax, a few percent of the smallest block absmax here.
    double worst = 0;
    for (size_t b = 0; b < scales.size(); ++b)
        worst = std::max(worst, std::fabs(double(scales[b]) / h.absmax[b] - 1.0));
    QVERIFY2(worst > 0 && worst < 0.05, qPrintable(QString::number(worst)));
}

void TestNf4::fp4MatchesHandComputation() {
    std::vector<float> w = normalWeights(200, 3);
    const double e2m1[8] = {0, 0.0625, 2, 3, 4, 6, 8, 12};
    for (size_t i = 0; i < 16; ++i) w[i] = float((i < 8 ? 1 : -1) * e2m1[i % 8] / 12.0);
    w[20] = 1.0f;  // absmax of block 0 is exactly 1
    for (bool dq : {false, true}) {
        const Blockwise4 q =
            quantizeBlockwise4(w.data(), w.size(), Codebook4::Fp4, 32, dq, ComputeDtype::Fp32);
        const Hand h = handQuantize(w, Codebook4::Fp4, 32);
        for (size_t i = 0; i < w.size(); ++i) {
            // argmin's tie between +0 and -0 (codes 0 and 8) is not a tie of values
            if (w[i] == 0.0f) continue;
            QCOMPARE(int(q.code(i)), int(h.codes[i]));
        }
        const uint8_t rankCode[8] = {0, 1, 6, 7, 4, 5, 2, 3};
        for (size_t i = 1; i < 16; ++i)
            if (i != 8) QCOMPARE(int(q.code(i)), int(rankCode[i % 8]) + (i < 8 ? 0 : 8));
        QCOMPARE(int(q.code(8)), 0);  // -0 is not < 0: bnb gives it the positive zero's code
        if (!dq) QVERIFY(sameBits(dequantizeBlockwise4(q), h.dequant));
    }
}

void TestNf4::tiesAndSpecialValues() {
    // A value exactly between two NF4 values goes to the lower one (bnb's tree: x > pivot).
    QCOMPARE(int(nearestCode4(Codebook4::Nf4, 0.03979014977812767f)), 7);
    QCOMPARE(int(nearestCode4(Codebook4::Nf4, std::nextafter(0.03979014977812767f, 1.0f))), 8);
    QCOMPARE(int(nearestCode4(Codebook4::Nf4, -0.8480964004993439f)), 0);
    // FP4: to the smaller magnitude, on both sides.
    QCOMPARE(int(nearestCode4(Codebook4::Fp4, 0.8333333f)), 2);
    QCOMPARE(int(nearestCode4(Codebook4::Fp4, -0.8333333f)), 10);
    QCOMPARE(int(nearestCode4(Codebook4::Fp4, 0.29166667f)), 7);
    // A zero block codes 0 (no division by zero); NaN/Inf pass through the dequantized weight.
    std::vector<float> w(64, 0.0f);
    w.resize(128, 0.25f);
    w[70] = std::numeric_limits<float>::quiet_NaN();
    w[71] = std::numeric_limits<float>::infinity();
    const Blockwise4 q =
        quantizeBlockwise4(w.data(), w.size(), Codebook4::Nf4, 64, false, ComputeDtype::Fp32);
    QCOMPARE(q.absmax[0], 0.0f);
    QCOMPARE(q.absmax[1], 0.25f);
    const std::vector<float> d = dequantizeBlockwise4(q, w.data());
    for (size_t i = 0; i < 64; ++i) QCOMPARE(d[i], 0.0f);
    QVERIFY(std::isnan(d[70]) && std::isinf(d[71]));
    QCOMPARE(d[72], 0.25f);
    // A recipe built in code with no block size is refused, not divided by.
    QVERIFY_THROWS_EXCEPTION(Error, quantizeBlockwise4(w.data(), w.size(), Codebook4::Nf4, 0, false,
                                                       ComputeDtype::Fp32));
}

void TestNf4::computeDtypeRounding() {
    const std::vector<float> w = normalWeights(256, 5);
    const auto fp32 =
        quantizeBlockwise4(w.data(), w.size(), Codebook4::Nf4, 64, true, ComputeDtype::Fp32);
    const std::vector<float> d32 = dequantizeBlockwise4(fp32);
    for (auto [dtype, cast] : {std::pair{ComputeDtype::Bf16, QuantMethod::Bf16},
                               std::pair{ComputeDtype::Fp16, QuantMethod::Fp16}}) {
        const auto q = quantizeBlockwise4(w.data(), w.size(), Codebook4::Nf4, 64, true, dtype);
        const std::vector<float> d = dequantizeBlockwise4(q);
        QVERIFY(sameBits(d, castRoundTrip(d32.data(), d32.size(), cast)));
        QVERIFY(!sameBits(d, d32));
    }
}

void TestNf4::bytesMatchPackedLayout() {
    // 64 x 64 in blocks of 64: 2048 code bytes + 64 fp32 absmax; with dq 64 uint8 absmax,
    // one fp32 second-level absmax and the fp32 offset.
    QCOMPARE(blockwise4Bytes(4096, 64, false), uint64_t(2048 + 64 * 4));
    QCOMPARE(blockwise4Bytes(4096, 64, true), uint64_t(2048 + 64 + 4 + 4));
    const std::tuple<uint64_t, int, bool> shapes[] = {
        {160, 64, false}, {19200, 64, true}, {1001, 128, true}, {7, 32, false}};
    for (auto [n, block, dq] : shapes) {
        const std::vector<float> w = normalWeights(n, 1);
        const Blockwise4 q =
            quantizeBlockwise4(w.data(), n, Codebook4::Fp4, block, dq, ComputeDtype::Fp32);
        QCOMPARE(q.packed.size(), size_t((n + 1) / 2));
        QCOMPARE(q.bytes(), blockwise4Bytes(n, block, dq));
        Recipe r = Recipe::parse(dq ? "fp4:dq" : "fp4");
        r.blockSize = block;
        QCOMPARE(methodSpec(QuantMethod::Fp4).bytesFor(r, 1, int64_t(n)), q.bytes());
    }
    // The integer methods' bytes from the registry equal their real packed buffers.
    const std::vector<float> w = normalWeights(48 * 96, 2);
    for (const char* spec : {"rtn:int4:g32:asym", "rtn:int8:channel:sym", "rtn:int3:tensor:asym",
                             "gptq:int4:g16:sym", "rtn:int5:g32:asym"}) {
        const Recipe r = Recipe::parse(spec);
        const RtnResult rtn = quantizeRtn(w.data(), 48, 96, r);
        std::vector<int32_t> codes(w.size());
        quantizeWithGrid(w.data(), rtn.grid, codes.data(), nullptr);
        QCOMPARE(methodSpec(r.method).bytesFor(r, 48, 96), pack(codes.data(), rtn.grid).bytes());
    }
}

void TestNf4::recipeGrammar() {
    const std::pair<const char*, const char*> cases[] = {
        {"nf4", "nf4:b64:fp32"},
        {"nf4:b64", "nf4:b64:fp32"},
        {"nf4:b64:dq", "nf4:b64:dq:fp32"},
        {"fp4:b64:bf16", "fp4:b64:bf16"},
        {"NF4:BF16:DQ:B128", "nf4:b128:dq:bf16"},
        {"fp4:fp16", "fp4:b64:fp16"},
    };
    for (auto [spec, canonical] : cases) {
        const Recipe r = Recipe::parse(spec);
        QCOMPARE(r.toString(), std::string(canonical));
        QCOMPARE(r.bits, 4);
        QCOMPARE(Recipe::parse(r.toString()).toString(), r.toString());
    }
    const Recipe r = Recipe::parse("nf4:b128:dq:bf16");
    QCOMPARE(r.blockSize, 128);
    QVERIFY(r.doubleQuant);
    QCOMPARE(int(r.computeDtype), int(ComputeDtype::Bf16));
    QCOMPARE(methodSpec(r.method).label(r), std::string("NF4 b128 dq bf16"));
}

void TestNf4::badRecipes_data() {
    QTest::addColumn<QString>("spec");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("block not power of two") << "nf4:b63"
                                            << "'b63'";
    QTest::newRow("block too large") << "nf4:b8192"
                                     << "'b8192'";
    QTest::newRow("block too small") << "fp4:b16"
                                     << "'b16'";
    QTest::newRow("bits part") << "nf4:int4"
                               << "unknown part 'int4'";
    QTest::newRow("group part") << "nf4:g64"
                                << "unknown part 'g64'";
    QTest::newRow("dtype typo") << "fp4:b64:bf32"
                                << "unknown part 'bf32'";
    QTest::newRow("repeated block") << "nf4:b64:b128"
                                    << "'b128' repeats the block size";
    QTest::newRow("repeated dq") << "nf4:dq:dq"
                                 << "repeats the double quantization";
    QTest::newRow("two dtypes") << "nf4:fp16:bf16"
                                << "repeats the compute dtype";
    QTest::newRow("empty part") << "nf4::dq"
                                << "empty part 2";
    QTest::newRow("unknown method lists nf4") << "nf5:b64"
                                              << "nf4, fp4";
}

void TestNf4::badRecipes() {
    QFETCH(QString, spec);
    QFETCH(QString, mentions);
    try {
        Recipe::parse(spec.toStdString());
        QFAIL("expected ql::Error");
    } catch (const Error& e) {
        const QString what = e.what();
        QVERIFY2(what.contains(mentions), e.what());
        QVERIFY2(what.contains("'" + spec + "'") && !what.contains('\n'), e.what());
    }
}

void TestNf4::registryCoversEveryMethod() {
    for (const MethodSpec& s : methodRegistry()) {
        QCOMPARE(findMethod(s.name), &s);
        QCOMPARE(&methodSpec(s.id), &s);
        const Recipe r = Recipe::parse(s.name);
        QCOMPARE(Recipe::parse(r.toString()).toString(), r.toString());
        QVERIFY(QString(knownMethodNames().c_str()).contains(s.name));
        // recompute exists exactly for the methods re-binned from the recipe alone
        const bool fromRecipe =
            s.afterSource == AfterSource::Cast || s.afterSource == AfterSource::Codebook;
        QCOMPARE(s.recompute != nullptr, fromRecipe);
        QCOMPARE(s.needsCalibration, s.id == QuantMethod::Gptq || s.id == QuantMethod::Awq);
        // The options an entry declares (what the GUI's editor offers) are what it parses.
        const QList<QPair<unsigned, QString>> parts = {{kOptBits, ":int4"},
                                                       {kOptGranularity, ":int8:g32"},
                                                       {kOptSymmetry, ":int8:channel:asym"},
                                                       {kOptBlockSize, ":b128"},
                                                       {kOptDoubleQuant, ":dq"},
                                                       {kOptComputeDtype, ":bf16"}};
        for (const auto& [option, part] : parts) {
            bool parsed = true;
            try {
                Recipe::parse(s.name + part.toStdString());
            } catch (const Error&) {
                parsed = false;
            }
            QVERIFY2(parsed == bool(s.options & option), qPrintable(s.name + part));
        }
    }
    QCOMPARE(afterSourceName(methodSpec(QuantMethod::Nf4).afterSource), std::string("codebook"));
    QVERIFY(Recipe::parse("bf16").isCast() && !Recipe::parse("nf4").isCast());
}

void TestNf4::weightsOnlyRunSaveLoadRebin() {
    QL_REQUIRE_DATA(kSmall);
    const RunResult run = runQuantization(config(kSmall, "nf4:b64:dq:bf16", false));
    const auto store = TensorStore::open(run.config.modelDir);
    QVERIFY(!run.layers.empty());
    for (const LayerResult& l : run.layers) {
        QCOMPARE(l.weightAfterSource, std::string("codebook"));
        QCOMPARE(l.bytesQ, blockwise4Bytes(uint64_t(l.rows * l.cols), 64, true));
        // the run's weight SQNR is that of the library's quantization of the checkpoint weight
        const std::vector<float> w = store->readFloat(l.name + ".weight");
        const Blockwise4 q =
            quantizeBlockwise4(w.data(), w.size(), Codebook4::Nf4, 64, true, ComputeDtype::Bf16);
        const std::vector<float> d = dequantizeBlockwise4(q, w.data());
        QCOMPARE(l.weightSqnrDb, errorMetrics(w.data(), d.data(), w.size()).sqnrDb);
    }
    const QString dir = qltest::tempDir("nf4-run") + "/run";
    saveRun(run, dir.toStdString());
    const RunResult loaded = loadRun(dir.toStdString());
    QCOMPARE(loaded.config.recipe, std::string("nf4:b64:dq:bf16"));
    QVERIFY(!QFileInfo::exists(dir + "/weights"));  // nothing stored: recomputed on demand
    const LayerResult& l = loaded.layers.front();
    QCOMPARE(l.weightAfterSource, std::string("codebook"));
    const Histogram again = rebinWeights(loaded, l.name, "after", l.weightAfter.lo,
                                         l.weightAfter.hi, l.weightAfter.bins());
    QVERIFY(again.counts == l.weightAfter.counts);
    const Histogram finer = rebinWeights(loaded, l.name, "error", l.weightError.lo,
                                         l.weightError.hi, 4 * l.weightError.bins());
    QCOMPARE(finer.stats.count, uint64_t(l.rows * l.cols));
}

void TestNf4::perplexityOrdering() {
    // Perplexity of the stories text (calibration and evaluation as every run here measures
    // them) on both shared models: int8 beats NF4 and NF4 beats FP4 (QLoRA's finding). NF4 b64
    // against INT4 g64 asym RTN (an fp16 zero point per 64, which bnb's absmax NF4 lacks) is
    // model-dependent at this size: NF4 is better on stories260k and worse on
    // tinystories-656k, so it is asserted on stories260k only. On weight SQNR NF4 beats the
    // absmax (sym) INT4 g64 of the same block size on both, as in the QLoRA paper.
    for (const char* model : {kSmall, kOther}) {
        QL_REQUIRE_DATA(model);
        std::map<std::string, double> ppl, wsqnr;
        for (const char* recipe : {"rtn:int8:channel:sym", "nf4:b64", "fp4:b64",
                                   "rtn:int4:g64:asym", "rtn:int4:g64:sym"}) {
            const RunResult r = runQuantization(config(model, recipe, true));
            QVERIFY(r.perplexity.valid);
            ppl[recipe] = r.perplexity.pplQ;
            ppl["float"] = r.perplexity.pplFp;
            double sum = 0;
            for (const LayerResult& l : r.layers) sum += l.weightSqnrDb;
            wsqnr[recipe] = sum / double(r.layers.size());
            qInfo("%s %s: ppl %.4f (float %.4f), mean weight SQNR %.3f dB", model, recipe,
                  r.perplexity.pplQ, r.perplexity.pplFp, wsqnr[recipe]);
        }
        QVERIFY2(ppl["float"] < ppl["rtn:int8:channel:sym"], model);
        QVERIFY2(ppl["rtn:int8:channel:sym"] < ppl["nf4:b64"], model);
        QVERIFY2(ppl["nf4:b64"] < ppl["fp4:b64"], model);
        QVERIFY2(wsqnr["nf4:b64"] > wsqnr["rtn:int4:g64:sym"], model);
        QVERIFY2(wsqnr["nf4:b64"] > wsqnr["fp4:b64"], model);
        if (std::string(model) == kSmall)
            QVERIFY2(ppl["nf4:b64"] < ppl["rtn:int4:g64:asym"], model);
    }
}

QTEST_GUILESS_MAIN(TestNf4)
#include "test_nf4.moc"
