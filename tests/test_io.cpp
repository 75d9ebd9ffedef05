// Tests of core/io: float conversions, safetensors reading/writing/validation, config.json.
#include "base/error.h"
#include "io/dtype.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "testdata.h"

#include <QTest>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>

namespace fs = std::filesystem;

namespace {

// A safetensors file assembled by hand: 8-byte length, header text, data bytes.
void writeRaw(const std::string& path, const std::string& header, size_t dataBytes,
              int64_t declaredLength = -1) {
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = declaredLength >= 0 ? uint64_t(declaredLength) : header.size();
    for (int i = 0; i < 8; ++i) out.put(char((n >> (8 * i)) & 0xFF));
    out << header << std::string(dataBytes, '\0');
}

// Expects ql::Error whose message contains every fragment.
void expectError(const std::function<void()>& f, const std::vector<std::string>& fragments) {
    try {
        f();
    } catch (const ql::Error& e) {
        const std::string msg = e.what();
        for (const auto& frag : fragments)
            QVERIFY2(msg.find(frag) != std::string::npos,
                     qPrintable(QString("'%1' not in: %2").arg(frag.c_str(), msg.c_str())));
        return;
    }
    QFAIL("expected ql::Error");
}

uint32_t bitsOf(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

float floatOf(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Independent decoding of an IEEE half from its fields (double arithmetic).
double referenceHalf(uint16_t h) {
    const int sign = (h >> 15) ? -1 : 1;
    const int exp = (h >> 10) & 0x1F;
    const int mant = h & 0x3FF;
    if (exp == 0x1F)
        return mant ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
    if (exp == 0) return sign * std::ldexp(double(mant), -24);
    return sign * std::ldexp(1.0 + mant / 1024.0, exp - 15);
}

std::vector<unsigned char> patternBytes(size_t n, int seed) {
    std::vector<unsigned char> b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t((i * 37 + seed * 11) & 0xFF);
    return b;
}

const std::string kLlamaJson = R"({"architectures":["LlamaForCausalLM"],"hidden_size":256,
  "intermediate_size":768,"num_hidden_layers":4,"num_attention_heads":8,"num_key_value_heads":4,
  "vocab_size":512,"max_position_embeddings":512,"rope_theta":10000.0,"rms_norm_eps":1e-5,
  "tie_word_embeddings":false,"bos_token_id":1,"eos_token_id":2,"torch_dtype":"bfloat16"})";

}  // namespace

class TestIo : public QObject {
    Q_OBJECT
private slots:
    // ---- dtypes
    void dtypeNamesRoundTrip() {
        for (auto t :
             {ql::DType::F32, ql::DType::F16, ql::DType::BF16, ql::DType::F64, ql::DType::I8,
              ql::DType::U8, ql::DType::I16, ql::DType::I32, ql::DType::I64, ql::DType::Bool})
            QVERIFY(ql::parseDType(ql::dtypeName(t)) == t);
        QVERIFY(!ql::parseDType("F8_E4M3"));
        QCOMPARE(ql::dtypeSize(ql::DType::BF16), size_t(2));
        QCOMPARE(ql::dtypeSize(ql::DType::I64), size_t(8));
    }
    void halfKnownBitPatterns() {
        QCOMPARE(ql::floatToHalf(1.0f), uint16_t(0x3C00));
        QCOMPARE(ql::floatToHalf(-2.0f), uint16_t(0xC000));
        QCOMPARE(ql::floatToHalf(65504.0f), uint16_t(0x7BFF));
        QCOMPARE(ql::floatToHalf(65519.0f), uint16_t(0x7BFF));  // below the midpoint to inf
        QCOMPARE(ql::floatToHalf(65520.0f), uint16_t(0x7C00));  // midpoint rounds to inf (even)
        QCOMPARE(ql::floatToHalf(std::ldexp(1.0f, -14)), uint16_t(0x0400));  // min normal
        QCOMPARE(ql::floatToHalf(std::ldexp(1.0f, -24)), uint16_t(0x0001));  // min subnormal
        QCOMPARE(ql::floatToHalf(std::ldexp(1.0f, -25)), uint16_t(0x0000));  // tie -> even 0
        QCOMPARE(ql::floatToHalf(std::ldexp(3.0f, -25)), uint16_t(0x0002));  // tie 1.5 -> 2
        QCOMPARE(ql::floatToHalf(-0.0f), uint16_t(0x8000));
        // Ties between normal neighbours: 1 + 2^-11 lies halfway between 0x3C00 and 0x3C01.
        QCOMPARE(ql::floatToHalf(1.0f + std::ldexp(1.0f, -11)), uint16_t(0x3C00));
        QCOMPARE(ql::floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), uint16_t(0x3C02));
        QCOMPARE(ql::floatToHalf(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)),
                 uint16_t(0x3C01));
        QCOMPARE(ql::floatToHalf(std::numeric_limits<float>::infinity()), uint16_t(0x7C00));
        QCOMPARE(ql::floatToHalf(-std::numeric_limits<float>::infinity()), uint16_t(0xFC00));
        const uint16_t nan = ql::floatToHalf(std::numeric_limits<float>::quiet_NaN());
        QVERIFY((nan & 0x7C00) == 0x7C00 && (nan & 0x3FF) != 0);
        QCOMPARE(ql::halfToFloat(0x3C00), 1.0f);
        QVERIFY(std::isinf(ql::halfToFloat(0x7C00)));
        QVERIFY(std::isnan(ql::halfToFloat(0x7E00)));
    }
    void halfAllValuesDecodeAndRoundTrip() {
        for (uint32_t h = 0; h < 65536; ++h) {
            const double ref = referenceHalf(uint16_t(h));
            const float got = ql::halfToFloat(uint16_t(h));
            if (std::isnan(ref)) {
                QVERIFY(std::isnan(got));
                continue;
            }
            QCOMPARE(double(got), ref);
            QCOMPARE(ql::floatToHalf(got), uint16_t(h));
        }
    }
    void halfRoundsToNearest() {
        // For random floats in the half range, no other half is closer than the result,
        // and exact ties pick the even mantissa.
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> logMag(
            -26.0f, 15.999f);  // below 65504: overflow is tested above
        for (int i = 0; i < 200000; ++i) {
            const float f = std::exp2(logMag(rng)) * (i % 2 ? -1.0f : 1.0f);
            const uint16_t h = ql::floatToHalf(f);
            const double err = std::fabs(double(f) - referenceHalf(h));
            for (int d : {-1, 1}) {
                const uint16_t nb = uint16_t(h + d);
                if ((nb & 0x7C00) == 0x7C00 || ((nb ^ h) & 0x8000)) continue;
                const double nbErr = std::fabs(double(f) - referenceHalf(nb));
                QVERIFY2(err <= nbErr, qPrintable(QString::number(double(f), 'g', 10)));
                if (err == nbErr) QVERIFY((h & 1) == 0);
            }
        }
    }
    void bf16KnownBitPatterns() {
        QCOMPARE(ql::floatToBf16(1.0f), uint16_t(0x3F80));
        QCOMPARE(ql::floatToBf16(-2.0f), uint16_t(0xC000));
        QCOMPARE(ql::floatToBf16(floatOf(0x3F808000)), uint16_t(0x3F80));  // tie -> even
        QCOMPARE(ql::floatToBf16(floatOf(0x3F818000)), uint16_t(0x3F82));  // tie -> even (up)
        QCOMPARE(ql::floatToBf16(floatOf(0x3F808001)), uint16_t(0x3F81));  // above tie
        QCOMPARE(ql::floatToBf16(floatOf(0x3F807FFF)), uint16_t(0x3F80));  // below tie
        QCOMPARE(ql::floatToBf16(floatOf(0x00010000)), uint16_t(0x0001));  // subnormal kept
        QCOMPARE(ql::floatToBf16(std::numeric_limits<float>::infinity()), uint16_t(0x7F80));
        QCOMPARE(ql::floatToBf16(floatOf(0x7F7FFFFF)), uint16_t(0x7F80));  // max float -> inf
        QVERIFY(std::isnan(ql::bf16ToFloat(ql::floatToBf16(std::nanf("")))));
        QVERIFY(std::isnan(ql::bf16ToFloat(ql::floatToBf16(floatOf(0x7F800001)))));
        for (uint32_t b = 0; b < 65536; ++b)
            QCOMPARE(bitsOf(ql::bf16ToFloat(uint16_t(b))), b << 16);
    }
    void convertToFloatRejectsIntegers() {
        int32_t v = 3;
        float out;
        expectError([&] { ql::convertToFloat(ql::DType::I32, &v, 1, &out); }, {"I32"});
        const double d = 2.5;
        ql::convertToFloat(ql::DType::F64, &d, 1, &out);
        QCOMPARE(out, 2.5f);
    }

    // ---- writing/reading
    void roundTripEveryDtype() {
        const std::string path =
            (qltest::tempDir("io-roundtrip") + "/all.safetensors").toStdString();
        std::vector<ql::TensorToWrite> tensors;
        int seed = 0;
        for (auto t :
             {ql::DType::F32, ql::DType::F16, ql::DType::BF16, ql::DType::F64, ql::DType::I8,
              ql::DType::U8, ql::DType::I16, ql::DType::I32, ql::DType::I64, ql::DType::Bool}) {
            const std::vector<int64_t> shape{3, 5};
            tensors.push_back(
                {"t." + ql::dtypeName(t), t, shape, patternBytes(15 * ql::dtypeSize(t), seed++)});
        }
        tensors.push_back({"empty", ql::DType::F32, {0, 4}, {}});
        tensors.push_back({"scalar", ql::DType::F32, {}, patternBytes(4, 99)});
        ql::writeSafetensors(path, tensors, {{"format", "pt"}});

        ql::SafetensorsFile f(path);
        QCOMPARE(f.tensors().size(), tensors.size());
        QCOMPARE(f.metadata().at("format"), std::string("pt"));
        for (const auto& w : tensors) {
            const ql::TensorInfo* t = f.find(w.name);
            QVERIFY(t);
            QVERIFY(t->dtype == w.dtype);
            QCOMPARE(t->shape, w.shape);
            QCOMPARE(t->byteSize, uint64_t(w.bytes.size()));
            if (!w.bytes.empty())  // an empty tensor has no data pointer to compare
                QVERIFY(std::memcmp(f.data(*t), w.bytes.data(), w.bytes.size()) == 0);
        }
        // The data section starts 8-byte aligned; padding is spaces.
        const std::string raw = qltest::readFile(path);
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(raw[size_t(i)]);
        QCOMPARE(n % 8, uint64_t(0));
        QVERIFY(raw[8 + n - 1] == '}' || raw[8 + n - 1] == ' ');
        QCOMPARE(raw.size(),
                 size_t(8 + n + f.tensors().back().dataBegin + f.tensors().back().byteSize));
    }
    void readFloatConvertsHalfTypes() {
        const std::string path = (qltest::tempDir("io-float") + "/f.safetensors").toStdString();
        const std::vector<float> values{1.0f, -2.5f, 0.0078125f, 1000.0f};
        std::vector<unsigned char> f16(8), bf16(8), f32(16);
        for (size_t i = 0; i < 4; ++i) {
            const uint16_t h = ql::floatToHalf(values[i]), b = ql::floatToBf16(values[i]);
            std::memcpy(&f16[i * 2], &h, 2);
            std::memcpy(&bf16[i * 2], &b, 2);
        }
        std::memcpy(f32.data(), values.data(), 16);
        ql::writeSafetensors(path, {{"h", ql::DType::F16, {4}, f16},
                                    {"b", ql::DType::BF16, {2, 2}, bf16},
                                    {"f", ql::DType::F32, {4}, f32},
                                    {"i", ql::DType::I32, {4}, f32}});
        auto store = ql::TensorStore::open(path);
        QCOMPARE(store->readFloat("h"), values);  // all exactly representable
        QCOMPARE(store->readFloat("b"), values);
        QCOMPARE(store->readFloat("f"), values);
        expectError([&] { store->readFloat("i"); }, {"'i'", "I32"});
        expectError([&] { store->get("missing"); }, {"'missing'"});
        QCOMPARE(store->names(), (std::vector<std::string>{"b", "f", "h", "i"}));
        QCOMPARE(store->totalBytes(), uint64_t(8 + 8 + 16 + 16));
        QCOMPARE(store->bytesOnDisk(), uint64_t(fs::file_size(path)));
    }
    void readBytesEqualsTheMapping() {
        // readBytes (pread, used by the weights-only analysis and the streamed engine) gives
        // the mapped bytes at any offset; a range outside the tensor, or a file cut short after
        // it was opened, is an error naming the file and the tensor.
        const QString dir = qltest::tempDir("io-readbytes");
        const std::string path = (dir + "/r.safetensors").toStdString();
        ql::writeSafetensors(path, {{"a", ql::DType::F32, {3}, patternBytes(12, 1)},
                                    {"b", ql::DType::BF16, {5, 7}, patternBytes(70, 9)}});
        auto store = ql::TensorStore::open(path);
        const ql::TensorInfo& b = store->get("b");
        for (const auto& [offset, bytes] :
             std::vector<std::pair<uint64_t, uint64_t>>{{0, 70}, {3, 41}, {69, 1}, {70, 0}}) {
            std::vector<unsigned char> got(bytes + 1, 0xEE);
            store->readBytes(b, offset, bytes, got.data());
            QVERIFY(std::memcmp(got.data(), store->data(b) + offset, bytes) == 0);
            QCOMPARE(got[bytes], 0xEE);  // nothing beyond the range
        }
        std::vector<unsigned char> buf(80);
        expectError([&] { store->readBytes(b, 60, 11, buf.data()); }, {path, "'b'"});
        fs::resize_file(path, fs::file_size(path) - 20);  // the tail of b's data is gone
        expectError([&] { store->readBytes(b, 0, 70, buf.data()); }, {path, "'b'", "shorter"});
    }
    void writeIsAtomic() {
        const QString dir = qltest::tempDir("io-atomic");
        const std::string path = (dir + "/w.safetensors").toStdString();
        {
            ql::SafetensorsWriter w(path, {{"a", ql::DType::F32, {2}}});
            const float x[2] = {1, 2};
            w.write(x, 4);  // only half the data, then abandoned
        }
        QVERIFY(!fs::exists(path));
        QVERIFY(fs::is_empty(dir.toStdString()));  // the temporary file is gone too
        {
            ql::SafetensorsWriter w(path, {{"a", ql::DType::F32, {2}}});
            const float x[2] = {1, 2};
            w.write(x, 4);
            expectError([&] { w.finish(); }, {path, "4 of 8"});
        }
        ql::writeSafetensors(path, {{"a", ql::DType::F32, {1}, patternBytes(4, 1)}});
        QCOMPARE(std::distance(fs::directory_iterator(dir.toStdString()), {}), 1L);
        expectError(
            [&] {
                ql::writeSafetensors(path, {{"a", ql::DType::F32, {2}, patternBytes(4, 1)}});
            },
            {"'a'"});
        expectError(
            [&] {
                ql::writeSafetensors(path, {{"a", ql::DType::F32, {1}, patternBytes(4, 1)},
                                            {"a", ql::DType::F32, {1}, patternBytes(4, 1)}});
            },
            {"duplicate"});
        QCOMPARE(ql::SafetensorsFile(path).tensors().size(), size_t(1));  // old file intact
    }
    void shardedCheckpoint() {
        const QString qdir = qltest::tempDir("io-sharded");
        const fs::path dir = qdir.toStdString();
        ql::writeSafetensors((dir / "model-00001-of-00002.safetensors").string(),
                             {{"a", ql::DType::F32, {2}, patternBytes(8, 1)},
                              {"b", ql::DType::BF16, {3}, patternBytes(6, 2)}});
        ql::writeSafetensors((dir / "model-00002-of-00002.safetensors").string(),
                             {{"c", ql::DType::F16, {1, 2}, patternBytes(4, 3)}});
        const auto writeIndex = [&](const std::string& cFile) {
            std::ofstream(dir / "model.safetensors.index.json")
                << "{\"metadata\":{\"total_size\":18},\"weight_map\":{"
                << "\"a\":\"model-00001-of-00002.safetensors\","
                << "\"b\":\"model-00001-of-00002.safetensors\",\"c\":\"" << cFile << "\"}}";
        };
        writeIndex("model-00002-of-00002.safetensors");
        auto store = ql::TensorStore::open(dir.string());
        QCOMPARE(store->names(), (std::vector<std::string>{"a", "b", "c"}));
        QCOMPARE(store->files().size(), size_t(2));
        QCOMPARE(store->totalBytes(), uint64_t(18));
        QCOMPARE(store->bytesOnDisk(),
                 uint64_t(fs::file_size(dir / "model-00001-of-00002.safetensors") +
                          fs::file_size(dir / "model-00002-of-00002.safetensors")));
        const auto& c = store->get("c");
        QVERIFY(std::memcmp(store->data(c), patternBytes(4, 3).data(), 4) == 0);
        QVERIFY(c.file.find("00002") != std::string::npos);

        writeIndex("model-00001-of-00002.safetensors");  // c is listed in the wrong shard
        expectError([&] { ql::TensorStore::open(dir.string()); },
                    {"model.safetensors.index.json", "'c'"});
        writeIndex("model-00003-of-00002.safetensors");  // missing shard file
        expectError([&] { ql::TensorStore::open(dir.string()); }, {"model-00003-of-00002"});
        std::ofstream(dir / "model.safetensors.index.json") << R"({"metadata":{}})";
        expectError([&] { ql::TensorStore::open(dir.string()); }, {"weight_map"});
    }
    void duplicateTensorAcrossShards() {
        const fs::path dir = qltest::tempDir("io-dup").toStdString();
        ql::writeSafetensors((dir / "x.safetensors").string(),
                             {{"a", ql::DType::F32, {1}, patternBytes(4, 1)}});
        ql::writeSafetensors((dir / "y.safetensors").string(),
                             {{"a", ql::DType::F32, {1}, patternBytes(4, 1)}});
        expectError([&] { ql::TensorStore::open(dir.string()); }, {"'a'", "another shard"});
        expectError([&] { ql::TensorStore::open((dir / "nothing").string()); }, {"nothing"});
    }

    // ---- bad files
    void truncatedShorterThanLength() {
        const std::string p = (qltest::tempDir("io-bad1") + "/t.safetensors").toStdString();
        std::ofstream(p, std::ios::binary) << "abc";
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "truncated"});
        std::ofstream(p, std::ios::binary).close();  // empty file
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "truncated"});
    }
    void headerLengthLargerThanFile() {
        const std::string p = (qltest::tempDir("io-bad2") + "/t.safetensors").toStdString();
        writeRaw(p, "{}", 0, 1000);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "header length 1000", "file size"});
    }
    void headerLengthOver100MB() {
        // A sparse file of 101 MB so that only the 100 MB bound can fail.
        const std::string p = (qltest::tempDir("io-bad3") + "/t.safetensors").toStdString();
        writeRaw(p, "{}", 0, 101ll * 1024 * 1024);
        fs::resize_file(p, 101ull * 1024 * 1024 + 100);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "100 MB"});
    }
    void truncatedData() {
        const std::string p = (qltest::tempDir("io-bad4") + "/t.safetensors").toStdString();
        ql::writeSafetensors(p, {{"w", ql::DType::F32, {4, 4}, patternBytes(64, 0)}});
        fs::resize_file(p, fs::file_size(p) - 10);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'w'", "truncated"});
    }
    void invalidJson() {
        const std::string p = (qltest::tempDir("io-bad5") + "/t.safetensors").toStdString();
        writeRaw(p, "{\"a\": {", 0);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "JSON"});
        writeRaw(p, "[1, 2]  ", 0);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "not a JSON object"});
    }
    void unknownDtype() {
        const std::string p = (qltest::tempDir("io-bad6") + "/t.safetensors").toStdString();
        writeRaw(p, R"({"w":{"dtype":"F7","shape":[2],"data_offsets":[0,2]}})", 2);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'w'", "unknown dtype 'F7'"});
    }
    void badShape() {
        const std::string p = (qltest::tempDir("io-bad7") + "/t.safetensors").toStdString();
        writeRaw(p, R"({"w":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}})", 2);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'w'", "non-negative"});
        writeRaw(p, R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,2]}})", 2);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'w'", "non-negative"});
        writeRaw(p, R"({"w":{"dtype":"U8","data_offsets":[0,2]}})", 2);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'w'", "shape"});
    }
    void sizeMismatch() {
        const std::string p = (qltest::tempDir("io-bad8") + "/t.safetensors").toStdString();
        writeRaw(p, R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 24);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'w'", "does not match", "24"});
    }
    void offsetsOutOfRange() {
        const std::string p = (qltest::tempDir("io-bad9") + "/t.safetensors").toStdString();
        writeRaw(p, R"({"w":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})", 8);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'w'", "exceed"});
        writeRaw(p, R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}})", 8);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'w'", "begin > end"});
        writeRaw(p, R"({"w":{"dtype":"U8","shape":[2],"data_offsets":[-2,0]}})", 8);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'w'", "data_offsets"});
    }
    void overlappingOffsets() {
        const std::string p = (qltest::tempDir("io-bad10") + "/t.safetensors").toStdString();
        writeRaw(p,
                 R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},
                     "b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})",
                 12);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'b'", "overlaps tensor 'a'"});
    }
    void gapBetweenTensors() {
        const std::string p = (qltest::tempDir("io-bad11") + "/t.safetensors").toStdString();
        writeRaw(p,
                 R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},
                     "b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}})",
                 12);
        expectError([&] { ql::SafetensorsFile f(p); }, {p, "'b'", "gap"});
    }
    void unsortedKeysAreAccepted() {
        // JSON key order need not follow offsets; only the byte layout matters.
        const std::string p = (qltest::tempDir("io-sorted") + "/t.safetensors").toStdString();
        writeRaw(p,
                 R"({"z":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},
                     "a":{"dtype":"U8","shape":[2,2],"data_offsets":[4,8]}})",
                 8);
        ql::SafetensorsFile f(p);
        QCOMPARE(f.find("a")->dataBegin, uint64_t(4));
        QCOMPARE(f.tensors().front().name, std::string("z"));
    }

    // ---- shared models
    void sharedModelsParameterCounts() {
        QL_REQUIRE_DATA("models/stories260k");
        // Figures from ../shared/README.md.
        const std::pair<const char*, int64_t> models[] = {{"models/stories260k", 260032},
                                                          {"models/tinystories-656k", 656000}};
        for (const auto& [dir, expected] : models) {
            auto store = ql::TensorStore::open(qltest::dataPath(dir));
            const auto cfg = ql::loadModelConfig(qltest::dataPath(dir) + "/config.json");
            int64_t params = 0;
            for (const auto& n : store->names()) params += store->get(n).numel();
            QCOMPARE(params, expected);
            QCOMPARE(store->totalBytes(), uint64_t(expected * 4));  // F32
            const int64_t h = cfg.hiddenSize, hd = cfg.headDim;
            for (int l = 0; l < cfg.numLayers; ++l) {
                const std::string p = "model.layers." + std::to_string(l) + ".";
                QCOMPARE(store->get(p + "self_attn.q_proj.weight").shape,
                         (std::vector<int64_t>{cfg.numHeads * hd, h}));
                QCOMPARE(store->get(p + "self_attn.k_proj.weight").shape,
                         (std::vector<int64_t>{cfg.numKvHeads * hd, h}));
                QCOMPARE(store->get(p + "mlp.down_proj.weight").shape,
                         (std::vector<int64_t>{h, cfg.intermediateSize}));
                QCOMPARE(store->get(p + "input_layernorm.weight").shape, (std::vector<int64_t>{h}));
            }
            QCOMPARE(store->get("model.norm.weight").dtype, ql::DType::F32);
        }
    }
    void sharedModelTiedEmbeddingNames() {
        QL_REQUIRE_DATA("models/tinystories-656k");
        auto tiny = ql::TensorStore::open(qltest::dataPath("models/tinystories-656k"));
        QVERIFY(tiny->find("lm_head.weight") && !tiny->find("model.embed_tokens.weight"));
        QCOMPARE(tiny->get("lm_head.weight").shape, (std::vector<int64_t>{2048, 128}));
        auto s260 = ql::TensorStore::open(qltest::dataPath("models/stories260k/model.safetensors"));
        QVERIFY(!s260->find("lm_head.weight") && s260->find("model.embed_tokens.weight"));
        // readFloat returns the mapped bytes unchanged for F32.
        const auto& t = s260->get("model.norm.weight");
        const auto v = s260->readFloat("model.norm.weight");
        QVERIFY(std::memcmp(v.data(), s260->data(t), t.byteSize) == 0);
    }

    // ---- config.json
    void configLlama() {
        const auto c = ql::parseModelConfig(kLlamaJson, "x/config.json");
        QVERIFY(c.architecture == ql::Architecture::Llama);
        QCOMPARE(c.hiddenSize, 256);
        QCOMPARE(c.numKvHeads, 4);
        QCOMPARE(c.headDim, 32);
        QCOMPARE(c.maxPositions, 512);
        QCOMPARE(c.rmsNormEps, 1e-5);
        QVERIFY(!c.attentionBias && !c.qkNorm && !c.tieWordEmbeddings);
        QCOMPARE(c.bosTokenId, 1);
        QCOMPARE(c.eosTokenId, 2);
        QCOMPARE(c.torchDtype, std::string("bfloat16"));
    }
    void configMistralDefaults() {
        const auto c = ql::parseModelConfig(
            R"({"architectures":["MistralForCausalLM"],"hidden_size":4096,"intermediate_size":14336,
                "num_hidden_layers":32,"num_attention_heads":32,"vocab_size":32000,
                "eos_token_id":[2,7]})",
            "config.json");
        QVERIFY(c.architecture == ql::Architecture::Mistral);
        QCOMPARE(c.numKvHeads, 32);  // defaults to num_attention_heads
        QCOMPARE(c.headDim, 128);
        QCOMPARE(c.eosTokenId, 2);  // first of the list
        QCOMPARE(c.bosTokenId, -1);
        QCOMPARE(c.modelType, std::string("mistral"));
    }
    void configQwen2HasBias() {
        const auto c = ql::parseModelConfig(
            R"({"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":896,
                "intermediate_size":4864,"num_hidden_layers":24,"num_attention_heads":14,
                "num_key_value_heads":2,"vocab_size":151936,"rope_theta":1000000.0,
                "rms_norm_eps":1e-06,"tie_word_embeddings":true,"max_position_embeddings":32768})",
            "config.json");
        QVERIFY(c.attentionBias);  // no key in the file, Qwen2 always has q/k/v bias
        QVERIFY(c.tieWordEmbeddings && !c.qkNorm);
        QCOMPARE(c.headDim, 64);
        QCOMPARE(c.ropeTheta, 1e6);
        QCOMPARE(c.maxPositions, 32768);
    }
    void configQwen3ExplicitHeadDim() {
        const auto c = ql::parseModelConfig(
            R"({"architectures":["Qwen3ForCausalLM"],"hidden_size":1024,"intermediate_size":3072,
                "num_hidden_layers":28,"num_attention_heads":16,"num_key_value_heads":8,
                "head_dim":128,"vocab_size":151936,"attention_bias":false})",
            "config.json");
        QVERIFY(c.qkNorm && !c.attentionBias);
        QCOMPARE(c.headDim, 128);  // not 1024 / 16
    }
    void configErrors() {
        const auto withChange = [](const std::string& from, const std::string& to) {
            std::string s = kLlamaJson;
            s.replace(s.find(from), from.size(), to);
            return s;
        };
        expectError(
            [&] {
                ql::parseModelConfig(withChange("LlamaForCausalLM", "GPT2LMHeadModel"),
                                     "m/config.json");
            },
            {"m/config.json", "unsupported architecture 'GPT2LMHeadModel'"});
        expectError(
            [&] { ql::parseModelConfig(withChange("\"hidden_size\":256,", ""), "m/config.json"); },
            {"m/config.json", "hidden_size"});
        expectError(
            [&] {
                ql::parseModelConfig(withChange("\"hidden_size\":256", "\"hidden_size\":250"),
                                     "m/config.json");
            },
            {"m/config.json", "not divisible by num_attention_heads"});
        expectError(
            [&] {
                ql::parseModelConfig(
                    withChange("\"num_key_value_heads\":4", "\"num_key_value_heads\":3"),
                    "m/config.json");
            },
            {"m/config.json", "num_key_value_heads"});
        expectError(
            [&] {
                ql::parseModelConfig(withChange("\"vocab_size\":512", "\"vocab_size\":\"512\""),
                                     "m/config.json");
            },
            {"m/config.json", "vocab_size"});
        expectError([&] { ql::parseModelConfig("{not json", "m/config.json"); },
                    {"m/config.json", "JSON"});
        expectError([&] { ql::parseModelConfig(R"({"hidden_size":4})", "m/config.json"); },
                    {"m/config.json", "architectures"});
        expectError([&] { ql::loadModelConfig("/nonexistent/config.json"); },
                    {"/nonexistent/config.json"});
    }
    void configToJsonRoundTrip() {
        for (const std::string arch :
             {"LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}) {
            std::string text = kLlamaJson;
            text.replace(text.find("LlamaForCausalLM"), 16, arch);
            const auto a = ql::parseModelConfig(text, "a");
            const auto b = ql::parseModelConfig(ql::modelConfigToJson(a), "b");
            QCOMPARE(b.architectureName, arch);
            QCOMPARE(b.hiddenSize, a.hiddenSize);
            QCOMPARE(b.numKvHeads, a.numKvHeads);
            QCOMPARE(b.headDim, a.headDim);
            QCOMPARE(b.ropeTheta, a.ropeTheta);
            QCOMPARE(b.rmsNormEps, a.rmsNormEps);
            QCOMPARE(b.attentionBias, a.attentionBias);
            QCOMPARE(b.qkNorm, a.qkNorm);
            QCOMPARE(b.eosTokenId, a.eosTokenId);
        }
    }
    void configSharedModels() {
        QL_REQUIRE_DATA("models/stories260k");
        const auto s = ql::loadModelConfig(qltest::dataPath("models/stories260k/config.json"));
        QCOMPARE(s.headDim, 8);  // README: head_dim 8, MLP 172
        QCOMPARE(s.intermediateSize, 172);
        QCOMPARE(s.numLayers, 5);
        QCOMPARE(s.numKvHeads, 4);
        QVERIFY(s.tieWordEmbeddings);
        const auto t = ql::loadModelConfig(qltest::dataPath("models/tinystories-656k/config.json"));
        QCOMPARE(t.headDim, 16);
        QCOMPARE(t.hiddenSize, 128);
        QCOMPARE(t.vocabSize, 2048);
        QCOMPARE(t.rmsNormEps, 1e-6);
    }
};

QTEST_GUILESS_MAIN(TestIo)
#include "test_io.moc"
