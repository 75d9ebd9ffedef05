// The GGUF reader (io/gguf.h): every tensor info of the shared reference files against the
// tables of their README (written from llama.cpp's own gguf-py), metadata values, F32 data
// against the safetensors it was converted from (incl. the q/k row permutation), and hand-made
// corrupt files that must each give one error naming the file and the field.
#include "base/error.h"
#include "gguf_builder.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "testdata.h"

#include <QRegularExpression>

#include <cstring>
#include <fstream>
#include <map>

using namespace ql;

namespace {

const char* kRef = "reference/gguf";

struct ExpectedTensor {
    QString name;
    std::vector<int64_t> ne;
    QString type;
    uint64_t bytes = 0, offset = 0;
};

struct ExpectedFile {
    uint64_t dataStart = 0, size = 0;
    int fileType = -1;
    std::vector<ExpectedTensor> tensors;
};

uint64_t number(QString s) {
    return s.remove(',').trimmed().toULongLong();
}

// The README's per-file sections: "### `file`", its size / file_type / data start line and the
// table | # | `name` | (ne0, ne1) | TYPE | bytes | offset |.
std::map<QString, ExpectedFile> readmeTables() {
    std::map<QString, ExpectedFile> out;
    QFile f(QString::fromStdString(qltest::dataPath(QString(kRef) + "/README.md")));
    if (!f.open(QIODevice::ReadOnly)) return out;
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n');
    const QRegularExpression head("^### `([^`]+\\.gguf)`");
    const QRegularExpression size("^- size ([0-9,]+) bytes");
    const QRegularExpression info("file_type = (\\d+).*tensor data starts at byte (\\d+)");
    const QRegularExpression row(
        "^\\| \\d+ \\| `([^`]+)` \\| \\(([0-9, ]+)\\) \\| (\\w+) \\| ([0-9,]+) \\| ([0-9,]+) \\|");
    ExpectedFile* current = nullptr;
    for (const QString& line : lines) {
        if (auto m = head.match(line); m.hasMatch()) {
            current = &out[m.captured(1)];
        } else if (!current) {
            continue;
        } else if (auto s = size.match(line); s.hasMatch()) {
            current->size = number(s.captured(1));
            if (auto i = info.match(line); i.hasMatch()) {
                current->fileType = i.captured(1).toInt();
                current->dataStart = number(i.captured(2));
            }
        } else if (auto i = info.match(line); i.hasMatch()) {
            current->fileType = i.captured(1).toInt();
            current->dataStart = number(i.captured(2));
        } else if (auto r = row.match(line); r.hasMatch()) {
            ExpectedTensor t;
            t.name = r.captured(1);
            for (const QString& d : r.captured(2).split(',')) t.ne.push_back(int64_t(number(d)));
            t.type = r.captured(3);
            t.bytes = number(r.captured(4));
            t.offset = number(r.captured(5));
            current->tensors.push_back(t);
        }
    }
    return out;
}

std::string writeTemp(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path =
        (qltest::tempDir("gguf") + "/" + QString::fromStdString(name)).toStdString();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return path;
}

}  // namespace

class TestGguf : public QObject {
    Q_OBJECT

private slots:
    void referenceFile_data();
    void referenceFile();
    void metadata();
    void f32MatchesSafetensors();
    void tinyFile();
    void corrupt_data();
    void corrupt();
    void tooManyArrayElements();
};

void TestGguf::referenceFile_data() {
    QTest::addColumn<QString>("file");
    for (const char* f :
         {"llama-256.F32.gguf",       "llama-256.Q8_0.gguf",      "llama-256.Q4_0.gguf",
          "llama-256.Q4_1.gguf",      "llama-256.Q5_0.gguf",      "llama-256.Q5_1.gguf",
          "llama-256.Q2_K.gguf",      "llama-256.Q3_K_M.gguf",    "llama-256.Q4_K_S.gguf",
          "llama-256.Q4_K_M.gguf",    "llama-256.Q5_K_M.gguf",    "llama-256.Q6_K.gguf",
          "llama-256.Q2_K.pure.gguf", "llama-256.Q3_K.pure.gguf", "llama-256.Q4_K.pure.gguf",
          "llama-256.Q5_K.pure.gguf", "llama-256.Q6_K.pure.gguf", "stories260k.F32.gguf",
          "stories260k.Q4_K_M.gguf",  "stories260k.Q6_K.gguf"})
        QTest::newRow(f) << QString(f);
}

// Every tensor's name, shape, type, byte size and offset, the data start, the file size and
// general.file_type equal the README's tables.
void TestGguf::referenceFile() {
    QFETCH(QString, file);
    QL_REQUIRE_DATA(QString(kRef) + "/" + file);
    static const auto tables = readmeTables();
    const auto it = tables.find(file);
    QVERIFY2(it != tables.end(), "the README has no table for this file");
    const ExpectedFile& e = it->second;
    QVERIFY(!e.tensors.empty());

    GgufFile g(qltest::dataPath(QString(kRef) + "/" + file));
    QCOMPARE(g.version(), 3u);
    QCOMPARE(g.alignment(), uint64_t(32));
    QCOMPARE(g.fileSize(), e.size);
    QCOMPARE(g.dataOffset(), e.dataStart);
    const GgufValue* ft = g.find("general.file_type");
    QVERIFY(ft);
    QCOMPARE(int(ft->u), e.fileType);
    QCOMPARE(g.tensors().size(), e.tensors.size());
    for (size_t k = 0; k < e.tensors.size(); ++k) {
        const GgufTensor& t = g.tensors()[k];
        const ExpectedTensor& x = e.tensors[k];
        QCOMPARE(QString::fromStdString(t.name), x.name);
        QCOMPARE(t.ne, x.ne);
        QCOMPARE(QString::fromStdString(ggmlTypeName(t.type)), x.type);
        QCOMPARE(t.bytes, x.bytes);
        QCOMPARE(t.offset, x.offset);
    }
}

// Values of every kind as the README describes them.
void TestGguf::metadata() {
    QL_REQUIRE_DATA(QString(kRef) + "/llama-256.Q4_K_M.gguf");
    GgufFile g(qltest::dataPath(QString(kRef) + "/llama-256.Q4_K_M.gguf"));
    QCOMPARE(g.find("general.architecture")->s, std::string("llama"));
    QCOMPARE(g.find("general.version")->s, std::string("256"));
    QCOMPARE(g.find("llama.vocab_size")->u, uint64_t(512));
    QCOMPARE(g.find("llama.rope.dimension_count")->u, uint64_t(64));
    QCOMPARE(g.find("general.quantization_version")->u, uint64_t(2));
    const GgufValue* eps = g.find("llama.attention.layer_norm_rms_epsilon");
    QCOMPARE(eps->type, GgufValueType::F32);
    QCOMPARE(float(eps->f), 1e-5f);
    QCOMPARE(g.find("tokenizer.ggml.add_bos_token")->type, GgufValueType::Bool);
    QCOMPARE(g.find("tokenizer.ggml.add_bos_token")->i, int64_t(1));
    QCOMPARE(g.find("tokenizer.ggml.add_eos_token")->i, int64_t(0));
    const GgufValue* tokens = g.find("tokenizer.ggml.tokens");
    QCOMPARE(tokens->elementType, GgufValueType::String);
    QCOMPARE(tokens->elements.size(), size_t(512));
    QCOMPARE(tokens->elements[1].s, std::string("<s>"));
    QCOMPARE(tokens->elements[3].s, std::string("<0x00>"));
    const GgufValue* types = g.find("tokenizer.ggml.token_type");
    QCOMPARE(types->elements[0].i, int64_t(2));    // <unk>: UNKNOWN
    QCOMPARE(types->elements[1].i, int64_t(3));    // <s>: CONTROL
    QCOMPARE(types->elements[10].i, int64_t(6));   // byte token
    QCOMPARE(types->elements[300].i, int64_t(1));  // normal
    const GgufValue* scores = g.find("tokenizer.ggml.scores");
    QCOMPARE(scores->elements[258].f, 0.0);
    QCOMPARE(scores->elements[300].f, -41.0);
    QVERIFY(!g.find("general.alignment"));
    QCOMPARE(g.keys().back(), std::string("general.file_type"));  // llama-quantize moves it last
}

// F32 tensors are the safetensors values; attn_q/attn_k rows permuted as the README says:
// HF row h*64 + s*32 + j is GGUF row h*64 + 2*j + s.
void TestGguf::f32MatchesSafetensors() {
    QL_REQUIRE_DATA(QString(kRef) + "/llama-256.F32.gguf");
    GgufFile g(qltest::dataPath(QString(kRef) + "/llama-256.F32.gguf"));
    const auto st = TensorStore::open(qltest::dataPath(QString(kRef) + "/llama-256"));
    const auto compare = [&](const char* gguf, const char* hf, bool permuted) {
        const std::vector<float> a = g.readFloat(*g.findTensor(gguf));
        const std::vector<float> b = st->readFloat(hf);
        QCOMPARE(a.size(), b.size());
        const int64_t cols = 256, rows = int64_t(a.size()) / cols;
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t h = r / 64, s = r % 64 / 32, j = r % 32;
            const int64_t gr = permuted ? h * 64 + 2 * j + s : r;
            QVERIFY2(std::memcmp(&a[size_t(gr * cols)], &b[size_t(r * cols)], 4 * cols) == 0,
                     qPrintable(QString("%1 row %2").arg(gguf).arg(r)));
        }
    };
    compare("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight", true);
    compare("blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight", true);
    compare("blk.0.attn_v.weight", "model.layers.0.self_attn.v_proj.weight", false);
    compare("output.weight", "lm_head.weight", false);
}

void TestGguf::tinyFile() {
    const std::string path = writeTemp("tiny.gguf", qltest::TinyGguf{}.build());
    GgufFile g(path);
    QCOMPARE(g.keys().size(), size_t(4));
    QCOMPARE(g.find("general.name")->s, std::string("tiny"));
    QCOMPARE(g.find("list")->elements.size(), size_t(3));
    QCOMPARE(g.find("list")->elements[2].i, int64_t(14));
    QCOMPARE(g.tensors().size(), size_t(2));
    QCOMPARE(g.findTensor("a")->bytes, uint64_t(68));
    QCOMPARE(g.findTensor("b")->offset, uint64_t(96));
    QCOMPARE(g.dataOffset() % 32, uint64_t(0));
    QCOMPARE(g.readFloat(*g.findTensor("b")).size(), size_t(4));
}

void TestGguf::corrupt_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("expected");  // a part of the message naming the field
    const QStringList rows = {
        "bad magic|magic: not a GGUF file",
        "version 1|version: GGUF version 1 is not supported",
        "tensor count|tensor count:",
        "metadata count|metadata count:",
        "duplicate key|metadata key 'general.architecture': key appears twice",
        "unknown value type|metadata key 'general.name': unknown value type 13",
        "array length|metadata key 'list': array length",
        "dimension count|tensor 'a': dimension count 5",
        "negative ne|tensor 'a': ne[0] = -32",
        "unknown ggml type|tensor 'a': unknown ggml type 4",
        "partial block|tensor 'a': row length ne[0] = 31 is not a multiple of the Q8_0 block",
        "misaligned offset|tensor 'b': data offset 70 is not a multiple",
        "overlap|tensor 'b': data overlaps tensor 'a'",
        "beyond data|tensor 'b': data [4096, +16) exceeds the data section",
        "duplicate tensor|tensor 'a': name appears twice",
        "alignment|metadata key 'general.alignment': 24 is not a power of two",
        "truncated|tensor 'b': data [96, +16) exceeds the data section",
        "truncated header|truncated file",
        "control bytes in a key|metadata key 'general.\\x0aname': unknown value type 13",
    };
    for (int i = 0; i < rows.size(); ++i) {
        const QStringList p = rows[i].split('|');
        QTest::newRow(qPrintable(p[0])) << i << p[1];
    }
}

void TestGguf::corrupt() {
    QFETCH(int, which);
    QFETCH(QString, expected);
    qltest::TinyGguf t;
    switch (which) {
        case 0:
            t.magic[0] = 'X';
            break;
        case 1:
            t.version = 1;
            break;
        case 2:
            t.tensorCountDelta = uint64_t(1) << 60;
            break;
        case 3:
            t.kvCountDelta = uint64_t(1) << 60;
            break;
        case 4:
            t.secondKey = "general.architecture";
            break;
        case 5:
            t.stringType = 13;
            break;
        case 6:
            t.arrayCount = uint64_t(1) << 61;
            break;
        case 7:
            t.dims0 = 5;
            break;
        case 8:
            t.ne0 = -32;
            break;
        case 9:
            t.type0 = 4;
            break;
        case 10:
            t.ne0 = 31;
            break;
        case 11:
            t.offset1 = 70;
            break;
        case 12:
            t.offset1 = 32;
            break;
        case 13:
            t.offset1 = 4096;
            break;
        case 14:
            t.name1 = "a";
            break;
        case 15:
            t.writeAlignment = true;
            t.alignment = 24;
            break;
        case 16:
            t.truncateBy = 10;
            break;
        case 17:
            t.truncateBy = 100000;
            break;
        case 18:
            t.secondKey = "general.\nname";
            t.stringType = 13;
            break;
    }
    const std::string path = writeTemp("corrupt" + std::to_string(which) + ".gguf", t.build());
    try {
        GgufFile g(path);
        QFAIL("the corrupt file was accepted");
    } catch (const Error& e) {
        const QString msg = e.what();
        QVERIFY2(msg.startsWith(QString::fromStdString(path) + ": "), qPrintable(msg));
        QVERIFY2(msg.contains(expected), qPrintable(msg));
        QVERIFY2(!msg.contains('\n'), qPrintable(msg));
    }
}

// 9 Mi one-byte array elements fit in the file but exceed the reader's bound on metadata
// elements (each becomes a value object): refused by name, before allocating them.
void TestGguf::tooManyArrayElements() {
    qltest::GgufBytes g;
    const uint64_t n = uint64_t(9) << 20;
    g.bytes = {'G', 'G', 'U', 'F'};
    g.put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
    g.str("big").put<uint32_t>(9).put<uint32_t>(0).put<uint64_t>(n);
    g.bytes.resize(g.bytes.size() + n, 1);
    const std::string path = writeTemp("big-array.gguf", g.bytes);
    try {
        GgufFile f(path);
        QFAIL("the file was accepted");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("metadata key 'big': array length 9437184 exceeds the "
                                            "limit"),
                 e.what());
    }
}

QTEST_GUILESS_MAIN(TestGguf)
#include "test_gguf.moc"
