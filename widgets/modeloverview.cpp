#include "widgets/modeloverview.h"

#include "widgets/plotstyle.h"

#include <QApplication>
#include <QComboBox>
#include <QDoubleSpinBox>

#include <algorithm>
#include <cmath>
#include <limits>

namespace ql {

namespace {

constexpr int kKinds = 7;
const char* const kKindNames[kKinds] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                        "gate_proj", "up_proj", "down_proj"};

int kindIndex(const std::string& kind) {
    for (int i = 0; i < kKinds; ++i)
        if (kind == kKindNames[i]) return i;
    return -1;
}

double absMax(const Histogram& h) {
    if (h.stats.count == 0) return std::numeric_limits<double>::quiet_NaN();
    return std::max(std::fabs(h.stats.min), std::fabs(h.stats.max));
}

double statOrNan(const Histogram& h, double value) {
    return h.stats.count == 0 ? std::numeric_limits<double>::quiet_NaN() : value;
}

// SQNR-like metrics: higher is better (the gradient runs red -> green); the others are
// "more is more extreme" (a plain sequential gradient).
bool higherIsBetter(ModelOverview::Metric m) {
    return m == ModelOverview::Metric::WeightSqnr || m == ModelOverview::Metric::OutputSqnr ||
           m == ModelOverview::Metric::ActivationSqnr;
}

}  // namespace

QStringList ModelOverview::metricNames() {
    return {"Weight SQNR (dB)",        "Output SQNR (dB)", "Activation SQNR (dB)",
            "Outlier column fraction", "Weight kurtosis",  "Input kurtosis",
            "Weight absmax",           "Input absmax"};
}

bool ModelOverview::flagsBelow(Metric metric) {
    return higherIsBetter(metric);
}

// Starting points a user can move: 20 dB is where the SQNR chart's amber line sits; 1 % of
// columns decomposed is already many for LLM.int8(); an excess kurtosis of 10 is a heavy
// tail; 6 is LLM.int8()'s outlier threshold for inputs, 1 a large weight for an LLM.
double ModelOverview::defaultThreshold(Metric metric) {
    switch (metric) {
        case Metric::WeightSqnr:
        case Metric::OutputSqnr:
        case Metric::ActivationSqnr:
            return 20.0;
        case Metric::OutlierFraction:
            return 0.01;
        case Metric::WeightKurtosis:
        case Metric::ActivationKurtosis:
            return 10.0;
        case Metric::WeightAbsMax:
            return 1.0;
        case Metric::ActivationAbsMax:
            return 6.0;
    }
    return 0.0;
}

bool ModelOverview::isFlagged(double value, Metric metric, double threshold) {
    if (!std::isfinite(value)) return false;
    return flagsBelow(metric) ? value < threshold : value > threshold;
}

double ModelOverview::metricValue(const LayerResult& l, Metric metric) {
    switch (metric) {
        case Metric::WeightSqnr:
            return l.weightSqnrDb;
        case Metric::OutputSqnr:
            return l.outputSqnrDb;
        case Metric::ActivationSqnr:
            return l.activationSqnrDb;
        case Metric::OutlierFraction:
            return l.outlierColumnFraction;
        case Metric::WeightKurtosis:
            return statOrNan(l.weightBefore, l.weightBefore.stats.kurtosis);
        case Metric::ActivationKurtosis:
            return statOrNan(l.activationBefore, l.activationBefore.stats.kurtosis);
        case Metric::WeightAbsMax:
            return absMax(l.weightBefore);
        case Metric::ActivationAbsMax:
            return absMax(l.activationBefore);
    }
    return std::numeric_limits<double>::quiet_NaN();
}

ModelOverview::ModelOverview(QWidget* parent) : QCustomPlot(parent) {
    setMinimumSize(300, 200);
    plotLayout()->insertRow(0);
    title_ = new QCPTextElement(this, "", QFont(font().family(), font().pointSize(), QFont::Bold));
    plotLayout()->addElement(0, 0, title_);
    title_->setAutoMargins(QCP::msNone);
    title_->setTextFlags(Qt::AlignLeft | Qt::AlignVCenter);
    map_ = new QCPColorMap(xAxis, yAxis);
    scale_ = new QCPColorScale(this);
    plotLayout()->addElement(1, 1, scale_);
    scale_->setType(QCPAxis::atRight);
    map_->setColorScale(scale_);
    auto* group = new QCPMarginGroup(this);
    axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    xAxis->setLabel("projection (…_proj)");
    yAxis->setLabel("block");
    yAxis->setRangeReversed(true);  // block 0 at the top, as the layer tree
    auto kinds = QSharedPointer<QCPAxisTickerText>::create();
    // Short names ("gate" for gate_proj): seven full names overlap when the map is narrow.
    for (int i = 0; i < kKinds; ++i)
        kinds->addTick(i, QString(kKindNames[i]).remove(QStringLiteral("_proj")));
    xAxis->setTicker(kinds);
    xAxis->grid()->setVisible(false);
    yAxis->grid()->setVisible(false);
    frame_ = new QCPItemRect(this);
    frame_->setBrush(Qt::NoBrush);
    frame_->setVisible(false);
    metricBox_ = new QComboBox(this);
    metricBox_->addItems(metricNames());
    metricBox_->setToolTip("The metric the heat map shows; click a cell to select its layer");
    connect(metricBox_, &QComboBox::currentIndexChanged, this,
            [this](int i) { setMetric(Metric(i)); });
    for (int m = 0; m < kMetricCount; ++m) thresholds_[size_t(m)] = defaultThreshold(Metric(m));
    flaggedModel_ = new FlaggedLayersModel(this);
    thresholdBox_ = new QDoubleSpinBox(this);
    thresholdBox_->setKeyboardTracking(false);  // re-flag on Enter / arrows, not per digit
    configureThresholdBox();
    connect(thresholdBox_, &QDoubleSpinBox::valueChanged, this,
            [this](double v) { setThreshold(v); });
    connect(this, &QCustomPlot::mousePress, this, &ModelOverview::onClick);
    applyPlotStyle(this, QApplication::palette());
    rebuild();
}

void ModelOverview::resizeEvent(QResizeEvent* event) {
    placeBoxes();
    fitTitle();
    QCustomPlot::resizeEvent(event);
}

// Top right: the threshold box (unless a host view placed it in its own layout), then the
// metric box at the edge.
void ModelOverview::placeBoxes() {
    const QSize metric = metricBox_->sizeHint(), limit = thresholdBox_->sizeHint();
    metricBox_->setGeometry(width() - metric.width() - 4, 2, metric.width(), metric.height());
    if (thresholdOnChart())
        thresholdBox_->setGeometry(width() - metric.width() - limit.width() - 10, 2, limit.width(),
                                   metric.height());
}

bool ModelOverview::thresholdOnChart() const {
    return thresholdBox_->parentWidget() == this;
}

// The box shows the current metric's threshold in its unit, with a step that suits it.
void ModelOverview::configureThresholdBox() {
    const bool db = flagsBelow(metric_);
    const bool fraction = metric_ == Metric::OutlierFraction;
    QSignalBlocker block(thresholdBox_);
    thresholdBox_->setDecimals(fraction ? 4 : 2);
    thresholdBox_->setRange(db ? -100.0 : fraction ? 0.0 : -1e4, db ? 300.0 : fraction ? 1.0 : 1e6);
    thresholdBox_->setSingleStep(fraction ? 0.005 : db ? 1.0 : 0.5);
    thresholdBox_->setPrefix(db ? "flag < " : "flag > ");
    thresholdBox_->setSuffix(db ? " dB" : "");
    thresholdBox_->setValue(threshold());
    thresholdBox_->setToolTip(db ? "Layers below this SQNR are flagged (dashed cells, table)"
                                 : "Layers above this value are flagged (dashed cells, table)");
    placeBoxes();
}

void ModelOverview::setThreshold(double value) {
    thresholds_[size_t(metric_)] = value;
    if (thresholdBox_->value() != value) {
        QSignalBlocker block(thresholdBox_);
        thresholdBox_->setValue(value);
    }
    rebuild();
}

QString ModelOverview::flaggedSummary() const {
    const int n = int(flagged().size());
    const QString unit = flagsBelow(metric_) ? " dB" : "";
    return QString("%1 layer%2 %3 %4%5")
        .arg(n)
        .arg(n == 1 ? "" : "s")
        .arg(flagsBelow(metric_) ? "below" : "above")
        .arg(threshold(), 0, 'g', 6)
        .arg(unit);
}

// The title runs left of the two boxes, elided in the middle when it does not fit there.
// Too long for the room left of them (a narrow chart beside the flagged table), it goes
// under the boxes, broken after the metric, and only then elided in the middle.
void ModelOverview::fitTitle() {
    const int box = metricBox_->sizeHint().width() + 12 +
                    (thresholdOnChart() ? thresholdBox_->sizeHint().width() + 6 : 0);
    const QFontMetrics metrics(title_->font());
    const QString full = title();
    if (metrics.horizontalAdvance(full) <= width() - box - 16) {
        title_->setMargins(QMargins(8, 4, box, 4));
        title_->setText(full);
        return;
    }
    const int below = metricBox_->sizeHint().height() + 6;
    title_->setMargins(QMargins(8, below, 8, 4));
    // The title's cell is the map's column: the colour scale's column is beside it.
    const int room = width() - 16 - std::max(60, scale_->outerRect().width());
    title_->setText(fitLines(QString(full).replace(" — ", "\n"), metrics, std::max(80, room)));
}

void ModelOverview::applyPalette() {
    applyPlotStyle(this, QApplication::palette());
    rebuild();
}

void ModelOverview::setRun(const RunPtr& run) {
    run_ = run;
    rebuild();
}

void ModelOverview::setMetric(Metric metric) {
    metric_ = metric;
    if (metricBox_->currentIndex() != int(metric)) {
        QSignalBlocker block(metricBox_);
        metricBox_->setCurrentIndex(int(metric));
    }
    configureThresholdBox();
    rebuild();
}

void ModelOverview::setSelectedLayer(const std::string& name) {
    selected_ = name;
    placeSelection();
    replot(QCustomPlot::rpQueuedReplot);
}

double ModelOverview::cellValue(int block, int kind) const {
    if (block < 0 || block >= blocks_ || kind < 0 || kind >= kKinds)
        return std::numeric_limits<double>::quiet_NaN();
    return map_->data()->cell(kind, block);
}

std::string ModelOverview::layerAt(int block, int kind) const {
    if (block < 0 || block >= blocks_ || kind < 0 || kind >= kKinds) return {};
    return layers_[size_t(block * kKinds + kind)];
}

void ModelOverview::selectCell(int block, int kind) {
    selectLayer(layerAt(block, kind));
}

void ModelOverview::selectLayer(const std::string& name) {
    if (name.empty() || std::find(layers_.begin(), layers_.end(), name) == layers_.end()) return;
    setSelectedLayer(name);
    emit layerClicked(name);
}

void ModelOverview::onClick(QMouseEvent* event) {
    if (!axisRect()->rect().contains(event->pos())) return;
    const int kind = int(std::lround(xAxis->pixelToCoord(event->pos().x())));
    const int block = int(std::lround(yAxis->pixelToCoord(event->pos().y())));
    selectCell(block, kind);
}

QString ModelOverview::title() const {
    const QString metric = metricNames().value(int(metric_));
    if (!run_) return metric + " — no run";
    return metric + " — " + runDisplayName(*run_) + " · " + QString::number(flagged().size()) +
           " flagged";
}

void ModelOverview::rebuild() {
    blocks_ = 0;
    if (run_)
        for (const LayerResult& l : run_->layers) blocks_ = std::max(blocks_, l.block + 1);
    layers_.assign(size_t(blocks_) * kKinds, std::string());
    const int rows = std::max(blocks_, 1);
    map_->data()->setSize(kKinds, rows);
    map_->data()->setRange(QCPRange(0, kKinds - 1), QCPRange(0, rows - 1));
    map_->data()->fill(std::numeric_limits<double>::quiet_NaN());
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    std::vector<FlaggedLayer> flagged;
    if (run_)
        for (const LayerResult& l : run_->layers) {
            const int k = kindIndex(l.kind);
            if (k < 0 || l.block < 0) continue;
            layers_[size_t(l.block * kKinds + k)] = l.name;
            const double v = metricValue(l, metric_);
            if (!std::isfinite(v)) continue;  // NaN: not measured; inf: exact (no colour)
            if (isFlagged(v, metric_, threshold())) flagged.push_back({l.name, l.block, l.kind, v});
            map_->data()->setCell(k, l.block, v);
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    QCPColorGradient gradient(higherIsBetter(metric_) ? QCPColorGradient::gpJet
                                                      : QCPColorGradient::gpThermal);
    if (higherIsBetter(metric_)) gradient = gradient.inverted();  // low SQNR red
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    map_->setGradient(gradient);
    map_->setInterpolate(false);
    if (lo <= hi) map_->setDataRange(QCPRange(lo, lo == hi ? lo + 1.0 : hi));
    scale_->axis()->setLabel(metricNames().value(int(metric_)));
    // Worst first: lowest SQNR, or highest of the other metrics; then in model order.
    const bool below = flagsBelow(metric_);
    std::stable_sort(flagged.begin(), flagged.end(),
                     [below](const FlaggedLayer& a, const FlaggedLayer& b) {
                         return below ? a.value < b.value : a.value > b.value;
                     });
    flaggedModel_->setRows(std::move(flagged), metricNames().value(int(metric_)));
    fitTitle();
    xAxis->setRange(-0.5, kKinds - 0.5);
    yAxis->setRange(-0.5, rows - 0.5);
    auto blocks = QSharedPointer<QCPAxisTickerText>::create();
    const int step = std::max(1, rows / 24);
    for (int b = 0; b < rows; b += step) blocks->addTick(b, QString::number(b));
    yAxis->setTicker(blocks);
    markFlagged();
    placeSelection();
    replot(QCustomPlot::rpQueuedReplot);
}

// A dashed frame inside each flagged cell, in the text colour, under the selection frame.
void ModelOverview::markFlagged() {
    for (QCPItemRect* mark : marks_) removeItem(mark);
    marks_.clear();
    const QColor c = QApplication::palette().color(QPalette::WindowText);
    for (const FlaggedLayer& f : flagged()) {
        const int kind = kindIndex(f.kind);
        auto* mark = new QCPItemRect(this);
        mark->topLeft->setCoords(kind - 0.36, f.block - 0.36);
        mark->bottomRight->setCoords(kind + 0.36, f.block + 0.36);
        mark->setPen(QPen(c, 1.5, Qt::DashLine));
        mark->setBrush(Qt::NoBrush);
        mark->setSelectable(false);
        marks_.push_back(mark);
    }
}

void ModelOverview::placeSelection() {
    const auto it = std::find(layers_.begin(), layers_.end(), selected_);
    if (selected_.empty() || it == layers_.end()) {
        frame_->setVisible(false);
        return;
    }
    const int index = int(it - layers_.begin());
    const int block = index / kKinds, kind = index % kKinds;
    frame_->topLeft->setCoords(kind - 0.5, block - 0.5);
    frame_->bottomRight->setCoords(kind + 0.5, block + 0.5);
    frame_->setPen(QPen(isDarkPalette(QApplication::palette()) ? Qt::white : Qt::black, 2.5));
    frame_->setVisible(true);
}

QString ModelOverview::dataCsv() const {
    QString csv = "block,kind,layer," + metricNames().value(int(metric_)) + "\n";
    if (!run_) return csv;
    for (const LayerResult& l : run_->layers)
        csv += QString("%1,%2,%3,%4\n")
                   .arg(l.block)
                   .arg(QString::fromStdString(l.kind), QString::fromStdString(l.name))
                   .arg(metricValue(l, metric_), 0, 'g', 8);
    return csv;
}

}  // namespace ql
