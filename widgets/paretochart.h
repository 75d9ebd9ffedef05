// The plan's Pareto chart (issue 10): memory (bits per weight of the planned layers)
// against KL to the float model. Predicted points (Σ of the layers' one-in ΔKL mean) for
// each uniform candidate and for the planned mixes across budgets; measured points (the
// mean KL of an actual run) for the runs of the workbench that quantize the planned layers
// exactly as a uniform candidate or a planned mix does and were evaluated on the same
// windows. Predicted and measured are different series, and the title names the windows
// and text both were measured on: only like is compared with like. Clicking a planned
// point selects that plan (planClicked).
#pragma once

#include "run/plan_inputs.h"
#include "widgets/resultutils.h"

#include <qcustomplot.h>

#include <memory>
#include <vector>

namespace ql {

class FittedTitle;

using PlanInputsPtr = std::shared_ptr<const PlanInputs>;

struct ParetoPoint {
    double bitsPerWeight = 0.0;
    double kl = 0.0;
    QString label;  // recipe (and its fallback note), or the plan's budget
    int plan = -1;  // index into the plans (planned and measured-plan points)
};

struct ParetoData {
    QString measuredOn;  // "2 × 128 tokens of stories.txt (gptq)"
    std::vector<ParetoPoint> uniformPredicted, planPredicted, uniformMeasured, planMeasured;
};

// The plans at `budgets` (bytes), identical plans once; each the exact knapsack optimum.
std::vector<PlanResult> planSweep(const PlanInputs& in, const std::vector<uint64_t>& budgets);
// `count` budgets evenly from the cheapest to the largest plan (both included).
std::vector<uint64_t> sweepBudgets(const PlanInputs& in, int count);
// Whether `run` quantized every planned layer with the candidate `choice` gives it (and
// was evaluated on the plan's windows, text and protocol).
bool runMatchesPlan(const RunResult& run, const PlanInputs& in, const std::vector<int>& choice);
ParetoData paretoData(const PlanInputs& in, const std::vector<PlanResult>& plans,
                      const RunList& runs);
// The planned layers that fall back under `choice` (a candidate per layer), with the reason:
// "layer: reason" lines; and the note the GUI shows for them (resultutils.h: fallbackNote,
// "→ channel ×3 of 35" for a uniform group-wise choice), empty when none falls back.
QStringList planFallbacks(const PlanInputs& in, const std::vector<int>& choice);
QString planFallbackNote(const PlanInputs& in, const std::vector<int>& choice);

class ParetoChart : public QCustomPlot {
    Q_OBJECT
public:
    enum Series { UniformPredicted, PlanPredicted, UniformMeasured, PlanMeasured, SeriesCount };

    explicit ParetoChart(QWidget* parent = nullptr);
    void setData(ParetoData data);
    const ParetoData& data() const { return data_; }
    QCPAbstractPlottable* series(Series s) const { return series_[s]; }
    void setSelectedPlan(int plan);
    void selectPlan(int plan);  // what a click on the planned point does (emits planClicked)
    QString title() const;
    void applyPalette();  // after the application palette changed (View → Theme)

signals:
    void planClicked(int plan);

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void onClick(QCPAbstractPlottable* plottable, int dataIndex, QMouseEvent* event);

    ParetoData data_;
    QCPAbstractPlottable* series_[SeriesCount] = {};
    QCPGraph* selected_ = nullptr;
    FittedTitle* title_ = nullptr;
    std::vector<QCPItemText*> labels_;
};

}  // namespace ql
