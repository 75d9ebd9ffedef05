#include "widgets/layerchart.h"

#include "widgets/plotstyle.h"

#include <QApplication>
#include <cmath>
#include <set>

namespace ql {

LayerChart::LayerChart(QWidget* parent) : QCustomPlot(parent) {
    setMinimumSize(300, 200);
    plotLayout()->insertRow(0);
    plotLayout()->addElement(
        0, 0,
        new QCPTextElement(this, "SQNR per layer (solid: weights, dashed: layer output)",
                           QFont(font().family(), font().pointSize(), QFont::Bold)));
    yAxis->setLabel("SQNR (dB)");
    xAxis->setLabel("layer (block.projection)");
    xAxis->setTickLabelRotation(60);
    legend->setVisible(true);
    placeLegendAbove(this, 1);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    axisRect()->setRangeDrag(Qt::Horizontal);
    axisRect()->setRangeZoom(Qt::Horizontal);
    connect(this, &QCustomPlot::plottableClick, this, &LayerChart::onClick);
    rebuild();
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
    // Many layers: label every n-th tick so labels do not collide.
    if (order_.size() > 40) {
        auto sparse = QSharedPointer<QCPAxisTickerText>::create();
        const int step = int(order_.size() / 40) + 1;
        for (auto it = ticker->ticks().begin(); it != ticker->ticks().end(); ++it)
            if (int(it.key()) % step == 0) sparse->addTick(it.key(), it.value());
        ticker = sparse;
    }
    xAxis->setTicker(ticker);
    xAxis->setRange(-0.5, std::max<double>(order_.size(), 1) - 0.5);
    yAxis->setRange(yMin, yMax * 1.08);

    const struct {
        double db;
        QColor color;
        const char* name;
    } lines[] = {{10, QColor(220, 40, 40), "10 dB"},
                 {20, QColor(240, 140, 0), "20 dB"},
                 {30, QColor(40, 160, 60), "30 dB"}};
    for (const auto& t : lines) {
        auto* line = new QCPItemStraightLine(this);
        line->point1->setCoords(0, t.db);
        line->point2->setCoords(1, t.db);
        line->setPen(QPen(t.color, 1, Qt::DashDotLine));
        thresholds_.push_back(line);
    }
    if (runs_.empty()) {
        auto* text = new QCPItemText(this);
        text->position->setType(QCPItemPosition::ptAxisRectRatio);
        text->position->setCoords(0.5, 0.5);
        text->setText("No runs yet");
        text->setColor(QApplication::palette().color(QPalette::WindowText));
    }
    setSelectedLayer(selected_);
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
