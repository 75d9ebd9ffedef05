// Summary charts: memory per layer of the current run (source vs quantized bytes,
// grouped bars), perplexity per run (float first), KL divergence and top-1 agreement.
#pragma once

#include "widgets/resultutils.h"

#include <QWidget>

class QCustomPlot;
class QCPBars;
class QCPBarsGroup;

namespace ql {

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

private:
    static QCustomPlot* makePlot(const QString& title);
    void rebuildMemory();
    void rebuildPerplexity();
    void rebuildAgreement();
    QCPBars* addBars(QCustomPlot* plot, const QString& name, const QColor& color);

    QCustomPlot *memory_ = nullptr, *perplexity_ = nullptr, *agreement_ = nullptr;
    RunList runs_;
    RunPtr current_;
    QCPBarsGroup *memoryGroup_ = nullptr, *agreementGroup_ = nullptr;  // reused across rebuilds
};

}  // namespace ql
