#include "app/gui/runpanel.h"

#include "app/gui/overrideseditor.h"

#include "base/process_env.h"
#include "quant/method_registry.h"
#include "quant/recipe.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace ql {

namespace {
struct Preset {
    const char* name;
    const char* recipe;
};
// Names as issue 8 lists them; "NF4 (bnb)" is bitsandbytes' Linear4bit default.
const Preset kPresets[] = {
    {"INT8 per-channel", "rtn:int8:channel:sym"},
    {"INT4 g128 (RTN)", "rtn:int4:g128:asym"},
    {"INT4 g128 (GPTQ)", "gptq:int4:g128:asym"},
    {"INT4 g128 (AWQ)", "awq:int4:g128:asym"},
    {"FP16", "fp16"},
    {"NF4 (bnb)", "nf4:b64"},
    {"NF4 + double quant", "nf4:b64:dq"},
    {"W8A8 (per-token)", "rtn:int8:channel:sym+a8:token:sym"},
    {"LLM.int8()", "llm_int8"},
    {"W8A8 SmoothQuant", "rtn:int8:channel:sym+a8:token:sym+sq:0.5"},
};
const int kPresetCount = int(sizeof(kPresets) / sizeof(kPresets[0]));

QSpinBox* spin(int lo, int hi, int value, int step = 1) {
    auto* s = new QSpinBox;
    s->setRange(lo, hi);
    s->setValue(value);
    s->setSingleStep(step);
    return s;
}
}  // namespace

QStringList RunPanel::presetNames() {
    QStringList names;
    for (const Preset& p : kPresets) names << p.name;
    return names << "Custom";
}

QString RunPanel::presetRecipe(int index) {
    return index >= 0 && index < kPresetCount ? QString(kPresets[index].recipe) : QString();
}

RunPanel::RunPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    // The settings scroll; Run/Cancel, progress and status always stay in view, so the
    // panel fits small screens (1280 x 720) without clipping anything.
    auto* settings = new QWidget;
    auto* settingsLayout = new QVBoxLayout(settings);
    settingsLayout->setContentsMargins(0, 0, 0, 0);
    settingsLayout->addWidget(buildRecipeBox());
    settingsLayout->addWidget(buildOverridesBox());
    settingsLayout->addWidget(buildDataBox());
    settingsLayout->addStretch(1);
    scroll_ = new QScrollArea;
    scroll_->setWidget(settings);
    scroll_->setWidgetResizable(true);
    scroll_->setFrameShape(QFrame::NoFrame);
    scroll_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll_->setMinimumHeight(120);
    layout->addWidget(scroll_, 1);
    run_ = new QPushButton("Run");
    run_->setDefault(true);
    cancel_ = new QPushButton("Cancel");
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(run_, 1);
    buttons->addWidget(cancel_);
    layout->addLayout(buttons);
    progress_ = new QProgressBar;
    progress_->setRange(0, 1000);
    progress_->setTextVisible(true);
    status_ = new QLabel("Open a model to start a run.");
    status_->setWordWrap(true);
    layout->addWidget(progress_);
    layout->addWidget(status_);
    connect(run_, &QPushButton::clicked, this, &RunPanel::runRequested);
    connect(cancel_, &QPushButton::clicked, this, &RunPanel::cancelRequested);
    selectPreset(0);
    setRunning(false);
}

QWidget* RunPanel::buildRecipeBox() {
    auto* box = new QGroupBox("Recipe");
    auto* form = new QFormLayout(box);
    recipeForm_ = form;
    preset_ = new QComboBox;
    preset_->addItems(presetNames());
    method_ = new QComboBox;
    for (const MethodSpec& m : methodRegistry()) {
        method_->addItem(m.name, QString(m.name));
        method_->setItemData(method_->count() - 1, QString(m.grammar), Qt::ToolTipRole);
    }
    bits_ = spin(2, 8, 8);
    granularity_ = new QComboBox;
    granularity_->addItems({"tensor", "channel", "group"});  // the order of ql::Granularity
    groupSize_ = spin(8, 4096, 128, 8);
    symmetry_ = new QComboBox;
    symmetry_->addItems({"sym", "asym"});
    blockSize_ = new QComboBox;
    for (int b = kBlock4Min; b <= kBlock4Max; b *= 2) blockSize_->addItem(QString::number(b), b);
    blockSize_->setToolTip("Weights per absmax block (the flattened weight, blocks span rows)");
    doubleQuant_ = new QCheckBox("Double quantization");
    doubleQuant_->setToolTip("Quantize the absmax constants again, 8-bit in blocks of 256");
    computeDtype_ = new QComboBox;
    computeDtype_->addItems({"fp32", "fp16", "bf16"});  // the order of ql::ComputeDtype
    computeDtype_->setToolTip("The dtype the dequantized weight is rounded to");
    actBits_ = spin(0, 8, 0);
    actBits_->setSpecialValueText("float (A16)");
    actBits_->setToolTip(
        "Fake-quantize every quantized layer's input to this many bits (W8A8, W4A8, ...)");
    actGranularity_ = new QComboBox;
    actGranularity_->addItems({"per token (dynamic)", "per tensor (static, calibrated)"});
    actSymmetry_ = new QComboBox;
    actSymmetry_->addItems({"sym", "asym"});
    threshold_ = new QDoubleSpinBox;
    threshold_->setRange(0.0, 1000.0);
    threshold_->setDecimals(2);
    threshold_->setValue(6.0);
    threshold_->setToolTip(
        "Input columns with |x| at or above this in any token of a window are computed in "
        "fp16, the rest in int8 (0: no decomposition)");
    smooth_ = new QCheckBox("SmoothQuant");
    smooth_->setToolTip(
        "Migrate activation outliers into the weights: per input channel "
        "s = max|X|^\u03b1 / max|W|^(1-\u03b1), calibrated on the calibration text");
    smoothAlpha_ = new QDoubleSpinBox;
    smoothAlpha_->setRange(0.0, 1.0);
    smoothAlpha_->setDecimals(2);
    smoothAlpha_->setSingleStep(0.05);
    smoothAlpha_->setValue(0.5);
    smoothAlpha_->setToolTip(
        "Migration strength \u03b1 (0: no migration, 1: all into the weights)");
    recipeLabel_ = new QLabel;
    recipeLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    include_ = new QLineEdit;
    include_->setPlaceholderText("all decoder projections");
    include_->setToolTip(
        "Quantize only layers matching these globs (* and ?), separated by "
        "commas, e.g. *.mlp.*");
    exclude_ = new QLineEdit;
    exclude_->setPlaceholderText("none");
    exclude_->setToolTip(
        "Skip layers matching these globs (* and ?), separated by commas, "
        "e.g. *.down_proj");
    form->addRow("Preset", preset_);
    form->addRow("Method", method_);
    form->addRow("Bits", bits_);
    form->addRow("Granularity", granularity_);
    form->addRow("Group size", groupSize_);
    form->addRow("Symmetry", symmetry_);
    form->addRow("Block size", blockSize_);
    form->addRow("Compute dtype", computeDtype_);
    form->addRow(doubleQuant_);
    form->addRow("Outlier threshold", threshold_);
    form->addRow("Activation bits", actBits_);
    form->addRow("Activation scale", actGranularity_);
    form->addRow("Activation symmetry", actSymmetry_);
    form->addRow(smooth_);
    form->addRow("SmoothQuant \u03b1", smoothAlpha_);
    form->addRow("Recipe", recipeLabel_);
    form->addRow("Include layers", include_);
    form->addRow("Exclude layers", exclude_);
    connect(preset_, &QComboBox::currentIndexChanged, this, &RunPanel::selectPreset);
    for (QComboBox* c : {method_, granularity_, symmetry_, blockSize_, computeDtype_,
                         actGranularity_, actSymmetry_})
        connect(c, &QComboBox::currentIndexChanged, this, &RunPanel::editorChanged);
    for (QSpinBox* s : {bits_, groupSize_, actBits_})
        connect(s, &QSpinBox::valueChanged, this, &RunPanel::editorChanged);
    connect(threshold_, &QDoubleSpinBox::valueChanged, this, &RunPanel::editorChanged);
    connect(smoothAlpha_, &QDoubleSpinBox::valueChanged, this, &RunPanel::editorChanged);
    connect(smooth_, &QCheckBox::toggled, this, &RunPanel::editorChanged);
    connect(doubleQuant_, &QCheckBox::toggled, this, &RunPanel::editorChanged);
    return box;
}

QWidget* RunPanel::buildOverridesBox() {
    auto* box = new QGroupBox("Per-layer overrides");
    box->setToolTip(
        "Layers matching a pattern get that row's recipe instead of the one above (the last "
        "matching row wins), as the CLI's --override PATTERN=RECIPE");
    auto* layout = new QVBoxLayout(box);
    overrides_ = new OverridesEditor;
    overrides_->setRecipeSource([this] { return recipeText(); });
    layout->addWidget(overrides_);
    connect(overrides_, &OverridesEditor::changed, this, &RunPanel::updateEnabled);
    return box;
}

void RunPanel::setLayerNames(std::vector<std::string> names) {
    overrides_->setLayerNames(std::move(names));
}

QLineEdit* RunPanel::fileField(QWidget* parent, const QString& settingsKey) {
    auto* edit = new QLineEdit(parent);
    edit->setText(QSettings().value(settingsKey).toString());
    edit->setPlaceholderText("none");
    connect(edit, &QLineEdit::editingFinished, this,
            [edit, settingsKey] { QSettings().setValue(settingsKey, edit->text()); });
    return edit;
}

QWidget* RunPanel::buildDataBox() {
    auto* box = new QGroupBox("Calibration and evaluation");
    auto* form = new QFormLayout(box);
    auto fileRow = [&](QLineEdit* edit, const QString& title) {
        auto* row = new QHBoxLayout;
        auto* browse = new QToolButton;
        browse->setText("…");
        row->addWidget(edit, 1);
        row->addWidget(browse);
        connect(browse, &QToolButton::clicked, this, [this, edit, title] {
            const QString path = QFileDialog::getOpenFileName(this, title, edit->text(),
                                                              "Text files (*.txt);;All files (*)");
            if (!path.isEmpty()) {
                edit->setText(path);
                emit edit->editingFinished();
            }
        });
        return row;
    };
    calibFile_ = fileField(box, "run/calibrationText");
    evalFile_ = fileField(box, "run/evaluationText");
    calibWindows_ = spin(1, 4096, 16);
    calibSeq_ = spin(8, 32768, 256, 64);
    evalSeq_ = spin(0, 32768, 0, 64);
    evalSeq_->setSpecialValueText("auto");
    evalWindows_ = spin(0, 100000, 0);
    evalWindows_->setSpecialValueText("all");
    protocol_ = new QComboBox;
    protocol_->addItem("gptq", "gptq");
    protocol_->addItem("llamacpp", "llamacpp");
    protocol_->setItemData(0, "Non-overlapping windows, every token scored (GPTQ papers)",
                           Qt::ToolTipRole);
    protocol_->setItemData(1,
                           "llama-perplexity: BOS first, only the second half of each window "
                           "scored",
                           Qt::ToolTipRole);
    bins_ = spin(8, 4096, 128, 8);
    activations_ = new QCheckBox("Capture activations");
    gradients_ = new QCheckBox("Capture gradients");
    activations_->setChecked(true);
    gradients_->setChecked(true);
    form->addRow("Calibration text", fileRow(calibFile_, "Calibration text"));
    form->addRow("Windows × length", [&] {
        auto* row = new QHBoxLayout;
        row->addWidget(calibWindows_);
        row->addWidget(new QLabel("×"));
        row->addWidget(calibSeq_);
        return row;
    }());
    form->addRow("Evaluation text", fileRow(evalFile_, "Evaluation text"));
    form->addRow("Eval seq / windows", [&] {
        auto* row = new QHBoxLayout;
        row->addWidget(evalSeq_);
        row->addWidget(new QLabel("/"));
        row->addWidget(evalWindows_);
        return row;
    }());
    form->addRow("Eval protocol", protocol_);
    form->addRow("Histogram bins", bins_);
    connect(calibFile_, &QLineEdit::textChanged, this, &RunPanel::updateCaptureBoxes);
    updateCaptureBoxes();
    form->addRow(activations_);
    form->addRow(gradients_);
    return box;
}

void RunPanel::selectPreset(int index) {
    if (preset_->currentIndex() != index) {
        preset_->setCurrentIndex(index);  // comes back here through the signal
        return;
    }
    const QString recipe = presetRecipe(index);
    if (recipe.isEmpty()) return editorChanged();
    RunConfig c = config();
    c.recipe = recipe.toStdString();
    c.captureActivations = activations_->isChecked();  // config() clears them without calibration
    c.captureGradients = gradients_->isChecked();
    settingPreset_ = true;
    setConfig(c);
    settingPreset_ = false;
    editorChanged();
}

unsigned RunPanel::methodOptions() const {
    const MethodSpec* m = findMethod(method_->currentData().toString().toStdString());
    return m ? m->options : 0;
}

// The method's defaults (parsed from its bare name), then each option it declares from its field.
Recipe RunPanel::editorRecipe() const {
    Recipe r = Recipe::parse(method_->currentData().toString().toStdString());
    const unsigned opts = methodOptions();
    if (opts & kOptBits) r.bits = bits_->value();
    if (opts & kOptGranularity) {
        r.granularity = Granularity(granularity_->currentIndex());
        r.groupSize = r.granularity == Granularity::Group ? groupSize_->value() : 0;
    }
    if (opts & kOptSymmetry) r.symmetric = symmetry_->currentIndex() == 0;
    if (opts & kOptBlockSize) r.blockSize = blockSize_->currentData().toInt();
    if (opts & kOptDoubleQuant) r.doubleQuant = doubleQuant_->isChecked();
    if (opts & kOptComputeDtype) r.computeDtype = ComputeDtype(computeDtype_->currentIndex());
    if (opts & kOptOutlierThreshold) r.outlierThreshold = threshold_->value();
    if (!ownActivations()) {
        // The spin box runs 0 (float), 1, 2 .. 8; 1 bit is no grid: taken as 2.
        r.actBits = actBits_->value() == 1 ? 2 : actBits_->value();
        r.actPerToken = actGranularity_->currentIndex() == 0;
        r.actSymmetric = actSymmetry_->currentIndex() == 0;
    }
    // SmoothQuant goes with float or per-token activations (Recipe::parse refuses static).
    if ((opts & kOptSmoothQuant) && (!r.quantizesActivations() || r.actPerToken)) {
        r.smooth = smooth_->isChecked();
        r.smoothAlpha = std::round(smoothAlpha_->value() * 100.0) / 100.0;
    }
    return r;
}

bool RunPanel::ownActivations() const {
    const MethodSpec* m = findMethod(method_->currentData().toString().toStdString());
    return m && m->ownActivations;
}

QString RunPanel::recipeText() const {
    return QString::fromStdString(editorRecipe().toString());
}

bool RunPanel::isFieldShown(QWidget* field) const {
    int row = -1;
    QFormLayout::ItemRole role = QFormLayout::FieldRole;
    recipeForm_->getWidgetPosition(field, &row, &role);
    return row >= 0 && recipeForm_->isRowVisible(row);
}

void RunPanel::editorChanged() {
    // Only the rows of the options the method declares are shown (none for a cast).
    const unsigned opts = methodOptions();
    const bool grouped = granularity_->currentText() == "group";
    recipeForm_->setRowVisible(bits_, opts & kOptBits);
    recipeForm_->setRowVisible(granularity_, opts & kOptGranularity);
    recipeForm_->setRowVisible(groupSize_, opts & kOptGranularity);
    groupSize_->setEnabled(grouped);
    recipeForm_->setRowVisible(symmetry_, opts & kOptSymmetry);
    recipeForm_->setRowVisible(blockSize_, opts & kOptBlockSize);
    recipeForm_->setRowVisible(doubleQuant_, opts & kOptDoubleQuant);
    recipeForm_->setRowVisible(computeDtype_, opts & kOptComputeDtype);
    recipeForm_->setRowVisible(threshold_, opts & kOptOutlierThreshold);
    recipeForm_->setRowVisible(actBits_, !ownActivations());
    recipeForm_->setRowVisible(actGranularity_, !ownActivations());
    recipeForm_->setRowVisible(actSymmetry_, !ownActivations());
    actGranularity_->setEnabled(actBits_->value() > 0);
    actSymmetry_->setEnabled(actBits_->value() > 0);
    const bool smoothable = (opts & kOptSmoothQuant) &&
                            (actBits_->value() == 0 || actGranularity_->currentIndex() == 0);
    recipeForm_->setRowVisible(smooth_, opts & kOptSmoothQuant);
    recipeForm_->setRowVisible(smoothAlpha_, opts & kOptSmoothQuant);
    smooth_->setEnabled(smoothable);
    smooth_->setToolTip(smoothable || !(opts & kOptSmoothQuant)
                            ? smooth_->toolTip()
                            : "SmoothQuant goes with per-token (or float) activations");
    smoothAlpha_->setEnabled(smoothable && smooth_->isChecked());
    const QString text = recipeText();
    recipeLabel_->setText("<code>" + text + "</code>");
    if (!settingPreset_) {
        // Presets are compared in canonical form: "nf4:b64" is "nf4:b64:fp32".
        const int match =
            int(std::find_if(std::begin(kPresets), std::end(kPresets),
                             [&](const Preset& p) {
                                 return QString::fromStdString(
                                            Recipe::parse(p.recipe).toString()) == text;
                             }) -
                std::begin(kPresets));
        QSignalBlocker block(preset_);
        preset_->setCurrentIndex(match);  // kPresetCount == "Custom"
        emit recipeEdited();              // a preset emits once, after all its fields are set
    }
}

// Captures run on the calibration windows: without a calibration text they cannot
// happen, so the boxes say so instead of being silently ignored by the run.
void RunPanel::updateCaptureBoxes() {
    const bool calib = !calibFile_->text().trimmed().isEmpty();
    const QString why =
        calib ? QString()
              : QString(
                    "Needs a calibration text: activations and gradients are captured on "
                    "the calibration windows.");
    for (QCheckBox* box : {activations_, gradients_}) {
        box->setEnabled(calib);
        box->setToolTip(why);
    }
}

std::vector<std::string> RunPanel::splitGlobs(const QString& text) {
    std::vector<std::string> globs;
    for (const QString& g : text.split(QRegularExpression("[,\\s]+"), Qt::SkipEmptyParts))
        globs.push_back(g.toStdString());
    return globs;
}

RunConfig RunPanel::config() const {
    RunConfig c;
    c.recipe = recipeText().toStdString();
    c.calibrationText = calibFile_->text().trimmed().toStdString();
    c.calibrationWindows = calibWindows_->value();
    c.calibrationSeq = calibSeq_->value();
    c.evaluationText = evalFile_->text().trimmed().toStdString();
    c.evalSeq = evalSeq_->value();
    c.evalMaxWindows = evalWindows_->value();
    c.evalProtocol = protocol_->currentData().toString().toStdString();
    c.layers.include = splitGlobs(include_->text());
    c.layers.exclude = splitGlobs(exclude_->text());
    c.overrides = overrides_->overrides();
    const bool calib = !c.calibrationText.empty();
    c.captureActivations = calib && activations_->isChecked();
    c.captureGradients = calib && gradients_->isChecked();
    c.histogramBins = bins_->value();
    return c;
}

void RunPanel::setConfig(const RunConfig& c) {
    try {
        const Recipe r = Recipe::parse(c.recipe);
        QSignalBlocker b1(method_), b2(bits_), b3(granularity_), b4(groupSize_), b5(symmetry_),
            b6(blockSize_), b7(doubleQuant_), b8(computeDtype_), b9(actBits_), b10(actGranularity_),
            b11(actSymmetry_), b12(threshold_), b13(smooth_), b14(smoothAlpha_);
        method_->setCurrentIndex(method_->findData(QString::fromStdString(methodName(r.method))));
        const unsigned opts = methodSpec(r.method).options;
        if (opts & kOptBits) bits_->setValue(r.bits);
        if (opts & kOptGranularity) {
            granularity_->setCurrentIndex(int(r.granularity));
            if (r.granularity == Granularity::Group) groupSize_->setValue(r.groupSize);
        }
        if (opts & kOptSymmetry) symmetry_->setCurrentIndex(r.symmetric ? 0 : 1);
        if (opts & kOptBlockSize) blockSize_->setCurrentIndex(blockSize_->findData(r.blockSize));
        if (opts & kOptDoubleQuant) doubleQuant_->setChecked(r.doubleQuant);
        if (opts & kOptComputeDtype) computeDtype_->setCurrentIndex(int(r.computeDtype));
        if (opts & kOptOutlierThreshold) threshold_->setValue(r.outlierThreshold);
        if (!methodSpec(r.method).ownActivations) {
            actBits_->setValue(r.actBits);
            actGranularity_->setCurrentIndex(r.actPerToken ? 0 : 1);
            actSymmetry_->setCurrentIndex(r.actSymmetric ? 0 : 1);
        }
        smooth_->setChecked(r.smooth);
        if (r.smooth) smoothAlpha_->setValue(r.smoothAlpha);
    } catch (const std::exception& e) {
        status_->setText(
            QString("Invalid recipe '%1': %2").arg(QString::fromStdString(c.recipe), e.what()));
    }
    calibFile_->setText(QString::fromStdString(c.calibrationText));
    calibWindows_->setValue(c.calibrationWindows);
    calibSeq_->setValue(c.calibrationSeq);
    evalFile_->setText(QString::fromStdString(c.evaluationText));
    evalSeq_->setValue(c.evalSeq);
    evalWindows_->setValue(c.evalMaxWindows);
    activations_->setChecked(c.captureActivations);
    gradients_->setChecked(c.captureGradients);
    bins_->setValue(c.histogramBins);
    const int protocol = protocol_->findData(QString::fromStdString(c.evalProtocol));
    if (protocol >= 0) protocol_->setCurrentIndex(protocol);
    auto join = [](const std::vector<std::string>& globs) {
        QStringList l;
        for (const std::string& g : globs) l << QString::fromStdString(g);
        return l.join(", ");
    };
    include_->setText(join(c.layers.include));
    exclude_->setText(join(c.layers.exclude));
    overrides_->setOverrides(c.overrides);
    editorChanged();
}

void RunPanel::setRunning(bool running) {
    running_ = running;
    updateEnabled();
    if (!running) progress_->setValue(0);
}

void RunPanel::setRunEnabled(bool enabled) {
    runEnabled_ = enabled;
    if (enabled && !running_) status_->setText("Ready.");
    updateEnabled();  // after: an override problem replaces the status
}

QString RunPanel::runBlockedReason() const {
    if (running_) return "A run is in progress.";
    if (!runEnabled_) return "Open a model to start a run.";
    return overrides_ ? overrides_->problem() : QString();
}

void RunPanel::updateEnabled() {
    const QString blocked = runBlockedReason();
    run_->setEnabled(blocked.isEmpty());
    run_->setToolTip(blocked);
    cancel_->setEnabled(running_);
    // An override problem replaces the status until it is fixed; "Ready." comes back after.
    if (!running_ && runEnabled_) {
        const QString problem = overrides_ ? overrides_->problem() : QString();
        if (!problem.isEmpty())
            status_->setText("Cannot run: " + problem);
        else if (status_->text().startsWith("Cannot run: "))
            status_->setText("Ready.");
    }
}

void RunPanel::showProgress(const QString& phase, double fraction, double elapsed) {
    if (fraction < 0.0) return;  // a cancellation check, not progress
    progress_->setValue(int(std::clamp(fraction, 0.0, 1.0) * 1000));
    progress_->setFormat(QString("%1 — %p%").arg(phase));
    QString text = QString("Elapsed %1 s").arg(elapsed, 0, 'f', 1);
    if (fraction > 0.02 && fraction < 1.0)
        text += QString(", about %1 s left").arg(elapsed * (1.0 - fraction) / fraction, 0, 'f', 0);
    // Live memory of the process (the run is in it), next to the prediction in the log.
    if (const uint64_t rss = residentBytes(); rss > 0)
        text += QString(", memory %1 GiB").arg(double(rss) / (1024.0 * 1024.0 * 1024.0), 0, 'f', 2);
    status_->setText(text);
}

void RunPanel::showIdle(const QString& text) {
    progress_->setFormat("%p%");
    status_->setText(text);
}

}  // namespace ql
