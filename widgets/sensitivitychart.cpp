#include "widgets/sensitivitychart.h"

#include "widgets/plotstyle.h"
#include "widgets/resultutils.h"
#include "widgets/sensitivitytablemodel.h"

#include <QApplication>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace ql {

namespace {
constexpr int kKinds = 7;
const char* const kKindNames[kKinds] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                        "gate_proj", "up_proj", "down_proj"};

int kindIndex(const std::string& layer) {
    const std::string kind = layer.substr(layer.rfind('.') + 1);
    for (int i = 0; i < kKinds; ++i)
        if (kind == kKindNames[i]) return i;
    return -1;
}

// "model.layers.3.mlp.down_proj" -> "3 down": 35 full names would overlap on the axis.
QString shortUnit(const std::string& unit) {
    const QString u = QString::fromStdString(unit);
    if (!u.startsWith("model.layers.")) return u;
    const QStringList parts = u.split('.');
    return parts.size() >= 3 ? parts[2] + " " + QString(parts.last()).remove("_proj") : u;
}

// Tick text of the heat map's kinds: one letter each but q/k/v/o, so that seven fit a
// narrow map.
const char* const kKindTicks[kKinds] = {"q", "k", "v", "o", "g", "u", "d"};

}  // namespace

QString sensitivityCaption(const SensitivityTableModel& model) {
    const SensitivityPtr& r = model.result();
    if (!r) return {};
    // The recipe as run names say it: "rtn:int4:g128:asym → channel ×35" when layers fell back.
    std::set<std::string> layers, fell;
    for (const UnitSensitivity& u : r->units) {
        layers.insert(u.layers.begin(), u.layers.end());
        fell.insert(u.fallbackLayers.begin(), u.fallbackLayers.end());
    }
    const QString note = fallbackNote(r->recipe, fell.size(), layers.size());
    return QString("%1 · %2 · %3 units · %4 × %5 tokens (%6 protocol)")
        .arg(QString::fromStdString(r->recipe) + (note.isEmpty() ? "" : " " + note),
             QString::fromStdString(sensitivityModeName(r->config.mode)),
             QString::fromStdString(sensitivityUnitName(r->config.unit)))
        .arg(r->windows)
        .arg(r->seq)
        .arg(QString::fromStdString(r->config.evalProtocol));
}

SensitivityBars::SensitivityBars(const SensitivityTableModel* model, QWidget* parent)
    : QCustomPlot(parent), model_(model), column_(SensitivityTableModel::defaultRankColumn()) {
    setMinimumSize(150, 150);  // the workbench fits 1280 x 720 with the settings beside
    title_ = new FittedTitle(this, addTitleRow(this));
    bars_ = new QCPBars(xAxis, yAxis);
    bars_->setWidth(0.8);
    selectedBar_ = new QCPBars(xAxis, yAxis);
    selectedBar_->setWidth(0.8);
    xAxis->setTickLabelRotation(90);
    xAxis->grid()->setVisible(false);
    connect(this, &QCustomPlot::plottableClick, this, &SensitivityBars::onClick);
    applyPlotStyle(this, QApplication::palette());
    rebuild();
}

void SensitivityBars::applyPalette() {
    applyPlotStyle(this, QApplication::palette());
    rebuild();  // the bars' colours
}

void SensitivityBars::setRankColumn(int column) {
    if (column < SensitivityTableModel::FirstNumericColumn ||
        column >=
            SensitivityTableModel::FirstNumericColumn + SensitivityTableModel::numericColumnCount())
        return;
    column_ = column;
    rebuild();
}

QString SensitivityBars::title() const {
    const QString what = SensitivityTableModel::columnTitle(column_);
    const QString caption = sensitivityCaption(*model_);
    return caption.isEmpty() ? what + " per unit — not measured yet"
                             : what + " per unit, largest first — " + caption;  // fitted
}

void SensitivityBars::rebuild() {
    order_.clear();
    for (int r = 0; r < model_->rowCount(); ++r) order_.push_back(r);
    // Largest first (the most sensitive by ΔKL); NaN last; ties in model order.
    std::stable_sort(order_.begin(), order_.end(), [this](int a, int b) {
        const double va = model_->value(a, column_), vb = model_->value(b, column_);
        if (std::isnan(va) || std::isnan(vb)) return !std::isnan(va) && std::isnan(vb);
        return va > vb;
    });
    QVector<double> keys, values;
    for (size_t i = 0; i < order_.size(); ++i) {
        const double v = model_->value(order_[i], column_);
        keys << double(i);
        values << (std::isfinite(v) ? v : 0.0);
    }
    bars_->setData(keys, values, true);
    updateTicks();
    yAxis->setLabel(SensitivityTableModel::columnTitle(column_));
    xAxis->setRange(-0.7, std::max<double>(1.0, double(order_.size())) - 0.3);
    bars_->rescaleValueAxis(false, false);
    const QCPRange r = yAxis->range();
    yAxis->setRange(std::min(0.0, r.lower), r.upper > 0 ? r.upper * 1.05 : r.upper + 1.0);
    const bool dark = isDarkPalette(QApplication::palette());
    bars_->setBrush(runColor(0, dark));
    bars_->setPen(Qt::NoPen);
    selectedBar_->setBrush(afterColor(dark));
    selectedBar_->setPen(Qt::NoPen);
    title_->setText(title());
    setSelectedRow(selected_);
}

// Names every labelStep() bars, as many as the axis' width holds (the selected bar's name
// is in the table and the status bar).
void SensitivityBars::updateTicks() {
    const int room = std::max(1, axisRect()->width());
    const int perLabel = QFontMetrics(xAxis->tickLabelFont()).height() + 2;
    const int n = int(order_.size());
    labelStep_ = std::max(1, (n * perLabel + room - 1) / room);
    auto ticks = QSharedPointer<QCPAxisTickerText>::create();
    for (int i = 0; i < n; i += labelStep_)
        ticks->addTick(double(i), shortUnit(model_->unitAt(order_[size_t(i)]).unit));
    xAxis->setTicker(ticks);
}

void SensitivityBars::resizeEvent(QResizeEvent* event) {
    QCustomPlot::resizeEvent(event);
    const int before = labelStep_;
    updateTicks();
    if (labelStep_ != before) replot(QCustomPlot::rpQueuedReplot);
}

void SensitivityBars::setSelectedRow(int row) {
    selected_ = row;
    const auto it = std::find(order_.begin(), order_.end(), row);
    selectedBar_->data()->clear();
    if (it != order_.end()) {
        const double v = model_->value(row, column_);
        selectedBar_->addData(double(it - order_.begin()), std::isfinite(v) ? v : 0.0);
    }
    replot(QCustomPlot::rpQueuedReplot);
}

void SensitivityBars::selectBar(int index) {
    if (index < 0 || index >= int(order_.size())) return;
    setSelectedRow(order_[size_t(index)]);
    emit rowClicked(order_[size_t(index)]);
}

void SensitivityBars::onClick(QCPAbstractPlottable* plottable, int dataIndex, QMouseEvent*) {
    if (plottable == bars_) selectBar(int(std::lround(bars_->data()->at(dataIndex)->key)));
}

SensitivityHeatMap::SensitivityHeatMap(const SensitivityTableModel* model, QWidget* parent)
    : QCustomPlot(parent), model_(model), column_(SensitivityTableModel::defaultRankColumn()) {
    setMinimumSize(120, 150);
    title_ = addTitleRow(this);
    map_ = new QCPColorMap(xAxis, yAxis);
    scale_ = new QCPColorScale(this);
    plotLayout()->addElement(1, 1, scale_);
    map_->setColorScale(scale_);
    auto* group = new QCPMarginGroup(this);
    axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    auto kinds = QSharedPointer<QCPAxisTickerText>::create();
    for (int i = 0; i < kKinds; ++i) kinds->addTick(i, kKindTicks[i]);
    xAxis->setTicker(kinds);
    xAxis->setLabel("q k v o gate up down");
    yAxis->setLabel("block");
    yAxis->setRangeReversed(true);  // block 0 at the top, as the layer tree
    xAxis->grid()->setVisible(false);
    yAxis->grid()->setVisible(false);
    // Thermal, but ending in saturated yellow: its white end looked like an empty cell (a
    // layer without a measurement) on the white background, and it is the worst layer.
    QCPColorGradient gradient(QCPColorGradient::gpThermal);
    gradient.setColorStopAt(1.0, QColor(255, 225, 0));
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    map_->setGradient(gradient);
    map_->setInterpolate(false);
    connect(this, &QCustomPlot::mousePress, this, &SensitivityHeatMap::onClick);
    applyPlotStyle(this, QApplication::palette());
    rebuild();
}

void SensitivityHeatMap::applyPalette() {
    applyPlotStyle(this, QApplication::palette());
    rebuild();
}

void SensitivityHeatMap::setRankColumn(int column) {
    column_ = column;
    rebuild();
}

// Only layer units have a cell; blocks and kinds are rows or columns of it already.
void SensitivityHeatMap::rebuild() {
    blocks_ = 0;
    const SensitivityPtr& r = model_->result();
    const bool layers = r && r->config.unit == SensitivityUnit::Layer;
    if (layers)
        for (const UnitSensitivity& u : r->units) blocks_ = std::max(blocks_, u.firstBlock + 1);
    const int rows = std::max(blocks_, 1);
    rows_.assign(size_t(rows) * kKinds, -1);
    map_->data()->setSize(kKinds, rows);
    map_->data()->setRange(QCPRange(0, kKinds - 1), QCPRange(0, rows - 1));
    map_->data()->fill(std::numeric_limits<double>::quiet_NaN());
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int row = 0; layers && row < model_->rowCount(); ++row) {
        const UnitSensitivity& u = model_->unitAt(row);
        const int k = kindIndex(u.unit);
        if (k < 0 || u.firstBlock < 0) continue;
        rows_[size_t(u.firstBlock * kKinds + k)] = row;
        const double v = model_->value(row, column_);
        if (!std::isfinite(v)) continue;
        map_->data()->setCell(k, u.firstBlock, v);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    if (lo <= hi) map_->setDataRange(QCPRange(lo, lo == hi ? lo + 1.0 : hi));
    scale_->axis()->setLabel(SensitivityTableModel::columnTitle(column_));
    title_->setText(layers ? "Blocks × kinds" : "Blocks × kinds: measure layer units to fill it");
    xAxis->setRange(-0.5, kKinds - 0.5);
    yAxis->setRange(-0.5, rows - 0.5);
    auto blocks = QSharedPointer<QCPAxisTickerText>::create();
    const int step = std::max(1, rows / 24);
    for (int b = 0; b < rows; b += step) blocks->addTick(b, QString::number(b));
    yAxis->setTicker(blocks);
    replot(QCustomPlot::rpQueuedReplot);
}

double SensitivityHeatMap::cellValue(int block, int kind) const {
    if (block < 0 || block >= blocks_ || kind < 0 || kind >= kKinds)
        return std::numeric_limits<double>::quiet_NaN();
    return map_->data()->cell(kind, block);
}

QColor SensitivityHeatMap::cellColor(int block, int kind) const {
    const double v = cellValue(block, kind);
    if (!std::isfinite(v)) return {};
    QCPColorGradient g = map_->gradient();
    const QRgb rgb = g.color(v, map_->dataRange(), map_->dataScaleType() == QCPAxis::stLogarithmic);
    return QColor::fromRgba(rgb);
}

int SensitivityHeatMap::rowAt(int block, int kind) const {
    if (block < 0 || block >= blocks_ || kind < 0 || kind >= kKinds) return -1;
    return rows_[size_t(block * kKinds + kind)];
}

void SensitivityHeatMap::selectCell(int block, int kind) {
    const int row = rowAt(block, kind);
    if (row >= 0) emit rowClicked(row);
}

void SensitivityHeatMap::onClick(QMouseEvent* event) {
    if (!axisRect()->rect().contains(event->pos())) return;
    selectCell(int(std::lround(yAxis->pixelToCoord(event->pos().y()))),
               int(std::lround(xAxis->pixelToCoord(event->pos().x()))));
}

}  // namespace ql
