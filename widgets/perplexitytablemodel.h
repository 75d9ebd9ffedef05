// Perplexity table: one row per run with float and quantized perplexity, their
// difference, KL divergence, top-1 agreement and the evaluation settings (protocol, seq,
// windows, text). Each row's deltas are against its own float perplexity, measured with
// the same settings; the cells' tooltips say so.
#pragma once

#include "widgets/resultutils.h"

#include <QAbstractTableModel>

namespace ql {

class PerplexityTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        ColRun,
        ColRecipe,
        ColPplFloat,
        ColPplQuant,
        ColDeltaPpl,
        ColDeltaPercent,
        ColKlMean,
        ColKlP99,
        ColTop1,
        ColTokens,
        ColProtocol,
        ColSeq,
        ColWindows,
        ColEvalText,
        ColumnCount
    };

    explicit PerplexityTableModel(QObject* parent = nullptr);
    void setRuns(RunList runs);
    const RunList& runs() const { return runs_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    QVariant value(const RunResult& run, int column, int role) const;
    RunList runs_;
};

}  // namespace ql
