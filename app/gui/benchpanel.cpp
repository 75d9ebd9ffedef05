#include "app/gui/benchpanel.h"

#include "app/gui/guardedjob.h"
#include "app/gui/kernelchoices.h"
#include "base/error.h"
#include "widgets/inferbenchchart.h"
#include "widgets/inferbenchtablemodel.h"
#include "widgets/tableview.h"

#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QScrollBar>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <algorithm>

namespace ql {

BenchPanel::BenchPanel(QWidget* parent) : QWidget(parent) {
    watcher_ = new QFutureWatcher<Outcome>(this);
    connect(watcher_, &QFutureWatcher<Outcome>::finished, this, &BenchPanel::onFinished);
    promptTokens_ = new QSpinBox;
    promptTokens_->setRange(1, 32768);
    promptTokens_->setValue(64);
    promptTokens_->setPrefix("prompt ");
    promptTokens_->setToolTip("Prefill length in tokens (fixed ids: the weights are measured)");
    genTokens_ = new QSpinBox;
    genTokens_->setRange(1, 4096);
    genTokens_->setValue(16);
    genTokens_->setPrefix("decode ");
    genTokens_->setToolTip("Decoded tokens after the prefill (greedy, KV cache)");
    packed_ = new QCheckBox("Packed kernels");
    packed_->setChecked(true);
    packed_->setToolTip(
        "Runs compute from their packed INT8/INT4 codes where a kernel exists; "
        "off: every run as its dequantized float32 model");
    activations_ = newActivationsBox();
    head_ = newHeadBox();
    head_->setToolTip(head_->toolTip() +
                      " The table's tooltip gives what that costs: the KL against the float32 "
                      "head over the prompt.");
    bench_ = new QPushButton("Bench");
    cancel_ = new QPushButton("Cancel");
    status_ = new QLabel;
    status_->setWordWrap(true);
    caption_ = new QLabel;
    caption_->setWordWrap(true);
    caption_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    model_ = new InferBenchTableModel(this);
    table_ = new TableView;
    table_->setModel(model_);
    // The models share the width (long run names elide; their tooltips are whole).
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    table_->horizontalHeader()->setMinimumSectionSize(110);
    table_->verticalHeader()->setVisible(true);  // the measures
    table_->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->setTextElideMode(Qt::ElideMiddle);
    // "Weights as" ("packed int8 (RTN INT8 channel sym) + f32 head") gets two lines to wrap
    // in before it elides (its tooltip is whole); the other measures one.
    const int rowHeight = std::max(table_->verticalHeader()->defaultSectionSize(),
                                   table_->fontMetrics().height() + 4);
    const int weightsAsHeight = rowHeight + table_->fontMetrics().lineSpacing();
    table_->setWordWrap(true);
    auto twoLines = [this, weightsAsHeight] {
        if (table_->verticalHeader()->count() <= InferBenchTableModel::ColWeightsAs) return;
        table_->verticalHeader()->setSectionResizeMode(InferBenchTableModel::ColWeightsAs,
                                                       QHeaderView::Fixed);
        table_->verticalHeader()->resizeSection(InferBenchTableModel::ColWeightsAs,
                                                weightsAsHeight);
    };
    connect(model_, &QAbstractItemModel::modelReset, this, twoLines);
    twoLines();
    // Room for the header, the seven measures and a scroll bar (many runs), no more: the
    // chart below takes the rest. Measured again when a result sets the rows' heights.
    auto fitHeight = [this, rowHeight, weightsAsHeight] {
        const int rows =
            std::max(table_->verticalHeader()->length(),
                     rowHeight * (InferBenchTableModel::ColumnCount - 1) + weightsAsHeight);
        table_->setMinimumHeight(table_->horizontalHeader()->sizeHint().height() + rows +
                                 table_->horizontalScrollBar()->sizeHint().height() +
                                 2 * table_->frameWidth() + 2);
    };
    connect(table_->verticalHeader(), &QHeaderView::sectionResized, this, fitHeight);
    fitHeight();
    auto* settings = new QHBoxLayout;
    settings->addWidget(promptTokens_);
    settings->addWidget(genTokens_);
    settings->addStretch(1);
    // How the runs compute, on a row of its own (the panel shares the window's width).
    auto* kernels = new QHBoxLayout;
    kernels->addWidget(packed_);
    kernels->addWidget(activations_);
    kernels->addWidget(head_);
    kernels->addStretch(1);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(bench_);
    buttons->addWidget(cancel_);
    buttons->addWidget(status_, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addLayout(settings);
    layout->addLayout(kernels);
    layout->addLayout(buttons);
    chart_ = new InferBenchChart;
    // The table's numbers first (its seven rows), the chart takes the rest.
    auto* tableAndCaption = new QWidget;
    auto* top = new QVBoxLayout(tableAndCaption);
    top->setContentsMargins(0, 0, 0, 0);
    top->addWidget(table_, 1);
    top->addWidget(caption_);
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(tableAndCaption);
    split->addWidget(chart_);
    split->setChildrenCollapsible(false);
    split->setStretchFactor(0, 0);
    split->setStretchFactor(1, 1);
    split->setSizes({1, 100000});  // the table at its minimum (all its rows), the chart the rest
    layout->addWidget(split, 1);
    connect(packed_, &QCheckBox::toggled, this, &BenchPanel::updateEnabled);
    connect(bench_, &QPushButton::clicked, this, &BenchPanel::start);
    connect(cancel_, &QPushButton::clicked, this, &BenchPanel::cancel);
    updateEnabled();
}

BenchPanel::~BenchPanel() {
    cancel();
    watcher_->waitForFinished();
}

void BenchPanel::setModel(const QString& modelDir, const QString& whyNot) {
    modelDir_ = modelDir;
    modelProblem_ = whyNot;
    updateEnabled();
}

void BenchPanel::setRuns(const RunList& runs) {
    runs_ = runs;
}

void BenchPanel::setBusy(const QString& why) {
    busy_ = why;
    updateEnabled();
}

QString BenchPanel::blockedReason() const {
    if (running_) return "Benchmarking…";
    if (!busy_.isEmpty()) return busy_;
    if (modelDir_.isEmpty()) return "Open a model to measure its speed.";
    if (!modelProblem_.isEmpty()) return "This model cannot run: " + modelProblem_;
    return {};
}

InferBenchRequest BenchPanel::request() const {
    InferBenchRequest r;
    r.modelDir = modelDir_.toStdString();
    r.runs = runs_;
    r.promptTokens = promptTokens_->value();
    r.genTokens = genTokens_->value();
    r.packed = packed_->isChecked();
    // int8 activations exist only in the packed kernels
    r.int8Activations = r.packed && int8ActivationsChosen(activations_);
    r.head = r.packed ? headChosen(head_) : HeadFormat::Float32;
    return r;
}

void BenchPanel::updateEnabled() {
    const QString blocked = blockedReason();
    bench_->setEnabled(blocked.isEmpty());
    bench_->setToolTip(blocked);
    cancel_->setEnabled(running_);
    for (QWidget* w : std::initializer_list<QWidget*>{promptTokens_, genTokens_, packed_})
        w->setEnabled(!running_);
    activations_->setEnabled(!running_ && packed_->isChecked());
    head_->setEnabled(!running_ && packed_->isChecked());
    if (!running_)
        status_->setText(!blocked.isEmpty()    ? blocked
                         : !outcome_.isEmpty() ? outcome_
                                               : QString("Float model and the checked runs: "
                                                         "speed and memory of inference."));
}

bool BenchPanel::start() {
    const QString blocked = blockedReason();
    if (!blocked.isEmpty()) {
        status_->setText(blocked);
        return false;
    }
    request_ = request();
    benched_ = runs_;
    running_ = true;
    error_.clear();
    outcome_.clear();
    cancelFlag_ = std::make_shared<std::atomic<bool>>(false);
    status_->setText("Benchmarking (the machine's read bandwidth first)…");
    updateEnabled();
    emit runningChanged(true);
    auto flag = cancelFlag_;
    const ProgressCallback progress = [flag](const Progress&) { return !flag->load(); };
    watcher_->setFuture(QtConcurrent::run([r = request_, progress, flag]() {
        return guardedJob<Outcome>(
            [&](Outcome& out) {
                out.result = std::make_shared<const InferBenchResult>(benchInference(r, progress));
            },
            *flag, "while benchmarking");
    }));
    return true;
}

void BenchPanel::cancel() {
    if (cancelFlag_) *cancelFlag_ = true;
}

void BenchPanel::onFinished() {
    const Outcome out = watcher_->result();
    running_ = false;
    if (out.result) {
        model_->setResult(out.result, benched_, request_.promptTokens, request_.genTokens);
        caption_->setText(model_->caption());
        chart_->setResult(out.result, benched_);
        outcome_ = QString("Measured in %1 s.").arg(out.seconds, 0, 'f', 1);
    } else if (out.cancelled) {
        outcome_ = "Cancelled; the table keeps the last complete measurement.";
    } else {
        error_ = out.error;
        outcome_ = "<b>Benchmark failed:</b> " + error_.toHtmlEscaped();
    }
    updateEnabled();
    emit runningChanged(false);
    emit benchFinished(bool(out.result));
}

}  // namespace ql
