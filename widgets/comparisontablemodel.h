// Two runs side by side: per layer (matched by name) a column for each run and a delta
// column (B - A) for weight SQNR, output SQNR, MSE and quantized bytes. Output SQNR is
// measured on calibration inputs: when A and B used different ones, its delta is left empty
// (n/a) and the cell and header tooltips say why.
#pragma once

#include "widgets/resultutils.h"

#include <QAbstractTableModel>

namespace ql {

class ComparisonTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Metric { WeightSqnr, OutputSqnr, Mse, QuantBytes, MetricCount };
    enum Part { PartA, PartB, PartDelta, PartCount };

    explicit ComparisonTableModel(QObject* parent = nullptr);
    void setRuns(RunPtr a, RunPtr b);
    void setDarkPalette(bool dark);
    static int column(Metric m, Part p) { return 1 + int(m) * PartCount + int(p); }
    std::string layerAt(int row) const;
    int rowOfLayer(const std::string& name) const;
    // Whether output SQNR of A and B was measured on the same calibration inputs.
    bool outputSqnrComparable() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    static double metricValue(const LayerResult* l, Metric m);
    QString notComparableReason() const;
    RunPtr a_, b_;
    bool dark_ = false;
};

}  // namespace ql
