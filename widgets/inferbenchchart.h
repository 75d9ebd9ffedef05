// The Generate tab's speed-vs-memory-vs-perplexity chart (issue 11): one point per model of
// a bench-infer result (float, then each run) — decode tokens/s (left axis) against resident
// weight memory, labelled with the model's name and its perplexity with the settings it was
// measured with ("ppl —" when the run was not evaluated); prefill tokens/s of the same models
// as hollow markers on the right axis. Fed by the same InferBenchResult and runs as the
// table beside it (InferBenchTableModel), so its numbers are the table's.
#pragma once

#include "run/infer_bench.h"
#include "widgets/resultutils.h"

#include <qcustomplot.h>

#include <memory>
#include <vector>

namespace ql {

class FittedTitle;

struct InferBenchPoint {
    QString name;  // "float" or the row's run name, as the table's header
    double weightBytes = 0.0;
    double decodeTokensPerSecond = 0.0;
    double prefillTokensPerSecond = 0.0;
    QString perplexity;  // "ppl 12.345 (seq 128 × 2)" (windows), one per setting; "ppl —"
};

struct InferBenchChartData {
    std::vector<InferBenchPoint> points;
    // The evaluation settings every evaluated run shares (evalSettingLabel); empty when no
    // run was evaluated or when they differ (settingsDiffer: each label then names its own).
    QString evaluation;
    bool settingsDiffer = false;
};

// `runs[i]` is result row i + 1's run. The float point's perplexity is the float perplexity
// each distinct evaluation setting of the runs measured (the first run of each setting).
InferBenchChartData inferBenchChartData(const InferBenchResult& result, const RunList& runs);

class InferBenchChart : public QCustomPlot {
    Q_OBJECT
public:
    explicit InferBenchChart(QWidget* parent = nullptr);
    // Null: the empty chart with a message saying how to measure.
    void setResult(std::shared_ptr<const InferBenchResult> result, const RunList& runs);
    const InferBenchChartData& data() const { return data_; }
    QString title() const;
    QString message() const;                 // shown over an empty chart; empty with points
    QCPGraph* decodeGraph(int model) const;  // model 0 = float; null if none
    QCPGraph* prefillGraph(int model) const;
    QCPItemText* label(int model) const;
    QString dataCsv() const;
    void applyPalette();

private:
    void rebuild();
    void addModel(const InferBenchPoint& p, const QColor& colour, const QPalette& palette);
    // Beside their points, covering no marker or other label where there is room; after
    // every layout (the pixels of the points change with the size).
    void placeLabels();

    InferBenchChartData data_;
    FittedTitle* title_ = nullptr;
    QCPItemText* message_ = nullptr;
    std::vector<QCPGraph*> decode_, prefill_;
    std::vector<QCPItemText*> labels_;
    std::vector<QCPItemLine*> leaders_;  // label to point, when the label sits away from it
};

}  // namespace ql
