// Views of widgets/ on synthetic results: where a recipe fell back (a group size that
// does not divide a layer's rows), the Sweep, Sensitivity and Plan views say so as the
// layer table and run names do; and text is readable at the chart sizes of 1280 x 720 and
// 1600 x 1000 windows (messages wrap, labels clear of lines, titles and names whole).
#include "runfixtures.h"
#include "widgets/channelranges.h"
#include "widgets/comparisonview.h"
#include "widgets/inferbenchtablemodel.h"
#include "widgets/layerchart.h"
#include "widgets/modeloverview.h"
#include "widgets/paretochart.h"
#include "widgets/plotstyle.h"
#include "widgets/sensitivitychart.h"
#include "widgets/sensitivitytablemodel.h"
#include "widgets/summarycharts.h"
#include "widgets/sweepview.h"
#include "widgets/tableroles.h"

#include <QComboBox>
#include <QStyleOptionComboBox>
#include <QtTest>

#include <algorithm>

using namespace ql;
using qltest::makeRun;

namespace {

std::vector<double> sqnrRamp(int n, double worst = -1) {
    std::vector<double> v;
    for (int i = 0; i < n; ++i) v.push_back(30 + 0.1 * i);
    if (worst >= 0) v[size_t(worst)] = 3.0;
    return v;
}

RunPtr withEval(const RunPtr& base, const std::string& label, double pplFp, double pplQ, int seq) {
    RunResult r = *base;
    r.id = r.label = label;
    r.config.evaluationText = "/data/stories.txt";
    r.perplexity.pplFp = pplFp;
    r.perplexity.pplQ = pplQ;
    r.perplexity.seq = seq;
    return std::make_shared<const RunResult>(std::move(r));
}

QMap<double, QString> ticks(QCustomPlot* plot) {
    const auto t = plot->xAxis->ticker().dynamicCast<QCPAxisTickerText>();
    return t ? t->ticks() : QMap<double, QString>();
}

QString titleText(QCustomPlot* plot) {
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
        if (auto* t = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i)))
            return t->text();
    return {};
}

}  // namespace

class TestWidgetsFit : public QObject {
    Q_OBJECT
private slots:
    void sweepSensitivityAndPlanShowFallbacks_data();
    void sweepSensitivityAndPlanShowFallbacks();
    void textFitsSmallCharts_data();
    void textFitsSmallCharts();
};

void TestWidgetsFit::sweepSensitivityAndPlanShowFallbacks_data() {
    QTest::addColumn<QString>("recipe");
    QTest::addColumn<int>("fell");  // the first `fell` of 14 layers
    QTest::addColumn<QString>("note");
    QTest::newRow("none") << "rtn:int4:g32:asym" << 0 << "";
    QTest::newRow("some") << "rtn:int4:g32:asym" << 2 << "\u2192 channel \u00d72 of 14";
    QTest::newRow("all") << "rtn:int4:g100:asym" << 14 << "\u2192 channel \u00d714";
    QTest::newRow("llama.cpp") << "q4_k" << 3 << "(3 of 14 layers fell back)";
}

// A group size that does not divide a layer's rows falls back per channel: the Sweep, the
// Sensitivity table and the Plan say so as the layer table and run names do — "Fallback"
// yes/no with the reason as tooltip, and "→ channel ×N of M" for a recipe's layers.
void TestWidgetsFit::sweepSensitivityAndPlanShowFallbacks() {
    QFETCH(QString, recipe);
    QFETCH(int, fell);
    QFETCH(QString, note);
    const std::string reason = "group size 100 does not divide the 172 columns";
    std::vector<LayerResult> plain = makeRun("x", sqnrRamp(14))->layers, layers = plain;
    for (size_t i = 0; i < layers.size(); ++i) {
        plain[i].fallback = false;
        layers[i].fallback = int(i) < fell;
        layers[i].fallbackReason = layers[i].fallback ? reason : "";
    }
    const QString withNote = note.isEmpty() ? QString() : " " + note;

    // Sweep: the column label (as drawn) and each cell's tooltip.
    auto sweep = std::make_shared<SweepResult>();
    sweep->recipes = {"rtn:int8:channel:sym", recipe.toStdString()};
    sweep->layers = {plain, layers};
    SweepView view;
    view.setResult(sweep);
    QCOMPARE(view.columnLabel(0), QString("int8:channel:sym"));
    QCOMPARE(view.columnLabel(1), SweepView::recipeLabel(recipe.toStdString()) + withNote);
    QCOMPARE(ticks(view.chart()).value(1), view.columnLabel(1));
    for (int l : {0, 13}) {
        const QString tip = view.cellToolTip(l, 1);
        QVERIFY2(tip.contains(QString::fromStdString(layers[size_t(l)].name)), qPrintable(tip));
        QCOMPARE(tip.contains("Fallback: yes"), l < fell);
        QCOMPARE(tip.contains(QString::fromStdString(reason)), l < fell);
        QVERIFY(!view.cellToolTip(l, 0).contains("Fallback"));
    }

    // The exported CSV: a "RECIPE fallback" column only where a layer fell back, holding
    // each layer's reason (empty where the recipe applied as asked).
    const QStringList csv = view.dataCsv().trimmed().split('\n');
    QCOMPARE(csv.size(), 15);
    const QString fallbackColumn = recipe + " fallback";
    QCOMPARE(csv[0].contains(fallbackColumn), fell > 0);
    QCOMPARE(csv[0].split(',').size(), fell > 0 ? 6 : 5);
    for (int l = 0; l < 14 && fell > 0; ++l)
        QCOMPARE(csv[l + 1].split(',').last(),
                 l < fell ? QString::fromStdString(reason) : QString());

    // Sensitivity: a Fallback column, per layer unit and for a block of 7.
    auto result = std::make_shared<SensitivityResult>();
    result->recipe = recipe.toStdString();
    UnitSensitivity block;
    block.unit = "block 0";
    for (const LayerResult& l : layers) {
        UnitSensitivity u;
        u.unit = l.name;
        u.layers = {l.name};
        if (l.fallback) u.fallbackLayers = {l.name}, u.fallbackReason = reason;
        result->units.push_back(u);
        if (l.block != 0) continue;
        block.layers.push_back(l.name);
        if (l.fallback) block.fallbackLayers.push_back(l.name), block.fallbackReason = reason;
    }
    result->units.push_back(block);
    SensitivityTableModel table;
    table.setResult(result);
    const int col = SensitivityTableModel::fallbackColumn();
    QCOMPARE(table.columnCount(), col + 1);
    QCOMPARE(table.headerData(col, Qt::Horizontal).toString(), QString("Fallback"));
    QCOMPARE(table.headerData(col, Qt::Horizontal, ExportRole).toString(), QString("fallback"));
    for (int row : {0, 13}) {
        const QModelIndex i = table.index(row, col);
        QCOMPARE(i.data().toString(), row < fell ? QString("yes") : QString("no"));
        QCOMPARE(i.data(Qt::ToolTipRole).toString(),
                 row < fell ? QString::fromStdString(reason) : QString());
    }
    QVERIFY2(sensitivityCaption(table).startsWith(recipe + withNote + " · "),
             qPrintable(sensitivityCaption(table)));
    const int inBlock = std::min(fell, 7);
    const QModelIndex b = table.index(14, col);
    QCOMPARE(b.data().toString(), inBlock ? QString("yes (%1 of 7)").arg(inBlock) : QString("no"));
    QCOMPARE(b.data(ExportRole).toString(), inBlock ? QString("yes") : QString("no"));
    QCOMPARE(b.data(SortRole).toInt(), inBlock);

    // Plan: a uniform candidate's label, and a mix's note and layers.
    PlanInputs in;
    in.candidates = {recipe.toStdString(), "rtn:int8:channel:sym"};
    for (const LayerResult& l : layers)
        in.layers.push_back({l.name, {100, 200}, {0.01, 0.001}, {l.fallbackReason, ""}});
    in.parameters = 14000;
    in.settings.evaluationText = "/data/stories.txt";
    const ParetoData d = paretoData(in, {}, {});
    QCOMPARE(d.uniformPredicted[0].label, recipe + withNote);
    QCOMPARE(d.uniformPredicted[1].label, QString("rtn:int8:channel:sym"));
    std::vector<int> mix(14, 0);
    mix[0] = 1;  // the first layer int8: one fallback fewer, and a mix
    const int mixFell = std::max(0, fell - 1);
    QCOMPARE(planFallbacks(in, mix).size(), mixFell);
    QCOMPARE(planFallbackNote(in, mix),
             mixFell ? QString("(%1 of 14 layers fell back)").arg(mixFell) : QString());
    if (mixFell)
        QCOMPARE(planFallbacks(in, mix).first(),
                 QString::fromStdString(layers[1].name + ": " + reason));
}

void TestWidgetsFit::textFitsSmallCharts_data() {
    QTest::addColumn<int>("width");  // of a chart tab: 1280 x 720 and 1600 x 1000 windows
    QTest::addColumn<int>("height");
    QTest::newRow("1280x720") << 640 << 300;
    QTest::newRow("1600x1000") << 900 << 520;
}

// Nothing a reader needs is cut at the chart sizes of 1280 x 720 and 1600 x 1000 windows:
// messages wrap, labels sit clear of their lines, titles break before they elide, combo
// boxes show whole run names, legends and category labels do not overlap.
void TestWidgetsFit::textFitsSmallCharts() {
    QFETCH(int, width);
    QFETCH(int, height);
    const RunPtr base = makeRun("x", sqnrRamp(35, 34));
    const RunPtr int8 = withEval(base, "RTN INT8 channel sym", 3.636, 3.642, 256);
    const RunPtr int4 =
        withEval(base, "RTN INT4 g32 \u2192 channel \u00d75 of 35 asym", 3.636, 3.996, 256);
    auto lineWidths = [](const QString& text, const QFont& font) {
        QList<int> widths;
        for (const QString& line : text.split('\n'))
            widths << QFontMetrics(font).horizontalAdvance(line);
        return widths;
    };
    auto show = [&](QWidget* w, int wide) {
        w->resize(wide, height);
        w->show();
        QVERIFY(QTest::qWaitForWindowExposed(w));
        if (auto* plot = qobject_cast<QCustomPlot*>(w))
            plot->replot(QCustomPlot::rpImmediateRefresh);
    };

    // Per-channel ranges without data: the message is whole, in lines inside the axis rect.
    ChannelRangesChart channels;
    channels.setRun(int4);
    channels.setLayer(base->layers[6].name);
    show(&channels, width / 2 + 40);
    channels.replot(QCustomPlot::rpImmediateRefresh);
    QVERIFY(!channels.message().isEmpty());
    QCOMPARE(channels.messageItem()->text().split('\n').join(' '), channels.message());
    for (int w : lineWidths(channels.messageItem()->text(), channels.messageItem()->font()))
        QVERIFY2(w <= channels.axisRect()->width(),
                 qPrintable(QString("%1 px in %2").arg(w).arg(channels.axisRect()->width())));

    // SQNR per layer: each threshold label above its line, clear of it.
    LayerChart sqnr;
    sqnr.setRuns({int8, int4});
    show(&sqnr, width);
    for (size_t i = 0; i < sqnr.thresholdLabels().size(); ++i) {
        QCPItemText* label = sqnr.thresholdLabels()[i];
        const double lineY = sqnr.thresholdLines()[i]->point1->pixelPosition().y();
        QVERIFY2(label->bottom->pixelPosition().y() <= lineY + 0.5, qPrintable(label->text()));
        QVERIFY2(label->padding().bottom() >= 2, qPrintable(label->text()));  // glyphs clear
        QVERIFY(label->brush().style() != Qt::NoBrush);  // over points on the line
    }

    // Model overview beside its table (half the tab): the title fits, nothing elided.
    ModelOverview overview;
    overview.setRun(int4);
    show(&overview, width / 2);
    overview.replot(QCustomPlot::rpImmediateRefresh);
    const QString shown = overview.titleElement()->text();
    QVERIFY2(!shown.contains(QChar(0x2026)), qPrintable(shown));
    for (int w : lineWidths(shown, overview.titleElement()->font()))  // in its cell
        QVERIFY2(w <= overview.titleElement()->rect().width(),
                 qPrintable(QString("%1: %2 of %3 px")
                                .arg(shown)
                                .arg(w)
                                .arg(overview.titleElement()->rect().width())));
    if (shown.contains('\n'))  // under the metric box, not behind it
        QVERIFY(overview.titleElement()->outerRect().top() +
                    overview.titleElement()->margins().top() >=
                overview.metricBox()->geometry().bottom());

    // Compare: each run name whole in its combo box.
    ComparisonView compare;
    compare.setRuns({int8, int4});
    show(&compare, width);
    QCOMPARE(compare.findChildren<QComboBox*>().size() >= 2, true);
    for (QComboBox* combo : compare.findChildren<QComboBox*>()) {
        if (combo->currentText() != QString::fromStdString(int8->label) &&
            combo->currentText() != QString::fromStdString(int4->label))
            continue;
        QStyleOptionComboBox option;
        option.initFrom(combo);
        option.editable = false;
        const QRect field = combo->style()->subControlRect(QStyle::CC_ComboBox, &option,
                                                           QStyle::SC_ComboBoxEditField, combo);
        QVERIFY2(combo->fontMetrics().horizontalAdvance(combo->currentText()) <= field.width(),
                 qPrintable(QString("%1 in %2 px").arg(combo->currentText()).arg(field.width())));
        QCOMPARE(combo->toolTip(), combo->currentText());
    }

    // Summary: run names under the perplexity and KL bars do not run into each other.
    SummaryCharts summary;
    summary.setRuns({int8, int4}, int4);
    show(&summary, width);
    for (QCustomPlot* plot : {summary.perplexityChart(), summary.agreementChart()}) {
        plot->replot(QCustomPlot::rpImmediateRefresh);
        plot->replot(QCustomPlot::rpImmediateRefresh);  // refitted to the layout
        const double step = plot->xAxis->coordToPixel(1) - plot->xAxis->coordToPixel(0);
        for (const QString& label : ticks(plot).values())
            for (int w : lineWidths(label, plot->xAxis->tickLabelFont()))
                QVERIFY2(w < step,
                         qPrintable(QString("'%1': %2 px, %3 apart").arg(label).arg(w).arg(step)));
        for (int w : lineWidths(titleText(plot), QFont()))
            QVERIFY2(w <= plot->width(), qPrintable(titleText(plot)));
    }
    QVERIFY2(!titleText(summary.perplexityChart()).contains(QChar(0x2026)),
             qPrintable(titleText(summary.perplexityChart())));

    // Plan: the legend's series names are whole (as many columns as fit).
    ParetoChart pareto;
    show(&pareto, width * 2 / 3);
    pareto.replot(QCustomPlot::rpImmediateRefresh);
    int items = 0;
    for (int i = 0; i < pareto.legend->itemCount(); ++i) {
        QCPAbstractLegendItem* item = pareto.legend->item(i);
        if (!item) continue;  // an empty cell of the wrapped grid
        ++items;
        QVERIFY2(item->outerRect().width() >= item->minimumOuterSizeHint().width(),
                 qPrintable(QString("legend item %1: %2 of %3 px")
                                .arg(i)
                                .arg(item->outerRect().width())
                                .arg(item->minimumOuterSizeHint().width())));
        QVERIFY(pareto.rect().contains(item->outerRect()));
    }
    QCOMPARE(items, 4);

    // Speed table: "Weights as" is whole in its tooltip (the cell may wrap or elide).
    auto bench = std::make_shared<InferBenchResult>();
    InferBenchRow row;
    row.name = int4->label;
    row.weightsAs = "packed (int4 g32 asym) + 5 layers per channel";
    row.headFormat = "int8 channel sym";
    row.headKlPositions = 64;
    bench->rows = {row};
    InferBenchTableModel speed;
    speed.setResult(bench, {}, 64, 16);
    const QModelIndex weightsAs = speed.index(InferBenchTableModel::ColWeightsAs, 0);
    QVERIFY(speed.data(weightsAs, Qt::ToolTipRole)
                .toString()
                .startsWith(speed.data(weightsAs).toString() + "\n"));
}

QTEST_MAIN(TestWidgetsFit)
#include "test_widgets_fit.moc"
