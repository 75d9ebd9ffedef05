#include "widgets/inferbenchtablemodel.h"

#include "run/run.h"
#include "widgets/tableroles.h"

namespace ql {

InferBenchTableModel::InferBenchTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void InferBenchTableModel::setResult(InferBenchPtr result, RunList runs, int promptTokens,
                                     int genTokens) {
    beginResetModel();
    result_ = std::move(result);
    runs_ = std::move(runs);
    promptTokens_ = promptTokens;
    genTokens_ = genTokens;
    endResetModel();
}

QString InferBenchTableModel::caption() const {
    if (!result_) return {};
    return QString(
               "%1 thread(s) · prefill of %2 tokens · %3 decoded tokens (greedy, KV cache) · "
               "read bandwidth %4/s (best of %5 probes, lowest %6/s)")
        .arg(result_->threads)
        .arg(promptTokens_)
        .arg(genTokens_)
        .arg(formatBytes(result_->readBandwidthBytesPerSecond))
        .arg(result_->readProbes)
        .arg(formatBytes(result_->readBandwidthLowestBytesPerSecond));
}

int InferBenchTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !result_ ? 0 : ColumnCount;
}

int InferBenchTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() || !result_ ? 0 : int(result_->rows.size());
}

// The float row: the first run that measured perplexity (its float perplexity); a run's row:
// the run itself when it was evaluated.
const RunResult* InferBenchTableModel::perplexityRun(int row) const {
    if (row > 0) {
        const size_t i = size_t(row - 1);
        return i < runs_.size() && runs_[i]->perplexity.valid ? runs_[i].get() : nullptr;
    }
    for (const RunPtr& r : runs_)
        if (r->perplexity.valid) return r.get();
    return nullptr;
}

QVariant InferBenchTableModel::display(int row, int column) const {
    const InferBenchRow& r = result_->rows[size_t(row)];
    switch (column) {
        case ColWeightsAs:
            // A run's quantized output head is part of how its weights compute.
            return QString::fromStdString(r.weightsAs) +
                   (r.headKlPositions > 0 ? ", head " + QString::fromStdString(r.headFormat)
                                          : QString());
        case ColPrefill:
            return QString::number(r.prefillTokensPerSecond, 'f', 1);
        case ColDecode:
            return QString::number(r.decodeTokensPerSecond, 'f', 1);
        case ColWeightBytes:
            return formatBytes(double(r.weightBytes));
        case ColKvBytes:
            return formatBytes(double(r.kvCacheBytes));
        case ColPeakRss:
            return formatBytes(double(r.peakRssBytes)) + (r.peakIsCumulative ? " (cum.)" : "");
        case ColPerplexity: {
            const RunResult* run = perplexityRun(row);
            if (!run) return QString("—");
            return QString::number(row == 0 ? run->perplexity.pplFp : run->perplexity.pplQ, 'f', 3);
        }
        default:
            return {};
    }
}

QString InferBenchTableModel::toolTip(int row, int column) const {
    const InferBenchRow& r = result_->rows[size_t(row)];
    switch (column) {
        case ColPrefill:
        case ColDecode:
            return QString(
                       "%1 · %2 bytes read per decoded token, bandwidth limit %3 tokens/s "
                       "(%4 % of it; %5 % of reads of the same bytes before and after the "
                       "%6 steps, %7/s) · %8 CPU s")
                .arg(caption())
                .arg(r.weightBytesPerToken)
                .arg(r.bandwidthLimitTokensPerSecond, 0, 'f', 1)
                .arg(100.0 * r.fractionOfLimit, 0, 'f', 1)
                .arg(100.0 * r.fractionOfLimitBeside, 0, 'f', 1)
                .arg(genTokens_)
                .arg(formatBytes(r.readBesideBytesPerSecond))
                .arg(r.cpuSeconds, 0, 'f', 2);
        case ColWeightsAs: {
            // The whole text first: a narrow column wraps or elides it.
            const QString whole = display(row, column).toString();
            if (r.headKlPositions == 0)
                return r.runFolder.empty() ? whole
                                           : whole + "\n" + QString::fromStdString(r.runFolder);
            return whole + "\n" +
                   QString(
                       "output head %1: KL(f32 head ‖ this head) of the next-token "
                       "distributions over the %2 prompt positions, mean %3, max %4")
                       .arg(QString::fromStdString(r.headFormat))
                       .arg(r.headKlPositions)
                       .arg(r.headKlMean, 0, 'g', 3)
                       .arg(r.headKlMax, 0, 'g', 3);
        }
        case ColWeightBytes:
            return QString("%1 bytes resident for inference").arg(r.weightBytes);
        case ColKvBytes:
            return QString(
                       "K/V cache held after %1 + %2 tokens: %3 bytes (float32; the "
                       "storage grows by 256 positions at a time)")
                .arg(promptTokens_)
                .arg(genTokens_)
                .arg(r.kvCacheBytes);
        case ColPeakRss:
            return r.peakIsCumulative
                       ? QString("the process's peak so far (the kernel did not allow a reset)")
                       : QString("the process's peak while this model ran");
        case ColPerplexity: {
            const RunResult* run = perplexityRun(row);
            if (!run) return "no perplexity: the run was not evaluated";
            return QString("%1 perplexity, %2 (as the run measured it)")
                .arg(row == 0 ? "float" : "quantized", evalSettingLabel(*run));
        }
        default:
            return QString::fromStdString(r.runFolder);
    }
}

// Model `row` of the result is the table's column; the measure is the table's row.
QVariant InferBenchTableModel::data(const QModelIndex& index, int role) const {
    if (!result_ || !index.isValid() || index.column() >= columnCount()) return {};
    const int model = index.column(), measure = index.row();
    const InferBenchRow& r = result_->rows[size_t(model)];
    if (role == Qt::DisplayRole) return display(model, measure);
    if (role == Qt::ToolTipRole) return toolTip(model, measure);
    if (role == Qt::TextAlignmentRole && measure >= ColPrefill)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role == SortRole) {
        switch (measure) {
            case ColPrefill:
                return r.prefillTokensPerSecond;
            case ColDecode:
                return r.decodeTokensPerSecond;
            case ColWeightBytes:
                return double(r.weightBytes);
            case ColKvBytes:
                return double(r.kvCacheBytes);
            case ColPeakRss:
                return double(r.peakRssBytes);
            default:
                return display(model, measure);
        }
    }
    return {};
}

QVariant InferBenchTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole) return {};
    if (o == Qt::Horizontal) {
        if (!result_ || section < 0 || section >= columnCount()) return {};
        const InferBenchRow& r = result_->rows[size_t(section)];
        const QString name = section == 0 ? QString("float") : QString::fromStdString(r.name);
        return role == Qt::ToolTipRole && !r.runFolder.empty()
                   ? QVariant(name + "\n" + QString::fromStdString(r.runFolder))
                   : QVariant(name);
    }
    static const char* names[ColumnCount] = {"Weights as", "Prefill tok/s", "Decode tok/s",
                                             "Weights",    "KV cache",      "Peak RSS",
                                             "Perplexity"};
    return section >= 0 && section < ColumnCount ? QVariant(QString(names[section])) : QVariant();
}

}  // namespace ql
