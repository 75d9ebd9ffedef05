#include "widgets/layertablemodel.h"

#include "widgets/tableroles.h"

#include <cmath>
#include <map>
#include <set>

namespace ql {

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerTableModel::setLayers(std::vector<LayerRowInfo> layers) {
    beginResetModel();
    baseLayers_ = std::move(layers);
    rebuildRows();
    endResetModel();
}

void LayerTableModel::setRuns(RunList runs) {
    beginResetModel();
    runs_ = std::move(runs);
    rebuildRows();
    rebuildColumns();
    endResetModel();
}

void LayerTableModel::setDarkPalette(bool dark) {
    dark_ = dark;
    if (rowCount() > 0)
        emit dataChanged(this->index(0, 0), this->index(rowCount() - 1, columnCount() - 1),
                         {Qt::BackgroundRole});
}

void LayerTableModel::setRunShown(int run, bool shown) {
    if (run < 0 || run >= int(runs_.size()) || runShown(run) == shown) return;
    beginResetModel();
    if (shown)
        hiddenRuns_.erase(runs_[size_t(run)]->id);
    else
        hiddenRuns_.insert(runs_[size_t(run)]->id);
    rebuildColumns();
    endResetModel();
}

bool LayerTableModel::runShown(int run) const {
    return run >= 0 && run < int(runs_.size()) && !hiddenRuns_.count(runs_[size_t(run)]->id);
}

void LayerTableModel::setMetricShown(Metric m, bool shown) {
    if (metricShown(m) == shown) return;
    beginResetModel();
    if (shown)
        hiddenMetrics_.erase(int(m));
    else
        hiddenMetrics_.insert(int(m));
    rebuildColumns();
    endResetModel();
}

bool LayerTableModel::metricShown(Metric m) const {
    return !hiddenMetrics_.count(int(m));
}

QString LayerTableModel::metricName(Metric m) {
    static const char* names[] = {"W SQNR dB", "Out SQNR dB", "Act SQNR dB", "MSE",
                                  "Max |err|", "Cosine",      "Method",      "Fallback"};
    if (m == Fallback) return fallbackColumnTitle();
    return m >= 0 && m < MetricCount ? QString(names[m]) : QString();
}

int LayerTableModel::tintRun() const {
    for (int r = 0; r < int(runs_.size()); ++r)
        if (runShown(r)) return r;
    return -1;
}

int LayerTableModel::columnOf(int run, Metric m) const {
    for (size_t i = 0; i < columns_.size(); ++i)
        if (columns_[i].first == run && columns_[i].second == m) return FixedColumnCount + int(i);
    return -1;
}

void LayerTableModel::rebuildColumns() {
    columns_.clear();
    for (int r = 0; r < int(runs_.size()); ++r)
        for (int m = 0; m < MetricCount && runShown(r); ++m)
            if (metricShown(Metric(m))) columns_.push_back({r, Metric(m)});
}

QString LayerTableModel::tintNote() const {
    const int tint = tintRun();
    return tint < 0 ? QString("No run shown: rows are not coloured.")
                    : QString(
                          "Row colour: weight SQNR of %1, the first run shown. Right-click "
                          "the header to choose the runs and metrics shown.")
                          .arg(runDisplayName(*runs_[size_t(tint)]));
}

// Model order: the summary's layers first, then any layer only a run knows about.
void LayerTableModel::rebuildRows() {
    rows_ = baseLayers_;
    std::set<std::string> seen;
    for (const auto& r : rows_) seen.insert(r.name);
    for (const RunPtr& run : runs_)
        for (const LayerResult& l : run->layers)
            if (seen.insert(l.name).second)
                rows_.push_back({l.name, l.block, l.kind, l.rows, l.cols});
    // Cell lookups are per paint: resolve each run's layer of each row once here.
    cells_.assign(runs_.size(), std::vector<const LayerResult*>(rows_.size(), nullptr));
    for (size_t r = 0; r < runs_.size(); ++r) {
        std::map<std::string, const LayerResult*> byName;
        for (const LayerResult& l : runs_[r]->layers) byName[l.name] = &l;
        for (size_t i = 0; i < rows_.size(); ++i) {
            const auto it = byName.find(rows_[i].name);
            if (it != byName.end()) cells_[r][i] = it->second;
        }
    }
}

int LayerTableModel::rowOfLayer(const std::string& name) const {
    for (size_t i = 0; i < rows_.size(); ++i)
        if (rows_[i].name == name) return int(i);
    return -1;
}

std::string LayerTableModel::layerAt(int row) const {
    return row >= 0 && row < int(rows_.size()) ? rows_[size_t(row)].name : std::string();
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(rows_.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : FixedColumnCount + int(columns_.size());
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
    const LayerRowInfo& row = rows_[size_t(index.row())];
    if (role == LayerNameRole) return QString::fromStdString(row.name);
    if (role == Qt::BackgroundRole) return background(index.row(), index.column());
    if (index.column() < FixedColumnCount) return fixedData(row, index.column(), role);
    const auto [runIndex, metric] = columns_[size_t(index.column() - FixedColumnCount)];
    return metricData(cell(runIndex, index.row()), metric, role);
}

QVariant LayerTableModel::fixedData(const LayerRowInfo& row, int column, int role) const {
    if (role == Qt::TextAlignmentRole)
        return column == ColLayer || column == ColKind
                   ? QVariant()
                   : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != SortRole && role != ExportRole &&
        role != Qt::ToolTipRole)
        return {};
    switch (column) {
        case ColLayer:
            return QString::fromStdString(row.name);
        case ColBlock:
            return row.block;
        case ColKind:
            return QString::fromStdString(row.kind);
        case ColShape:
            if (role == SortRole) return double(row.rows) * double(row.cols);
            return QString("%1x%2").arg(row.rows).arg(row.cols);
        case ColParams:
            if (role == Qt::DisplayRole) return formatCount(double(row.rows) * double(row.cols));
            return double(row.rows) * double(row.cols);
    }
    return {};
}

QVariant LayerTableModel::metricData(const LayerResult* layer, Metric m, int role) const {
    if (!layer) return role == Qt::DisplayRole ? QVariant("-") : QVariant();
    if (role == Qt::TextAlignmentRole)
        return m == Method ? QVariant() : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole) {
        if (m == Fallback && layer->fallback) return QString::fromStdString(layer->fallbackReason);
        if (m == WeightSqnr) return sqnrLevelName(sqnrLevelOf(layer->weightSqnrDb));
        if (m == OutputSqnr) return sqnrLevelName(sqnrLevelOf(layer->outputSqnrDb));
        if (m == ActivationSqnr)
            return std::isnan(layer->activationSqnrDb)
                       ? QString("activations not quantized")
                       : sqnrLevelName(sqnrLevelOf(layer->activationSqnrDb));
        return {};
    }
    const bool display = role == Qt::DisplayRole;
    if (!display && role != SortRole && role != ExportRole) return {};
    switch (m) {
        case WeightSqnr:
            return display ? QVariant(formatDb(layer->weightSqnrDb)) : layer->weightSqnrDb;
        case OutputSqnr:
            return display ? QVariant(formatDb(layer->outputSqnrDb)) : layer->outputSqnrDb;
        case ActivationSqnr:
            return display ? QVariant(formatDb(layer->activationSqnrDb)) : layer->activationSqnrDb;
        case Mse:
            return display ? QVariant(formatNumber(layer->mse, 3)) : layer->mse;
        case MaxError:
            return display ? QVariant(formatNumber(layer->maxAbsError, 3)) : layer->maxAbsError;
        case Cosine:
            return display ? QVariant(QString::number(layer->cosine, 'f', 6)) : layer->cosine;
        case Method:
            return QString::fromStdString(layer->method);
        case Fallback:
            if (role == SortRole) return int(layer->fallback);
            return fallbackText(layer->fallback);
        case MetricCount:
            break;
    }
    return {};
}

// SQNR cells take their own level's colour; the fixed cells and the tint run's other
// cells its weight SQNR's colour.
QVariant LayerTableModel::background(int rowIndex, int column) const {
    const int tint = tintRun();
    if (column >= FixedColumnCount) {
        const auto [runIndex, metric] = columns_[size_t(column - FixedColumnCount)];
        const LayerResult* l = cell(runIndex, rowIndex);
        if (l && metric == WeightSqnr) return sqnrColor(sqnrLevelOf(l->weightSqnrDb), dark_);
        if (l && metric == OutputSqnr && !std::isnan(l->outputSqnrDb))
            return sqnrColor(sqnrLevelOf(l->outputSqnrDb), dark_);
        if (l && metric == ActivationSqnr && !std::isnan(l->activationSqnrDb))
            return sqnrColor(sqnrLevelOf(l->activationSqnrDb), dark_);
        if (runIndex != tint) return {};
    }
    if (tint < 0) return {};
    const LayerResult* l = cell(tint, rowIndex);
    return l ? QVariant(sqnrColor(sqnrLevelOf(l->weightSqnrDb), dark_)) : QVariant();
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation o, int role) const {
    const bool tip = role == Qt::ToolTipRole;
    if (o != Qt::Horizontal || (role != Qt::DisplayRole && role != ExportRole && !tip))
        return QAbstractTableModel::headerData(section, o, role);
    static const char* fixed[] = {"Layer", "Block", "Kind", "Shape", "Parameters"};
    if (section < 0 || section >= columnCount()) return {};
    if (section < FixedColumnCount) return tip ? tintNote() : QString(fixed[section]);
    const auto [runIndex, metric] = columns_[size_t(section - FixedColumnCount)];
    const RunResult& run = *runs_[size_t(runIndex)];
    if (tip)
        return QString("%1 of %2 (%3)")
                   .arg(metricName(metric), runDisplayName(run),
                        QString::fromStdString(run.config.recipe)) +
               (runIndex == tintRun() ? "\n" + tintNote() : QString());
    const QString sep = role == ExportRole ? " " : "\n";
    return runDisplayName(run) + sep + metricName(metric);
}

}  // namespace ql
