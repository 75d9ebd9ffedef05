// The layer table: one row per quantizable layer, fixed columns describing the layer and,
// for each run, its metrics (weight/output SQNR, MSE, max error, cosine, method, fallback).
// Rows are coloured by the SQNR thresholds of the primary run.
#pragma once

#include "widgets/resultutils.h"

#include <QAbstractTableModel>

namespace ql {

struct LayerRowInfo {
    std::string name;
    int block = 0;
    std::string kind;
    int64_t rows = 0, cols = 0;
};

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum FixedColumn { ColLayer, ColBlock, ColKind, ColShape, ColParams, FixedColumnCount };
    enum Metric { WeightSqnr, OutputSqnr, Mse, MaxError, Cosine, Method, Fallback, MetricCount };

    explicit LayerTableModel(QObject* parent = nullptr);

    // Rows known before any run (from the model's summary); runs add their own layers.
    void setLayers(std::vector<LayerRowInfo> layers);
    void setRuns(RunList runs);
    void setPrimaryRun(int index);  // run whose SQNR colours the rows (-1: none)
    void setDarkPalette(bool dark);

    const RunList& runs() const { return runs_; }
    static int metricColumn(int run, Metric m) { return FixedColumnCount + run * MetricCount + m; }
    int rowOfLayer(const std::string& name) const;
    std::string layerAt(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    void rebuildRows();
    QVariant fixedData(const LayerRowInfo& row, int column, int role) const;
    QVariant metricData(const LayerResult* layer, Metric m, int role) const;
    QVariant background(int row, int column) const;
    const LayerResult* cell(int run, int row) const { return cells_[size_t(run)][size_t(row)]; }

    std::vector<LayerRowInfo> baseLayers_;
    std::vector<LayerRowInfo> rows_;
    std::vector<std::vector<const LayerResult*>> cells_;  // [run][row], nullptr: not in run
    RunList runs_;
    int primary_ = 0;
    bool dark_ = false;
};

}  // namespace ql
