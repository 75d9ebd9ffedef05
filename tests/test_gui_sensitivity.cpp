// The Sensitivity tab (issue 10): its table model (QAbstractItemModelTester, one column per
// number), a measurement from the GUI on stories260k on the background thread for each unit
// and mode, checked against the engine called directly with the same settings; the ranked
// chart follows the table's sort column; clicking a bar or a heat-map cell selects the layer
// in the workbench; CSV/PNG export; cancel; settings refused with the reason.
#include "app/gui/mainwindow.h"
#include "app/gui/runpanel.h"
#include "app/gui/sensitivitypage.h"
#include "gui_helpers.h"
#include "testdata.h"
#include "widgets/exportutils.h"
#include "widgets/sensitivitychart.h"
#include "widgets/sensitivitytablemodel.h"
#include "widgets/sensitivityview.h"
#include "widgets/tableroles.h"
#include "widgets/tableview.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace ql;
using namespace guitest;

namespace {
// Three hand-made units: the second has no p99 (NaN, as a proxy not measured).
SensitivityPtr handMade() {
    auto r = std::make_shared<SensitivityResult>();
    r->recipe = "rtn:int4:g128:asym";
    r->config.unit = SensitivityUnit::Block;
    r->windows = 2;
    r->seq = 64;
    auto unit = [](const char* name, std::vector<std::string> layers, double dkl, double sqnr) {
        UnitSensitivity u;
        u.unit = name;
        u.layers = std::move(layers);
        u.deltaKlMean = dkl;
        u.deltaKlP99 = 10 * dkl;
        u.weightSqnrDb = sqnr;
        u.parameters = 1000;
        return u;
    };
    r->units = {unit("block 0", {"a.q_proj", "a.k_proj"}, 0.002, 20.0),
                unit("block 1", {"b.q_proj"}, 0.010, 18.0),
                unit("block 2", {"c.q_proj"}, 0.001, 25.0)};
    r->units[1].deltaKlP99 = std::numeric_limits<double>::quiet_NaN();
    return r;
}

int numericColumn(const char* key) {
    for (int c = 0; c < SensitivityTableModel::FirstNumericColumn +
                            SensitivityTableModel::numericColumnCount();
         ++c)
        if (SensitivityTableModel::columnKey(c) == key) return c;
    return -1;
}
}  // namespace

class TestGuiSensitivity : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void tableModel();
    void barsRankByTheSortColumn();
    void settingsRefusedWithTheReason();
    void measureFromTheGui_data();
    void measureFromTheGui();
    void clickSelectsTheLayer();
    void exportCsvAndPng();
    void cancelHalfway();
    void cleanupTestCase();

private:
    SensitivityPage* page() const { return w_->sensitivityPage(); }
    SensitivityView* view() const { return page()->view(); }
    std::unique_ptr<MainWindow> w_;
};

void TestGuiSensitivity::initTestCase() {
    initGuiSuite();
    w_ = makeWindow(qltest::tempDir("test_gui_sensitivity_autosave"));
    w_->setClosePrompt(answer(MainWindow::CloseChoice::Discard));
    w_->setChartTab(MainWindow::SensitivityTab);
    QVERIFY(!page()->measureButton()->isEnabled());  // no model yet
    QL_REQUIRE_DATA("models/stories260k");
    QL_REQUIRE_DATA("data/stories/stories.txt");
    QVERIFY(openStories(*w_));
    QVERIFY(page()->measureButton()->isEnabled());
}

void TestGuiSensitivity::tableModel() {
    SensitivityTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model.rowCount(), 0);
    model.setResult(handMade());
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.columnCount(), 1 + SensitivityTableModel::numericColumnCount() + 1);
    QCOMPARE(SensitivityTableModel::fallbackColumn(), model.columnCount() - 1);
    const int dkl = numericColumn("delta_kl_mean"), p99 = numericColumn("delta_kl_p99"),
              sqnr = numericColumn("weight_sqnr_db");
    QVERIFY(dkl > 0 && p99 > 0 && sqnr > 0);
    QCOMPARE(dkl, SensitivityTableModel::defaultRankColumn());
    QCOMPARE(model.headerData(0, Qt::Horizontal, ExportRole).toString(), QString("unit"));
    QCOMPARE(model.index(1, 0).data().toString(), QString("block 1"));
    QCOMPARE(model.index(1, dkl).data(SortRole).toDouble(), 0.010);
    QCOMPARE(model.index(1, dkl).data().toString(), QString("0.010000"));
    QCOMPARE(model.index(1, dkl).data(ExportRole).toString(), QString("0.01"));
    QCOMPARE(model.index(1, p99).data().toString(), QString("n/a"));
    QVERIFY(!model.index(1, p99).data(SortRole).isValid());
    QCOMPARE(model.index(2, sqnr).data(SortRole).toDouble(), 25.0);
    QCOMPARE(model.index(0, 0).data(LayerNameRole).toString(), QString("a.q_proj"));
    QCOMPARE(model.rowOfLayer("a.k_proj"), 0);  // a layer of a group: the group's row
    QCOMPARE(model.rowOfLayer("c.q_proj"), 2);
    QCOMPARE(model.rowOfLayer("nope"), -1);
    model.setResult(nullptr);
    QCOMPARE(model.rowCount(), 0);
}

// The bars follow the table's sort column: ΔKL mean largest first, then weight SQNR.
void TestGuiSensitivity::barsRankByTheSortColumn() {
    SensitivityView v;
    v.setResult(handMade());
    QCOMPARE(v.bars()->order(), (std::vector<int>{1, 0, 2}));
    QCOMPARE(v.bars()->bars()->data()->at(0)->value, 0.010);
    const int sqnr = numericColumn("weight_sqnr_db");
    v.table()->sortByColumn(sqnr, Qt::AscendingOrder);
    QCOMPARE(v.bars()->rankColumn(), sqnr);
    QCOMPARE(v.bars()->order(), (std::vector<int>{2, 0, 1}));
    QVERIFY(v.bars()->title().startsWith("Weight SQNR (dB) per unit"));
    // NaN ranks last.
    v.table()->sortByColumn(numericColumn("delta_kl_p99"), Qt::DescendingOrder);
    QCOMPARE(v.bars()->order(), (std::vector<int>{0, 2, 1}));
    QVERIFY(!v.heatMap()->hasCells());  // block units: no blocks × kinds cells
}

void TestGuiSensitivity::settingsRefusedWithTheReason() {
    QVERIFY(w_->summary());
    const QString before = page()->recipeField()->text();
    page()->recipeField()->setText("rtn:int8:channel:sym+a8:token:sym");
    QVERIFY(!page()->measureButton()->isEnabled());
    QVERIFY2(page()->statusLabel()->text().contains("activation side"),
             qPrintable(page()->statusLabel()->text()));
    QCOMPARE(page()->measureButton()->toolTip(), page()->statusLabel()->text());
    page()->recipeField()->setText("nonsense");
    QVERIFY(!page()->measureButton()->isEnabled());
    QVERIFY(page()->statusLabel()->text().startsWith("Recipe 'nonsense': "));
    QVERIFY(!w_->startSensitivity());
    page()->recipeField()->setText(before);
    QVERIFY(page()->measureButton()->isEnabled());

    // Without an evaluation text in the run panel it says where to choose one.
    w_->runPanel()->setConfig(weightsOnly("rtn:int4:g32:asym"));
    QVERIFY(!w_->startSensitivity());
    QVERIFY(page()->statusLabel()->text().contains("needs an evaluation text"));

    // "Use the run panel's recipe" takes the editor's recipe.
    QTest::mouseClick(page()->fromPanelButton(), Qt::LeftButton);
    QCOMPARE(page()->recipeField()->text(), QString("rtn:int4:g32:asym"));
}

void TestGuiSensitivity::measureFromTheGui_data() {
    QTest::addColumn<QString>("unit");
    QTest::addColumn<QString>("mode");
    QTest::addColumn<int>("units");
    QTest::newRow("kind, one-in") << "kind"
                                  << "one-in" << 7;
    QTest::newRow("block, leave-one-out") << "block"
                                          << "leave-one-out" << 5;
    QTest::newRow("layer, one-in") << "layer"
                                   << "one-in" << 35;  // last: later tests use it
}

// The GUI's measurement equals the engine's on the same settings (the page's recipe, unit,
// mode and windows; the run panel's texts), to float tolerance; each unit once.
void TestGuiSensitivity::measureFromTheGui() {
    QFETCH(QString, unit);
    QFETCH(QString, mode);
    QFETCH(int, units);
    QVERIFY(w_->summary());
    w_->runPanel()->setConfig(smallConfig("rtn:int4:g32:asym"));
    SensitivityConfig s;
    s.recipe = "rtn:int4:g32:asym";
    s.unit = parseSensitivityUnit(unit.toStdString());
    s.mode = parseSensitivityMode(mode.toStdString());
    s.evalWindows = 2;
    s.evalSeq = 128;
    page()->setSettings(s);
    QSignalSpy finished(w_.get(), &MainWindow::sensitivityFinished);
    QTest::mouseClick(page()->measureButton(), Qt::LeftButton);
    QVERIFY(w_->isMeasuringSensitivity());
    QVERIFY(!page()->measureButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 180000);
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(w_->logText()));
    QVERIFY(page()->measureButton()->isEnabled());
    QVERIFY2(page()->statusLabel()->text().startsWith(QString("Measured %1 units").arg(units)),
             qPrintable(page()->statusLabel()->text()));

    const SensitivityPtr shown = view()->result();
    QVERIFY(shown);
    QCOMPARE(int(shown->units.size()), units);
    QCOMPARE(view()->model()->rowCount(), units);
    QCOMPARE(shown->windows, 2);
    QCOMPARE(shown->seq, 128);
    QCOMPARE(shown->config.evaluationText, qltest::dataPath("data/stories/stories.txt"));
    const SensitivityResult direct = measureSensitivity(w_->sensitivityConfig());
    QCOMPARE(direct.units.size(), shown->units.size());
    for (size_t i = 0; i < direct.units.size(); ++i) {
        const UnitSensitivity &a = shown->units[i], &b = direct.units[i];
        QCOMPARE(a.unit, b.unit);
        QVERIFY2(std::fabs(a.deltaKlMean - b.deltaKlMean) <= 1e-9 + 1e-6 * std::fabs(b.deltaKlMean),
                 a.unit.c_str());
        QVERIFY2(std::fabs(a.deltaPpl - b.deltaPpl) <= 1e-9 + 1e-6 * std::fabs(b.deltaPpl),
                 a.unit.c_str());
        // The table shows the unit's numbers.
        const int row = int(i);
        QCOMPARE(view()
                     ->model()
                     ->index(row, SensitivityTableModel::defaultRankColumn())
                     .data(SortRole)
                     .toDouble(),
                 a.deltaKlMean);
    }
    // Ranked: the first bar is the largest ΔKL mean.
    double largest = -1e300;
    for (const UnitSensitivity& u : shown->units) largest = std::max(largest, u.deltaKlMean);
    QCOMPARE(view()->bars()->bars()->data()->at(0)->value, largest);
    QCOMPARE(view()->heatMap()->hasCells(), unit == "layer");
    QVERIFY(view()->summaryLabel()->text().contains(QString::fromStdString(shown->recipe)));
    QVERIFY(view()->summaryLabel()->text().contains("2 × 128 tokens"));
}

// After the layer measurement: a bar, a heat-map cell and the workbench select each other.
void TestGuiSensitivity::clickSelectsTheLayer() {
    const SensitivityPtr r = view()->result();
    QVERIFY(r && r->config.unit == SensitivityUnit::Layer);
    view()->table()->sortByColumn(SensitivityTableModel::defaultRankColumn(), Qt::DescendingOrder);
    const int worst = view()->bars()->order().front();
    view()->bars()->selectBar(0);
    QCOMPARE(w_->currentLayer(), r->units[size_t(worst)].layers.front());
    QCOMPARE(view()->selectedRow(), worst);
    QCOMPARE(view()->proxy()->mapToSource(view()->table()->currentIndex()).row(), worst);

    // Heat map: block 2's down_proj (kind 6).
    const std::string down = "model.layers.2.mlp.down_proj";
    const int row = view()->model()->rowOfLayer(down);
    QVERIFY(row >= 0);
    QCOMPARE(view()->heatMap()->rowAt(2, 6), row);
    QCOMPARE(view()->heatMap()->cellValue(2, 6), view()->model()->value(row, 1));
    // Every measured cell, the worst one included, is drawn in a colour that stands out from
    // the plot's background (the thermal scale's white end looked like a missing cell).
    const QColor background = view()->heatMap()->axisRect()->backgroundBrush().color();
    for (int b = 0; b < 5; ++b)
        for (int k = 0; k < 7; ++k) {
            const QColor c = view()->heatMap()->cellColor(b, k);
            QVERIFY(c.isValid());
            const int distance = std::abs(c.red() - background.red()) +
                                 std::abs(c.green() - background.green()) +
                                 std::abs(c.blue() - background.blue());
            QVERIFY2(distance > 60, qPrintable(QString("block %1 kind %2: %3 on %4")
                                                   .arg(b)
                                                   .arg(k)
                                                   .arg(c.name(), background.name())));
        }
    view()->heatMap()->selectCell(2, 6);
    QCOMPARE(w_->currentLayer(), down);
    QCOMPARE(view()->selectedRow(), row);

    // The workbench selects a layer: the view follows.
    w_->selectLayer("model.layers.0.self_attn.q_proj");
    QCOMPARE(view()->selectedRow(), view()->model()->rowOfLayer("model.layers.0.self_attn.q_proj"));
}

void TestGuiSensitivity::exportCsvAndPng() {
    QVERIFY(view()->result());
    const QString dir = qltest::tempDir("test_gui_sensitivity_export");
    const QString csv = modelToCsv(*view()->proxy());
    const QStringList lines = csv.split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 1 + 35);
    QVERIFY(lines[0].startsWith("unit,delta_kl_mean,"));
    QVERIFY(exportPlot(view()->bars(), dir + "/bars.png", QSize(800, 400)).ok);
    QCOMPARE(QImage(dir + "/bars.png").size(), QSize(800, 400));
    QVERIFY(exportPlot(view()->heatMap(), dir + "/map.png", QSize(400, 400)).ok);
    w_->setChartTab(MainWindow::SensitivityTab);
    QCOMPARE(w_->currentChart(), static_cast<QCustomPlot*>(view()->bars()));
    QCOMPARE(w_->chartName(view()->bars()).stem, QString("sensitivity"));
    // The heat map is a tab of its own: in the 1280×720 window it gets the whole width (beside
    // the bars it was ~110 px wide), and Export chart writes the tab shown.
    view()->showHeatMap(true);
    QCOMPARE(w_->currentChart(), static_cast<QCustomPlot*>(view()->heatMap()));
    QCOMPARE(w_->chartName(view()->heatMap()).stem, QString("sensitivity_heatmap"));
    QTRY_VERIFY(view()->heatMap()->isVisible());
    const QSize map = view()->heatMap()->size();
    QVERIFY2(map.width() >= 400 && map.height() >= 180,
             qPrintable(QString("%1x%2").arg(map.width()).arg(map.height())));
    view()->showHeatMap(false);
    QCOMPARE(w_->currentChart(), static_cast<QCustomPlot*>(view()->bars()));
}

void TestGuiSensitivity::cancelHalfway() {
    QL_REQUIRE_DATA("data/wikitext-2-raw/wiki.test.raw");
    RunConfig big = smallConfig("rtn:int4:g32:asym");
    big.evaluationText = qltest::dataPath("data/wikitext-2-raw/wiki.test.raw");
    w_->runPanel()->setConfig(big);
    SensitivityConfig s = page()->settings();
    s.unit = SensitivityUnit::Layer;
    s.evalWindows = 64;
    s.evalSeq = 512;
    page()->setSettings(s);
    const SensitivityPtr before = view()->result();
    QSignalSpy finished(w_.get(), &MainWindow::sensitivityFinished);
    QVERIFY(w_->startSensitivity());
    QTest::mouseClick(page()->cancelButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QCOMPARE(page()->statusLabel()->text(), QString("Cancelled."));
    QCOMPARE(view()->result(), before);  // the last result stays
    QVERIFY(page()->measureButton()->isEnabled());
}

void TestGuiSensitivity::cleanupTestCase() {
    w_.reset();
}

QTEST_MAIN(TestGuiSensitivity)
#include "test_gui_sensitivity.moc"
