// llama.cpp's quantization formats (quant/ggml_quants.h): byte-identical to llama-quantize's
// output for every quantized tensor of the shared reference files (one row per file x tensor:
// the F32 file's values quantized with the type the reference file has for that tensor), the
// fp16 conversion against an independent one, hand-computed blocks, and dequantization.
#include "base/error.h"
#include "io/dtype.h"
#include "io/gguf.h"
#include "quant/ggml_mix.h"
#include "quant/ggml_quants.h"
#include "testdata.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <random>

using namespace ql;

namespace {

const char* kRef = "reference/gguf";

const char* kQuantFiles[] = {
    "llama-256.Q8_0.gguf",      "llama-256.Q4_0.gguf",      "llama-256.Q4_1.gguf",
    "llama-256.Q5_0.gguf",      "llama-256.Q5_1.gguf",      "llama-256.Q2_K.gguf",
    "llama-256.Q3_K_M.gguf",    "llama-256.Q4_K_S.gguf",    "llama-256.Q4_K_M.gguf",
    "llama-256.Q5_K_M.gguf",    "llama-256.Q6_K.gguf",      "llama-256.Q2_K.pure.gguf",
    "llama-256.Q3_K.pure.gguf", "llama-256.Q4_K.pure.gguf", "llama-256.Q5_K.pure.gguf",
    "llama-256.Q6_K.pure.gguf", "stories260k.Q4_K_M.gguf",  "stories260k.Q6_K.gguf"};

QString f32Of(const QString& file) {
    return file.startsWith("stories") ? "stories260k.F32.gguf" : "llama-256.F32.gguf";
}

// Opened once per file for all rows.
const GgufFile& cached(const QString& file) {
    static std::map<QString, std::unique_ptr<GgufFile>> files;
    auto& f = files[file];
    if (!f) f = std::make_unique<GgufFile>(qltest::dataPath(QString(kRef) + "/" + file));
    return *f;
}

std::vector<float> normalValues(size_t n, unsigned seed, float sigma = 0.02f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

double relativeRms(const std::vector<float>& a, const std::vector<float>& b) {
    double e = 0, s = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        e += double(a[i] - b[i]) * double(a[i] - b[i]);
        s += double(a[i]) * double(a[i]);
    }
    return std::sqrt(e / s);
}

}  // namespace

class TestGgmlQuants : public QObject {
    Q_OBJECT

private slots:
    void byteIdentical_data();
    void byteIdentical();
    void fp16();
    void handBlocks();
    void dequantizeReference_data();
    void dequantizeReference();
    void roundTripError();
    void edgeBlocks();
    void badShapes();
    void mixTypes_data();
    void mixTypes();
};

void TestGgmlQuants::byteIdentical_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("tensor");
    if (!qltest::hasData(QString(kRef) + "/llama-256.F32.gguf")) {
        QTest::newRow("missing") << QString() << QString();
        return;
    }
    int rows = 0;
    for (const char* f : kQuantFiles) {
        if (!qltest::hasData(QString(kRef) + "/" + f)) continue;
        for (const GgufTensor& t : cached(f).tensors())
            if (t.type != GgmlType::F32) {
                QTest::newRow(qPrintable(QString("%1 %2").arg(f, QString::fromStdString(t.name))))
                    << QString(f) << QString::fromStdString(t.name);
                ++rows;
            }
    }
    QCOMPARE(rows, 328);  // every non-F32 tensor of the 18 quantized files
}

void TestGgmlQuants::byteIdentical() {
    QFETCH(QString, file);
    QFETCH(QString, tensor);
    QL_REQUIRE_DATA(QString(kRef) + "/" + (file.isEmpty() ? "llama-256.F32.gguf" : file));
    const GgufFile& q = cached(file);
    const GgufFile& f = cached(f32Of(file));
    const GgufTensor& t = *q.findTensor(tensor.toStdString());
    const GgufTensor* src = f.findTensor(t.name);
    QVERIFY(src);
    QCOMPARE(src->ne, t.ne);
    const std::vector<float> x = f.readFloat(*src);
    const std::vector<uint8_t> ours = ggmlQuantize(t.type, x.data(), t.rows(), t.rowLength());
    QCOMPARE(uint64_t(ours.size()), t.bytes);
    QCOMPARE(ggmlTensorBytes(t.type, t.rows(), t.rowLength()), t.bytes);
    const uint8_t* ref = q.data(t);
    size_t first = 0;
    while (first < ours.size() && ours[first] == ref[first]) ++first;
    QVERIFY2(first == ours.size(), qPrintable(QString("%1: first different byte %2 of %3")
                                                  .arg(QString::fromStdString(ggmlTypeName(t.type)))
                                                  .arg(first)
                                                  .arg(ours.size())));
}

// Against io's fp16 conversion (an independent implementation): every binary16 value round
// trips, and random floats (incl. subnormal, overflow and tie cases) convert identically.
void TestGgmlQuants::fp16() {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = ggmlFp16ToFp32(uint16_t(h));
        if (std::isnan(f)) continue;
        QCOMPARE(f, halfToFloat(uint16_t(h)));
        QCOMPARE(uint32_t(ggmlFp32ToFp16(f)), h);
    }
    std::mt19937 rng(7);
    std::uniform_int_distribution<uint32_t> bits;
    for (int i = 0; i < 200000; ++i) {
        uint32_t u = bits(rng);
        if (i % 4 == 0) u &= 0x8FFFFFFFu;                 // small magnitudes: subnormal halves
        if (i % 4 == 1) u = (u & 0xFFFFE000u) | 0x1000u;  // exactly halfway between halves
        float f;
        std::memcpy(&f, &u, 4);
        if (std::isnan(f)) continue;
        QCOMPARE(ggmlFp32ToFp16(f), floatToHalf(f));
    }
    QCOMPARE(ggmlFp32ToFp16(65520.0f), uint16_t(0x7C00));  // rounds to infinity
    QCOMPARE(ggmlFp32ToFp16(std::nanf("")) & 0x7FFF, 0x7E00);
}

// Blocks computed by hand from the format descriptions.
void TestGgmlQuants::handBlocks() {
    // Q8_0: amax 127 -> d = 1, codes are the values.
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j) x[size_t(j)] = float(j * 8 - 127) * (j == 0 ? 1.0f : 0.5f);
    x[0] = -127.0f;
    auto q8 = ggmlQuantize(GgmlType::Q8_0, x.data(), 1, 32);
    QCOMPARE(q8.size(), size_t(34));
    QCOMPARE(int(q8[0] | (q8[1] << 8)), 0x3C00);  // d = 1.0 in fp16
    for (int j = 0; j < 32; ++j)
        QCOMPARE(int(int8_t(q8[size_t(2 + j)])), int(std::round(x[size_t(j)])));

    // Q4_0: the largest magnitude -16 gives d = -16 / -8 = 2; code = trunc(x/2 + 8.5), max 15.
    for (int j = 0; j < 32; ++j) x[size_t(j)] = float(j) - 16.0f;
    auto q4 = ggmlQuantize(GgmlType::Q4_0, x.data(), 1, 32);
    QCOMPARE(q4.size(), size_t(18));
    QCOMPARE(int(q4[0] | (q4[1] << 8)), 0x4000);  // 2.0
    for (int j = 0; j < 16; ++j) {
        const int lo = std::min(15, int(x[size_t(j)] / 2.0f + 8.5f));
        const int hi = std::min(15, int(x[size_t(j + 16)] / 2.0f + 8.5f));
        QCOMPARE(int(q4[size_t(2 + j)]), lo | (hi << 4));
    }
    const auto back = ggmlDequantize(GgmlType::Q4_0, q4.data(), 32);
    for (int j = 0; j < 32; ++j) QVERIFY(std::fabs(back[size_t(j)] - x[size_t(j)]) <= 1.0f);

    // Q5_1: values 0..31 -> min 0, d = 1, every value exact, fifth bits in qh.
    for (int j = 0; j < 32; ++j) x[size_t(j)] = float(j);
    auto q5 = ggmlQuantize(GgmlType::Q5_1, x.data(), 1, 32);
    uint32_t qh;
    std::memcpy(&qh, &q5[4], 4);
    QCOMPARE(qh, 0xFFFF0000u);  // values 16..31 (the high nibbles) have the fifth bit
    QCOMPARE(ggmlDequantize(GgmlType::Q5_1, q5.data(), 32), x);
}

void TestGgmlQuants::dequantizeReference_data() {
    QTest::addColumn<QString>("file");
    for (const char* f : kQuantFiles) QTest::newRow(f) << QString(f);
}

// Dequantized reference tensors stay close to the F32 originals (relative RMS error bounds per
// type) — the decoder reads every field of every block.
void TestGgmlQuants::dequantizeReference() {
    QFETCH(QString, file);
    QL_REQUIRE_DATA(QString(kRef) + "/" + file);
    const GgufFile& q = cached(file);
    const GgufFile& f = cached(f32Of(file));
    // Loose bounds (about twice the largest error seen): llama-256's outlier columns (x20)
    // sit inside blocks and cost the low-bit formats much more than Gaussian data would.
    const std::map<GgmlType, double> bound = {
        {GgmlType::F16, 1e-3},  {GgmlType::Q8_0, 0.025}, {GgmlType::Q6_K, 0.07},
        {GgmlType::Q5_0, 0.15}, {GgmlType::Q5_1, 0.15},  {GgmlType::Q5_K, 0.15},
        {GgmlType::Q4_0, 0.3},  {GgmlType::Q4_1, 0.3},   {GgmlType::Q4_K, 0.2},
        {GgmlType::Q3_K, 0.35}, {GgmlType::Q2_K, 0.6}};
    for (const GgufTensor& t : q.tensors()) {
        if (t.type == GgmlType::F32) continue;
        const auto x = f.readFloat(*f.findTensor(t.name));
        const auto y = ggmlDequantize(t.type, q.data(t), t.numel());
        const double e = relativeRms(x, y);
        QVERIFY2(e < bound.at(t.type),
                 qPrintable(QString("%1 %2: relative RMS error %3")
                                .arg(QString::fromStdString(t.name))
                                .arg(QString::fromStdString(ggmlTypeName(t.type)))
                                .arg(e)));
    }
}

// On Gaussian data the error falls with the bits: Q2_K > Q3_K > Q4_K > Q5_K > Q6_K > Q8_0, and
// the legacy formats with a min beat the symmetric ones of the same width.
void TestGgmlQuants::roundTripError() {
    const auto x = normalValues(256 * 64, 11);
    std::map<GgmlType, double> err;
    for (GgmlType t : ggmlBlockTypes()) {
        const auto q = ggmlQuantize(t, x.data(), 64, 256);
        err[t] = relativeRms(x, ggmlDequantize(t, q.data(), int64_t(x.size())));
    }
    QVERIFY(err[GgmlType::Q2_K] > err[GgmlType::Q3_K]);
    QVERIFY(err[GgmlType::Q3_K] > err[GgmlType::Q4_K]);
    QVERIFY(err[GgmlType::Q4_K] > err[GgmlType::Q5_K]);
    QVERIFY(err[GgmlType::Q5_K] > err[GgmlType::Q6_K]);
    QVERIFY(err[GgmlType::Q6_K] > err[GgmlType::Q8_0]);
    QVERIFY(err[GgmlType::Q4_0] > err[GgmlType::Q5_0]);
    QVERIFY(err[GgmlType::Q4_1] > err[GgmlType::Q5_1]);
    QVERIFY(err[GgmlType::Q8_0] < 0.01);
    QVERIFY(err[GgmlType::Q2_K] < 0.5);
}

// All-zero and constant blocks decode exactly (0 and, for the types with a min or a one-level
// scale, the constant within fp16 rounding); non-finite input does not crash.
void TestGgmlQuants::edgeBlocks() {
    std::vector<float> zeros(256, 0.0f), constant(256, 0.01f);
    for (GgmlType t : ggmlBlockTypes()) {
        const auto q0 = ggmlQuantize(t, zeros.data(), 1, 256);
        QCOMPARE(ggmlDequantize(t, q0.data(), 256), zeros);
        const auto qc = ggmlQuantize(t, constant.data(), 1, 256);
        const auto yc = ggmlDequantize(t, qc.data(), 256);
        for (float v : yc) QVERIFY2(std::fabs(v - 0.01f) < 2e-3f, qPrintable(QString::number(v)));
        std::vector<float> bad = normalValues(256, 3);
        bad[5] = std::nanf("");
        bad[77] = INFINITY;
        bad[200] = 1e30f;
        QCOMPARE(ggmlQuantize(t, bad.data(), 1, 256).size(), size_t(*ggmlBytes(t, 256)));
    }
}

void TestGgmlQuants::badShapes() {
    std::vector<float> x(172 * 2, 0.5f);
    for (GgmlType t : ggmlBlockTypes()) {
        try {
            ggmlQuantize(t, x.data(), 2, 172);
            QFAIL("172-wide rows were accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("not a multiple of its block"), e.what());
        }
    }
    QVERIFY_THROWS_EXCEPTION(Error, ggmlQuantize(GgmlType::IQ4_NL, x.data(), 1, 32));
}

void TestGgmlQuants::mixTypes_data() {
    QTest::addColumn<QString>("file");
    for (const char* f : kQuantFiles) QTest::newRow(f) << QString(f);
}

// llama-quantize's type of every tensor of every reference file (the mix is the file's
// general.file_type, --pure from the file name) equals ggmlMixType's choice; tensors it leaves
// alone are F32 there.
void TestGgmlQuants::mixTypes() {
    QFETCH(QString, file);
    QL_REQUIRE_DATA(QString(kRef) + "/" + file);
    const GgufFile& q = cached(file);
    const auto mix = ggmlMixFromFileType(int(q.find("general.file_type")->u));
    QVERIFY(mix);
    QCOMPARE(parseGgmlMix(ggmlMixName(*mix)), mix);
    GgmlMixModel m;
    m.layers = int(q.find("llama.block_count")->u);
    m.gqa =
        int(q.find("llama.attention.head_count")->u / q.find("llama.attention.head_count_kv")->u);
    m.hasOutput = q.findTensor("output.weight") != nullptr;
    m.pure = file.contains(".pure.");
    int quantizedTensors = 0;
    for (const GgufTensor& t : q.tensors()) {
        const auto type = ggmlMixType(*mix, t.name, t.ne, m);
        const GgmlType expected = type ? *type : GgmlType::F32;
        QVERIFY2(expected == t.type,
                 qPrintable(QString("%1: %2, chosen %3")
                                .arg(QString::fromStdString(t.name))
                                .arg(QString::fromStdString(ggmlTypeName(t.type)))
                                .arg(QString::fromStdString(ggmlTypeName(expected)))));
        quantizedTensors += type ? 1 : 0;
    }
    QCOMPARE(quantizedTensors, file.startsWith("stories") ? 36 : 16);
}

QTEST_GUILESS_MAIN(TestGgmlQuants)
#include "test_ggml_quants.moc"
