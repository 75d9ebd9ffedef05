#include "app/gui/planpage.h"

#include "base/error.h"
#include "run/plan_llama.h"

#include <QClipboard>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

namespace ql {

namespace {
const char* kDefaultCandidates =
    "rtn:int4:g128:asym, rtn:int4:g32:asym, rtn:int8:channel:sym, fp16";
constexpr int kSweepBudgets = 16;

// The plan's fallback note after its text ("(5 of 35 layers fell back)", as run names say
// it); the label's tooltip lists the layers and why.
QString fallbackSentence(const QString& note) {
    return note.isEmpty() ? QString() : " " + note.toHtmlEscaped();
}
}  // namespace

PlanPage::PlanPage(QWidget* parent) : QWidget(parent) {
    chart_ = new ParetoChart;
    planLabel_ = new QLabel("Click a planned point to choose a plan.");
    planLabel_->setWordWrap(true);
    planLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    runPlan_ = new QPushButton("Run this plan");
    runPlan_->setToolTip(
        "Put the plan into the run panel (recipe, overrides, the plan's evaluation windows) "
        "and run it; its measured KL then joins the chart");
    copyLlama_ = new QPushButton("Copy for llama.cpp");
    copyLlama_->setEnabled(false);
    copyLlama_->setToolTip("Choose a plan first");
    auto* buttons = new QVBoxLayout;  // stacked: the plan's text keeps the width
    buttons->addWidget(runPlan_);
    buttons->addWidget(copyLlama_);
    auto* planRow = new QHBoxLayout;
    planRow->addWidget(planLabel_, 1);
    planRow->addLayout(buttons);
    auto* right = new QVBoxLayout;
    right->addWidget(chart_, 1);
    right->addLayout(planRow);
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addWidget(buildSettings());
    layout->addLayout(right, 1);
    connect(chart_, &ParetoChart::planClicked, this, &PlanPage::selectPlan);
    connect(runPlan_, &QPushButton::clicked, this, &PlanPage::runPlanRequested);
    connect(copyLlama_, &QPushButton::clicked, this, [this] {
        QGuiApplication::clipboard()->setText(QString::fromStdString(selectedLlamaPlan().command));
        status_->setText("The llama-quantize command of the plan is on the clipboard.");
    });
    setCandidates(kDefaultCandidates);
    updateEnabled();
}

QWidget* PlanPage::buildSettings() {
    auto* box = new QGroupBox("Mixed-precision plan");
    box->setMaximumWidth(250);
    auto* form = new QFormLayout(box);
    candidates_ = new QLineEdit;
    candidates_->setToolTip(
        "Candidate recipes, comma separated; weight-only, at most one gptq/awq (it becomes "
        "the run's recipe, the others its overrides)");
    budgetRecipe_ = new QComboBox;
    budgetRecipe_->setToolTip("The budget: the bytes of this candidate on every planned layer…");
    budgetExtra_ = new QDoubleSpinBox;
    budgetExtra_->setRange(0.0, 400.0);
    budgetExtra_->setDecimals(1);
    budgetExtra_->setSuffix(" %");
    budgetExtra_->setPrefix("+ ");
    budgetExtra_->setValue(10.0);
    budgetExtra_->setToolTip("…plus this percentage");
    windows_ = new QSpinBox;
    windows_->setRange(1, 4096);
    windows_->setValue(4);
    seq_ = new QSpinBox;
    seq_->setRange(16, 32768);
    seq_->setSingleStep(64);
    seq_->setValue(256);
    auto* note = new QLabel(
        "Loss: each layer's one-in \u0394KL mean per candidate; exact knapsack over bytes. "
        "Texts and layers: the run panel's.");
    note->setWordWrap(true);
    measure_ = new QPushButton("Measure and plan");
    cancel_ = new QPushButton("Cancel");
    progress_ = new QProgressBar;
    progress_->setRange(0, 1000);
    status_ = new QLabel;
    status_->setWordWrap(true);
    form->addRow("Candidates", candidates_);
    form->addRow("Budget", budgetRecipe_);
    form->addRow("", budgetExtra_);
    auto* windows = new QHBoxLayout;
    windows->addWidget(windows_);
    windows->addWidget(new QLabel("×"));
    windows->addWidget(seq_);
    form->addRow("Windows", windows);
    form->addRow(note);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(measure_, 1);
    buttons->addWidget(cancel_);
    form->addRow(buttons);
    form->addRow(progress_);
    form->addRow(status_);
    connect(candidates_, &QLineEdit::textChanged, this, [this] {
        const QString current = budgetRecipe_->currentText();
        QSignalBlocker block(budgetRecipe_);
        budgetRecipe_->clear();
        for (const std::string& c : candidates()) budgetRecipe_->addItem(QString::fromStdString(c));
        const int keep = budgetRecipe_->findText(current);
        budgetRecipe_->setCurrentIndex(keep >= 0 ? keep : 0);
        updateEnabled();
    });
    connect(budgetRecipe_, &QComboBox::currentIndexChanged, this, &PlanPage::replan);
    connect(budgetExtra_, &QDoubleSpinBox::valueChanged, this, &PlanPage::replan);
    connect(measure_, &QPushButton::clicked, this, &PlanPage::measureRequested);
    connect(cancel_, &QPushButton::clicked, this, &PlanPage::cancelRequested);
    return box;
}

std::vector<std::string> PlanPage::candidates() const {
    std::vector<std::string> out;
    for (const QString& c : candidates_->text().split(',', Qt::SkipEmptyParts))
        if (!c.trimmed().isEmpty()) out.push_back(c.trimmed().toStdString());
    return out;
}

void PlanPage::setCandidates(const QString& commaSeparated) {
    candidates_->setText(commaSeparated);
}

SensitivityConfig PlanPage::settings() const {
    SensitivityConfig c;
    c.unit = SensitivityUnit::Layer;
    c.mode = SensitivityMode::OneIn;
    c.evalWindows = windows_->value();
    c.evalSeq = seq_->value();
    return c;
}

QString PlanPage::blockedReason() const {
    if (running_) return "A measurement is in progress.";
    if (!modelOpen_) return "Open a model to plan.";
    try {
        checkPlanCandidates(candidates());
    } catch (const Error& e) {
        return "Candidates: " + QString::fromUtf8(e.what());
    }
    return {};
}

void PlanPage::updateEnabled() {
    const QString blocked = blockedReason();
    measure_->setEnabled(blocked.isEmpty());
    measure_->setToolTip(blocked);
    cancel_->setEnabled(running_);
    runPlan_->setEnabled(selected_ >= 0 && !running_);
    if (!running_) status_->setText(blocked.isEmpty() ? "Ready." : blocked);
}

void PlanPage::setInputs(PlanInputsPtr inputs) {
    inputs_ = std::move(inputs);
    replan();
}

void PlanPage::setRuns(const RunList& runs) {
    runs_ = runs;
    refreshChart();
}

uint64_t PlanPage::budgetBytes() const {
    if (!inputs_) return 0;
    const auto it = std::find(inputs_->candidates.begin(), inputs_->candidates.end(),
                              budgetRecipe_->currentText().toStdString());
    if (it == inputs_->candidates.end()) return 0;
    const uint64_t uniform = inputs_->uniformBytes(size_t(it - inputs_->candidates.begin()));
    return uint64_t(double(uniform) * (1.0 + budgetExtra_->value() / 100.0));
}

// The sweep's plans and the plan at the user's budget, cheapest first.
void PlanPage::replan() {
    plans_.clear();
    budgetPlan_ = selected_ = -1;
    if (inputs_) {
        std::vector<uint64_t> budgets = sweepBudgets(*inputs_, kSweepBudgets);
        if (const uint64_t b = budgetBytes(); b > 0) budgets.push_back(b);
        std::sort(budgets.begin(), budgets.end());
        plans_ = planSweep(*inputs_, budgets);
        if (const uint64_t b = budgetBytes(); b > 0) {
            const PlanResult atBudget = planMixedPrecision(inputs_->layers, b);
            for (size_t i = 0; i < plans_.size(); ++i)
                if (plans_[i].choice == atBudget.choice) budgetPlan_ = int(i);
        }
    }
    refreshChart();
    selectPlan(budgetPlan_);
    updateEnabled();
}

void PlanPage::refreshChart() {
    chart_->setData(inputs_ ? paretoData(*inputs_, plans_, runs_) : ParetoData{});
    chart_->setSelectedPlan(selected_);
}

void PlanPage::selectPlan(int plan) {
    selected_ = plan >= 0 && plan < int(plans_.size()) ? plan : -1;
    chart_->setSelectedPlan(selected_);
    planLabel_->setToolTip({});
    if (selected_ < 0) {
        planLabel_->setText(inputs_ ? "Click a planned point to choose a plan."
                                    : "Measure the candidates to plan.");
    } else {
        const PlanResult& p = plans_[size_t(selected_)];
        const PlanRun run = selectedPlanRun();
        planLabel_->setText(
            QString("<b>Plan %1</b>%2: %3 bytes (%4 bits/weight), predicted \u03a3\u0394KL %5 "
                    "— recipe <code>%6</code> + %7 override(s)")
                .arg(selected_ + 1)
                .arg(selected_ == budgetPlan_ ? " (at the budget)" : "")
                .arg(p.bytes)
                .arg(8.0 * double(p.bytes) / double(std::max<uint64_t>(1, inputs_->parameters)), 0,
                     'f', 3)
                .arg(p.predictedLoss, 0, 'g', 4)
                .arg(QString::fromStdString(run.recipe))
                .arg(run.overrides.size()) +
            fallbackSentence(planFallbackNote(*inputs_, p.choice)));
        planLabel_->setToolTip(planFallbacks(*inputs_, p.choice).join('\n'));
    }
    runPlan_->setEnabled(selected_ >= 0 && !running_);
    const LlamaQuantizePlan llama = selectedLlamaPlan();
    copyLlama_->setEnabled(llama.possible);
    copyLlama_->setToolTip(
        llama.possible  ? "Copy the plan as a llama-quantize command (one --tensor-type per layer)"
        : selected_ < 0 ? "Choose a plan first"
                        : "No llama-quantize form: " + QString::fromStdString(llama.whyNot));
}

LlamaQuantizePlan PlanPage::selectedLlamaPlan() const {
    if (!inputs_ || selected_ < 0) return {};
    return llamaQuantizePlan(*inputs_, plans_[size_t(selected_)]);
}

PlanRun PlanPage::selectedPlanRun() const {
    if (!inputs_ || selected_ < 0) return {};
    return planRun(*inputs_, plans_[size_t(selected_)]);
}

void PlanPage::setModelOpen(bool open) {
    modelOpen_ = open;
    updateEnabled();
}

void PlanPage::setRunning(bool running) {
    running_ = running;
    updateEnabled();
    if (!running) progress_->setValue(0);
}

void PlanPage::showProgress(double fraction, double elapsed) {
    if (fraction < 0.0) return;
    progress_->setValue(int(std::clamp(fraction, 0.0, 1.0) * 1000));
    status_->setText(QString("Measuring… %1 s").arg(elapsed, 0, 'f', 1));
}

void PlanPage::showIdle(const QString& text) {
    status_->setText(text);
}

void PlanPage::showFinished(const QString& text) {
    progress_->setValue(progress_->maximum());
    status_->setText(text);
}

}  // namespace ql
