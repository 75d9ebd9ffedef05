#include "widgets/comparisontablemodel.h"

#include "widgets/tableroles.h"

#include <cmath>
#include <limits>

namespace ql {

ComparisonTableModel::ComparisonTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void ComparisonTableModel::setRuns(RunPtr a, RunPtr b) {
    beginResetModel();
    a_ = std::move(a);
    b_ = std::move(b);
    endResetModel();
}

void ComparisonTableModel::setDarkPalette(bool dark) {
    beginResetModel();
    dark_ = dark;
    endResetModel();
}

std::string ComparisonTableModel::layerAt(int row) const {
    return a_ && row >= 0 && row < int(a_->layers.size()) ? a_->layers[size_t(row)].name
                                                          : std::string();
}

int ComparisonTableModel::rowOfLayer(const std::string& name) const {
    if (!a_) return -1;
    for (size_t i = 0; i < a_->layers.size(); ++i)
        if (a_->layers[i].name == name) return int(i);
    return -1;
}

bool ComparisonTableModel::outputSqnrComparable() const {
    return a_ && b_ && calibrationKey(*a_) == calibrationKey(*b_);
}

QString ComparisonTableModel::notComparableReason() const {
    return QString(
               "Output SQNR of A and B was measured on different calibration inputs (%1 vs "
               "%2): no delta.")
        .arg(calibrationLabel(*a_), calibrationLabel(*b_));
}

int ComparisonTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !a_ || !b_ ? 0 : int(a_->layers.size());
}

int ComparisonTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : 1 + MetricCount * PartCount;
}

double ComparisonTableModel::metricValue(const LayerResult* l, Metric m) {
    if (!l) return std::numeric_limits<double>::quiet_NaN();
    switch (m) {
        case WeightSqnr:
            return l->weightSqnrDb;
        case OutputSqnr:
            return l->outputSqnrDb;
        case Mse:
            return l->mse;
        case QuantBytes:
            return double(l->bytesQ);
        case MetricCount:
            break;
    }
    return 0.0;
}

QVariant ComparisonTableModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
    const LayerResult& la = a_->layers[size_t(index.row())];
    if (role == LayerNameRole) return QString::fromStdString(la.name);
    if (index.column() == 0)
        return role == Qt::DisplayRole || role == SortRole || role == ExportRole
                   ? QVariant(QString::fromStdString(la.name))
                   : QVariant();
    const auto m = Metric((index.column() - 1) / PartCount);
    const auto part = Part((index.column() - 1) % PartCount);
    const double va = metricValue(&la, m);
    const double vb = metricValue(findLayer(*b_, la.name), m);
    const bool hideDelta = part == PartDelta && m == OutputSqnr && !outputSqnrComparable();
    const double v = part == PartA   ? va
                     : part == PartB ? vb
                     : hideDelta     ? std::numeric_limits<double>::quiet_NaN()
                                     : vb - va;
    if (role == Qt::ToolTipRole) return hideDelta ? QVariant(notComparableReason()) : QVariant();
    if (role == Qt::TextAlignmentRole) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::BackgroundRole && part != PartDelta && (m == WeightSqnr || m == OutputSqnr) &&
        !std::isnan(v))
        return sqnrColor(sqnrLevelOf(v), dark_);
    if (role == SortRole || role == ExportRole) return std::isnan(v) ? QVariant() : QVariant(v);
    if (role != Qt::DisplayRole) return {};
    if (m == QuantBytes) return std::isnan(v) ? QString("-") : QString::number(qint64(v));
    if (m == Mse) return formatNumber(v, 3);
    return part == PartDelta && !std::isnan(v)
               ? QString("%1%2").arg(v >= 0 ? "+" : "").arg(formatDb(v))
               : formatDb(v);
}

QVariant ComparisonTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o == Qt::Horizontal && role == Qt::ToolTipRole &&
        section == column(OutputSqnr, PartDelta) && a_ && b_ && !outputSqnrComparable())
        return notComparableReason();
    if (o != Qt::Horizontal || (role != Qt::DisplayRole && role != ExportRole))
        return QAbstractTableModel::headerData(section, o, role);
    if (section == 0) return QString("Layer");
    if (section < 0 || section >= columnCount()) return {};
    static const char* metrics[] = {"W SQNR dB", "Out SQNR dB", "MSE", "Bytes"};
    const auto m = (section - 1) / PartCount;
    const auto part = Part((section - 1) % PartCount);
    const QString who = part == PartDelta ? QString("Δ (B−A)")
                        : part == PartA   ? (a_ ? runDisplayName(*a_) : QString("A"))
                                          : (b_ ? runDisplayName(*b_) : QString("B"));
    return QString(metrics[m]) + (role == ExportRole ? " " : "\n") + who;
}

}  // namespace ql
