// The layer table: one row per quantizable layer, fixed columns describing the layer and,
// for each shown run, its shown metrics (weight/output/activation SQNR, MSE, max error, cosine,
// method, fallback). The user chooses the runs and metrics shown (all by default; hidden
// runs are remembered by id). Rows are tinted by the weight SQNR of the first shown run,
// which the header tooltips name.
#pragma once

#include "widgets/resultutils.h"

#include <QAbstractTableModel>

#include <set>
#include <utility>

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
    enum Metric {
        WeightSqnr,
        OutputSqnr,
        ActivationSqnr,  // n/a unless the run's recipe quantizes activations
        Mse,
        MaxError,
        Cosine,
        Method,
        Fallback,
        MetricCount
    };

    explicit LayerTableModel(QObject* parent = nullptr);

    // Rows known before any run (from the model's summary); runs add their own layers.
    void setLayers(std::vector<LayerRowInfo> layers);
    void setRuns(RunList runs);
    void setDarkPalette(bool dark);

    void setRunShown(int run, bool shown);
    bool runShown(int run) const;
    void setMetricShown(Metric m, bool shown);
    bool metricShown(Metric m) const;
    static QString metricName(Metric m);
    int tintRun() const;  // first shown run, -1 when none

    const RunList& runs() const { return runs_; }
    // Column of (run, metric) when every run and metric is shown (the default).
    static int metricColumn(int run, Metric m) { return FixedColumnCount + run * MetricCount + m; }
    // Column of (run, metric) with the current choice; -1 when hidden.
    int columnOf(int run, Metric m) const;
    int rowOfLayer(const std::string& name) const;
    std::string layerAt(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    void rebuildRows();
    void rebuildColumns();
    QString tintNote() const;
    QVariant fixedData(const LayerRowInfo& row, int column, int role) const;
    QVariant metricData(const LayerResult* layer, Metric m, int role) const;
    QVariant background(int row, int column) const;
    const LayerResult* cell(int run, int row) const { return cells_[size_t(run)][size_t(row)]; }

    std::vector<LayerRowInfo> baseLayers_;
    std::vector<LayerRowInfo> rows_;
    std::vector<std::vector<const LayerResult*>> cells_;  // [run][row], nullptr: not in run
    RunList runs_;
    std::vector<std::pair<int, Metric>> columns_;  // shown metric columns after the fixed ones
    std::set<std::string> hiddenRuns_;             // by run id
    std::set<int> hiddenMetrics_;
    bool dark_ = false;
};

}  // namespace ql
