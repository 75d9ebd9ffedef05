#include "widgets/summarycharts.h"

#include "widgets/plotstyle.h"

#include <qcustomplot.h>
#include <QApplication>
#include <QGridLayout>

namespace ql {

SummaryCharts::SummaryCharts(QWidget* parent) : QWidget(parent) {
    memory_ = makePlot("Memory per layer (current run)");
    perplexity_ = makePlot("Perplexity per run");
    agreement_ = makePlot("KL divergence and top-1 agreement per run");
    auto* grid = new QGridLayout(this);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->addWidget(memory_, 0, 0, 1, 2);
    grid->addWidget(perplexity_, 1, 0);
    grid->addWidget(agreement_, 1, 1);
    grid->setRowStretch(0, 1);
    grid->setRowStretch(1, 1);
    setRuns({}, nullptr);
}

QCustomPlot* SummaryCharts::makePlot(const QString& title) {
    auto* plot = new QCustomPlot;
    plot->setMinimumSize(260, 180);
    plot->plotLayout()->insertRow(0);
    QFont f;
    f.setBold(true);
    plot->plotLayout()->addElement(0, 0, new QCPTextElement(plot, title, f));
    plot->legend->setVisible(true);
    placeLegendAbove(plot, 1);
    return plot;
}

void SummaryCharts::setRuns(const RunList& runs, const RunPtr& current) {
    runs_ = runs;
    current_ = current;
    rebuildMemory();
    rebuildPerplexity();
    rebuildAgreement();
}

void SummaryCharts::applyPalette() {
    for (QCustomPlot* p : charts()) applyPlotStyle(p, QApplication::palette());
    setRuns(runs_, current_);
}

QCPBars* SummaryCharts::addBars(QCustomPlot* plot, const QString& name, const QColor& color) {
    auto* bars = new QCPBars(plot->xAxis, plot->yAxis);
    bars->setName(name);
    QColor fill = color;
    fill.setAlpha(170);
    bars->setBrush(fill);
    bars->setPen(QPen(color.darker(120)));
    return bars;
}

void SummaryCharts::rebuildMemory() {
    memory_->clearPlottables();
    const bool dark = isDarkPalette(QApplication::palette());
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    if (!memoryGroup_) memoryGroup_ = new QCPBarsGroup(memory_);
    QCPBarsGroup* group = memoryGroup_;
    QCPBars* source = addBars(memory_, "source dtype", beforeColor(dark));
    QCPBars* quant = addBars(memory_, "quantized", afterColor(dark));
    double maxKiB = 1;
    if (current_) {
        for (size_t i = 0; i < current_->layers.size(); ++i) {
            const LayerResult& l = current_->layers[i];
            source->addData(double(i), double(l.bytesFp) / 1024.0);
            quant->addData(double(i), double(l.bytesQ) / 1024.0);
            maxKiB = std::max(maxKiB, double(l.bytesFp) / 1024.0);
            if (current_->layers.size() <= 60 || i % (current_->layers.size() / 40 + 1) == 0)
                ticker->addTick(double(i), shortLayerName(l.name, l.block, l.kind));
        }
    }
    for (QCPBars* b : {source, quant}) {
        b->setWidth(0.4);
        b->setBarsGroup(group);
    }
    memory_->xAxis->setTicker(ticker);
    memory_->xAxis->setTickLabelRotation(60);
    memory_->xAxis->setRange(
        -0.7, std::max<double>(current_ ? double(current_->layers.size()) : 1.0, 1.0) - 0.3);
    memory_->yAxis->setLabel("KiB");
    memory_->yAxis->setRange(0, maxKiB * 1.1);
    memory_->replot(QCustomPlot::rpQueuedReplot);
}

void SummaryCharts::rebuildPerplexity() {
    perplexity_->clearPlottables();
    const bool dark = isDarkPalette(QApplication::palette());
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    QCPBars* fp = addBars(perplexity_, "float", beforeColor(dark));
    QCPBars* q = addBars(perplexity_, "quantized", afterColor(dark));
    double x = 0, maxPpl = 1;
    bool floatShown = false;
    for (const RunPtr& run : runs_) {
        const PerplexitySummary& p = run->perplexity;
        if (!p.valid) continue;
        if (!floatShown) {  // the float model is the same for every run of the model
            fp->addData(x, p.pplFp);
            ticker->addTick(x++, "float");
            floatShown = true;
        }
        q->addData(x, p.pplQ);
        ticker->addTick(x++, runDisplayName(*run));
        maxPpl = std::max({maxPpl, p.pplFp, p.pplQ});
    }
    fp->setWidth(0.6);
    q->setWidth(0.6);
    perplexity_->xAxis->setTicker(ticker);
    perplexity_->xAxis->setTickLabelRotation(x >= 3 ? 20 : 0);
    perplexity_->xAxis->setRange(-0.6, std::max(x, 1.0) - 0.4);
    perplexity_->yAxis->setLabel("perplexity");
    perplexity_->yAxis->setRange(0, maxPpl * 1.12);
    perplexity_->replot(QCustomPlot::rpQueuedReplot);
}

void SummaryCharts::rebuildAgreement() {
    agreement_->clearPlottables();
    const bool dark = isDarkPalette(QApplication::palette());
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    if (!agreementGroup_) agreementGroup_ = new QCPBarsGroup(agreement_);
    QCPBarsGroup* group = agreementGroup_;
    QCPBars* kl = addBars(agreement_, "KL mean (left)", runColor(2, dark));
    QCPBars* top1 = addBars(agreement_, "top-1 agreement % (right)", runColor(3, dark));
    agreement_->yAxis2->setVisible(true);
    top1->setValueAxis(agreement_->yAxis2);
    double x = 0, maxKl = 1e-6;
    for (const RunPtr& run : runs_) {
        const PerplexitySummary& p = run->perplexity;
        if (!p.valid) continue;
        kl->addData(x, p.klMean);
        top1->addData(x, 100.0 * p.top1Agreement);
        maxKl = std::max(maxKl, p.klMean);
        ticker->addTick(x++, runDisplayName(*run));
    }
    for (QCPBars* b : {kl, top1}) {
        b->setWidth(0.35);
        b->setBarsGroup(group);
    }
    agreement_->xAxis->setTicker(ticker);
    agreement_->xAxis->setTickLabelRotation(x >= 3 ? 20 : 0);
    agreement_->xAxis->setRange(-0.6, std::max(x, 1.0) - 0.4);
    agreement_->yAxis->setLabel("KL (nats/token)");
    agreement_->yAxis->setRange(0, maxKl * 1.15);
    agreement_->yAxis2->setLabel("top-1 agreement (%)");
    agreement_->yAxis2->setRange(0, 105);
    agreement_->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace ql
