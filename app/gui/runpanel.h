// The run panel: preset recipes, an editor for every recipe field, calibration and
// evaluation settings, capture switches, Run/Cancel, and the progress of the active run.
#pragma once

#include "quant/recipe.h"
#include "run/run.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QScrollArea;
class QSpinBox;

namespace ql {

class OverridesEditor;

class RunPanel : public QWidget {
    Q_OBJECT
public:
    explicit RunPanel(QWidget* parent = nullptr);

    // The settings as a RunConfig (modelDir left empty: the window fills it in).
    RunConfig config() const;
    void setConfig(const RunConfig& config);  // fills the editor (recipe parsed)
    // From the editor fields, in the canonical form (Recipe::toString), so that it parses back
    // to the same text. The method list and the fields shown come from the method registry.
    QString recipeText() const;
    void selectPreset(int index);
    static QStringList presetNames();
    static QString presetRecipe(int index);

    void setRunning(bool running);
    void setRunEnabled(bool enabled);  // false while no model is open
    void showProgress(const QString& phase, double fraction, double elapsedSeconds);
    void showIdle(const QString& text);

    // Globs separated by commas or spaces, as the CLI's repeated --include/--exclude.
    static std::vector<std::string> splitGlobs(const QString& text);

    QPushButton* runButton() const { return run_; }
    QComboBox* presetBox() const { return preset_; }
    QComboBox* methodBox() const { return method_; }
    QSpinBox* bitsBox() const { return bits_; }
    QComboBox* granularityBox() const { return granularity_; }
    QSpinBox* groupSizeBox() const { return groupSize_; }
    QComboBox* symmetryBox() const { return symmetry_; }
    QComboBox* blockSizeBox() const { return blockSize_; }
    QCheckBox* doubleQuantBox() const { return doubleQuant_; }
    QComboBox* computeDtypeBox() const { return computeDtype_; }
    // Activation side (methods without their own): bits (0 = float), token/tensor, sym/asym.
    QSpinBox* actBitsBox() const { return actBits_; }
    QComboBox* actGranularityBox() const { return actGranularity_; }
    QComboBox* actSymmetryBox() const { return actSymmetry_; }
    QDoubleSpinBox* thresholdBox() const { return threshold_; }  // LLM.int8()
    QCheckBox* smoothBox() const { return smooth_; }             // SmoothQuant
    QDoubleSpinBox* smoothAlphaBox() const { return smoothAlpha_; }
    // Whether the editor shows the row of this field (the current method takes the option).
    bool isFieldShown(QWidget* field) const;
    QComboBox* protocolBox() const { return protocol_; }
    QLineEdit* includeField() const { return include_; }
    QLineEdit* excludeField() const { return exclude_; }
    QLineEdit* calibrationField() const { return calibFile_; }
    QCheckBox* activationsBox() const { return activations_; }
    QCheckBox* gradientsBox() const { return gradients_; }
    QPushButton* cancelButton() const { return cancel_; }
    QProgressBar* progressBar() const { return progress_; }
    QLabel* statusLabel() const { return status_; }
    QScrollArea* settingsArea() const { return scroll_; }
    // Per-layer overrides (config().overrides); a bad row disables Run and says why.
    OverridesEditor* overridesEditor() const { return overrides_; }
    void setLayerNames(std::vector<std::string> names);  // the open model's, for the patterns
    QString runBlockedReason() const;                    // empty when Run may start

signals:
    void runRequested();
    void cancelRequested();
    // Any recipe field or preset changed (after the editor shows it): the live preview.
    void recipeEdited();

private:
    QWidget* buildRecipeBox();
    QWidget* buildDataBox();
    QWidget* buildOverridesBox();
    void editorChanged();
    Recipe editorRecipe() const;
    unsigned methodOptions() const;  // MethodOption bits of the method selected
    bool ownActivations() const;     // the method brings its own activation side
    void updateEnabled();
    void updateCaptureBoxes();
    QLineEdit* fileField(QWidget* parent, const QString& settingsKey);

    QComboBox *preset_ = nullptr, *method_ = nullptr, *granularity_ = nullptr, *symmetry_ = nullptr,
              *protocol_ = nullptr, *blockSize_ = nullptr, *computeDtype_ = nullptr;
    QCheckBox* doubleQuant_ = nullptr;
    QSpinBox* actBits_ = nullptr;
    QComboBox *actGranularity_ = nullptr, *actSymmetry_ = nullptr;
    QDoubleSpinBox* threshold_ = nullptr;
    QCheckBox* smooth_ = nullptr;
    QDoubleSpinBox* smoothAlpha_ = nullptr;
    QFormLayout* recipeForm_ = nullptr;
    QSpinBox *bits_ = nullptr, *groupSize_ = nullptr;
    QLabel* recipeLabel_ = nullptr;
    QLineEdit *calibFile_ = nullptr, *evalFile_ = nullptr, *include_ = nullptr, *exclude_ = nullptr;
    QSpinBox *calibWindows_ = nullptr, *calibSeq_ = nullptr, *evalSeq_ = nullptr,
             *evalWindows_ = nullptr, *bins_ = nullptr;
    QCheckBox *activations_ = nullptr, *gradients_ = nullptr;
    QPushButton *run_ = nullptr, *cancel_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QScrollArea* scroll_ = nullptr;
    OverridesEditor* overrides_ = nullptr;
    QLabel* status_ = nullptr;
    bool runEnabled_ = false;
    bool running_ = false;
    bool settingPreset_ = false;
};

}  // namespace ql
