#include "widgets/layerchart.h"

#include "widgets/exportutils.h"
#include "widgets/plotstyle.h"

#include <QApplication>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QMenu>
#include <QToolButton>
#include <QWidgetAction>

#include <algorithm>
#include <cmath>
#include <set>

namespace ql {

LayerChart::LayerChart(QWidget* parent) : QCustomPlot(parent) {
    setMinimumSize(300, 200);
    plotLayout()->insertRow(0);
    title_ = new QCPTextElement(this, "", QFont(font().family(), font().pointSize(), QFont::Bold));
    plotLayout()->addElement(0, 0, title_);
    yAxis->setLabel("SQNR (dB)");
    xAxis->setLabel("layer (block.projection)");
    xAxis->setTickLabelRotation(60);
    legend->setVisible(true);
    placeLegendAbove(this, 1);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    axisRect()->setRangeDrag(Qt::Horizontal);
    axisRect()->setRangeZoom(Qt::Horizontal);
    connect(this, &QCustomPlot::plottableClick, this, &LayerChart::onClick);
    buildThresholdButton();
    rebuild();
}

// A small button in the chart's top-right corner with one spin box per reference line.
void LayerChart::buildThresholdButton() {
    thresholdButton_ = new QToolButton(this);
    thresholdButton_->setText("dB lines");
    thresholdButton_->setAutoRaise(true);
    thresholdButton_->setPopupMode(QToolButton::InstantPopup);
    thresholdButton_->setToolTip(
        "Reference lines of this chart (defaults 10, 20, 30 dB). Table colours keep the "
        "standard levels: critical < 10, warning < 20, fair < 30, good from 30 dB.");
    auto* menu = new QMenu(thresholdButton_);
    auto* panel = new QWidget(menu);
    auto* form = new QFormLayout(panel);
    const char* names[] = {"Critical below", "Warning below", "Good from"};
    for (int i = 0; i < 3; ++i) {
        auto* spin = new QDoubleSpinBox(panel);
        spin->setRange(-50, 200);
        spin->setDecimals(1);
        spin->setSuffix(" dB");
        spin->setValue(thresholdDb_[size_t(i)]);
        spin->setKeyboardTracking(false);
        form->addRow(names[i], spin);
        connect(spin, &QDoubleSpinBox::valueChanged, this, [this] {
            std::vector<double> db;
            for (QDoubleSpinBox* e : thresholdEditors_) db.push_back(e->value());
            setThresholds(db);
        });
        thresholdEditors_.push_back(spin);
    }
    auto* action = new QWidgetAction(menu);
    action->setDefaultWidget(panel);
    menu->addAction(action);
    menu->addAction("Reset to 10, 20, 30 dB", this, [this] { setThresholds({10, 20, 30}); });
    thresholdButton_->setMenu(menu);
}

void LayerChart::resizeEvent(QResizeEvent* event) {
    QCustomPlot::resizeEvent(event);
    const QSize hint = thresholdButton_->sizeHint();
    thresholdButton_->setGeometry(width() - hint.width() - 2, 2, hint.width(), hint.height());
}

void LayerChart::setThresholds(std::vector<double> db) {
    std::sort(db.begin(), db.end());
    if (db == thresholdDb_) return;
    thresholdDb_ = db;
    for (size_t i = 0; i < thresholdEditors_.size() && i < db.size(); ++i) {
        QSignalBlocker block(thresholdEditors_[i]);
        thresholdEditors_[i]->setValue(db[i]);
    }
    rebuild();
}

QString LayerChart::title() const {
    return title_->text();
}

QString LayerChart::dataCsv() const {
    QStringList header = {"layer"};
    for (const RunPtr& run : runs_)
        header << csvField(runDisplayName(*run) + " weight SQNR dB")
               << csvField(runDisplayName(*run) + " output SQNR dB");
    QStringList lines = {header.join(',')};
    auto num = [](double v) { return std::isnan(v) ? QString() : QString::number(v, 'g', 10); };
    for (const std::string& name : order_) {
        QStringList row = {csvField(QString::fromStdString(name))};
        for (const RunPtr& run : runs_) {
            const LayerResult* l = findLayer(*run, name);
            row << (l ? num(l->weightSqnrDb) : QString()) << (l ? num(l->outputSqnrDb) : QString());
        }
        lines << row.join(',');
    }
    return lines.join('\n') + '\n';
}

QCPGraph* LayerChart::weightGraph(int run) const {
    return run >= 0 && run < int(weightGraphs_.size()) ? weightGraphs_[size_t(run)] : nullptr;
}

void LayerChart::setRuns(const RunList& runs) {
    runs_ = runs;
    rebuild();
}

void LayerChart::setShowOutputSqnr(bool show) {
    showOutput_ = show;
    rebuild();
}

void LayerChart::applyPalette() {
    applyPlotStyle(this, QApplication::palette());
    rebuild();
}

void LayerChart::rebuild() {
    clearGraphs();
    clearItems();
    weightGraphs_.clear();
    thresholds_.clear();
    cursor_ = nullptr;
    order_.clear();
    std::set<std::string> seen;
    for (const RunPtr& run : runs_)
        for (const LayerResult& l : run->layers)
            if (seen.insert(l.name).second) order_.push_back(l.name);

    // Output SQNR depends on the calibration inputs: across different inputs the dashed
    // lines do not compare like with like, and the title says so.
    std::set<QString> calibrations;
    std::set<std::string> models;
    for (const RunPtr& run : runs_) {
        calibrations.insert(calibrationKey(*run));
        models.insert(run->config.modelDir);
    }
    QString title = "SQNR per layer (solid: weights, dashed: layer output)";
    if (models.size() > 1)
        title += QString(
                     "\nThese runs quantized %1 different models: layers are matched by "
                     "name only")
                     .arg(models.size());
    if (showOutput_ && calibrations.size() > 1)
        title +=
            "\nOutput SQNR of these runs was measured on different calibration inputs: "
            "compare runs by weight SQNR";
    title_->setText(title);

    const bool dark = isDarkPalette(QApplication::palette());
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    double yMax = 40, yMin = 0;
    for (size_t r = 0; r < runs_.size(); ++r) {
        const RunResult& run = *runs_[r];
        QCPGraph* w = addGraph();
        QCPGraph* o = showOutput_ ? addGraph() : nullptr;
        const QColor c = runColor(int(r), dark);
        w->setPen(QPen(c, 2));
        w->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, c, 7));
        w->setName(runDisplayName(run));
        if (o) {
            o->setPen(QPen(c, 1.5, Qt::DashLine));
            o->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, c, 6));
            o->setName(runDisplayName(run) + " · output");
            o->removeFromLegend();  // one legend entry per run; the title explains the dashes
        }
        for (size_t i = 0; i < order_.size(); ++i) {
            const LayerResult* l = findLayer(run, order_[i]);
            if (!l) continue;
            auto add = [&](QCPGraph* g, double v) {
                if (!g || std::isnan(v)) return;
                const double shown = std::isinf(v) ? 200.0 : v;
                g->addData(double(i), shown);
                yMax = std::max(yMax, shown);
                yMin = std::min(yMin, shown);
            };
            add(w, l->weightSqnrDb);
            add(o, l->outputSqnrDb);
            if (r == 0 || !ticker->ticks().contains(double(i)))
                ticker->addTick(double(i), shortLayerName(l->name, l->block, l->kind));
        }
        if (o && o->dataCount() == 0) removeGraph(o);
        weightGraphs_.push_back(w);
    }
    if (order_.size() > 40) ticker = sparseTicker(ticker);
    xAxis->setTicker(ticker);
    fitRotatedTickLabels(xAxis);
    xAxis->setRange(-0.5, std::max<double>(order_.size(), 1) - 0.5);
    yAxis->setRange(std::min(yMin, thresholdDb_.front() - 2),
                    std::max(yMax, thresholdDb_.back()) * 1.08);
    addThresholdLines();
    if (runs_.empty()) {
        auto* text = new QCPItemText(this);
        text->position->setType(QCPItemPosition::ptAxisRectRatio);
        text->position->setCoords(0.5, 0.5);
        text->setText("No runs yet");
        text->setColor(QApplication::palette().color(QPalette::WindowText));
    }
    setSelectedLayer(selected_);
}

// Many layers: label every n-th tick so labels do not collide, but always the last layer
// and each run's worst layer (the ones a user looks for), without neighbours too close.
QSharedPointer<QCPAxisTickerText> LayerChart::sparseTicker(
    const QSharedPointer<QCPAxisTickerText>& all) {
    const int step = int(order_.size() / 40) + 1;
    std::set<int> keep = {int(order_.size()) - 1};
    for (const RunPtr& run : runs_) {
        const auto worst = std::min_element(
            run->layers.begin(), run->layers.end(), [](const LayerResult& a, const LayerResult& b) {
                return a.weightSqnrDb < b.weightSqnrDb;  // NaN never wins
            });
        if (worst == run->layers.end()) continue;
        const auto it = std::find(order_.begin(), order_.end(), worst->name);
        if (it != order_.end()) keep.insert(int(it - order_.begin()));
    }
    auto sparse = QSharedPointer<QCPAxisTickerText>::create();
    for (auto it = all->ticks().begin(); it != all->ticks().end(); ++it) {
        const int i = int(it.key());
        bool show = keep.count(i) > 0;
        if (!show && i % step == 0)
            show = std::none_of(keep.begin(), keep.end(),
                                [&](int k) { return std::abs(k - i) < step; });
        if (show) sparse->addTick(it.key(), it.value());
    }
    return sparse;
}

// Dash-dotted lines across the plot, each labelled at its right end with its meaning.
void LayerChart::addThresholdLines() {
    const QColor colors[] = {QColor(220, 40, 40), QColor(240, 140, 0), QColor(40, 160, 60)};
    const char* meaning[] = {"critical below", "warning below", "good from"};
    const QPalette palette = QApplication::palette();
    const bool dark = isDarkPalette(palette);
    thresholdLabels_.clear();
    for (size_t i = 0; i < thresholdDb_.size(); ++i) {
        const double db = thresholdDb_[i];
        const QColor color = colors[std::min<size_t>(i, 2)];
        auto* line = new QCPItemStraightLine(this);
        line->point1->setCoords(0, db);
        line->point2->setCoords(1, db);
        line->setPen(QPen(color, 1, Qt::DashDotLine));
        line->setSelectable(false);
        thresholds_.push_back(line);
        auto* label = new QCPItemText(this);
        label->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
        label->position->setTypeY(QCPItemPosition::ptPlotCoords);
        label->position->setCoords(0.995, db);
        // Above its line, on a backdrop over the lines and points it crosses: readable
        // where a run's SQNR runs along the threshold (INT4 near 20 dB).
        label->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
        label->setPadding(QMargins(3, 0, 3, 2));
        label->setText(QString("%1 %2 dB").arg(meaning[std::min<size_t>(i, 2)]).arg(db));
        label->setColor(dark ? color.lighter(130) : color.darker(110));
        QColor backdrop = palette.color(QPalette::Base);
        backdrop.setAlpha(170);  // the points it covers still show
        label->setBrush(backdrop);
        label->setLayer("legend");
        label->setSelectable(false);
        thresholdLabels_.push_back(label);
    }
}

void LayerChart::setSelectedLayer(const std::string& name) {
    selected_ = name;
    if (cursor_) {
        removeItem(cursor_);
        cursor_ = nullptr;
    }
    const auto it = std::find(order_.begin(), order_.end(), name);
    if (it != order_.end()) {
        const double x = double(it - order_.begin());
        cursor_ = new QCPItemStraightLine(this);
        cursor_->point1->setCoords(x, 0);
        cursor_->point2->setCoords(x, 1);
        QColor c = QApplication::palette().color(QPalette::Highlight);
        cursor_->setPen(QPen(c, 2));
    }
    replot(rpQueuedReplot);
}

void LayerChart::selectIndex(int index) {
    if (index < 0 || index >= int(order_.size())) return;
    setSelectedLayer(order_[size_t(index)]);
    emit layerClicked(order_[size_t(index)]);
}

void LayerChart::onClick(QCPAbstractPlottable* plottable, int dataIndex, QMouseEvent*) {
    auto* graph = qobject_cast<QCPGraph*>(plottable);
    if (!graph || dataIndex < 0 || dataIndex >= graph->dataCount()) return;
    selectIndex(int(std::lround(graph->data()->at(dataIndex)->key)));
}

}  // namespace ql
