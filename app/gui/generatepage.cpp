#include "app/gui/generatepage.h"

#include "app/gui/benchpanel.h"
#include "app/gui/generatetips.h"
#include "app/gui/guardedjob.h"
#include "app/gui/kernelchoices.h"
#include "base/error.h"
#include "widgets/inferbenchchart.h"
#include "widgets/plotstyle.h"
#include "widgets/tokenklchart.h"
#include "widgets/tokentextview.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QVBoxLayout>
#include <QtConcurrent>

namespace ql {

namespace {
constexpr int kRunRole = Qt::UserRole + 1;  // a row's run, by address
}

GeneratePage::GeneratePage(QWidget* parent) : QWidget(parent) {
    watcher_ = new QFutureWatcher<Outcome>(this);
    connect(watcher_, &QFutureWatcher<Outcome>::finished, this, &GeneratePage::onFinished);
    auto* columns = new QWidget;
    columnsLayout_ = new QGridLayout(columns);
    columnsLayout_->setContentsMargins(0, 0, 0, 0);
    columnsLayout_->setVerticalSpacing(2);
    columnsLayout_->setRowStretch(1, 1);
    auto* scroll = new QScrollArea;
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);  // each text scrolls itself
    scroll->setWidget(columns);
    chart_ = new TokenKlChart;
    auto* right = new QSplitter(Qt::Vertical);
    right->addWidget(scroll);
    right->addWidget(chart_);
    right->setStretchFactor(0, 3);
    right->setStretchFactor(1, 2);
    right->setChildrenCollapsible(false);
    right->setSizes({300, 200});  // the texts first: the chart is their summary
    bench_ = new BenchPanel;
    sections_ = new QTabWidget;
    sections_->setDocumentMode(true);
    sections_->addTab(right, "Text");
    sections_->addTab(bench_, "Speed and memory");
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addWidget(buildSettings());
    layout->addWidget(sections_, 1);
    // One job at a time: a benchmark beside a generation would measure neither.
    connect(bench_, &BenchPanel::runningChanged, this, &GeneratePage::updateEnabled);
    makeColumns({"float"});
    updateEnabled();
}

GeneratePage::~GeneratePage() {
    cancel();
    watcher_->waitForFinished();
}

QWidget* GeneratePage::buildSettings() {
    auto* box = new QGroupBox("Generate");
    box->setMaximumWidth(220);
    auto* form = new QFormLayout(box);
    prompt_ = new QPlainTextEdit("Once upon a time");
    prompt_->setPlaceholderText("Prompt");
    prompt_->setFixedHeight(60);
    maxTokens_ = new QSpinBox;
    maxTokens_->setRange(1, 4096);
    maxTokens_->setValue(48);
    sampling_ = new QComboBox;
    sampling_->addItems({"Greedy", "Sample"});
    sampling_->setToolTip(
        "Greedy: the most likely token; Sample: temperature, top-k, top-p, "
        "seeded (every model draws with the same seed)");
    temperature_ = new QDoubleSpinBox;
    temperature_->setRange(0.01, 10.0);
    temperature_->setSingleStep(0.1);
    temperature_->setValue(0.8);
    temperature_->setPrefix("T ");
    topK_ = new QSpinBox;
    topK_->setRange(0, 100000);
    topK_->setValue(40);
    topK_->setPrefix("k ");
    topK_->setToolTip("top-k: keep the K most likely tokens (0: all)");
    topP_ = new QDoubleSpinBox;
    topP_->setRange(0.01, 1.0);
    topP_->setSingleStep(0.05);
    topP_->setValue(0.95);
    topP_->setPrefix("p ");
    topP_->setToolTip("top-p: the smallest set of tokens whose probability reaches p");
    seed_ = new QSpinBox;
    seed_->setRange(0, 1 << 30);
    seed_->setPrefix("seed ");
    chat_ = new QCheckBox("Chat template");
    chat_->setToolTip(
        "Format the prompt as a user turn with the model's chat template "
        "(tokenizer_config.json)");
    packed_ = new QCheckBox("Runs on packed kernels");
    packed_->setToolTip(
        "Each run decodes from its packed integer codes (the kernels the Speed and memory tab "
        "measures), "
        "so its tokens/s is the quantized model's; one model is loaded at a time. Unchecked, "
        "a run's weights are dequantized into the float model (simulated) and no speed is "
        "shown for it.");
    activations_ = newActivationsBox(true);
    activations_->setToolTip(activations_->toolTip() +
                             " With int8 activations a run's per-token KL comes from one-token "
                             "decode steps (the path that quantizes them), not one pass.");
    head_ = newHeadBox(true);
    head_->setToolTip(head_->toolTip() + " A run's KL then includes its head's.");
    connect(packed_, &QCheckBox::toggled, this, &GeneratePage::updateEnabled);
    runsList_ = new QListWidget;
    runsList_->setMinimumHeight(56);  // takes the height the form leaves
    runsList_->setToolTip("The runs generated beside the float model");
    generate_ = new QPushButton("Generate");
    cancel_ = new QPushButton("Cancel");
    status_ = new QLabel;
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(prompt_);
    form->addRow("New tokens", maxTokens_);
    form->addRow("Decoding", sampling_);
    auto* tk = new QHBoxLayout;
    tk->addWidget(temperature_);
    tk->addWidget(topK_);
    auto* ps = new QHBoxLayout;
    ps->addWidget(topP_);
    ps->addWidget(seed_);
    form->addRow(tk);
    form->addRow(ps);
    form->addRow(chat_);
    form->addRow(packed_);
    form->addRow("Activations", activations_);
    form->addRow("Output head", head_);
    form->addRow(new QLabel("Runs beside the float model:"));
    form->addRow(runsList_);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(generate_, 1);
    buttons->addWidget(cancel_);
    form->addRow(buttons);
    form->addRow(status_);
    connect(sampling_, &QComboBox::currentIndexChanged, this, &GeneratePage::updateEnabled);
    connect(prompt_, &QPlainTextEdit::textChanged, this, &GeneratePage::updateEnabled);
    connect(runsList_, &QListWidget::itemChanged, this, [this] { bench_->setRuns(checkedRuns()); });
    connect(generate_, &QPushButton::clicked, this, &GeneratePage::start);
    connect(cancel_, &QPushButton::clicked, this, &GeneratePage::cancel);
    return box;
}

void GeneratePage::setModel(const QString& modelDir, const QString& whyNot) {
    modelDir_ = modelDir;
    modelProblem_ = whyNot;
    bench_->setModel(modelDir, whyNot);
    updateEnabled();
}

void GeneratePage::setRuns(const RunList& runs) {
    QSet<const RunResult*> unchecked;
    for (int i = 0; i < runsList_->count(); ++i)
        if (runsList_->item(i)->checkState() != Qt::Checked)
            unchecked.insert(reinterpret_cast<const RunResult*>(
                runsList_->item(i)->data(kRunRole).value<quintptr>()));
    runs_ = runs;
    runsList_->clear();
    for (const RunPtr& run : runs_) {
        auto* item = new QListWidgetItem(runDisplayName(*run), runsList_);
        item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable);
        item->setCheckState(unchecked.contains(run.get()) ? Qt::Unchecked : Qt::Checked);
        item->setData(kRunRole, quintptr(run.get()));
        item->setToolTip(QString::fromStdString(run->config.recipe));
    }
    bench_->setRuns(checkedRuns());
    updateEnabled();
}

RunList GeneratePage::checkedRuns() const {
    RunList out;
    for (int i = 0; i < runsList_->count() && i < int(runs_.size()); ++i)
        if (runsList_->item(i)->checkState() == Qt::Checked) out.push_back(runs_[size_t(i)]);
    return out;
}

GenerationRequest GeneratePage::request() const {
    GenerationRequest r;
    r.modelDir = modelDir_.toStdString();
    r.runs = checkedRuns();
    r.prompt = prompt_->toPlainText().toStdString();
    r.chat = chat_->isChecked();
    r.packedKernels = packed_->isChecked();
    // Both exist only in the packed kernels (compareGeneration refuses them otherwise).
    r.int8Activations = r.packedKernels && int8ActivationsChosen(activations_);
    r.head = r.packedKernels ? headChosen(head_) : HeadFormat::Float32;
    r.options.maxNewTokens = maxTokens_->value();
    SamplingOptions& s = r.options.sampling;
    s.greedy = sampling_->currentIndex() == 0;
    s.temperature = temperature_->value();
    s.topK = topK_->value();
    s.topP = topP_->value();
    s.seed = uint64_t(seed_->value());
    return r;
}

QString GeneratePage::blockedReason() const {
    if (running_) return "Generating…";
    if (bench_->isRunning()) return "A benchmark is running.";
    if (modelDir_.isEmpty()) return "Open a model to generate.";
    if (!modelProblem_.isEmpty()) return "This model cannot generate: " + modelProblem_;
    if (prompt_->toPlainText().trimmed().isEmpty()) return "Type a prompt.";
    return {};
}

void GeneratePage::updateEnabled() {
    const QString blocked = blockedReason();
    generate_->setEnabled(blocked.isEmpty());
    generate_->setToolTip(blocked);
    cancel_->setEnabled(running_);
    bench_->setBusy(running_ ? "Generating…" : QString());
    const bool sample = sampling_->currentIndex() == 1;
    for (QWidget* w : std::initializer_list<QWidget*>{temperature_, topK_, topP_, seed_})
        w->setEnabled(sample && !running_);
    for (QWidget* w :
         std::initializer_list<QWidget*>{prompt_, maxTokens_, sampling_, chat_, packed_, runsList_})
        w->setEnabled(!running_);
    for (QWidget* w : std::initializer_list<QWidget*>{activations_, head_})
        w->setEnabled(!running_ && packed_->isChecked());
    if (!running_)
        status_->setText(!blocked.isEmpty()    ? blocked
                         : !outcome_.isEmpty() ? outcome_
                                               : QString("Ready."));
}

// A square in the column's colour, the colour of its line in the KL chart.
QString GeneratePage::swatch(int column) const {
    const QColor c = runColor(column, isDarkPalette(QApplication::palette()));
    return QString("<span style=\"color:%1\">\u25a0</span> ").arg(c.name());
}

void GeneratePage::makeColumns(const QStringList& names) {
    for (QLabel* h : headers_) delete h;
    for (TokenTextView* t : texts_) delete t;
    headers_.clear();
    texts_.clear();
    for (int c = 0; c < columnsLayout_->columnCount(); ++c) columnsLayout_->setColumnStretch(c, 0);
    names_ = names;
    for (int i = 0; i < names.size(); ++i) {
        auto* header = new QLabel(swatch(i) + "<b>" + names[i].toHtmlEscaped() + "</b>");
        header->setToolTip(names[i]);
        header->setWordWrap(true);
        header->setTextFormat(Qt::RichText);
        header->setAlignment(Qt::AlignLeft | Qt::AlignTop);
        auto* text = new TokenTextView;
        text->setMinimumWidth(130);
        columnsLayout_->addWidget(header, 0, i);
        columnsLayout_->addWidget(text, 1, i);
        columnsLayout_->setColumnStretch(i, 1);
        headers_.push_back(header);
        texts_.push_back(text);
    }
}

TokenTextView* GeneratePage::column(int i) const {
    return i >= 0 && i < columnCount() ? texts_[size_t(i)] : nullptr;
}

QLabel* GeneratePage::columnHeader(int i) const {
    return i >= 0 && i < columnCount() ? headers_[size_t(i)] : nullptr;
}

bool GeneratePage::start() {
    const QString blocked = blockedReason();
    if (!blocked.isEmpty()) {
        status_->setText(blocked);
        return false;
    }
    const GenerationRequest r = request();
    QStringList names{"float"};
    for (const RunPtr& run : r.runs) names << runDisplayName(*run);
    makeColumns(names);
    chart_->setSeries({});
    result_.reset();
    error_.clear();
    outcome_.clear();
    running_ = true;
    streaming_ = -1;
    shared_ = std::make_shared<Shared>();
    clock_.start();
    status_->setText("Loading the model…");
    updateEnabled();
    auto shared = shared_;
    QPointer<GeneratePage> self(this);
    // Each token is posted to the GUI thread as a value; a cancelled job's late tokens are
    // dropped (the page has moved on to another job's shared state).
    const GenerationStream stream = [self, shared](int output, int index, int32_t,
                                                   const std::string& piece) {
        const QString text = QString::fromStdString(piece);
        QMetaObject::invokeMethod(
            qApp,
            [self, shared, output, index, text] {
                if (self && self->shared_ == shared) self->onToken(output, index, text);
            },
            Qt::QueuedConnection);
    };
    const ProgressCallback progress = [shared](const Progress&) { return !shared->cancel.load(); };
    watcher_->setFuture(QtConcurrent::run([r, stream, progress, shared]() {
        return guardedJob<Outcome>(
            [&](Outcome& out) {
                out.result = std::make_shared<const GenerationComparison>(
                    compareGeneration(r, stream, progress));
            },
            shared->cancel, "while generating");
    }));
    return true;
}

void GeneratePage::cancel() {
    if (shared_) shared_->cancel = true;
}

void GeneratePage::onToken(int output, int index, const QString& piece) {
    TokenTextView* view = column(output);
    if (!view || index != view->tokenCount()) return;  // only in order, as decoded
    if (output != streaming_) {
        streaming_ = output;
        status_->setText(QString("Generating with %1…")
                             .arg(output == 0 ? QString("the float model") : names_.value(output)));
    }
    view->appendToken(piece);
    emit tokenShown(output, index);
}

void GeneratePage::onFinished() {
    const Outcome out = watcher_->result();
    running_ = false;
    streaming_ = -1;
    if (out.result) {
        result_ = out.result;
        showResult();
        outcome_ = QString("Generated in %1 s.").arg(out.seconds, 0, 'f', 1);
    } else if (out.cancelled) {
        outcome_ =
            QString("Cancelled after %1 s; the text so far is kept.").arg(out.seconds, 0, 'f', 1);
    } else {
        error_ = out.error;
        outcome_ = "<b>Generation failed:</b> " + error_.toHtmlEscaped();
    }
    updateEnabled();
    emit generationFinished(bool(out.result));
}

void GeneratePage::showResult() {
    const GenerationComparison& c = *result_;
    std::vector<TokenKlSeries> series;
    for (int i = 0; i < int(c.outputs.size()) && i < columnCount(); ++i) {
        const GeneratedText& out = c.outputs[size_t(i)];
        const int highlight = i > 0 ? out.firstDivergence : -1;
        column(i)->setTokens(shownPieces(out), tokenToolTips(c, i), highlight);
        QString header = ql::columnHeader(c, i);
        for (const std::string& note : out.notes)
            header += "<br><i>" + QString::fromStdString(note).toHtmlEscaped() + "</i>";
        columnHeader(i)->setText(swatch(i) + header);
        if (i == 0) continue;
        columnHeader(i)->setToolTip(
            QString::fromStdString(out.name) +
            (out.onPackedKernels
                 ? "\nDecoded on the packed kernels: " + QString::fromStdString(out.weightsAs) +
                       " (tokens/s of the quantized model, float32 activations)."
                 : QString("\nDecoded with the run's weights dequantized to float32 "
                           "(simulated quantization), so no speed is shown: check \"Runs on "
                           "packed kernels\" or see the Speed and memory tab.")));
        TokenKlSeries s{QString::fromStdString(out.name), {}, out.firstDivergence};
        for (const TokenComparison& t : out.perToken) s.kl.push_back(t.kl);
        series.push_back(std::move(s));
    }
    chart_->setSeries(std::move(series));
}

void GeneratePage::applyPalette() {
    chart_->applyPalette();
    bench_->chart()->applyPalette();
    if (result_) showResult();
}

}  // namespace ql
