// Memory table of one run: per layer its actual recipe, parameters, bytes in the source dtype,
// quantized bytes (packed weights + scales + zeros) and ratio; then totals and the run's peak RSS.
#pragma once

#include "widgets/resultutils.h"

#include <QAbstractTableModel>

namespace ql {

class MemoryTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        ColLayer,
        ColRecipe,  // the layer's actual recipe (the run's, or its override's)
        ColParams,
        ColSourceBytes,
        ColQuantBytes,
        ColRatio,
        ColSaved,
        ColumnCount
    };
    // Rows after the layers: quantized layers total, whole model, peak RSS.
    enum SummaryRow { RowQuantizedTotal, RowModelTotal, RowPeakRss, SummaryRowCount };

    explicit MemoryTableModel(QObject* parent = nullptr);
    void setRun(RunPtr run);
    const RunPtr& run() const { return run_; }
    int layerRowCount() const { return run_ ? int(run_->layers.size()) : 0; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    struct Line {
        QString name;
        std::string layer;
        QString recipe;
        double params = -1, source = -1, quant = -1;
    };
    Line lineAt(int row) const;
    RunPtr run_;
};

}  // namespace ql
