#include "widgets/sensitivitytablemodel.h"

#include "widgets/resultutils.h"
#include "widgets/tableroles.h"

#include <cmath>
#include <limits>

namespace ql {

namespace {
struct NumericColumn {
    const char* title;    // header
    const char* key;      // CSV header
    const char* tooltip;  // header tooltip
    int decimals;         // display precision
    double (*get)(const UnitSensitivity&);
};

// One line per number of UnitSensitivity (add a proxy here and it is a column).
const NumericColumn kColumns[] = {
    {"\u0394KL mean", "delta_kl_mean",
     "Effect on the mean KL(P_float || P_variant) per token; positive: the unit hurts", 6,
     [](const UnitSensitivity& u) { return u.deltaKlMean; }},
    {"\u0394KL p99", "delta_kl_p99", "Effect on the 99th percentile of the per-token KL", 6,
     [](const UnitSensitivity& u) { return u.deltaKlP99; }},
    {"\u0394PPL", "delta_ppl", "Effect on the perplexity of the evaluation windows", 4,
     [](const UnitSensitivity& u) { return u.deltaPpl; }},
    {"KL mean", "kl_mean", "Mean KL of the variant to the float model", 6,
     [](const UnitSensitivity& u) { return u.klMean; }},
    {"KL p99", "kl_p99", "99th percentile of the variant's per-token KL", 6,
     [](const UnitSensitivity& u) { return u.klP99; }},
    {"PPL", "ppl", "Perplexity of the variant", 4, [](const UnitSensitivity& u) { return u.pplQ; }},
    {"Weight SQNR (dB)", "weight_sqnr_db",
     "Proxy: 10 log10(\u03a3w\u00b2 / \u03a3(w - \u0175)\u00b2) over the unit's layers", 2,
     [](const UnitSensitivity& u) { return u.weightSqnrDb; }},
    {"\u03a3(w - \u0175)\u00b2", "weight_error_sq", "Proxy: squared weight error of the unit", 6,
     [](const UnitSensitivity& u) { return u.weightErrorSq; }},
    {"Output SQNR (dB)", "output_sqnr_db",
     "Proxy: output SQNR of the unit's layers in the fully quantized model, evaluation windows", 2,
     [](const UnitSensitivity& u) { return u.outputSqnrDb; }},
    {"Fisher error", "fisher_error",
     "Proxy: \u03a3 F\u00b7(w - \u0175)\u00b2, F the float model's mean squared gradient "
     "(n/a when --fisher-windows is 0)",
     6, [](const UnitSensitivity& u) { return u.fisherError; }},
    {"Hessian error", "hessian_error",
     "Proxy: tr((W - \u0174) H (W - \u0174)\u1d40), H = X\u1d40X / N of the layer inputs", 6,
     [](const UnitSensitivity& u) { return u.hessianError; }},
    {"Input kurtosis", "input_kurtosis",
     "Proxy: kurtosis of the layer's input in the float model (a unit: its largest layer's)", 2,
     [](const UnitSensitivity& u) { return u.inputKurtosis; }},
    {"Parameters", "parameters", "Weights in the unit's layers", 0,
     [](const UnitSensitivity& u) { return double(u.parameters); }},
};
const int kColumnCount = int(sizeof(kColumns) / sizeof(kColumns[0]));

const NumericColumn* numeric(int column) {
    const int i = column - SensitivityTableModel::FirstNumericColumn;
    return i >= 0 && i < kColumnCount ? &kColumns[i] : nullptr;
}
}  // namespace

SensitivityTableModel::SensitivityTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void SensitivityTableModel::setResult(SensitivityPtr result) {
    beginResetModel();
    result_ = std::move(result);
    endResetModel();
}

int SensitivityTableModel::numericColumnCount() {
    return kColumnCount;
}

int SensitivityTableModel::defaultRankColumn() {
    return FirstNumericColumn;  // ΔKL mean
}

QString SensitivityTableModel::columnTitle(int column) {
    if (column == ColUnit) return "Unit";
    if (column == fallbackColumn()) return fallbackColumnTitle();
    const NumericColumn* c = numeric(column);
    return c ? QString(c->title) : QString();
}

QString SensitivityTableModel::columnKey(int column) {
    if (column == ColUnit) return "unit";
    if (column == fallbackColumn()) return "fallback";
    const NumericColumn* c = numeric(column);
    return c ? QString(c->key) : QString();
}

double SensitivityTableModel::value(int row, int column) const {
    const NumericColumn* c = numeric(column);
    if (!c || row < 0 || row >= rowCount()) return std::numeric_limits<double>::quiet_NaN();
    return c->get(unitAt(row));
}

int SensitivityTableModel::rowOfLayer(const std::string& layer) const {
    for (int r = 0; r < rowCount(); ++r)
        for (const std::string& l : unitAt(r).layers)
            if (l == layer) return r;
    return -1;
}

int SensitivityTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !result_ ? 0 : int(result_->units.size());
}

int SensitivityTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : fallbackColumn() + 1;
}

QVariant SensitivityTableModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
    const UnitSensitivity& u = unitAt(index.row());
    // A layer unit selects its layer; a group selects its first layer.
    if (role == LayerNameRole)
        return u.layers.empty() ? QString() : QString::fromStdString(u.layers[0]);
    if (index.column() == ColUnit) {
        if (role == Qt::ToolTipRole && u.layers.size() > 1)
            return QString("%1 layers, from %2")
                .arg(u.layers.size())
                .arg(QString::fromStdString(u.layers[0]));
        if (role == Qt::DisplayRole || role == SortRole || role == ExportRole)
            return QString::fromStdString(u.unit);
        return {};
    }
    if (index.column() == fallbackColumn()) return fallbackData(u, role);
    if (role == Qt::TextAlignmentRole) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    const NumericColumn* c = numeric(index.column());
    if (!c) return {};
    const double v = c->get(u);
    if (role == Qt::DisplayRole) {
        if (std::isnan(v)) return QString("n/a");
        if (c->decimals == 0) return QString("%L1").arg(v, 0, 'f', 0);
        return QString::number(v, 'f', c->decimals);
    }
    if (role == SortRole) return std::isnan(v) ? QVariant() : QVariant(v);
    if (role == ExportRole) return std::isnan(v) ? QString() : QString::number(v, 'g', 10);
    return {};
}

QVariant SensitivityTableModel::fallbackData(const UnitSensitivity& u, int role) {
    const size_t fell = u.fallbackLayers.size();
    switch (role) {
        case Qt::DisplayRole:
            if (fell > 0 && u.layers.size() > 1)
                return QString("%1 (%2 of %3)")
                    .arg(fallbackText(true))
                    .arg(fell)
                    .arg(u.layers.size());
            return fallbackText(fell > 0);
        case ExportRole:
            return fallbackText(fell > 0);
        case SortRole:
            return int(fell);
        case Qt::ToolTipRole:
            if (fell == 0) return {};
            return (u.layers.size() > 1 ? QString("%1 of %2 layers, e.g. %3: ")
                                              .arg(fell)
                                              .arg(u.layers.size())
                                              .arg(QString::fromStdString(u.fallbackLayers[0]))
                                        : QString()) +
                   QString::fromStdString(u.fallbackReason);
    }
    return {};
}

QVariant SensitivityTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || section < 0 || section >= columnCount())
        return QAbstractTableModel::headerData(section, o, role);
    if (role == Qt::DisplayRole) return columnTitle(section);
    if (role == ExportRole) return columnKey(section);
    if (role == Qt::ToolTipRole) {
        const NumericColumn* c = numeric(section);
        if (section == fallbackColumn())
            return QString(
                "Whether the recipe fell back on the unit's layers (a group size that does not "
                "divide the rows: per-channel instead, as in a run)");
        return c ? QString(c->tooltip) : QString("The unit: a layer, a block or a kind");
    }
    return {};
}

}  // namespace ql
