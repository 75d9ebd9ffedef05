// The chart labels' placement (widgets/labelplacement.h) on made-up points: the measured
// speeds of a bench decide where a chart's points are, so the placement must hold for any
// points, including those where a greedy top-to-bottom pass leaves no room for a later label
// (a chart of 466 x 204 px under ASan once showed two labels over each other).
#include "widgets/labelplacement.h"

#include <QtTest>

#include <random>

using ql::LabelPlacementInput;

namespace {

// n labels of the bench chart's size (two lines: a run name and "ppl 12.345 (seq 128 x 2)")
// at random points of the area, with the two markers of each point.
LabelPlacementInput randomCase(unsigned seed, int n, QRectF area, QSizeF label) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> ux(area.left(), area.right()),
        uy(area.top(), area.bottom());
    LabelPlacementInput in;
    in.area = area;
    for (int i = 0; i < n; ++i) {
        const QPointF decode(ux(rng), uy(rng)), prefill(decode.x(), uy(rng));
        in.points.push_back(decode);
        in.sizes.push_back(label);
        in.markers.emplace_back(decode.x() - 7, decode.y() - 7, 14, 14);
        in.markers.emplace_back(prefill.x() - 7, prefill.y() - 7, 14, 14);
    }
    return in;
}

}  // namespace

class TestLabelPlacement : public QObject {
    Q_OBJECT
private slots:
    void noOverlapInsideArea_data() {
        QTest::addColumn<int>("labels");
        QTest::addColumn<QRectF>("area");
        QTest::addColumn<QSizeF>("label");
        // The axis rect of the chart at the test's two page sizes, and a cramped one where
        // three labels fit only as two rows.
        QTest::newRow("3 labels, 1280 x 720 page")
            << 3 << QRectF(60, 40, 1100, 300) << QSizeF(190, 36);
        QTest::newRow("3 labels, 700 x 420 page")
            << 3 << QRectF(55, 36, 380, 140) << QSizeF(190, 36);
        QTest::newRow("3 labels, cramped") << 3 << QRectF(50, 30, 400, 84) << QSizeF(190, 36);
        QTest::newRow("4 labels, 700 x 420 page")
            << 4 << QRectF(55, 36, 380, 140) << QSizeF(170, 36);
        QTest::newRow("6 labels, 1280 x 720 page")
            << 6 << QRectF(60, 40, 1100, 300) << QSizeF(190, 36);
    }
    // 400 random charts per row: every box inside the area (2 px margin), none over another.
    void noOverlapInsideArea() {
        QFETCH(int, labels);
        QFETCH(QRectF, area);
        QFETCH(QSizeF, label);
        const QRectF inner = area.adjusted(2, 2, -2, -2);
        for (unsigned seed = 0; seed < 400; ++seed) {
            const LabelPlacementInput in = randomCase(seed, labels, area, label);
            const std::vector<QRectF> boxes = ql::placeLabels(in);
            QCOMPARE(boxes.size(), size_t(labels));
            for (const QRectF& b : boxes) {
                QVERIFY2(inner.contains(b),
                         qPrintable(QString("seed %1: a box leaves the area").arg(seed)));
                QCOMPARE(b.size(), label);
            }
            QVERIFY2(!ql::anyOverlap(boxes), qPrintable(QString("seed %1: overlap").arg(seed)));
        }
    }

    // With room, a label sits beside its own point (within 8 px + its size), not elsewhere.
    void besideItsPointWhenAlone() {
        LabelPlacementInput in;
        in.area = QRectF(0, 0, 800, 400);
        in.points = {QPointF(200, 200)};
        in.sizes = {QSizeF(150, 30)};
        in.markers = {QRectF(193, 193, 14, 14)};
        const std::vector<QRectF> boxes = ql::placeLabels(in);
        QCOMPARE(boxes.size(), size_t(1));
        QCOMPARE(boxes[0], QRectF(208, 185, 150, 30));  // right of the point, centred
    }

    void overlapDetection() {
        QVERIFY(!ql::anyOverlap({QRectF(0, 0, 10, 10), QRectF(10, 0, 10, 10)}));
        QVERIFY(ql::anyOverlap({QRectF(0, 0, 10, 10), QRectF(30, 0, 5, 5), QRectF(9, 9, 5, 5)}));
    }
};

QTEST_GUILESS_MAIN(TestLabelPlacement)
#include "test_label_placement.moc"
