#include "widgets/perplexitytablemodel.h"

#include "widgets/tableroles.h"

#include <QFileInfo>

namespace ql {

PerplexityTableModel::PerplexityTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void PerplexityTableModel::setRuns(RunList runs) {
    beginResetModel();
    runs_ = std::move(runs);
    endResetModel();
}

int PerplexityTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(runs_.size());
}

int PerplexityTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant PerplexityTableModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
    if (role == Qt::TextAlignmentRole)
        return index.column() <= ColRecipe || index.column() == ColProtocol ||
                       index.column() == ColEvalText
                   ? QVariant()
                   : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    const RunResult& run = *runs_[size_t(index.row())];
    if (role == Qt::ToolTipRole && run.perplexity.valid) {
        if (index.column() == ColEvalText) return QString::fromStdString(run.config.evaluationText);
        if (index.column() >= ColPplFloat && index.column() <= ColTop1)
            return "Against the float model evaluated the same way: " + evalSettingLabel(run);
    }
    if (role != Qt::DisplayRole && role != SortRole && role != ExportRole) return {};
    return value(run, index.column(), role);
}

QVariant PerplexityTableModel::value(const RunResult& run, int column, int role) const {
    const PerplexitySummary& p = run.perplexity;
    const bool display = role == Qt::DisplayRole;
    if (column == ColRun) return runDisplayName(run);
    if (column == ColRecipe) return QString::fromStdString(run.config.recipe);
    if (!p.valid) return display ? QVariant("n/a") : QVariant();
    auto num = [&](double v, int decimals, const QString& suffix = {}) -> QVariant {
        return display ? QVariant(QString::number(v, 'f', decimals) + suffix) : QVariant(v);
    };
    switch (column) {
        case ColPplFloat:
            return num(p.pplFp, 4);
        case ColPplQuant:
            return num(p.pplQ, 4);
        case ColDeltaPpl:
            return num(p.pplQ - p.pplFp, 4);
        case ColDeltaPercent:
            return num(p.pplFp > 0 ? 100.0 * (p.pplQ / p.pplFp - 1.0) : 0.0, 3, " %");
        case ColKlMean:
            return num(p.klMean, 5);
        case ColKlP99:
            return num(p.klP99, 5);
        case ColTop1:
            return num(100.0 * p.top1Agreement, 2, " %");
        case ColTokens:
            return display ? QVariant(formatCount(double(p.scoredTokens)))
                           : QVariant(qint64(p.scoredTokens));
        case ColProtocol:
            return QString::fromStdString(p.protocol);
        case ColSeq:
            return p.seq;
        case ColWindows:
            return p.windows;
        case ColEvalText:
            return QFileInfo(QString::fromStdString(run.config.evaluationText)).fileName();
    }
    return {};
}

QVariant PerplexityTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || (role != Qt::DisplayRole && role != ExportRole))
        return QAbstractTableModel::headerData(section, o, role);
    static const char* display[] = {"Run",      "Recipe",  "PPL float", "PPL quant",   "Δ PPL",
                                    "Δ %",      "KL mean", "KL p99",    "Top-1 agree", "Tokens",
                                    "Protocol", "Seq",     "Windows",   "Eval text"};
    static const char* exported[] = {"run",       "recipe",    "ppl_float",
                                     "ppl_quant", "delta_ppl", "delta_percent",
                                     "kl_mean",   "kl_p99",    "top1_agreement_percent",
                                     "tokens",    "protocol",  "seq",
                                     "windows",   "eval_text"};
    if (section < 0 || section >= ColumnCount) return {};
    return QString(role == ExportRole ? exported[section] : display[section]);
}

}  // namespace ql
