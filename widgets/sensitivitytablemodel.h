// The sensitivity table (issue 10): one row per measured unit (a layer, a block or a kind),
// the unit's name, then one column per number of UnitSensitivity. The numeric columns come
// from one list (sensitivitytablemodel.cpp, kColumns): a new measurement or proxy of
// UnitSensitivity is one line there, and the ranked chart and CSV export pick it up. The last
// column says which units fell back (a group size that does not divide the rows).
#pragma once

#include "run/sensitivity.h"

#include <QAbstractTableModel>

#include <memory>

namespace ql {

using SensitivityPtr = std::shared_ptr<const SensitivityResult>;

class SensitivityTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum { ColUnit = 0, FirstNumericColumn = 1 };

    explicit SensitivityTableModel(QObject* parent = nullptr);
    void setResult(SensitivityPtr result);
    const SensitivityPtr& result() const { return result_; }

    // The numeric columns: how many, and the value of one (NaN when not measured).
    static int numericColumnCount();
    // After them, whether the unit's layers fell back (the layer table's "Fallback" column:
    // yes / no, the reason as tooltip; a group of layers: "yes (3 of 7)").
    static int fallbackColumn() { return FirstNumericColumn + numericColumnCount(); }
    static QString columnTitle(int column);  // as the header shows it
    static QString columnKey(int column);    // CSV header, e.g. "delta_kl_mean"
    // The column whose value ranks units by default (ΔKL mean).
    static int defaultRankColumn();
    double value(int row, int column) const;
    const UnitSensitivity& unitAt(int row) const { return result_->units[size_t(row)]; }
    // The row of a layer: its own unit, or the unit (block, kind) that contains it; -1: none.
    int rowOfLayer(const std::string& layer) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

private:
    static QVariant fallbackData(const UnitSensitivity& u, int role);

    SensitivityPtr result_;
};

}  // namespace ql
