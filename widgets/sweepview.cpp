#include "widgets/sweepview.h"

#include "widgets/exportutils.h"
#include "widgets/plotstyle.h"
#include "widgets/resultutils.h"

#include <qcustomplot.h>
#include <QApplication>
#include <QCheckBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace ql {

namespace {

constexpr int kBits[] = {2, 3, 4, 5, 6, 8};
constexpr int kGroups[] = {0, 32, 64, 128};  // 0: per channel
const QList<int> kDefaultBits = {4, 8};
const QList<int> kDefaultGroups = {0, 32, 128};

// "model.layers.3.mlp.down_proj" -> "3 down": rows stay readable in a narrow axis.
QString shortLayer(const LayerResult& l) {
    return QString("%1 %2").arg(l.block).arg(QString::fromStdString(l.kind).remove("_proj"));
}

}  // namespace

QStringList SweepView::gridRecipes(const QList<int>& bits, const QList<int>& groups,
                                   const QList<bool>& symmetric) {
    QStringList out;
    for (int b : bits)
        for (int g : groups)
            for (bool sym : symmetric)
                out << QString("rtn:int%1:%2:%3")
                           .arg(b)
                           .arg(g == 0 ? QString("channel") : QString("g%1").arg(g))
                           .arg(sym ? "sym" : "asym");
    return out;
}

QString SweepView::recipeLabel(const std::string& recipe) {
    QString s = QString::fromStdString(recipe);
    if (s.startsWith("rtn:")) s = s.mid(4);
    return s;
}

SweepView::SweepView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(buildControls());
    plot_ = new QCustomPlot;
    plot_->setMinimumSize(300, 200);
    plot_->plotLayout()->insertRow(0);
    title_ = new QCPTextElement(plot_, "", QFont(font().family(), font().pointSize(), QFont::Bold));
    plot_->plotLayout()->addElement(0, 0, title_);
    map_ = new QCPColorMap(plot_->xAxis, plot_->yAxis);
    scale_ = new QCPColorScale(plot_);
    plot_->plotLayout()->addElement(1, 1, scale_);
    scale_->setType(QCPAxis::atRight);
    scale_->axis()->setLabel("weight SQNR (dB)");
    map_->setColorScale(scale_);
    auto* group = new QCPMarginGroup(plot_);
    plot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    plot_->yAxis->setRangeReversed(true);  // first layer at the top, as the layer tree
    plot_->xAxis->grid()->setVisible(false);
    plot_->yAxis->grid()->setVisible(false);
    // Recipe labels side by side do not fit; turned down to the right, as the SQNR chart's,
    // with room kept right of the map for the last one (fitRotatedTickLabels).
    plot_->xAxis->setTickLabelRotation(40);
    layout->addWidget(plot_, 1);
    connect(plot_, &QCustomPlot::mousePress, this, &SweepView::onClick);
    connect(plot_, &QCustomPlot::mouseMove, this, &SweepView::onMove);
    plot_->installEventFilter(this);
    applyPalette();
}

// Two short rows (bits and symmetry; grids and the buttons): one long row of 12 boxes would
// set the whole chart area's minimum width and widen the window past 1280 pixels.
QWidget* SweepView::buildControls() {
    auto* bar = new QWidget;
    auto* grid = new QGridLayout(bar);
    grid->setContentsMargins(4, 2, 4, 2);
    grid->setVerticalSpacing(2);
    auto boxes = [&](int line, const QString& label, QList<QCheckBox*>& list,
                     const QStringList& names, const QList<bool>& checked) {
        auto* row = new QHBoxLayout;
        row->addWidget(new QLabel(label));
        row->addSpacing(4);
        for (int i = 0; i < names.size(); ++i) {
            auto* box = new QCheckBox(names[i]);
            box->setChecked(checked[i]);
            connect(box, &QCheckBox::toggled, this, &SweepView::updateButtons);
            list << box;
            row->addWidget(box);
        }
        row->addStretch(1);
        grid->addLayout(row, line, grid->itemAtPosition(line, 0) ? 1 : 0);
    };
    QStringList bitNames, groupNames;
    QList<bool> bitOn, groupOn;
    for (int b : kBits) bitNames << QString::number(b), bitOn << kDefaultBits.contains(b);
    for (int g : kGroups)
        groupNames << (g ? QString("g%1").arg(g) : QString("channel")),
            groupOn << kDefaultGroups.contains(g);
    boxes(0, "Bits", bits_, bitNames, bitOn);
    boxes(0, "Symmetry", symmetry_, {"sym", "asym"}, {true, true});
    boxes(1, "Grid", groups_, groupNames, groupOn);
    start_ = new QPushButton("Sweep");
    start_->setToolTip(
        "Weight SQNR of every layer for each checked combination (RTN, "
        "weights only: no calibration), in the background");
    cancel_ = new QPushButton("Cancel");
    export_ = new QPushButton("Export…");
    export_->setToolTip("The heat map as PNG, PDF or SVG, or its numbers as CSV");
    status_ = new QLabel;
    // Progress text changes often: it must never re-layout (and so replot) the map.
    status_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(start_);
    buttons->addWidget(cancel_);
    buttons->addWidget(export_);
    grid->addLayout(buttons, 1, 1);
    grid->addWidget(status_, 2, 0, 1, 2);
    grid->setColumnStretch(1, 1);
    connect(start_, &QPushButton::clicked, this, [this] { emit sweepRequested(checkedRecipes()); });
    connect(cancel_, &QPushButton::clicked, this, &SweepView::cancelRequested);
    connect(export_, &QPushButton::clicked, this, [this] { emit exportRequested(plot_); });
    updateButtons();
    return bar;
}

QStringList SweepView::checkedRecipes() const {
    QList<int> bits, groups;
    QList<bool> sym;
    for (int i = 0; i < bits_.size(); ++i)
        if (bits_[i]->isChecked()) bits << kBits[i];
    for (int i = 0; i < groups_.size(); ++i)
        if (groups_[i]->isChecked()) groups << kGroups[i];
    for (int i = 0; i < symmetry_.size(); ++i)
        if (symmetry_[i]->isChecked()) sym << (i == 0);
    return gridRecipes(bits, groups, sym);
}

void SweepView::updateButtons() {
    const int n = int(checkedRecipes().size());
    start_->setEnabled(enabled_ && !running_ && n > 0);
    start_->setText(n > 0 ? QString("Sweep %1 recipes").arg(n) : QString("Sweep"));
    cancel_->setEnabled(running_);
    export_->setEnabled(bool(result_));
}

void SweepView::setRunning(bool running, const QString& status) {
    running_ = running;
    status_->setText(status);
    updateButtons();
}

void SweepView::setEnabledForModel(bool enabled) {
    enabled_ = enabled;
    updateButtons();
}

void SweepView::setResult(std::shared_ptr<const SweepResult> result) {
    result_ = std::move(result);
    rebuild();
    updateButtons();
}

void SweepView::setSelectedLayer(const std::string& name) {
    selected_ = name;
    title_->setText(title());
    plot_->replot(QCustomPlot::rpQueuedReplot);  // once per event loop pass, however many changes
}

void SweepView::applyPalette() {
    applyPlotStyle(plot_, QApplication::palette());
    rebuild();
}

double SweepView::cellValue(int layer, int recipe) const {
    if (!result_ || recipe < 0 || recipe >= int(result_->layers.size())) return std::nan("");
    const auto& layers = result_->layers[size_t(recipe)];
    if (layer < 0 || layer >= int(layers.size())) return std::nan("");
    const double v = layers[size_t(layer)].weightSqnrDb;
    return std::isfinite(v) ? v : std::nan("");  // inf: exact, no colour on a dB scale
}

std::string SweepView::layerAt(int row) const {
    if (!result_ || result_->layers.empty() || row < 0 ||
        row >= int(result_->layers.front().size()))
        return {};
    return result_->layers.front()[size_t(row)].name;
}

QString SweepView::title() const {
    if (!result_) return "Weight SQNR sweep — choose a grid and press Sweep";
    const int layers = result_->layers.empty() ? 0 : int(result_->layers.front().size());
    QString t = QString("Weight SQNR sweep — %1 layers × %2 recipes (%3 s)")
                    .arg(layers)
                    .arg(result_->recipes.size())
                    .arg(result_->seconds, 0, 'f', 1);
    if (!selected_.empty()) t += " · " + QString::fromStdString(selected_);
    return t;
}

void SweepView::rebuild() {
    const int recipes = result_ ? int(result_->recipes.size()) : 0;
    const int layers = result_ && !result_->layers.empty() ? int(result_->layers[0].size()) : 0;
    const int cols = std::max(recipes, 1), rows = std::max(layers, 1);
    map_->data()->setSize(cols, rows);
    map_->data()->setRange(QCPRange(0, cols - 1), QCPRange(0, rows - 1));
    map_->data()->fill(std::numeric_limits<double>::quiet_NaN());
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int r = 0; r < recipes; ++r)
        for (int l = 0; l < layers; ++l) {
            const double v = cellValue(l, r);
            if (std::isnan(v)) continue;
            map_->data()->setCell(r, l, v);
            lo = std::min(lo, v), hi = std::max(hi, v);
        }
    QCPColorGradient gradient = QCPColorGradient(QCPColorGradient::gpJet).inverted();  // low red
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    map_->setGradient(gradient);
    map_->setInterpolate(false);
    if (lo <= hi) map_->setDataRange(QCPRange(lo, lo == hi ? lo + 1.0 : hi));
    auto x = QSharedPointer<QCPAxisTickerText>::create();
    for (int r = 0; r < recipes; ++r) x->addTick(r, columnLabel(r));
    plot_->xAxis->setTicker(x);
    fitRotatedTickLabels(plot_->xAxis);
    placeLayerTicks();
    plot_->xAxis->setRange(-0.5, cols - 0.5);
    plot_->yAxis->setRange(-0.5, rows - 0.5);
    title_->setText(title());
    plot_->replot(QCustomPlot::rpQueuedReplot);  // once per event loop pass, however many changes
}

// A label per row where rows are tall enough for the font, else every n-th row: labels never
// overlap, at any window height or model depth (refitted on resize).
void SweepView::placeLayerTicks() {
    // The plot's own margins (title, tick labels) around its axis rect, from the last layout:
    // the rows get the rest of the plot's current height.
    const int margins = plot_->viewport().height() - plot_->axisRect()->height();
    const int layers = result_ && !result_->layers.empty() ? int(result_->layers[0].size()) : 0;
    const int rowsPx = std::max(40, plot_->height() - margins);
    const int labelPx = QFontMetrics(plot_->yAxis->tickLabelFont()).height() + 2;
    const int step = std::max(1, (layers * labelPx + rowsPx - 1) / rowsPx);
    auto y = QSharedPointer<QCPAxisTickerText>::create();
    for (int l = 0; l < layers; l += step) y->addTick(l, shortLayer(result_->layers[0][size_t(l)]));
    plot_->yAxis->setTicker(y);
}

bool SweepView::eventFilter(QObject* watched, QEvent* event) {
    if (watched == plot_ && event->type() == QEvent::Resize && result_) placeLayerTicks();
    return QWidget::eventFilter(watched, event);
}

QString SweepView::columnLabel(int recipe) const {
    if (!result_ || recipe < 0 || recipe >= int(result_->recipes.size())) return {};
    const std::string& text = result_->recipes[size_t(recipe)];
    const auto& layers = result_->layers[size_t(recipe)];
    const size_t fell = size_t(std::count_if(layers.begin(), layers.end(),
                                             [](const LayerResult& l) { return l.fallback; }));
    const QString note = fallbackNote(text, fell, layers.size());
    return recipeLabel(text) + (note.isEmpty() ? QString() : " " + note);
}

QString SweepView::cellToolTip(int layer, int recipe) const {
    if (!result_ || recipe < 0 || recipe >= int(result_->layers.size())) return {};
    const auto& layers = result_->layers[size_t(recipe)];
    if (layer < 0 || layer >= int(layers.size())) return {};
    const LayerResult& l = layers[size_t(layer)];
    QString tip = QString("%1 · %2\nweight SQNR %3 dB")
                      .arg(QString::fromStdString(l.name),
                           QString::fromStdString(result_->recipes[size_t(recipe)]),
                           formatDb(l.weightSqnrDb));
    if (l.fallback)
        tip += QString("\n%1: %2 — %3")
                   .arg(fallbackColumnTitle(), fallbackText(true),
                        QString::fromStdString(l.fallbackReason));
    return tip;
}

void SweepView::onMove(QMouseEvent* event) {
    const bool inside = result_ && plot_->axisRect()->rect().contains(event->pos());
    const QString tip =
        inside ? cellToolTip(int(std::lround(plot_->yAxis->pixelToCoord(event->pos().y()))),
                             int(std::lround(plot_->xAxis->pixelToCoord(event->pos().x()))))
               : QString();
    if (tip.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), tip, plot_);
}

void SweepView::onClick(QMouseEvent* event) {
    if (!result_ || !plot_->axisRect()->rect().contains(event->pos())) return;
    const int row = int(std::lround(plot_->yAxis->pixelToCoord(event->pos().y())));
    const std::string name = layerAt(row);
    if (!name.empty()) emit layerClicked(name);
}

QString SweepView::dataCsv() const {
    QString csv = "layer,block,kind";
    if (!result_) return csv + "\n";
    for (const std::string& r : result_->recipes) csv += "," + csvField(QString::fromStdString(r));
    // A recipe some layers fell back under gets a column with each layer's reason (empty
    // where it applied as asked): the SQNR beside is the fallback's.
    std::vector<size_t> withFallback;
    for (size_t r = 0; r < result_->layers.size(); ++r)
        if (std::any_of(result_->layers[r].begin(), result_->layers[r].end(),
                        [](const LayerResult& l) { return l.fallback; })) {
            withFallback.push_back(r);
            csv += "," + csvField(QString::fromStdString(result_->recipes[r]) + " fallback");
        }
    csv += "\n";
    const int layers = result_->layers.empty() ? 0 : int(result_->layers[0].size());
    for (int l = 0; l < layers; ++l) {
        const LayerResult& first = result_->layers[0][size_t(l)];
        csv += QString("%1,%2,%3")
                   .arg(csvField(QString::fromStdString(first.name)))
                   .arg(first.block)
                   .arg(csvField(QString::fromStdString(first.kind)));
        for (const auto& byRecipe : result_->layers)
            csv += "," + QString::number(byRecipe[size_t(l)].weightSqnrDb, 'g', 17);
        for (const size_t r : withFallback) {
            const LayerResult& lr = result_->layers[r][size_t(l)];
            csv += "," + (lr.fallback ? csvField(QString::fromStdString(lr.fallbackReason)) : "");
        }
        csv += "\n";
    }
    return csv;
}

}  // namespace ql
