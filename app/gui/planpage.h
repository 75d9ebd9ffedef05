// The workbench's Plan tab (issue 10): candidate recipes and a budget (a uniform
// candidate's bytes plus a percentage), Measure (each candidate's layer-wise one-in ΔKL and
// bytes, on a background thread), then the Pareto chart of the uniform candidates and the
// planned mixes across budgets, with the measured KL of runs of them. Clicking a planned
// point selects it; "Run this plan" puts it into the run panel (recipe and overrides, the
// plan's evaluation windows) and runs it, so that its measured point joins the chart.
#pragma once

#include "run/plan_inputs.h"
#include "run/plan_llama.h"
#include "widgets/paretochart.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace ql {

class PlanPage : public QWidget {
    Q_OBJECT
public:
    explicit PlanPage(QWidget* parent = nullptr);

    // The candidates as typed (comma separated) and the windows; the window adds the rest.
    std::vector<std::string> candidates() const;
    SensitivityConfig settings() const;
    void setCandidates(const QString& commaSeparated);
    QString blockedReason() const;  // empty when Measure may start

    // New measurements: the plans at the user's budget and across budgets.
    void setInputs(PlanInputsPtr inputs);
    const PlanInputsPtr& inputs() const { return inputs_; }
    void setRuns(const RunList& runs);  // for the measured points
    const std::vector<PlanResult>& plans() const { return plans_; }
    int budgetPlan() const { return budgetPlan_; }  // the plan at the user's budget, -1: none
    uint64_t budgetBytes() const;                   // 0 without inputs
    void selectPlan(int plan);
    int selectedPlan() const { return selected_; }
    PlanRun selectedPlanRun() const;  // recipe and overrides of the selected plan
    // The selected plan for llama-quantize (possible only with llama.cpp-type candidates).
    LlamaQuantizePlan selectedLlamaPlan() const;

    void setModelOpen(bool open);
    void setRunning(bool running);
    void showProgress(double fraction, double elapsedSeconds);
    void showIdle(const QString& text);
    void showFinished(const QString& text);  // the bar full, then the text

    ParetoChart* chart() const { return chart_; }
    QLineEdit* candidatesField() const { return candidates_; }
    QComboBox* budgetRecipeBox() const { return budgetRecipe_; }
    QDoubleSpinBox* budgetExtraBox() const { return budgetExtra_; }
    QSpinBox* windowsBox() const { return windows_; }
    QSpinBox* seqBox() const { return seq_; }
    QPushButton* measureButton() const { return measure_; }
    QPushButton* cancelButton() const { return cancel_; }
    QPushButton* runPlanButton() const { return runPlan_; }
    QPushButton* copyLlamaButton() const { return copyLlama_; }
    QLabel* planLabel() const { return planLabel_; }
    QLabel* statusLabel() const { return status_; }

signals:
    void measureRequested();
    void cancelRequested();
    void runPlanRequested();

private:
    QWidget* buildSettings();
    void updateEnabled();
    void replan();  // plans from inputs_ and the budget
    void refreshChart();

    PlanInputsPtr inputs_;
    RunList runs_;
    std::vector<PlanResult> plans_;
    int budgetPlan_ = -1, selected_ = -1;
    ParetoChart* chart_ = nullptr;
    QPushButton* copyLlama_ = nullptr;
    QLineEdit* candidates_ = nullptr;
    QComboBox* budgetRecipe_ = nullptr;
    QDoubleSpinBox* budgetExtra_ = nullptr;
    QSpinBox *windows_ = nullptr, *seq_ = nullptr;
    QPushButton *measure_ = nullptr, *cancel_ = nullptr, *runPlan_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QLabel *planLabel_ = nullptr, *status_ = nullptr;
    bool modelOpen_ = false, running_ = false;
};

}  // namespace ql
