#include "widgets/paretochart.h"

#include "quant/recipe.h"
#include "widgets/plotstyle.h"

#include <QApplication>
#include <QFileInfo>

#include <algorithm>
#include <map>
#include <set>

namespace ql {

namespace {
double bitsPerWeight(uint64_t bytes, uint64_t parameters) {
    return parameters > 0 ? 8.0 * double(bytes) / double(parameters) : 0.0;
}

bool sameWindows(const RunResult& run, const SensitivityConfig& s) {
    const PerplexitySummary& p = run.perplexity;
    return p.valid && run.config.evaluationText == s.evaluationText && p.seq == s.evalSeq &&
           p.windows == s.evalWindows && p.protocol == s.evalProtocol;
}
}  // namespace

std::vector<uint64_t> sweepBudgets(const PlanInputs& in, int count) {
    uint64_t lo = 0, hi = 0;
    for (const PlanLayer& l : in.layers) {
        lo += *std::min_element(l.bytes.begin(), l.bytes.end());
        hi += *std::max_element(l.bytes.begin(), l.bytes.end());
    }
    std::vector<uint64_t> out;
    for (int i = 0; i < count; ++i)
        out.push_back(lo + uint64_t(double(hi - lo) * i / std::max(1, count - 1)));
    return out;
}

std::vector<PlanResult> planSweep(const PlanInputs& in, const std::vector<uint64_t>& budgets) {
    std::vector<PlanResult> out;
    std::set<std::vector<int>> seen;
    for (uint64_t budget : budgets) {
        PlanResult p = planMixedPrecision(in.layers, budget);
        if (seen.insert(p.choice).second) out.push_back(std::move(p));
    }
    return out;
}

// By the recipes the run's settings give each planned layer (its recipe and overrides,
// as the run applied them), not by the layers' applied method: a group size that does not
// divide a row falls back to per-channel in the run and in the plan's measurement alike.
bool runMatchesPlan(const RunResult& run, const PlanInputs& in, const std::vector<int>& choice) {
    if (!sameWindows(run, in.settings) || choice.size() != in.layers.size() ||
        !run.config.checkpoint.empty())
        return false;
    std::vector<std::string> names;
    for (const PlanLayer& l : in.layers) names.push_back(l.name);
    std::set<std::string> quantized;
    for (const LayerResult& l : run.layers) quantized.insert(l.name);
    try {
        const std::vector<Recipe> recipes =
            layerRecipes(names, Recipe::parse(run.config.recipe), run.config.overrides);
        for (size_t k = 0; k < names.size(); ++k)
            if (!quantized.count(names[k]) ||
                recipes[k].toString() != Recipe::parse(in.candidates[size_t(choice[k])]).toString())
                return false;
    } catch (const std::exception&) {
        return false;  // an override matching none of the planned layers: another selection
    }
    return true;
}

QStringList planFallbacks(const PlanInputs& in, const std::vector<int>& choice) {
    QStringList out;
    for (size_t k = 0; k < in.layers.size() && k < choice.size(); ++k) {
        const PlanLayer& l = in.layers[k];
        const size_t c = size_t(choice[k]);
        if (c < l.fallback.size() && !l.fallback[c].empty())
            out << QString::fromStdString(l.name + ": " + l.fallback[c]);
    }
    return out;
}

QString planFallbackNote(const PlanInputs& in, const std::vector<int>& choice) {
    const size_t fell = size_t(planFallbacks(in, choice).size());
    if (fell == 0 || choice.empty()) return {};
    const bool uniform =
        std::all_of(choice.begin(), choice.end(), [&](int c) { return c == choice.front(); });
    // One recipe: as a run of it is named; a mix: how many layers, whatever their recipes.
    const std::string recipe = uniform ? in.candidates[size_t(choice.front())] : std::string();
    return fallbackNote(recipe, fell, in.layers.size());
}

ParetoData paretoData(const PlanInputs& in, const std::vector<PlanResult>& plans,
                      const RunList& runs) {
    ParetoData d;
    const SensitivityConfig& s = in.settings;
    d.measuredOn = QString("%1 × %2 tokens of %3 (%4 protocol)")
                       .arg(s.evalWindows)
                       .arg(s.evalSeq)
                       .arg(QFileInfo(QString::fromStdString(s.evaluationText)).fileName(),
                            QString::fromStdString(s.evalProtocol));
    for (size_t c = 0; c < in.candidates.size(); ++c) {
        const std::vector<int> uniform(in.layers.size(), int(c));
        const QString note = planFallbackNote(in, uniform);
        const QString recipe =
            QString::fromStdString(in.candidates[c]) + (note.isEmpty() ? "" : " " + note);
        const double bpw = bitsPerWeight(in.uniformBytes(c), in.parameters);
        d.uniformPredicted.push_back({bpw, in.uniformLoss(c), recipe, -1});
        for (const RunPtr& run : runs)
            if (run && runMatchesPlan(*run, in, uniform)) {
                d.uniformMeasured.push_back({bpw, run->perplexity.klMean, recipe, -1});
                break;  // one point per candidate: the first such run
            }
    }
    for (size_t i = 0; i < plans.size(); ++i) {
        const double bpw = bitsPerWeight(plans[i].bytes, in.parameters);
        const QString label = QString("plan %1: %2 bits/weight").arg(i + 1).arg(bpw, 0, 'f', 2);
        d.planPredicted.push_back({bpw, plans[i].predictedLoss, label, int(i)});
        for (const RunPtr& run : runs)
            if (run && runMatchesPlan(*run, in, plans[i].choice)) {
                d.planMeasured.push_back({bpw, run->perplexity.klMean, label, int(i)});
                break;
            }
    }
    return d;
}

ParetoChart::ParetoChart(QWidget* parent) : QCustomPlot(parent) {
    setMinimumSize(300, 200);
    title_ = new FittedTitle(this, addTitleRow(this));
    auto scatter = [&](const QString& name) {
        auto* g = new QCPGraph(xAxis, yAxis);
        g->setName(name);
        g->setLineStyle(QCPGraph::lsNone);
        return g;
    };
    series_[UniformPredicted] = scatter("uniform · predicted");
    auto* plan = new QCPCurve(xAxis, yAxis);  // keeps the plans' order for clicks
    plan->setName("plan · predicted");
    series_[PlanPredicted] = plan;
    series_[UniformMeasured] = scatter("uniform · run");
    series_[PlanMeasured] = scatter("plan · run");
    selected_ = new QCPGraph(xAxis, yAxis);
    selected_->setLineStyle(QCPGraph::lsNone);
    selected_->removeFromLegend();
    xAxis->setLabel("bits per weight of the planned layers");
    yAxis->setLabel("KL to the float model (mean per token)");
    legend->setVisible(true);
    placeLegendAbove(this, 1);
    connect(this, &QCustomPlot::plottableClick, this, &ParetoChart::onClick);
    applyPalette();
    setData({});
}

// The series' colours are the theme's run colours; background, axes, legend and title the
// palette's (as every chart of the workbench, after View → Theme).
void ParetoChart::applyPalette() {
    const QPalette palette = QApplication::palette();
    const bool dark = isDarkPalette(palette);
    auto scatter = [&](Series s, QCPScatterStyle::ScatterShape shape, const QColor& c) {
        static_cast<QCPGraph*>(series_[s])->setScatterStyle(QCPScatterStyle(shape, c, c, 9));
    };
    scatter(UniformPredicted, QCPScatterStyle::ssSquare, runColor(0, dark));
    scatter(UniformMeasured, QCPScatterStyle::ssCrossSquare, runColor(2, dark));
    scatter(PlanMeasured, QCPScatterStyle::ssCrossCircle, runColor(3, dark));
    auto* plan = static_cast<QCPCurve*>(series_[PlanPredicted]);
    plan->setPen(QPen(runColor(1, dark), 1.5));
    plan->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, runColor(1, dark), runColor(1, dark), 7));
    selected_->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(afterColor(dark), 2), Qt::NoBrush, 15));
    for (QCPItemText* label : labels_) label->setColor(palette.color(QPalette::WindowText));
    applyPlotStyle(this, palette);
}

void ParetoChart::resizeEvent(QResizeEvent* event) {
    fitLegendColumns(this);  // four series names in one row need ~560 px
    QCustomPlot::resizeEvent(event);
}

QString ParetoChart::title() const {
    // "predicted": Σ of the layers' one-in ΔKL; "run": the KL a run of it measured.
    return data_.measuredOn.isEmpty()
               ? "Memory vs KL — measure the candidates to plan"
               : "Memory vs KL — all measured on " + data_.measuredOn +
                     "; predicted = \u03a3 one-in \u0394KL, run = KL of a run";
}

void ParetoChart::setData(ParetoData data) {
    data_ = std::move(data);
    auto fill = [](QCPGraph* g, const std::vector<ParetoPoint>& points) {
        QVector<double> x, y;
        for (const ParetoPoint& p : points) x << p.bitsPerWeight, y << p.kl;
        g->setData(x, y);
    };
    fill(static_cast<QCPGraph*>(series_[UniformPredicted]), data_.uniformPredicted);
    fill(static_cast<QCPGraph*>(series_[UniformMeasured]), data_.uniformMeasured);
    fill(static_cast<QCPGraph*>(series_[PlanMeasured]), data_.planMeasured);
    QVector<double> t, x, y;
    for (const ParetoPoint& p : data_.planPredicted)
        t << double(t.size()), x << p.bitsPerWeight, y << p.kl;
    static_cast<QCPCurve*>(series_[PlanPredicted])->setData(t, x, y);
    for (QCPItemText* label : labels_) removeItem(label);
    labels_.clear();
    for (const ParetoPoint& p : data_.uniformPredicted) {
        auto* label = new QCPItemText(this);
        label->position->setCoords(p.bitsPerWeight, p.kl);
        label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        label->setText(" " + p.label);
        label->setColor(QApplication::palette().color(QPalette::WindowText));
        labels_.push_back(label);
    }
    title_->setText(title());
    rescaleAxes();
    const QCPRange xr = xAxis->range(), yr = yAxis->range();
    xAxis->setRange(xr.lower - 0.5, xr.upper + 0.15 * xr.size() + 1.0);  // room for labels
    yAxis->setRange(std::min(0.0, yr.lower), yr.upper + 0.1 * yr.size() + 1e-6);
    setSelectedPlan(-1);
}

void ParetoChart::setSelectedPlan(int plan) {
    selected_->data()->clear();
    for (const ParetoPoint& p : data_.planPredicted)
        if (p.plan == plan) selected_->addData(p.bitsPerWeight, p.kl);
    replot(QCustomPlot::rpQueuedReplot);
}

void ParetoChart::selectPlan(int plan) {
    if (plan < 0 || plan >= int(data_.planPredicted.size())) return;
    setSelectedPlan(plan);
    emit planClicked(plan);
}

void ParetoChart::onClick(QCPAbstractPlottable* plottable, int dataIndex, QMouseEvent*) {
    if (plottable == series_[PlanPredicted] && dataIndex >= 0 &&
        dataIndex < int(data_.planPredicted.size()))
        selectPlan(data_.planPredicted[size_t(dataIndex)].plan);
    if (plottable == series_[PlanMeasured] && dataIndex >= 0 &&
        dataIndex < int(data_.planMeasured.size()))
        selectPlan(data_.planMeasured[size_t(dataIndex)].plan);
}

}  // namespace ql
