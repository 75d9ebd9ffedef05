#include "widgets/modeloverview.h"

#include "widgets/plotstyle.h"

#include <QApplication>
#include <QComboBox>

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
    xAxis->setLabel("projection");
    yAxis->setLabel("block");
    yAxis->setRangeReversed(true);  // block 0 at the top, as the layer tree
    auto kinds = QSharedPointer<QCPAxisTickerText>::create();
    for (int i = 0; i < kKinds; ++i) kinds->addTick(i, kKindNames[i]);
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
    connect(this, &QCustomPlot::mousePress, this, &ModelOverview::onClick);
    applyPlotStyle(this, QApplication::palette());
    rebuild();
}

void ModelOverview::resizeEvent(QResizeEvent* event) {
    const QSize hint = metricBox_->sizeHint();
    metricBox_->setGeometry(width() - hint.width() - 4, 2, hint.width(), hint.height());
    fitTitle();
    QCustomPlot::resizeEvent(event);
}

// The title runs left of the metric box, elided in the middle when it does not fit there.
void ModelOverview::fitTitle() {
    const int box = metricBox_->sizeHint().width() + 12;
    title_->setMargins(QMargins(8, 4, box, 4));
    const QFontMetrics metrics(title_->font());
    title_->setText(metrics.elidedText(title(), Qt::ElideMiddle, std::max(80, width() - box - 16)));
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
    const std::string name = layerAt(block, kind);
    if (name.empty()) return;
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
    return metric + " — " + runDisplayName(*run_);
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
    if (run_)
        for (const LayerResult& l : run_->layers) {
            const int k = kindIndex(l.kind);
            if (k < 0 || l.block < 0) continue;
            layers_[size_t(l.block * kKinds + k)] = l.name;
            const double v = metricValue(l, metric_);
            if (!std::isfinite(v)) continue;  // NaN: not measured; inf: exact (no colour)
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
    fitTitle();
    xAxis->setRange(-0.5, kKinds - 0.5);
    yAxis->setRange(-0.5, rows - 0.5);
    auto blocks = QSharedPointer<QCPAxisTickerText>::create();
    const int step = std::max(1, rows / 24);
    for (int b = 0; b < rows; b += step) blocks->addTick(b, QString::number(b));
    yAxis->setTicker(blocks);
    placeSelection();
    replot(QCustomPlot::rpQueuedReplot);
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
