#include "app/gui/sensitivitypage.h"

#include "base/error.h"
#include "quant/method_registry.h"
#include "quant/recipe.h"
#include "widgets/sensitivityview.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

namespace ql {

SensitivityPage::SensitivityPage(QWidget* parent) : QWidget(parent) {
    view_ = new SensitivityView;
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addWidget(buildSettings());
    layout->addWidget(view_, 1);
    updateEnabled();
}

QWidget* SensitivityPage::buildSettings() {
    auto* box = new QGroupBox("Measure sensitivity");
    box->setMaximumWidth(230);
    auto* form = new QFormLayout(box);
    recipe_ = new QLineEdit("rtn:int4:g128:asym");
    recipe_->setToolTip("Weight-only recipe each unit is quantized with, e.g. rtn:int4:g128:asym");
    fromPanel_ = new QPushButton("Use the run panel's recipe");
    unit_ = new QComboBox;
    unit_->addItem("layer", "layer");
    unit_->addItem("block", "block");
    unit_->addItem("kind (e.g. all down_proj)", "kind");
    mode_ = new QComboBox;
    mode_->addItem("one-in", "one-in");
    mode_->addItem("leave-one-out", "leave-one-out");
    mode_->setItemData(0, "Only the unit quantized, everything else float", Qt::ToolTipRole);
    mode_->setItemData(1, "Everything quantized but the unit: what keeping it in float saves",
                       Qt::ToolTipRole);
    windows_ = new QSpinBox;
    windows_->setRange(1, 4096);
    windows_->setValue(4);
    seq_ = new QSpinBox;
    seq_->setRange(16, 32768);
    seq_->setSingleStep(64);
    seq_->setValue(256);
    auto* texts = new QLabel("Evaluation and calibration texts and the layers: the run panel's.");
    texts->setWordWrap(true);
    measure_ = new QPushButton("Measure");
    cancel_ = new QPushButton("Cancel");
    progress_ = new QProgressBar;
    progress_->setRange(0, 1000);
    status_ = new QLabel;
    status_->setWordWrap(true);
    form->addRow("Recipe", recipe_);
    form->addRow(fromPanel_);
    form->addRow("Unit", unit_);
    form->addRow("Mode", mode_);
    auto* windows = new QHBoxLayout;
    windows->addWidget(windows_);
    windows->addWidget(new QLabel("×"));
    windows->addWidget(seq_);
    form->addRow("Windows", windows);
    form->addRow(texts);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(measure_, 1);
    buttons->addWidget(cancel_);
    form->addRow(buttons);
    form->addRow(progress_);
    form->addRow(status_);
    connect(recipe_, &QLineEdit::textChanged, this, &SensitivityPage::updateEnabled);
    connect(fromPanel_, &QPushButton::clicked, this, &SensitivityPage::recipeFromPanelRequested);
    connect(measure_, &QPushButton::clicked, this, &SensitivityPage::measureRequested);
    connect(cancel_, &QPushButton::clicked, this, &SensitivityPage::cancelRequested);
    return box;
}

SensitivityConfig SensitivityPage::settings() const {
    SensitivityConfig c;
    c.recipe = recipe_->text().trimmed().toStdString();
    c.unit = parseSensitivityUnit(unit_->currentData().toString().toStdString());
    c.mode = parseSensitivityMode(mode_->currentData().toString().toStdString());
    c.evalWindows = windows_->value();
    c.evalSeq = seq_->value();
    return c;
}

void SensitivityPage::setSettings(const SensitivityConfig& c) {
    recipe_->setText(QString::fromStdString(c.recipe));
    unit_->setCurrentIndex(unit_->findData(QString::fromStdString(sensitivityUnitName(c.unit))));
    mode_->setCurrentIndex(mode_->findData(QString::fromStdString(sensitivityModeName(c.mode))));
    windows_->setValue(c.evalWindows);
    seq_->setValue(c.evalSeq);
}

// The recipe is checked as the measurement checks it (weight-only), while typing.
QString SensitivityPage::blockedReason() const {
    if (running_) return "A measurement is in progress.";
    if (!modelOpen_) return "Open a model to measure its sensitivity.";
    const std::string text = recipe_->text().trimmed().toStdString();
    try {
        const Recipe r = Recipe::parse(text);
        if (r.quantizesActivations() || r.method == QuantMethod::LlmInt8)
            return "Recipe '" + QString::fromStdString(r.toString()) +
                   "': recipes with an activation side are not supported (weight-only).";
    } catch (const Error& e) {
        return "Recipe '" + QString::fromStdString(text) + "': " + QString::fromUtf8(e.what());
    }
    return {};
}

void SensitivityPage::updateEnabled() {
    const QString blocked = blockedReason();
    measure_->setEnabled(blocked.isEmpty());
    measure_->setToolTip(blocked);
    cancel_->setEnabled(running_);
    if (!running_) status_->setText(blocked.isEmpty() ? "Ready." : blocked);
}

void SensitivityPage::setModelOpen(bool open) {
    modelOpen_ = open;
    updateEnabled();
}

void SensitivityPage::setRunning(bool running) {
    running_ = running;
    updateEnabled();
    if (!running) progress_->setValue(0);
}

void SensitivityPage::showProgress(double fraction, double elapsed) {
    if (fraction < 0.0) return;
    progress_->setValue(int(std::clamp(fraction, 0.0, 1.0) * 1000));
    status_->setText(QString("Measuring… %1 s").arg(elapsed, 0, 'f', 1));
}

void SensitivityPage::showIdle(const QString& text) {
    status_->setText(text);
}

void SensitivityPage::showFinished(const QString& text) {
    progress_->setValue(progress_->maximum());
    status_->setText(text);
}

}  // namespace ql
