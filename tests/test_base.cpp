#include "base/error.h"
#include "base/parallel.h"
#include "base/progress.h"
#include "base/read_bandwidth.h"
#include "base/sha256.h"

#include <QCryptographicHash>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

class TestBase : public QObject {
    Q_OBJECT
private slots:
    void sha256KnownVectors() {
        // FIPS 180-2 examples, computed independently of this implementation.
        QCOMPARE(QString::fromStdString(ql::sha256Hex("abc")),
                 QString("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        QCOMPARE(QString::fromStdString(ql::sha256Hex("")),
                 QString("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        QCOMPARE(QString::fromStdString(
                     ql::sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
                 QString("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    }
    void sha256MatchesQtOnLongInput() {
        std::string s;
        for (int i = 0; i < 100000; ++i) s += char('a' + i % 26);
        const QByteArray qt =
            QCryptographicHash::hash(QByteArray::fromStdString(s), QCryptographicHash::Sha256)
                .toHex();
        QCOMPARE(QString::fromStdString(ql::sha256Hex(s)), QString::fromLatin1(qt));
    }
    void tokenIdsEncoding() {
        const QByteArray qt =
            QCryptographicHash::hash("9707,11,1879,0", QCryptographicHash::Sha256).toHex();
        QCOMPARE(QString::fromStdString(ql::tokenIdsSha256({9707, 11, 1879, 0})),
                 QString::fromLatin1(qt));
    }
    void parallelChunksCoverRange() {
        std::vector<int> hits(1001, 0);
        ql::parallelChunks(hits.size(), 3, [&](int, size_t b, size_t e) {
            for (size_t i = b; i < e; ++i) hits[i]++;
        });
        QCOMPARE(std::accumulate(hits.begin(), hits.end(), 0), 1001);
        QVERIFY(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
    }
    void parallelChunksRethrow() {
        QVERIFY_THROWS_EXCEPTION(ql::Error, ql::parallelChunks(10, 2, [](int c, size_t, size_t) {
                                     if (c == 1) throw ql::Error("boom");
                                 }));
    }
    // The probe reads a buffer beyond the cache the system reports (>= 1 GiB, >= 2x LLC) and
    // gives a finite positive rate (an idle 2-core VM here: ~35 GB/s).
    void readBandwidthProbeBeyondCache() {
        const ql::ReadBandwidth r = ql::probeReadBandwidth(2, 1);
        QVERIFY2(std::isfinite(r.bytesPerSecond) && r.bytesPerSecond > 1e8,
                 qPrintable(QString::number(r.bytesPerSecond)));
        QCOMPARE(r.lastLevelCacheBytes, ql::lastLevelCacheBytes());
        QCOMPARE(r.bufferBytes, ql::readProbeBytes());
        QVERIFY(r.bufferBytes >= (uint64_t(1) << 30));
        QVERIFY2(r.bufferBytes >= 2 * r.lastLevelCacheBytes,
                 qPrintable(QString("%1 vs LLC %2").arg(r.bufferBytes).arg(r.lastLevelCacheBytes)));
        QCOMPARE(r.threads, 2);
        QCOMPARE(r.passes, 1);
        int checks = 0;
        ql::probeReadBandwidth(1, 2, [&] { ++checks; });
        QCOMPARE(checks, 3);  // before the untimed pass and each timed one
    }
    // Paced reads (bench-infer's limit beside the steps) read exactly the floats asked for,
    // rounded up to whole 64-float steps, wrapping at the buffer's end, on 1-3 threads: every
    // float of the buffer is 1, so their sum counts the floats read.
    void pacedReaderReadsWhatItIsAsked() {
        for (int threads : {1, 2, 3}) {
            ql::PacedReader reader(threads, 64 * 1024 + 100);  // 16,384 floats (rounded down)
            QCOMPARE(reader.bufferBytes(), uint64_t(64 * 1024));
            double expected = 0.0;
            for (uint64_t bytes : {uint64_t(1), uint64_t(256), uint64_t(260), uint64_t(40000),
                                   uint64_t(64 * 1024), uint64_t(200000), uint64_t(3)}) {
                QVERIFY(reader.secondsToRead(bytes) > 0.0);
                expected += double(std::max<uint64_t>(64, (bytes / 4 + 63) / 64 * 64));
                QCOMPARE(reader.floatsSummed(), expected);
            }
        }
    }
    void progressCancelThrows() {
        int calls = 0;
        ql::ProgressReporter r([&](const ql::Progress& p) {
            ++calls;
            return p.fraction < 0.5;
        });
        r.report("x", 0.2);
        QVERIFY_THROWS_EXCEPTION(ql::Cancelled, r.report("x", 0.7));
        QCOMPARE(calls, 2);
    }
    void progressSubRange() {
        double last = -1;
        ql::ProgressReporter r([&](const ql::Progress& p) {
            last = p.fraction;
            return true;
        });
        r.sub(0.5, 1.0).report("x", 0.5);
        QCOMPARE(last, 0.75);
    }
};

QTEST_GUILESS_MAIN(TestBase)
#include "test_base.moc"
