// The model overview's table of flagged layers: the layers whose metric is beyond the
// overview's threshold (layer, block, kind, value), worst first as the overview orders
// them. Roles: SortRole (numeric), LayerNameRole (the row's layer), ExportRole (full
// precision, for TableView's CSV export).
#pragma once

#include <QAbstractTableModel>

#include <string>
#include <vector>

namespace ql {

struct FlaggedLayer {
    std::string name;
    int block = 0;
    std::string kind;
    double value = 0.0;
};

class FlaggedLayersModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { ColLayer, ColBlock, ColKind, ColValue, ColumnCount };
    explicit FlaggedLayersModel(QObject* parent = nullptr);

    // rows: already in display order (worst first); metric: the value column's header.
    void setRows(std::vector<FlaggedLayer> rows, const QString& metric);
    const std::vector<FlaggedLayer>& rows() const { return rows_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    std::vector<FlaggedLayer> rows_;
    QString metric_;
};

}  // namespace ql
