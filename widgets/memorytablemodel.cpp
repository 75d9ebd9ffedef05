#include "widgets/memorytablemodel.h"

#include "widgets/tableroles.h"

#include <QFont>

namespace ql {

MemoryTableModel::MemoryTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void MemoryTableModel::setRun(RunPtr run) {
    beginResetModel();
    run_ = std::move(run);
    endResetModel();
}

int MemoryTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !run_ ? 0 : layerRowCount() + SummaryRowCount;
}

int MemoryTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

MemoryTableModel::Line MemoryTableModel::lineAt(int row) const {
    const MemorySummary& m = run_->memory;
    if (row < layerRowCount()) {
        const LayerResult& l = run_->layers[size_t(row)];
        return {QString::fromStdString(l.name),
                l.name,
                QString::fromStdString(l.method),
                double(l.parameters),
                double(l.bytesFp),
                double(l.bytesQ)};
    }
    switch (row - layerRowCount()) {
        case RowQuantizedTotal: {
            double params = 0;
            for (const LayerResult& l : run_->layers) params += double(l.parameters);
            return {"All quantized layers",   {}, {}, params, double(m.bytesFpQuantized),
                    double(m.bytesQQuantized)};
        }
        case RowModelTotal:
            return {"Whole model",        {}, {}, double(m.parametersTotal), double(m.bytesFpTotal),
                    double(m.bytesQTotal)};
        default:
            return {"Peak RSS of the run", {}, {}, -1, double(m.peakRssBytes), -1};
    }
}

QVariant MemoryTableModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
    const Line line = lineAt(index.row());
    if (role == LayerNameRole) return QString::fromStdString(line.layer);
    if (role == Qt::FontRole && line.layer.empty()) {
        QFont f;
        f.setBold(true);
        return f;
    }
    if (role == Qt::TextAlignmentRole)
        return index.column() == ColLayer || index.column() == ColRecipe
                   ? QVariant()
                   : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    const bool display = role == Qt::DisplayRole;
    if (!display && role != SortRole && role != ExportRole) return {};
    auto number = [&](double v, bool bytes) -> QVariant {
        if (v < 0) return display ? QVariant("") : QVariant();
        if (!display) return role == ExportRole ? QVariant(qint64(v)) : QVariant(v);
        return bytes ? formatBytes(v) : formatCount(v);
    };
    const bool hasRatio = line.source > 0 && line.quant > 0;
    switch (index.column()) {
        case ColLayer:
            return line.name;
        case ColRecipe:
            return line.recipe;
        case ColParams:
            return number(line.params, false);
        case ColSourceBytes:
            return number(line.source, true);
        case ColQuantBytes:
            return number(line.quant, true);
        case ColRatio:
            if (!hasRatio) return display ? QVariant("") : QVariant();
            return display ? QVariant(QString::number(line.source / line.quant, 'f', 2) + "x")
                           : QVariant(line.source / line.quant);
        case ColSaved:
            if (!hasRatio) return display ? QVariant("") : QVariant();
            return display ? QVariant(
                                 QString::number(100.0 * (1.0 - line.quant / line.source), 'f', 1) +
                                 " %")
                           : QVariant(100.0 * (1.0 - line.quant / line.source));
    }
    return {};
}

QVariant MemoryTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || (role != Qt::DisplayRole && role != ExportRole))
        return QAbstractTableModel::headerData(section, o, role);
    static const char* display[] = {"Layer",     "Recipe", "Parameters", "Source",
                                    "Quantized", "Ratio",  "Saved"};
    static const char* exported[] = {"layer",           "recipe", "parameters",   "source_bytes",
                                     "quantized_bytes", "ratio",  "saved_percent"};
    if (section < 0 || section >= ColumnCount) return {};
    return QString(role == ExportRole ? exported[section] : display[section]);
}

}  // namespace ql
