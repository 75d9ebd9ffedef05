#include "widgets/comparisonview.h"

#include "widgets/exportutils.h"
#include "widgets/plotstyle.h"
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
#include <QSplitter>
#include <QStackedWidget>
#include <QVBoxLayout>
#include <QtConcurrent>

namespace ql {

ComparisonView::ComparisonView(QWidget* parent) : QWidget(parent) {
    comboA_ = new QComboBox;
    comboB_ = new QComboBox;
    kindCombo_ = new QComboBox;
    kindCombo_->addItems({"Weights", "Activations (input)", "Gradients"});
    overlayBox_ = new QCheckBox("Overlay");
    summary_ = new QLabel;
    summary_->setWordWrap(true);
    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel("A"));
    controls->addWidget(comboA_, 1);
    controls->addWidget(new QLabel("B"));
    controls->addWidget(comboB_, 1);
    controls->addWidget(kindCombo_);
    controls->addWidget(overlayBox_);
    auto* exportButton = new QPushButton("Export PNG…");
    exportButton->setToolTip("Save this comparison (charts and table) as one image");
    controls->addWidget(exportButton);
    connect(exportButton, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, "Export comparison",
                                                          "comparison.png", "PNG image (*.png)");
        if (path.isEmpty()) return;
        const ExportResult r = exportWidgetPng(this, path);
        if (!r.ok) QMessageBox::warning(this, "Export failed", r.error);
    });

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
    table_ = new TableView;
    table_->setModel(model_);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);

    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(stack_);
    split->addWidget(table_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
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
    connect(chartA_->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            [this] { syncAxes(chartA_, chartB_); });
    connect(chartB_->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            [this] { syncAxes(chartB_, chartA_); });
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) {
                const std::string name = model_->layerAt(current.row());
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
        for (const RunPtr& r : runs_) c->addItem(runDisplayName(*r));
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
    const int row = model_->rowOfLayer(name);
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
    const RunPtr a = runA(), b = runB();
    model_->setRuns(a, b);
    const LayerResult* la = a ? findLayer(*a, layer_) : nullptr;
    const LayerResult* lb = b ? findLayer(*b, layer_) : nullptr;
    if (!a || !b) {
        summary_->setText("Comparison needs two runs of the model.");
    } else {
        const auto& pa = a->perplexity;
        const auto& pb = b->perplexity;
        QString text = QString("A = %1, B = %2.").arg(runDisplayName(*a), runDisplayName(*b));
        if (pa.valid && pb.valid)
            text += QString(" Perplexity: float %1, A %2, B %3 (B − A = %4).")
                        .arg(pa.pplFp, 0, 'f', 3)
                        .arg(pa.pplQ, 0, 'f', 3)
                        .arg(pb.pplQ, 0, 'f', 3)
                        .arg(pb.pplQ - pa.pplQ, 0, 'f', 3);
        summary_->setText(text);
    }
    if (!la || !lb) {
        for (HistogramChart* c : {chartA_, chartB_, overlay_})
            c->clearHistograms(a && b ? "Select a layer quantized in both runs"
                                      : "Two runs needed");
        return;
    }
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
    chartA_->setTitle("A: " + nameA);
    chartB_->setTitle("B: " + nameB);
    chartA_->setHistograms(bA, aA, "float", "quantized");
    chartB_->setHistograms(bB, aB, "float", "quantized");
    overlay_->setTitle("Quantized: A vs B");
    overlay_->setHistograms(aA, aB, nameA, nameB);
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
