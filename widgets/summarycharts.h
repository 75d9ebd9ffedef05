// Summary charts: memory per layer of the current run (source vs quantized bytes,
// grouped bars), perplexity per run and KL divergence / top-1 agreement per run.
// Perplexity compares like with like: runs are grouped by evaluation setting, each group
// has its own float bar labelled with the setting, and a run's delta is to that bar only.
#pragma once

#include "widgets/resultutils.h"

#include <QWidget>

class QCustomPlot;
class QCPBars;
class QCPBarsGroup;
class QCPTextElement;

namespace ql {

class FittedTicks;
class FittedTitle;

class SummaryCharts : public QWidget {
    Q_OBJECT
public:
    explicit SummaryCharts(QWidget* parent = nullptr);
    void setRuns(const RunList& runs, const RunPtr& current);
    void applyPalette();

    QCustomPlot* memoryChart() const { return memory_; }
    QCustomPlot* perplexityChart() const { return perplexity_; }
    QCustomPlot* agreementChart() const { return agreement_; }
    QList<QCustomPlot*> charts() const { return {memory_, perplexity_, agreement_}; }
    QString perplexityTitle() const;
    QString agreementTitle() const;
    FittedTicks* perplexityTicks() const { return perplexityTicks_; }  // run names, wrapped
    FittedTicks* agreementTicks() const { return agreementTicks_; }

private:
    static QCustomPlot* makePlot(const QString& title, FittedTitle** fitted = nullptr);
    void rebuildMemory();
    void rebuildPerplexity();
    void rebuildAgreement();
    QCPBars* addBars(QCustomPlot* plot, const QString& name, const QColor& color);

    QCustomPlot *memory_ = nullptr, *perplexity_ = nullptr, *agreement_ = nullptr;
    RunList runs_;
    RunPtr current_;
    FittedTitle *perplexityTitle_ = nullptr, *agreementTitle_ = nullptr;
    FittedTicks *perplexityTicks_ = nullptr, *agreementTicks_ = nullptr;
    QCPBarsGroup *memoryGroup_ = nullptr, *agreementGroup_ = nullptr;  // reused across rebuilds
};

}  // namespace ql
