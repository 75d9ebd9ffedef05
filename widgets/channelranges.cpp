#include "widgets/channelranges.h"

#include "quant/recipe.h"
#include "widgets/plotstyle.h"

#include <QApplication>
#include <QCheckBox>
#include <QHBoxLayout>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace ql {

namespace {
constexpr double kDefaultThreshold = 6.0;  // bitsandbytes' LLM.int8() default

// LLM.int8()'s threshold where the run used one, else the default.
double thresholdOf(const RunResult& run) {
    try {
        const Recipe r = Recipe::parse(run.config.recipe);
        return r.outlierThreshold > 0 ? r.outlierThreshold : kDefaultThreshold;
    } catch (const std::exception&) {  // a recipe this version cannot read: the default
        return kDefaultThreshold;
    }
}
}  // namespace

ChannelRangesChart::ChannelRangesChart(QWidget* parent) : QCustomPlot(parent) {
    setMinimumSize(300, 200);
    plotLayout()->insertRow(0);
    title_ = new QCPTextElement(this, "", QFont(font().family(), font().pointSize(), QFont::Bold));
    plotLayout()->addElement(0, 0, title_);
    title_->setAutoMargins(QCP::msNone);
    title_->setTextFlags(Qt::AlignLeft | Qt::AlignVCenter);
    xAxis->setLabel("input channel");
    yAxis->setLabel("magnitude (log)");
    yAxis->setScaleType(QCPAxis::stLogarithmic);
    yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    inputMax_ = addGraph();
    inputMax_->setName("input absmax");
    inputMean_ = addGraph();
    inputMean_->setName("input mean |x|");
    weightMax_ = addGraph();
    weightMax_->setName("weight column absmax");
    threshold_ = new QCPItemStraightLine(this);
    note_ = new QCPItemText(this);
    note_->position->setType(QCPItemPosition::ptAxisRectRatio);
    note_->position->setCoords(0.5, 0.5);
    legend->setVisible(true);
    placeLegendAbove(this, 1);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    auto* boxes = new QWidget(this);
    auto* row = new QHBoxLayout(boxes);
    row->setContentsMargins(0, 0, 0, 0);
    sorted_ = new QCheckBox("Sorted", boxes);
    sorted_->setToolTip("Each series sorted, largest first (x = rank)");
    smoothed_ = new QCheckBox("After smoothing", boxes);
    smoothed_->setToolTip("SmoothQuant runs: inputs / s and weight columns · s");
    row->addWidget(sorted_);
    row->addWidget(smoothed_);
    connect(sorted_, &QCheckBox::toggled, this, [this] { rebuild(); });
    connect(smoothed_, &QCheckBox::toggled, this, [this] { rebuild(); });
    applyPalette();
}

void ChannelRangesChart::resizeEvent(QResizeEvent* event) {
    auto* boxes = sorted_->parentWidget();
    const QSize hint = boxes->sizeHint();
    boxes->setGeometry(width() - hint.width() - 4, 2, hint.width(), hint.height());
    fitTitle();
    fitNote();
    QCustomPlot::resizeEvent(event);
}

// The message (why nothing is drawn) in lines that fit the chart: never cut at its sides.
void ChannelRangesChart::fitNote() {
    const QMargins m = axisRect()->margins();
    const int room = std::max(120, width() - std::max(90, m.left() + m.right()) - 16);
    note_->setText(wrapToWidth(message_, note_->font(), room));
}

// The title runs left of the check boxes, elided in the middle when it does not fit there.
void ChannelRangesChart::fitTitle() {
    const int boxes = sorted_->parentWidget()->sizeHint().width() + 12;
    title_->setMargins(QMargins(8, 4, boxes, 4));
    const QFontMetrics metrics(title_->font());
    title_->setText(
        metrics.elidedText(title(), Qt::ElideMiddle, std::max(80, width() - boxes - 16)));
}

void ChannelRangesChart::applyPalette() {
    applyPlotStyle(this, QApplication::palette());
    rebuild();
}

void ChannelRangesChart::setRun(const RunPtr& run) {
    run_ = run;
    rebuild();
}

void ChannelRangesChart::setLayer(const std::string& name) {
    layer_ = name;
    rebuild();
}

void ChannelRangesChart::setSorted(bool sorted) {
    sorted_->setChecked(sorted);
    rebuild();
}

void ChannelRangesChart::setSmoothed(bool smoothed) {
    smoothed_->setChecked(smoothed);
    rebuild();
}

QString ChannelRangesChart::title() const {
    QString t = "Per-channel ranges";
    if (!layer_.empty()) t += " — " + QString::fromStdString(layer_);
    if (run_) t += " · " + runDisplayName(*run_);
    return t;
}

// Zeros cannot be drawn on a log axis: gaps (NaN) instead.
void ChannelRangesChart::fill(QCPGraph* graph, std::vector<double> values) const {
    if (sorted_->isChecked()) std::sort(values.begin(), values.end(), std::greater<double>());
    QVector<double> x(int(values.size())), y(int(values.size()));
    for (size_t i = 0; i < values.size(); ++i) {
        x[int(i)] = double(i);
        y[int(i)] = values[i] > 0 ? values[i] : std::numeric_limits<double>::quiet_NaN();
    }
    graph->setData(x, y, true);
}

void ChannelRangesChart::rebuild() {
    const bool dark = isDarkPalette(QApplication::palette());
    inputMax_->setPen(QPen(afterColor(dark), 1.5));
    inputMean_->setPen(QPen(afterColor(dark).lighter(dark ? 80 : 150), 1.0));
    weightMax_->setPen(QPen(beforeColor(dark), 1.5));
    threshold_->setPen(QPen(QColor(200, 40, 40), 1.2, Qt::DashLine));
    note_->setColor(palette().color(QPalette::WindowText));
    fitTitle();
    const LayerResult* l = run_ && !layer_.empty() ? findLayer(*run_, layer_) : nullptr;
    message_.clear();
    if (!run_)
        message_ = "No run";
    else if (!l)
        message_ = "No layer selected";
    else if (l->channelInputAbsMax.empty())
        message_ =
            "This run stored no per-channel ranges (they come from calibration "
            "statistics: GPTQ, AWQ and SmoothQuant runs)";
    const bool smoothable = l && !l->smoothScales.empty();
    smoothed_->setEnabled(smoothable);
    const bool smoothed = smoothable && smoothed_->isChecked();
    thresholdValue_ = run_ ? thresholdOf(*run_) : kDefaultThreshold;
    for (QCPGraph* g : {inputMax_, inputMean_, weightMax_}) g->data()->clear();
    fitNote();
    note_->setVisible(!message_.isEmpty());
    threshold_->setVisible(message_.isEmpty());
    if (message_.isEmpty()) {
        const size_t n = l->channelInputAbsMax.size();
        std::vector<double> xMax(n), xMean(n), wMax(n);
        for (size_t j = 0; j < n; ++j) {
            const double s = smoothed ? double(l->smoothScales[j]) : 1.0;
            xMax[j] = l->channelInputAbsMax[j] / s;
            xMean[j] = j < l->channelInputMeanAbs.size() ? l->channelInputMeanAbs[j] / s : 0.0;
            wMax[j] = j < l->channelWeightAbsMax.size() ? l->channelWeightAbsMax[j] * s : 0.0;
        }
        fill(inputMax_, xMax);
        fill(inputMean_, xMean);
        fill(weightMax_, wMax);
        threshold_->point1->setCoords(0, thresholdValue_);
        threshold_->point2->setCoords(1, thresholdValue_);
        xAxis->setLabel(sorted_->isChecked() ? "rank (largest first)" : "input channel");
        xAxis->setRange(-0.5, double(n) - 0.5);
        bool found = false;
        QCPRange y = inputMax_->getValueRange(found, QCP::sdPositive);
        bool wFound = false;
        const QCPRange w = weightMax_->getValueRange(wFound, QCP::sdPositive);
        bool mFound = false;
        const QCPRange m = inputMean_->getValueRange(mFound, QCP::sdPositive);
        if (wFound) y.expand(w);
        if (mFound) y.expand(m);
        y.expand(thresholdValue_);
        if (found) yAxis->setRange(y.lower / 2, y.upper * 2);
    }
    replot(QCustomPlot::rpQueuedReplot);
}

QString ChannelRangesChart::dataCsv() const {
    QString csv = "channel,input_absmax,input_mean_abs,weight_absmax,smooth_scale\n";
    const LayerResult* l = run_ && !layer_.empty() ? findLayer(*run_, layer_) : nullptr;
    if (!l) return csv;
    for (size_t j = 0; j < l->channelInputAbsMax.size(); ++j)
        csv += QString("%1,%2,%3,%4,%5\n")
                   .arg(j)
                   .arg(double(l->channelInputAbsMax[j]), 0, 'g', 8)
                   .arg(j < l->channelInputMeanAbs.size() ? l->channelInputMeanAbs[j] : 0.0f, 0,
                        'g', 8)
                   .arg(j < l->channelWeightAbsMax.size() ? l->channelWeightAbsMax[j] : 0.0f, 0,
                        'g', 8)
                   .arg(j < l->smoothScales.size() ? l->smoothScales[j] : 1.0f, 0, 'g', 8);
    return csv;
}

}  // namespace ql
