#include "widgets/histogramview.h"

#include "widgets/plotstyle.h"

#include "base/error.h"
#include "quant/recipe.h"

#include <QApplication>
#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <cmath>

namespace ql {

HistogramView::HistogramView(QWidget* parent) : QWidget(parent) {
    weights_ = new HistogramChart;
    error_ = new HistogramChart;
    activations_ = new HistogramChart;
    outputs_ = new HistogramChart;
    gradients_ = new HistogramChart;
    weights_->setXLabel("weight value");
    error_->setXLabel("w − ŵ");
    activations_->setXLabel("layer input value");
    outputs_->setXLabel("layer output value");
    gradients_->setXLabel("weight gradient value");

    auto split = [](QWidget* top, QWidget* bottom, int a, int b) {
        auto* s = new QSplitter(Qt::Vertical);
        s->addWidget(top);
        s->addWidget(bottom);
        s->setStretchFactor(0, a);
        s->setStretchFactor(1, b);
        return s;
    };
    tabs_ = new QTabWidget;
    tabs_->addTab(split(weights_, error_, 3, 2), "Weights");
    tabs_->addTab(split(activations_, outputs_, 1, 1), "Activations");
    tabs_->addTab(gradients_, "Gradients");

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(buildControls());
    layout->addWidget(tabs_, 1);

    rebinTimer_ = new QTimer(this);
    rebinTimer_->setSingleShot(true);
    rebinTimer_->setInterval(200);
    connect(rebinTimer_, &QTimer::timeout, this, &HistogramView::startRebin);
    watcher_ = new QFutureWatcher<Rebinned>(this);
    connect(watcher_, &QFutureWatcher<Rebinned>::finished, this, &HistogramView::rebinFinished);
    connect(weights_, &HistogramChart::xRangeChanged, this, &HistogramView::scheduleRebin);
    // Activations: the run keeps a random sample of the inputs; zooming re-bins it.
    activationTimer_ = new QTimer(this);
    activationTimer_->setSingleShot(true);
    activationTimer_->setInterval(150);
    connect(activationTimer_, &QTimer::timeout, this, &HistogramView::rebinActivations);
    connect(activations_, &HistogramChart::xRangeChanged, activationTimer_,
            qOverload<>(&QTimer::start));
    // The error chart zooms on its own range; its rebin follows the weight chart's.
    refresh();
}

HistogramView::~HistogramView() {
    watcher_->waitForFinished();
}

QWidget* HistogramView::buildControls() {
    auto* bar = new QWidget;
    auto* h = new QHBoxLayout(bar);
    h->setContentsMargins(4, 2, 4, 2);
    log_ = new QCheckBox("Log counts");
    bins_ = new QSpinBox;
    bins_->setRange(8, 2048);
    bins_->setValue(128);
    bins_->setKeyboardTracking(false);
    bins_->setToolTip(
        "Weights are re-binned from the real values (8-2048 bins). Activations and gradients "
        "are stored as histograms (128 bins by default): more bins than stored cannot be shown "
        "for them, fewer merge stored bins.");
    binsNote_ = new QLabel;
    binsNote_->setVisible(false);
    binsNote_->setToolTip(bins_->toolTip());
    showLevels_ = new QCheckBox("Levels");
    showLevels_->setChecked(true);
    showLevels_->setToolTip("Quantization levels of the selected row and group (weights tab)");
    row_ = new QSpinBox;
    group_ = new QSpinBox;
    row_->setPrefix("row ");
    group_->setPrefix("group ");
    auto* reset = new QPushButton("Reset zoom");
    info_ = new QLabel;
    info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    info_->setSizePolicy(QSizePolicy::Ignored,
                         QSizePolicy::Preferred);  // long names never widen the window
    h->addWidget(log_);
    h->addWidget(new QLabel("Bins"));
    h->addWidget(bins_);
    h->addWidget(binsNote_);
    h->addWidget(reset);
    h->addSpacing(12);
    h->addWidget(showLevels_);
    h->addWidget(row_);
    h->addWidget(group_);
    h->addSpacing(12);
    h->addWidget(info_, 1);
    connect(log_, &QCheckBox::toggled, this, &HistogramView::setLogScale);
    connect(bins_, &QSpinBox::valueChanged, this, [this] { refresh(); });
    connect(showLevels_, &QCheckBox::toggled, this, &HistogramView::refreshLevels);
    connect(row_, &QSpinBox::valueChanged, this, &HistogramView::refreshLevels);
    connect(group_, &QSpinBox::valueChanged, this, &HistogramView::refreshLevels);
    connect(reset, &QPushButton::clicked, this, [this] { refresh(); });
    return bar;
}

QList<HistogramChart*> HistogramView::charts() const {
    return {weights_, error_, activations_, outputs_, gradients_};
}

void HistogramView::setRun(RunPtr run) {
    run_ = std::move(run);
    refresh();
}

void HistogramView::setLayer(const std::string& name) {
    layer_ = name;
    refresh();
}

void HistogramView::setLogScale(bool log) {
    if (log_->isChecked() != log) log_->setChecked(log);
    for (HistogramChart* c : charts()) c->setLogScale(log);
    emit logScaleChanged(log);
}

void HistogramView::setBinCount(int bins) {
    bins_->setValue(bins);
}
int HistogramView::binCount() const {
    return bins_->value();
}

void HistogramView::setLevelGroup(int row, int group) {
    row_->setValue(row);
    group_->setValue(group);
}

void HistogramView::setCurrentTab(Tab tab) {
    tabs_->setCurrentIndex(int(tab));
}

void HistogramView::applyPalette() {
    const bool dark = isDarkPalette(QApplication::palette());
    for (HistogramChart* c : charts()) {
        c->setColors(beforeColor(dark), afterColor(dark));
        applyPlotStyle(c, QApplication::palette());
    }
    refreshLevels();
}

Histogram HistogramView::mergeBins(const Histogram& h, int bins) {
    if (h.empty() || bins <= 0 || bins >= h.bins()) return h;
    const int factor = (h.bins() + bins - 1) / bins;
    const int merged = (h.bins() + factor - 1) / factor;
    Histogram out = h;
    out.counts.assign(size_t(merged), 0);
    for (int i = 0; i < h.bins(); ++i) out.counts[size_t(i / factor)] += h.counts[size_t(i)];
    out.hi = h.lo + h.binWidth() * factor * merged;
    return out;
}

void HistogramView::refresh() {
    ++generation_;  // any rebin in flight is now stale
    const LayerResult* l = run_ ? findLayer(*run_, layer_) : nullptr;
    if (!l) {
        const QString msg = !run_ ? "No run yet: start one in the Runs panel"
                                  : "Select a layer that this run quantized";
        for (HistogramChart* c : charts()) c->clearHistograms(msg);
        info_->clear();
        updateBinsNote(nullptr);
        return;
    }
    refreshWeights(*l);
    refreshActivations(*l);
    refreshGradients(*l);
    updateBinsNote(l);
    const int64_t gpr = l->groupSize > 0 ? (l->cols + l->groupSize - 1) / l->groupSize : 1;
    row_->setRange(0, int(std::max<int64_t>(0, l->rows - 1)));
    group_->setRange(0, int(std::max<int64_t>(0, gpr - 1)));
    // NF4/FP4 code a 16-value codebook scaled per block of the flattened weight: there is
    // no uniform grid per row or group to draw, so the level controls are off for them.
    const bool grid = !isCodebookLayer(*l);
    group_->setEnabled(grid && gpr > 1 && !l->perTensor);
    row_->setEnabled(grid && !l->perTensor);
    showLevels_->setEnabled(grid);
    showLevels_->setToolTip(grid ? QString("Quantization levels of the selected row and group "
                                           "(weights tab)")
                                 : QString("A 4-bit codebook scaled per block: no grid levels"));
    refreshLevels();
    info_->setToolTip(QString::fromStdString(l->name));
    info_->setText(QString("%1 · %2 · W SQNR %3 dB")
                       .arg(QString::fromStdString(l->name), QString::fromStdString(l->method),
                            formatDb(l->weightSqnrDb)));
    // A bin count other than the stored one needs real data: re-bin the weights.
    if (l->weightBefore.bins() != bins_->value()) scheduleRebin();
}

void HistogramView::refreshWeights(const LayerResult& l) {
    weights_->setTitle("Weights" + titleSuffix(l));
    weights_->setHistograms(l.weightBefore, l.weightAfter, "float", "quantized");
    error_->setTitle("Quantization error w − ŵ" + titleSuffix(l));
    error_->setHistograms(l.weightError, {}, "error", {});
}

// Activations and gradients cannot be re-binned finer than stored: say so next to the
// bin control rather than silently showing fewer bins.
void HistogramView::updateBinsNote(const LayerResult* l) {
    int stored = 0;
    if (l)
        for (const Histogram* h : {&l->activationBefore, &l->outputBefore, &l->gradientBefore})
            if (!h->empty() && h->bins() < bins_->value())
                stored = stored == 0 ? h->bins() : std::min(stored, h->bins());
    binsNote_->setVisible(stored > 0);
    binsNote_->setText(stored > 0 ? QString("act./grad.: %1 bins stored").arg(stored) : QString());
}

// Exported images stand alone: every title names the layer and the run.
QString HistogramView::titleSuffix(const LayerResult& l) const {
    return QString(" — %1 · %2").arg(QString::fromStdString(l.name), runDisplayName(*run_));
}

static QString storedBinsSuffix(const Histogram& h, int asked) {
    return !h.empty() && h.bins() < asked
               ? QString(" (%1 stored bins; %2 asked)").arg(h.bins()).arg(asked)
               : QString();
}

void HistogramView::refreshActivations(const LayerResult& l) {
    const int bins = bins_->value();
    if (l.activationBefore.empty() && l.outputBefore.empty()) {
        activations_->clearHistograms("This run did not capture activations");
        outputs_->clearHistograms("");
        return;
    }
    activations_->setTitle("Layer input activations" + titleSuffix(l) +
                           storedBinsSuffix(l.activationBefore, bins));
    activations_->setHistograms(mergeBins(l.activationBefore, bins),
                                mergeBins(l.activationAfter, bins), "float model",
                                "quantized model");
    showClipRange(l);
    outputs_->setTitle("Layer output activations" + titleSuffix(l) +
                       storedBinsSuffix(l.outputBefore, bins));
    outputs_->setHistograms(mergeBins(l.outputBefore, bins), mergeBins(l.outputAfter, bins),
                            "float model", "quantized model");
}

// Where the layer's inputs are quantized: the static range's clip lines, or why no single
// range exists (dynamic per-token scales, SmoothQuant's per-channel clamp).
void HistogramView::showClipRange(const LayerResult& l) {
    Recipe recipe;
    try {
        recipe = Recipe::parse(l.method);
    } catch (const Error&) {  // a checkpoint's own type name: weights only
    }
    QString note;
    if (!recipe.quantizesActivations() && recipe.outlierThreshold <= 0.0)
        note.clear();  // weights only: inputs are not quantized, nothing to draw
    else if (recipe.outlierThreshold > 0.0)
        note =
            "LLM.int8(): inputs int8 per token (each token its own absmax), outlier "
            "columns fp16 — no single clip range";
    else if (recipe.actPerToken)
        note = QString(
                   "Inputs int%1 per token (dynamic): each token clips at its own range — "
                   "no single clip range")
                   .arg(recipe.actBits);
    else if (recipe.smooth)
        note = "SmoothQuant: inputs clip as x / s, a range per channel — not drawn";
    else
        note = "Static input range not stored in this run (saved before QuantLens kept it)";
    const QString name = QString("int%1 clip range (per tensor, %2)")
                             .arg(recipe.actBits)
                             .arg(recipe.actSymmetric ? "sym" : "asym");
    activations_->setClipRange(l.activationClipLo, l.activationClipHi, name, note);
}

void HistogramView::refreshGradients(const LayerResult& l) {
    if (l.gradientBefore.empty()) {
        gradients_->clearHistograms("This run did not capture gradients");
        return;
    }
    gradients_->setTitle(QString("Weight gradients%1 (‖g‖ float %2, quantized %3)%4")
                             .arg(titleSuffix(l))
                             .arg(l.gradientNormBefore, 0, 'g', 4)
                             .arg(l.gradientNormAfter, 0, 'g', 4)
                             .arg(storedBinsSuffix(l.gradientBefore, bins_->value())));
    gradients_->setHistograms(mergeBins(l.gradientBefore, bins_->value()),
                              mergeBins(l.gradientAfter, bins_->value()), "float model",
                              "quantized model");
}

bool HistogramView::isCodebookLayer(const LayerResult& l) {
    return l.weightAfterSource == "codebook";
}

std::vector<double> HistogramView::levels() const {
    const LayerResult* l = run_ ? findLayer(*run_, layer_) : nullptr;
    if (!l || !showLevels_->isChecked() || isCodebookLayer(*l) || l->bits < 2 || l->bits > 8 ||
        l->scales.empty())
        return {};
    const int64_t gpr = l->groupSize > 0 ? (l->cols + l->groupSize - 1) / l->groupSize : 1;
    const size_t index = l->perTensor ? 0 : size_t(row_->value() * gpr + group_->value());
    if (index >= l->scales.size()) return {};
    const double scale = l->scales[index];
    const double zero = index < l->zeros.size() ? l->zeros[index] : 0.0;
    const int qmin = l->symmetric ? -(1 << (l->bits - 1)) : 0;
    const int qmax = l->symmetric ? (1 << (l->bits - 1)) - 1 : (1 << l->bits) - 1;
    std::vector<double> xs;
    for (int q = qmin; q <= qmax; ++q) xs.push_back((q - zero) * scale);
    return xs;
}

void HistogramView::refreshLevels() {
    weights_->setLevels(levels());
}

void HistogramView::scheduleRebin() {
    if (run_ && findLayer(*run_, layer_)) rebinTimer_->start();
}

// Counts from the sample, scaled to the full number of values so that the y axis stays
// comparable with the exact histogram shown before zooming.
void HistogramView::rebinActivations() {
    const LayerResult* l = run_ ? findLayer(*run_, layer_) : nullptr;
    if (!l || l->activationSampleBefore.empty()) return;
    const QCPRange r = activations_->xAxis->range();
    const int bins = bins_->value();
    auto fromSample = [&](const std::vector<float>& sample, const Histogram& full) {
        Histogram h = computeHistogram(sample.data(), sample.size(), r.lower, r.upper, bins, 1);
        const double factor = double(full.stats.count) / double(std::max<size_t>(1, sample.size()));
        if (factor > 1.0)
            for (uint64_t& c : h.counts) c = uint64_t(std::llround(double(c) * factor));
        return h;
    };
    const Histogram after = l->activationSampleAfter.empty()
                                ? Histogram()
                                : fromSample(l->activationSampleAfter, l->activationAfter);
    activations_->setTitle(
        QString("Layer input activations%1 (zoomed: estimated from a %2-value sample)")
            .arg(titleSuffix(*l))
            .arg(l->activationSampleBefore.size()));
    activations_->setHistograms(fromSample(l->activationSampleBefore, l->activationBefore), after,
                                "float model", "quantized model", true);
}

bool HistogramView::rebinPending() const {
    return rebinTimer_->isActive() || inFlight_;
}

void HistogramView::startRebin() {
    if (inFlight_) {  // one at a time; the newest request runs next
        rebinQueued_ = true;
        return;
    }
    const QCPRange range = weights_->xAxis->range();
    const int bins = bins_->value();
    const int generation = generation_;
    const RunPtr run = run_;
    const std::string layer = layer_;
    const LayerResult* l = run ? findLayer(*run, layer) : nullptr;
    if (!l) return;
    const double errLo = l->weightError.lo, errHi = l->weightError.hi;
    inFlight_ = true;
    watcher_->setFuture(QtConcurrent::run([=]() {
        Rebinned r;
        r.generation = generation;
        try {
            r.before = rebinWeights(*run, layer, "before", range.lower, range.upper, bins);
            r.after = rebinWeights(*run, layer, "after", range.lower, range.upper, bins);
            if (errHi > errLo) r.error = rebinWeights(*run, layer, "error", errLo, errHi, bins);
        } catch (const std::exception& e) {
            r.errorMessage = QString::fromUtf8(e.what());
        }
        return r;
    }));
}

void HistogramView::rebinFinished() {
    const Rebinned r = watcher_->result();
    inFlight_ = false;
    if (rebinQueued_) {
        rebinQueued_ = false;
        startRebin();
        return;
    }
    if (r.generation != generation_) return;
    if (!r.errorMessage.isEmpty()) {
        emit statusMessage("Re-binning not available: " + r.errorMessage);
        return;
    }
    weights_->setHistograms(r.before, r.after, "float", "quantized", true);
    if (!r.error.empty()) error_->setHistograms(r.error, {}, "error", {}, false);
}

}  // namespace ql
