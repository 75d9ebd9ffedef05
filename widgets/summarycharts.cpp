#include "widgets/summarycharts.h"

#include "widgets/plotstyle.h"

#include <qcustomplot.h>
#include <QApplication>
#include <QFileInfo>
#include <QGridLayout>

#include <algorithm>

namespace ql {
namespace {

struct SettingGroup {
    QString key;
    RunList runs;
};

// Runs with a perplexity, grouped by evaluation setting in order of first appearance.
std::vector<SettingGroup> groupBySetting(const RunList& runs) {
    std::vector<SettingGroup> groups;
    for (const RunPtr& run : runs) {
        if (!run->perplexity.valid) continue;
        const QString key = evalSettingKey(*run);
        auto it = std::find_if(groups.begin(), groups.end(),
                               [&](const SettingGroup& g) { return g.key == key; });
        if (it == groups.end()) it = groups.insert(groups.end(), {key, {}});
        it->runs.push_back(run);
    }
    return groups;
}

// The setting fields of `run` that differ between the groups ("seq 512"): short axis
// labels; the full setting is in the CSV and the perplexity table.
QString varyingSetting(const RunResult& run, const std::vector<SettingGroup>& groups) {
    auto fields = [](const RunResult& r) {
        const PerplexitySummary& p = r.perplexity;
        return QStringList{
            QString::fromStdString(r.modelName.empty() ? r.config.modelDir : r.modelName),
            QFileInfo(QString::fromStdString(r.config.evaluationText)).fileName(),
            QString::fromStdString(p.protocol) + " protocol", QString("seq %1").arg(p.seq),
            QString("%1 windows").arg(p.windows)};
    };
    const QStringList mine = fields(run);
    QStringList parts;
    for (int i = 0; i < mine.size(); ++i)
        if (std::any_of(groups.begin(), groups.end(),
                        [&](const SettingGroup& g) { return fields(*g.runs[0])[i] != mine[i]; }))
            parts << mine[i];
    return parts.join(" · ");
}

QString signedPercent(double v) {
    return QString("%1%2 %").arg(v >= 0 ? "+" : "").arg(v, 0, 'f', 2);
}

}  // namespace

SummaryCharts::SummaryCharts(QWidget* parent) : QWidget(parent) {
    memory_ = makePlot("Memory per layer (current run)");
    perplexity_ = makePlot("Perplexity per run", &perplexityTitle_);
    agreement_ = makePlot("KL divergence and top-1 agreement per run", &agreementTitle_);
    perplexityTicks_ = new FittedTicks(perplexity_->xAxis);
    agreementTicks_ = new FittedTicks(agreement_->xAxis);
    auto* grid = new QGridLayout(this);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->addWidget(memory_, 0, 0, 1, 2);
    grid->addWidget(perplexity_, 1, 0);
    grid->addWidget(agreement_, 1, 1);
    grid->setRowStretch(0, 1);
    grid->setRowStretch(1, 1);
    setRuns({}, nullptr);
}

QCustomPlot* SummaryCharts::makePlot(const QString& title, FittedTitle** fitted) {
    auto* plot = new QCustomPlot;
    plot->setMinimumSize(260, 180);
    plot->plotLayout()->insertRow(0);
    QFont f;
    f.setBold(true);
    auto* text = new QCPTextElement(plot, title, f);
    plot->plotLayout()->addElement(0, 0, text);
    if (fitted) *fitted = new FittedTitle(plot, text);
    plot->legend->setVisible(true);
    placeLegendAbove(plot, 1);
    return plot;
}

QString SummaryCharts::perplexityTitle() const {
    return perplexityTitle_->text();
}

QString SummaryCharts::agreementTitle() const {
    return agreementTitle_->text();
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
            const size_t n = current_->layers.size(), step = n / 40 + 1;
            // Sparse labels keep the last layer; its neighbour label would collide.
            const bool last = i + 1 == n, nearLast = i + step > n - 1 && i + 1 < n;
            if (n <= 60 || last || (i % step == 0 && !nearLast))
                ticker->addTick(double(i), shortLayerName(l.name, l.block, l.kind));
        }
    }
    for (QCPBars* b : {source, quant}) {
        b->setWidth(0.4);
        b->setBarsGroup(group);
    }
    memory_->xAxis->setTicker(ticker);
    memory_->xAxis->setTickLabelRotation(60);
    fitRotatedTickLabels(memory_->xAxis);
    memory_->xAxis->setRange(
        -0.7, std::max<double>(current_ ? double(current_->layers.size()) : 1.0, 1.0) - 0.3);
    memory_->yAxis->setLabel("KiB");
    memory_->yAxis->setRange(0, maxKiB * 1.1);
    memory_->replot(QCustomPlot::rpQueuedReplot);
}

// One float bar per evaluation setting, followed by the runs measured that way; a run's
// label carries its change against that float bar only.
void SummaryCharts::rebuildPerplexity() {
    perplexity_->clearPlottables();
    const bool dark = isDarkPalette(QApplication::palette());
    QMap<double, QString> labels;
    QCPBars* fp = addBars(perplexity_, "float", beforeColor(dark));
    QCPBars* q = addBars(perplexity_, "quantized", afterColor(dark));
    const std::vector<SettingGroup> groups = groupBySetting(runs_);
    const bool several = groups.size() > 1;
    double x = 0, maxPpl = 1;
    for (const SettingGroup& g : groups) {
        const RunResult& first = *g.runs.front();
        fp->addData(x, first.perplexity.pplFp);
        labels.insert(x++, several ? "float\n" + varyingSetting(first, groups) : QString("float"));
        for (const RunPtr& run : g.runs) {
            const PerplexitySummary& p = run->perplexity;
            q->addData(x, p.pplQ);
            const double pct = p.pplFp > 0 ? 100.0 * (p.pplQ / p.pplFp - 1.0) : 0.0;
            labels.insert(x++, runDisplayName(*run) + "\n" + signedPercent(pct));
            maxPpl = std::max({maxPpl, p.pplFp, p.pplQ});
        }
        x += several ? 0.5 : 0.0;  // a gap between settings
    }
    if (several) x -= 0.5;
    perplexityTitle_->setText(
        groups.empty() ? QString("Perplexity per run")
        : several      ? QString("Perplexity per run: %1 evaluation settings, each run next to "
                                      "the float model measured the same way")
                        .arg(groups.size())
                  : "Perplexity per run (" + evalSettingLabel(*groups[0].runs[0]) + ")");
    fp->setWidth(0.6);
    q->setWidth(0.6);
    perplexityTicks_->setTicks(labels);
    perplexity_->xAxis->setTickLabelRotation(x >= 5 ? 20 : 0);
    fitRotatedTickLabels(perplexity_->xAxis);
    perplexity_->xAxis->setRange(-0.6, std::max(x, 1.0) - 0.4);
    perplexity_->yAxis->setLabel("perplexity");
    perplexity_->yAxis->setRange(0, maxPpl * 1.12);
    perplexity_->replot(QCustomPlot::rpQueuedReplot);
}

void SummaryCharts::rebuildAgreement() {
    agreement_->clearPlottables();
    const bool dark = isDarkPalette(QApplication::palette());
    if (!agreementGroup_) agreementGroup_ = new QCPBarsGroup(agreement_);
    QCPBarsGroup* group = agreementGroup_;
    QMap<double, QString> labels;
    QCPBars* kl = addBars(agreement_, "KL mean (left)", runColor(2, dark));
    QCPBars* top1 = addBars(agreement_, "top-1 agreement % (right)", runColor(3, dark));
    agreement_->yAxis2->setVisible(true);
    top1->setValueAxis(agreement_->yAxis2);
    // KL and top-1 are against each run's own float model; with several evaluation
    // settings the runs are grouped and labelled so bars side by side share a setting.
    const std::vector<SettingGroup> groups = groupBySetting(runs_);
    const bool several = groups.size() > 1;
    double x = 0, maxKl = 1e-6;
    for (const SettingGroup& g : groups) {
        for (const RunPtr& run : g.runs) {
            const PerplexitySummary& p = run->perplexity;
            kl->addData(x, p.klMean);
            top1->addData(x, 100.0 * p.top1Agreement);
            maxKl = std::max(maxKl, p.klMean);
            labels.insert(x++, several ? runDisplayName(*run) + "\n" + varyingSetting(*run, groups)
                                       : runDisplayName(*run));
        }
        x += several ? 0.5 : 0.0;
    }
    if (several) x -= 0.5;
    agreementTitle_->setText(
        several ? QString("KL divergence and top-1 agreement per run (%1 evaluation settings: "
                          "compare within a setting)")
                      .arg(groups.size())
                : QString("KL divergence and top-1 agreement per run"));
    for (QCPBars* b : {kl, top1}) {
        b->setWidth(0.35);
        b->setBarsGroup(group);
    }
    agreementTicks_->setTicks(labels);
    agreement_->xAxis->setTickLabelRotation(x >= 5 ? 20 : 0);
    fitRotatedTickLabels(agreement_->xAxis);
    agreement_->xAxis->setRange(-0.6, std::max(x, 1.0) - 0.4);
    agreement_->yAxis->setLabel("KL (nats/token)");
    agreement_->yAxis->setRange(0, maxKl * 1.15);
    agreement_->yAxis2->setLabel("top-1 agreement (%)");
    agreement_->yAxis2->setRange(0, 105);
    agreement_->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace ql
