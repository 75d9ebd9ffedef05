// Hostile compact weight files (weights/<layer>.qlw of GPTQ/AWQ run folders). No CLI
// command re-bins, so readCompactWeights is called directly, as rebinWeights calls it:
// each file gives exactly one ql::Error, on one line, naming the file and the field, and
// nothing is allocated from a count the file does not back with bytes.
#include "base/error.h"
#include "quant/compact_weights.h"
#include "test_badinput.h"
#include "testdata.h"

#include <QtTest>

#include <cstring>
#include <limits>

namespace {

// Header offsets (see core/quant/compact_weights.cpp).
constexpr size_t kVersion = 8, kBits = 12, kFlags = 13, kRows = 16, kCols = 24, kGroup = 32,
                 kScales = 40, kZeros = 48, kCodeBytes = 56, kDivisors = 64, kHeader = 72;

// rows x cols at `bits`, groups of 4, with AWQ divisors when asked; codes vary.
ql::CompactWeights sample(int bits, bool symmetric, bool divisors) {
    ql::QuantGrid g;
    g.bits = bits;
    g.symmetric = symmetric;
    g.rows = 3, g.cols = 8, g.groupSize = 4;
    g.scales = {0.5f, 0.25f, 1.0f, 2.0f, 0.125f, 4.0f};
    if (!symmetric) g.zeros = {0, 1, 2, 3, 1, 0};
    std::vector<int32_t> q(24);
    for (size_t i = 0; i < q.size(); ++i)
        q[i] = g.qmin() + int32_t(i * 5) % (g.qmax() - g.qmin() + 1);
    return ql::compactFromCodes(g, q,
                                divisors ? std::vector<float>(8, 0.75f) : std::vector<float>{});
}

std::string bytesOf(const ql::CompactWeights& w, const std::string& path) {
    ql::writeCompactWeights(path, w);
    return qltest::readFile(path);
}

template <class T>
QByteArray with(const std::string& base, size_t offset, T value) {
    std::string b = base;
    std::memcpy(&b[offset], &value, sizeof value);
    return QByteArray(b.data(), int(b.size()));
}

QByteArray raw(const std::string& b) {
    return QByteArray(b.data(), int(b.size()));
}

}  // namespace

void TestBadInput::compactBaseline() {
    for (int bits : {3, 4, 6}) {
        const ql::CompactWeights w = sample(bits, bits != 4, bits == 4);
        const std::string p = path("qlw-valid.qlw").toStdString();
        ql::writeCompactWeights(p, w);
        const ql::CompactWeights back = ql::readCompactWeights(p);
        QCOMPARE(back.decode(), w.decode());
    }
    // Not a file: named, one line.
    for (const QString& p : {path("qlw-none.qlw"), path("qlw-dir.qlw")}) {
        if (p.endsWith("dir.qlw")) QDir().mkpath(p);
        try {
            ql::readCompactWeights(p.toStdString());
            QFAIL(qPrintable(p + " accepted"));
        } catch (const ql::Error& e) {
            QVERIFY2(QString(e.what()).contains(p + "' cannot be read"), e.what());
        }
    }
}

void TestBadInput::compactHostile_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("field");  // empty: only the file is named
    const std::string v4 = bytesOf(sample(4, false, true), path("qlw-4.qlw").toStdString());
    const std::string v3 = bytesOf(sample(3, false, false), path("qlw-3.qlw").toStdString());
    const std::string v6 = bytesOf(sample(6, true, false), path("qlw-6.qlw").toStdString());
    const size_t scales = kHeader, zeros = scales + 6 * 4, codes = zeros + 6;
    const size_t divisors = codes + 12;
    QCOMPARE(v4.size(), divisors + 8 * 4);
    QTest::newRow("empty") << QByteArray() << "header";
    QTest::newRow("truncated header") << raw(v4.substr(0, 40)) << "header";
    QTest::newRow("wrong magic") << with(v4, 0, 'X') << "magic";
    QTest::newRow("f32 file named .qlw")
        << raw(std::string("QLWF32\0\0", 8) + std::string(80, '\0')) << "magic";
    QTest::newRow("version 2") << with(v4, kVersion, uint32_t(2)) << "version";
    QTest::newRow("unknown flag") << with(v4, kFlags, uint8_t(0x84)) << "flags";
    QTest::newRow("bits 9") << with(v4, kBits, uint8_t(9)) << "bits";
    QTest::newRow("bits 1") << with(v4, kBits, uint8_t(1)) << "bits";
    QTest::newRow("bits 0") << with(v4, kBits, uint8_t(0)) << "bits";
    QTest::newRow("negative rows") << with(v4, kRows, int64_t(-3)) << "rows";
    QTest::newRow("rows above 2^32") << with(v4, kRows, int64_t(1) << 40) << "rows";
    QTest::newRow("cols 0") << with(v4, kCols, int64_t(0)) << "cols";
    QTest::newRow("huge rows x cols")
        << with(with(v4, kRows, int64_t(1) << 31).toStdString(), kCols, int64_t(1) << 31) << "cols";
    // Both at the 2^32 bound: rows x cols overflowed int64 (UBSan, found by fuzz_qlw).
    QTest::newRow("rows x cols at both bounds")
        << with(with(v4, kRows, int64_t(1) << 32).toStdString(), kCols, int64_t(1) << 32) << "cols";
    QTest::newRow("group size 0") << with(v4, kGroup, int64_t(0)) << "group_size";
    QTest::newRow("group size above cols") << with(v4, kGroup, int64_t(9)) << "group_size";
    QTest::newRow("negative group size") << with(v4, kGroup, int64_t(-4)) << "group_size";
    QTest::newRow("scale count") << with(v4, kScales, uint64_t(5)) << "scales";
    QTest::newRow("huge scale count") << with(v4, kScales, ~uint64_t(0)) << "scales";
    QTest::newRow("zero count") << with(v4, kZeros, uint64_t(0)) << "zeros";
    QTest::newRow("codes length mismatch") << with(v4, kCodeBytes, uint64_t(13)) << "codes";
    QTest::newRow("huge codes length") << with(v4, kCodeBytes, uint64_t(1) << 62) << "codes";
    QTest::newRow("divisor count") << with(v4, kDivisors, uint64_t(7)) << "divisors";
    // A consistent header for 2^28 x 8 weights backed by a few bytes: refused before any
    // allocation of the 1 GB it describes.
    std::string huge = with(v4, kRows, int64_t(1) << 28).toStdString();
    huge = with(huge, kScales, uint64_t(1) << 29).toStdString();
    huge = with(huge, kZeros, uint64_t(1) << 29).toStdString();
    QTest::newRow("huge consistent header") << with(huge, kCodeBytes, uint64_t(1) << 30) << "size";
    QTest::newRow("truncated codes") << raw(v4.substr(0, codes + 5)) << "size";
    QTest::newRow("truncated divisors") << raw(v4.substr(0, v4.size() - 1)) << "size";
    QTest::newRow("trailing bytes") << raw(v4 + "x") << "size";
    QTest::newRow("NaN scale") << with(v4, scales + 4, std::numeric_limits<float>::quiet_NaN())
                               << "scales";
    QTest::newRow("zero scale") << with(v4, scales, 0.0f) << "scales";
    QTest::newRow("negative scale") << with(v4, scales + 8, -1.0f) << "scales";
    QTest::newRow("infinite scale")
        << with(v4, scales, std::numeric_limits<float>::infinity()) << "scales";
    QTest::newRow("zero point off grid") << with(v4, zeros + 2, uint8_t(16)) << "zeros";
    QTest::newRow("3-bit code off grid") << with(v3, codes + 1, uint8_t(0xf0)) << "codes";
    QTest::newRow("6-bit code off grid") << with(v6, kHeader + 6 * 4 + 3, int8_t(40)) << "codes";
    QTest::newRow("zero divisor") << with(v4, divisors + 4, 0.0f) << "divisors";
    QTest::newRow("NaN divisor") << with(v4, divisors, std::numeric_limits<float>::quiet_NaN())
                                 << "divisors";
}

void TestBadInput::compactHostile() {
    QFETCH(QByteArray, bytes);
    QFETCH(QString, field);
    const QString file =
        path("qlw-hostile/" + QString(QTest::currentDataTag()).replace(' ', '-') + ".qlw");
    badinput::writeFile(file, bytes.toStdString());
    try {
        const ql::CompactWeights w = ql::readCompactWeights(file.toStdString());
        QFAIL(qPrintable("accepted, " + QString::number(w.rows()) + " rows"));
    } catch (const ql::Error& e) {
        const QString msg = QString::fromStdString(e.what());
        QVERIFY2(!msg.contains('\n'), qPrintable(msg));
        QVERIFY2(msg.contains(file), qPrintable("file not named: " + msg));
        QVERIFY2(msg.contains("field '" + field + "'"), qPrintable("field not named: " + msg));
    }
}
