#include <QTest>
class TestHistogram : public QObject {
    Q_OBJECT
};
QTEST_GUILESS_MAIN(TestHistogram)
#include "test_histogram.moc"
