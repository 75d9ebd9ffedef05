// What makes two runs' numbers not comparable (run/run_compare.h): each setting changed on
// its own yields exactly its caveat, equal settings none — the sentences the CLI's compare
// prints and the GUI's comparison shows.
#include "run/run_compare.h"

#include <QtTest>

#include <functional>

using namespace ql;

namespace {

RunResult evaluatedRun() {
    RunResult r;
    r.modelName = "tinystories-656k";
    r.config.modelDir = "/models/tinystories-656k";
    r.config.evaluationText = "/data/stories.txt";
    r.config.calibrationText = "/data/calib.txt";
    r.perplexity.valid = true;
    r.perplexity.protocol = "gptq";
    r.perplexity.seq = 256;
    r.perplexity.windows = 17;
    return r;
}

using Change = std::function<void(RunResult&)>;

}  // namespace

Q_DECLARE_METATYPE(Change)

class TestRunCompare : public QObject {
    Q_OBJECT
private slots:
    void caveats_data();
    void caveats();
    void sameFileNameShowsPaths();
};

void TestRunCompare::caveats_data() {
    QTest::addColumn<Change>("change");
    QTest::addColumn<QStringList>("expected");  // a fragment of each caveat, in order
    QTest::newRow("same settings") << Change([](RunResult&) {}) << QStringList{};
    QTest::newRow("other model") << Change([](RunResult& b) {
        b.config.modelDir = "/models/tinystories-15m";
        b.modelName = "tinystories-15m";
    })
                                 << QStringList{
                                        "different models (tinystories-656k vs tinystories-15m)",
                                        "model /models/tinystories-656k vs /models/tinystories-15m",
                                        "calibration inputs (model"};
    QTest::newRow("seq") << Change([](RunResult& b) { b.perplexity.seq = 512; })
                         << QStringList{"(seq 256 vs 512)"};
    QTest::newRow("windows and protocol") << Change([](RunResult& b) {
        b.perplexity.windows = 8;
        b.perplexity.protocol = "strided";
    }) << QStringList{"(protocol gptq vs strided, windows 17 vs 8)"};
    QTest::newRow("evaluation text")
        << Change([](RunResult& b) { b.config.evaluationText = "/data/wiki.test.raw"; })
        << QStringList{"(evaluation text stories.txt vs wiki.test.raw)"};
    QTest::newRow("B not evaluated") << Change([](RunResult& b) { b.perplexity.valid = false; })
                                     << QStringList{"only A was evaluated"};
    QTest::newRow("calibration shape")
        << Change([](RunResult& b) { b.config.calibrationWindows = 128; })
        << QStringList{"(windows × length 16 × 256 vs 128 × 256)"};
    QTest::newRow("B without calibration") << Change([](RunResult& b) {
        b.config.calibrationText.clear();
        b.config.calibrationWindows = 128;
    }) << QStringList{};
}

void TestRunCompare::caveats() {
    QFETCH(Change, change);
    QFETCH(QStringList, expected);
    const RunResult a = evaluatedRun();
    RunResult b = evaluatedRun();
    change(b);
    const std::vector<std::string> got = comparisonCaveats(a, b);
    QString all;
    for (const std::string& c : got) all += QString::fromStdString(c) + "\n";
    QVERIFY2(got.size() == size_t(expected.size()), qPrintable(all));
    for (int i = 0; i < expected.size(); ++i)
        QVERIFY2(QString::fromStdString(got[size_t(i)]).contains(expected[i]), qPrintable(all));
    QVERIFY(comparisonCaveats(b, b).empty());
}

// One file name in two folders: the names alone would read "stories.txt vs stories.txt".
void TestRunCompare::sameFileNameShowsPaths() {
    const RunResult a = evaluatedRun();
    RunResult b = evaluatedRun();
    b.config.evaluationText = "/other/stories.txt";
    QCOMPARE(evaluationDifference(a, b),
             std::string("evaluation text /data/stories.txt vs /other/stories.txt"));
}

QTEST_GUILESS_MAIN(TestRunCompare)
#include "test_run_compare.moc"
