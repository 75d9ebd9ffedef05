#include "widgets/flaggedlayersmodel.h"

#include "widgets/tableroles.h"

namespace ql {

FlaggedLayersModel::FlaggedLayersModel(QObject* parent) : QAbstractTableModel(parent) {}

void FlaggedLayersModel::setRows(std::vector<FlaggedLayer> rows, const QString& metric) {
    beginResetModel();
    rows_ = std::move(rows);
    metric_ = metric;
    endResetModel();
}

int FlaggedLayersModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(rows_.size());
}

int FlaggedLayersModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant FlaggedLayersModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const FlaggedLayer& r = rows_[size_t(index.row())];
    if (role == LayerNameRole) return QString::fromStdString(r.name);
    if (role == Qt::TextAlignmentRole && index.column() != ColLayer && index.column() != ColKind)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != SortRole && role != ExportRole) return {};
    switch (index.column()) {
        case ColLayer:
            return QString::fromStdString(r.name);
        case ColBlock:
            return r.block;
        case ColKind:
            return QString::fromStdString(r.kind);
        case ColValue:
            if (role == SortRole) return r.value;
            return QString::number(r.value, 'g', role == ExportRole ? 10 : 4);
        default:
            return {};
    }
}

QVariant FlaggedLayersModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || (role != Qt::DisplayRole && role != ExportRole)) return {};
    switch (section) {
        case ColLayer:
            return QString("layer");
        case ColBlock:
            return QString("block");
        case ColKind:
            return QString("kind");
        case ColValue:
            return metric_;
        default:
            return {};
    }
}

}  // namespace ql
