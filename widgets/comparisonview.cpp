#include "widgets/comparisonview.h"

#include "widgets/exportutils.h"
#include "widgets/plotstyle.h"
#include "widgets/tableroles.h"
#include "widgets/tableview.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStackedWidget>
#include <QVBoxLayout>
#include <QtConcurrent>

namespace ql {
namespace {

QString signedPercent(double ppl, double fp) {
    const double v = fp > 0 ? 100.0 * (ppl / fp - 1.0) : 0.0;
    return QString("%1%2 %").arg(v >= 0 ? "+" : "").arg(v, 0, 'f', 2);
}

// Perplexity of A and B: one float value and a B − A delta only when both were evaluated
// the same way; otherwise each run against its own float model, and no delta.
QString perplexityText(const RunResult& a, const RunResult& b) {
    const PerplexitySummary &pa = a.perplexity, &pb = b.perplexity;
    if (!pa.valid && !pb.valid) return {};
    if (!pa.valid || !pb.valid)
        return QString(" Perplexity: only %1 was evaluated.").arg(pa.valid ? "A" : "B");
    const QString diff = evalSettingDifference(a, b);
    if (diff.isEmpty())
        return QString(" Perplexity (%1): float %2, A %3 (%4), B %5 (%6); B − A = %7.")
            .arg(evalSettingLabel(a))
            .arg(pa.pplFp, 0, 'f', 3)
            .arg(pa.pplQ, 0, 'f', 3)
            .arg(signedPercent(pa.pplQ, pa.pplFp))
            .arg(pb.pplQ, 0, 'f', 3)
            .arg(signedPercent(pb.pplQ, pb.pplFp))
            .arg(pb.pplQ - pa.pplQ, 0, 'f', 3);
    return QString(
               " Perplexity was evaluated with different settings (%1), so A and B are not "
               "compared: A %2 vs float %3 (%4; %5), B %6 vs float %7 (%8; %9).")
        .arg(diff)
        .arg(pa.pplQ, 0, 'f', 3)
        .arg(pa.pplFp, 0, 'f', 3)
        .arg(signedPercent(pa.pplQ, pa.pplFp), evalSettingLabel(a))
        .arg(pb.pplQ, 0, 'f', 3)
        .arg(pb.pplFp, 0, 'f', 3)
        .arg(signedPercent(pb.pplQ, pb.pplFp), evalSettingLabel(b));
}

}  // namespace

ComparisonView::ComparisonView(QWidget* parent) : QWidget(parent) {
    comboA_ = new QComboBox;
    comboB_ = new QComboBox;
    // Long run names ("RTN INT4 g128 → channel ×35 sym · seq 512") must not widen the
    // window past a small screen: the combos shrink and show the whole name in the list.
    for (QComboBox* c : {comboA_, comboB_}) {
        c->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        c->setMinimumContentsLength(8);
    }
    kindCombo_ = new QComboBox;
    kindCombo_->addItems({"Weights", "Activations (input)", "Gradients"});
    overlayBox_ = new QCheckBox("Overlay");
    log_ = new QCheckBox("Log counts");
    summary_ = new QLabel;
    summary_->setWordWrap(true);
    // The two runs on a row of their own: beside the other controls a 1280-pixel window left
    // each combo ~120 px, too narrow for a run name ("RTN INT4 g32 → channel ×5 of 35 asym").
    auto* runsRow = new QHBoxLayout;
    runsRow->addWidget(new QLabel("A"));
    runsRow->addWidget(comboA_, 1);
    runsRow->addWidget(new QLabel("B"));
    runsRow->addWidget(comboB_, 1);
    auto* controls = new QHBoxLayout;
    controls->addWidget(kindCombo_);
    controls->addWidget(overlayBox_);
    controls->addWidget(log_);
    auto* exportButton = new QPushButton("Export…");
    exportButton->setToolTip(
        "PNG: this comparison (charts and table) as one image; CSV: the data of the chart on "
        "screen (the overlay, or chart A)");
    controls->addStretch(1);
    controls->addWidget(exportButton);
    connect(exportButton, &QPushButton::clicked, this, &ComparisonView::exportInteractive);

    chartA_ = new HistogramChart;
    chartB_ = new HistogramChart;
    overlay_ = new HistogramChart;
    auto* sideBySide = new QSplitter(Qt::Horizontal);
    sideBySide->addWidget(chartA_);
    sideBySide->addWidget(chartB_);
    stack_ = new QStackedWidget;
    stack_->addWidget(sideBySide);
    stack_->addWidget(overlay_);

    model_ = new ComparisonTableModel(this);
    proxy_ = new QSortFilterProxyModel(this);
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(SortRole);
    table_ = new TableView;
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->sortByColumn(-1, Qt::AscendingOrder);  // model order until a header is clicked
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);

    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(stack_);
    split->addWidget(table_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(runsRow);
    layout->addLayout(controls);
    layout->addWidget(summary_);
    layout->addWidget(split, 1);

    watcher_ = new QFutureWatcher<Common>(this);
    connect(watcher_, &QFutureWatcher<Common>::finished, this, [this] {
        const Common c = watcher_->result();
        inFlight_ = false;
        if (c.generation != generation_) {
            if (kind_ == Weights && runA() && runB())
                startCommonBins();  // the selection changed meanwhile
        } else if (c.ok) {
            showHistograms(c.beforeA, c.afterA, c.beforeB, c.afterB);
        } else {
            emit statusMessage("Common bins not available: " + c.error);
        }
    });
    connect(comboA_, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(comboB_, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(kindCombo_, &QComboBox::currentIndexChanged, this, [this](int i) { setKind(Kind(i)); });
    connect(overlayBox_, &QCheckBox::toggled, this, &ComparisonView::setOverlay);
    connect(log_, &QCheckBox::toggled, this, &ComparisonView::setLogScale);
    connect(chartA_->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            [this] { syncAxes(chartA_, chartB_); });
    connect(chartB_->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            [this] { syncAxes(chartB_, chartA_); });
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) {
                const std::string name = model_->layerAt(proxy_->mapToSource(current).row());
                if (!name.empty() && name != layer_) emit layerSelected(name);
            });
    refresh();
}

ComparisonView::~ComparisonView() {
    watcher_->waitForFinished();
}

RunPtr ComparisonView::runA() const {
    const int i = comboA_->currentIndex();
    return i >= 0 && i < int(runs_.size()) ? runs_[size_t(i)] : nullptr;
}

RunPtr ComparisonView::runB() const {
    const int i = comboB_->currentIndex();
    return i >= 0 && i < int(runs_.size()) ? runs_[size_t(i)] : nullptr;
}

void ComparisonView::setRuns(const RunList& runs) {
    const int a = comboA_->currentIndex(), b = comboB_->currentIndex();
    runs_ = runs;
    for (QComboBox* c : {comboA_, comboB_}) {
        QSignalBlocker block(c);
        c->clear();
        for (const RunPtr& r : runs_) {
            c->addItem(runDisplayName(*r));
            c->setItemData(c->count() - 1, runDisplayName(*r), Qt::ToolTipRole);
        }
    }
    const int n = int(runs_.size());
    setPair(a >= 0 && a < n ? a : 0, b >= 0 && b < n && b != a ? b : std::min(1, n - 1));
}

void ComparisonView::setPair(int a, int b) {
    QSignalBlocker blockA(comboA_), blockB(comboB_);
    comboA_->setCurrentIndex(a);
    comboB_->setCurrentIndex(b);
    refresh();
}

void ComparisonView::setLayer(const std::string& name) {
    layer_ = name;
    const int row = proxy_->mapFromSource(model_->index(model_->rowOfLayer(name), 0)).row();
    if (row >= 0 && table_->currentIndex().row() != row) {
        QSignalBlocker block(table_->selectionModel());
        table_->selectRow(row);
    }
    refresh();
}

void ComparisonView::setKind(Kind kind) {
    kind_ = kind;
    if (kindCombo_->currentIndex() != int(kind)) kindCombo_->setCurrentIndex(int(kind));
    refresh();
}

void ComparisonView::setOverlay(bool overlay) {
    if (overlayBox_->isChecked() != overlay) overlayBox_->setChecked(overlay);
    stack_->setCurrentIndex(overlay ? 1 : 0);
}

void ComparisonView::setLogScale(bool log) {
    if (log_->isChecked() != log) log_->setChecked(log);
    for (HistogramChart* c : {chartA_, chartB_, overlay_}) c->setLogScale(log);
    // Both sides keep one y scale.
    const double upper = std::max(chartA_->yAxis->range().upper, chartB_->yAxis->range().upper);
    chartA_->yAxis->setRangeUpper(upper);
    chartB_->yAxis->setRangeUpper(upper);
}

QCustomPlot* ComparisonView::currentExportWidget() const {
    return stack_->currentIndex() == 1 ? static_cast<QCustomPlot*>(overlay_) : chartA_;
}

QString ComparisonView::summaryText() const {
    return summary_->text();
}

void ComparisonView::exportInteractive() {
    const QString path = QFileDialog::getSaveFileName(
        this, "Export comparison", "comparison.png",
        "PNG image of the view (*.png);;CSV data of the chart on screen (*.csv)");
    if (path.isEmpty()) return;
    const ExportResult r = path.endsWith(".csv", Qt::CaseInsensitive)
                               ? writeTextFile(path, chartDataCsv(currentExportWidget()))
                               : exportWidgetPng(this, path);
    if (!r.ok) QMessageBox::warning(this, "Export failed", r.error);
}

QString ComparisonView::layerTitle() const {
    const RunPtr a = runA();
    const LayerResult* l = a ? findLayer(*a, layer_) : nullptr;
    return l ? QString::fromStdString(l->name) : QString::fromStdString(layer_);
}

bool ComparisonView::captured(const LayerResult& l) const {
    if (kind_ == Activations) return !l.activationBefore.empty();
    if (kind_ == Gradients) return !l.gradientBefore.empty();
    return true;
}

// A run without captures of this kind: its chart (and the overlay) says so by name.
void ComparisonView::showMissingCaptures(const LayerResult& la, const LayerResult& lb) {
    const QString what = kind_ == Activations ? "activations" : "gradients";
    const bool okA = captured(la), okB = captured(lb);
    const QString nameA = runDisplayName(*runA()), nameB = runDisplayName(*runB());
    auto message = [&](const QString& who, const QString& name) {
        return QString("No %1 captured in run %2 (%3)").arg(what, who, name);
    };
    auto pick = [this](const LayerResult& l, bool after) -> const Histogram& {
        if (kind_ == Activations) return after ? l.activationAfter : l.activationBefore;
        return after ? l.gradientAfter : l.gradientBefore;
    };
    auto show = [&](HistogramChart* chart, bool ok, const LayerResult& l, const QString& who,
                    const QString& name) {
        if (!ok) return chart->clearHistograms(message(who, name));
        chart->setTitle(QString("%1: %2 — %3").arg(who, name, layerTitle()));
        chart->setHistograms(pick(l, false), pick(l, true), "float", "quantized");
    };
    show(chartA_, okA, la, "A", nameA);
    show(chartB_, okB, lb, "B", nameB);
    overlay_->clearHistograms(!okA && !okB ? message("A", nameA) + " nor in run B"
                              : !okA       ? message("A", nameA)
                                           : message("B", nameB));
}

void ComparisonView::applyPalette() {
    const bool dark = isDarkPalette(QApplication::palette());
    for (HistogramChart* c : {chartA_, chartB_, overlay_}) {
        applyPlotStyle(c, QApplication::palette());
        c->setColors(beforeColor(dark), afterColor(dark));
    }
    overlay_->setColors(runColor(0, dark), runColor(1, dark));
    model_->setDarkPalette(dark);
}

void ComparisonView::refresh() {
    ++generation_;
    for (QComboBox* c : {comboA_, comboB_}) c->setToolTip(c->currentText());
    const RunPtr a = runA(), b = runB();
    model_->setRuns(a, b);
    const LayerResult* la = a ? findLayer(*a, layer_) : nullptr;
    const LayerResult* lb = b ? findLayer(*b, layer_) : nullptr;
    if (!a || !b) {
        summary_->setText("Comparison needs two runs of the model.");
    } else {
        QString text = QString("A = %1, B = %2.").arg(runDisplayName(*a), runDisplayName(*b));
        if (a->config.modelDir != b->config.modelDir)
            text += QString(
                        " A and B quantized different models (%1 vs %2): layers are "
                        "matched by name only.")
                        .arg(QString::fromStdString(a->modelName.empty() ? a->config.modelDir
                                                                         : a->modelName),
                             QString::fromStdString(b->modelName.empty() ? b->config.modelDir
                                                                         : b->modelName));
        text += perplexityText(*a, *b);
        if (!model_->outputSqnrComparable())
            text += QString(
                        " Output SQNR was measured on different calibration inputs (%1 vs "
                        "%2): its Δ column is left empty.")
                        .arg(calibrationLabel(*a), calibrationLabel(*b));
        summary_->setText(text);
    }
    if (!la || !lb) {
        for (HistogramChart* c : {chartA_, chartB_, overlay_})
            c->clearHistograms(a && b ? "Select a layer quantized in both runs"
                                      : "Two runs needed");
        return;
    }
    if (!captured(*la) || !captured(*lb)) return showMissingCaptures(*la, *lb);
    auto pick = [this](const LayerResult& l, bool after) -> const Histogram& {
        if (kind_ == Activations) return after ? l.activationAfter : l.activationBefore;
        if (kind_ == Gradients) return after ? l.gradientAfter : l.gradientBefore;
        return after ? l.weightAfter : l.weightBefore;
    };
    showHistograms(pick(*la, false), pick(*la, true), pick(*lb, false), pick(*lb, true));
    if (kind_ == Weights) startCommonBins();
}

void ComparisonView::showHistograms(const Histogram& bA, const Histogram& aA, const Histogram& bB,
                                    const Histogram& aB) {
    const QString nameA = runDisplayName(*runA()), nameB = runDisplayName(*runB());
    const QString layer = layerTitle();
    chartA_->setTitle(QString("A: %1 — %2").arg(nameA, layer));
    chartB_->setTitle(QString("B: %1 — %2").arg(nameB, layer));
    chartA_->setHistograms(bA, aA, "float", "quantized");
    chartB_->setHistograms(bB, aB, "float", "quantized");
    overlay_->setTitle(QString("Quantized A vs B over the float model — %1").arg(layer));
    overlay_->setHistograms(aA, aB, nameA, nameB);
    // The float model is the same for both runs (common bins: A's weights before).
    overlay_->setReference(bA, "float");
    // One y scale for both sides so bar heights compare directly.
    const double upper = std::max(chartA_->yAxis->range().upper, chartB_->yAxis->range().upper);
    chartA_->yAxis->setRangeUpper(upper);
    chartB_->yAxis->setRangeUpper(upper);
    syncAxes(chartA_, chartB_);
}

// Re-bins both runs' weights on their union range so the bins are identical.
void ComparisonView::startCommonBins() {
    if (watcher_->isRunning()) return;
    const RunPtr a = runA(), b = runB();
    const LayerResult* la = findLayer(*a, layer_);
    const LayerResult* lb = findLayer(*b, layer_);
    if (!la || !lb) return;
    double lo = std::min({la->weightBefore.lo, la->weightAfter.lo, lb->weightAfter.lo});
    double hi = std::max({la->weightBefore.hi, la->weightAfter.hi, lb->weightAfter.hi});
    if (!(hi > lo)) return;
    const int bins = std::max(8, la->weightBefore.bins());
    const int generation = generation_;
    const std::string layer = layer_;
    inFlight_ = true;
    watcher_->setFuture(QtConcurrent::run([=]() {
        Common c;
        c.generation = generation;
        try {
            c.beforeA = rebinWeights(*a, layer, "before", lo, hi, bins);
            c.afterA = rebinWeights(*a, layer, "after", lo, hi, bins);
            c.beforeB = c.beforeA;
            c.afterB = rebinWeights(*b, layer, "after", lo, hi, bins);
            c.ok = true;
        } catch (const std::exception& e) {
            c.ok = false;  // keep the stored histograms
            c.error = QString::fromUtf8(e.what());
        }
        return c;
    }));
}

void ComparisonView::syncAxes(HistogramChart* from, HistogramChart* to) {
    if (syncing_) return;
    syncing_ = true;
    to->xAxis->setRange(from->xAxis->range());
    to->replot(QCustomPlot::rpQueuedReplot);
    syncing_ = false;
}

}  // namespace ql
