// The Generate tab's speed and memory table (issue 11, `quantlens-cli bench-infer` in the
// workbench): a column for the float model and one per run, as the text columns above it
// (the models across, the measures down, so that many runs scroll sideways) — how its weights
// compute, prefill and decode tokens/s, resident weight and KV-cache bytes, peak RSS — with the
// run's perplexity beside (float: the float perplexity the first evaluated run measured).
// Every number's settings (threads, prompt and generated tokens, evaluation) are in the
// caption and the cells' tooltips.
#pragma once

#include "run/infer_bench.h"
#include "widgets/resultutils.h"

#include <QAbstractTableModel>

#include <memory>

namespace ql {

using InferBenchPtr = std::shared_ptr<const InferBenchResult>;

class InferBenchTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    // The rows; the columns are the models (float, then the runs).
    enum Column {
        ColWeightsAs,
        ColPrefill,
        ColDecode,
        ColWeightBytes,
        ColKvBytes,
        ColPeakRss,
        ColPerplexity,
        ColumnCount
    };

    explicit InferBenchTableModel(QObject* parent = nullptr);
    // `runs[i]` is row i + 1's run (for its perplexity); the settings the result was made with.
    void setResult(InferBenchPtr result, RunList runs, int promptTokens, int genTokens);
    const InferBenchPtr& result() const { return result_; }
    QModelIndex cell(int model, Column measure) const { return index(int(measure), model); }
    QString caption() const;  // "2 threads · prompt 64 tokens · 16 generated · …"; empty: none

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    const RunResult* perplexityRun(int row) const;  // the run whose perplexity row shows
    QVariant display(int row, int column) const;
    QString toolTip(int row, int column) const;

    InferBenchPtr result_;
    RunList runs_;
    int promptTokens_ = 0, genTokens_ = 0;
};

}  // namespace ql
