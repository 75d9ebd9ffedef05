// The workbench's Sensitivity tab (issue 10): the settings of a measurement (recipe, unit,
// mode, evaluation windows), Measure/Cancel with progress, and the SensitivityView of the
// result. The texts, the layer selection and the calibration settings are the run panel's
// (the window fills them in), so a measurement and a run of the same panel compare.
#pragma once

#include "run/sensitivity.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace ql {

class SensitivityView;

class SensitivityPage : public QWidget {
    Q_OBJECT
public:
    explicit SensitivityPage(QWidget* parent = nullptr);

    // recipe, unit, mode, windows × length (the window adds the model, texts and layers).
    SensitivityConfig settings() const;
    void setSettings(const SensitivityConfig& c);
    // Empty when Measure may start, else why not (shown on the button and the status).
    QString blockedReason() const;

    void setModelOpen(bool open);
    void setRunning(bool running);
    void showProgress(double fraction, double elapsedSeconds);
    void showIdle(const QString& text);
    void showFinished(const QString& text);  // the bar full, then the text

    SensitivityView* view() const { return view_; }
    QLineEdit* recipeField() const { return recipe_; }
    QPushButton* fromPanelButton() const { return fromPanel_; }
    QComboBox* unitBox() const { return unit_; }
    QComboBox* modeBox() const { return mode_; }
    QSpinBox* windowsBox() const { return windows_; }
    QSpinBox* seqBox() const { return seq_; }
    QPushButton* measureButton() const { return measure_; }
    QPushButton* cancelButton() const { return cancel_; }
    QProgressBar* progressBar() const { return progress_; }
    QLabel* statusLabel() const { return status_; }

signals:
    void measureRequested();
    void cancelRequested();
    void recipeFromPanelRequested();  // the window answers with setSettings

private:
    QWidget* buildSettings();
    void updateEnabled();

    SensitivityView* view_ = nullptr;
    QLineEdit* recipe_ = nullptr;
    QPushButton *fromPanel_ = nullptr, *measure_ = nullptr, *cancel_ = nullptr;
    QComboBox *unit_ = nullptr, *mode_ = nullptr;
    QSpinBox *windows_ = nullptr, *seq_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QLabel* status_ = nullptr;
    bool modelOpen_ = false;
    bool running_ = false;
};

}  // namespace ql
