#include "widgets/inferbenchchart.h"

#include "run/run.h"
#include "widgets/exportutils.h"
#include "widgets/labelplacement.h"
#include "widgets/plotstyle.h"

#include <QApplication>
#include <QFontMetrics>

#include <algorithm>
#include <cmath>

namespace ql {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

QString pplText(double ppl, const RunResult& run, bool withSetting) {
    const PerplexitySummary& p = run.perplexity;
    return QString("ppl %1 (%2)")
        .arg(ppl, 0, 'f', 3)
        .arg(withSetting ? evalSettingLabel(run)
                         : QString("seq %1 × %2").arg(p.seq).arg(p.windows));
}

// The first evaluated run of each distinct evaluation setting, in the runs' order.
std::vector<const RunResult*> settingRepresentatives(const RunList& runs) {
    std::vector<const RunResult*> out;
    QStringList keys;
    for (const RunPtr& run : runs)
        if (run && run->perplexity.valid && !keys.contains(evalSettingKey(*run))) {
            keys << evalSettingKey(*run);
            out.push_back(run.get());
        }
    return out;
}

}  // namespace

InferBenchChartData inferBenchChartData(const InferBenchResult& result, const RunList& runs) {
    InferBenchChartData d;
    const std::vector<const RunResult*> settings = settingRepresentatives(runs);
    d.settingsDiffer = settings.size() > 1;
    if (settings.size() == 1) d.evaluation = evalSettingLabel(*settings.front());
    for (size_t i = 0; i < result.rows.size(); ++i) {
        const InferBenchRow& r = result.rows[i];
        InferBenchPoint p;
        p.name = i == 0 ? QString("float") : QString::fromStdString(r.name);
        p.weightBytes = double(r.weightBytes);
        p.decodeTokensPerSecond = r.decodeTokensPerSecond;
        p.prefillTokensPerSecond = r.prefillTokensPerSecond;
        QStringList ppl;
        if (i == 0) {
            for (const RunResult* run : settings)
                ppl << pplText(run->perplexity.pplFp, *run, d.settingsDiffer);
        } else if (i - 1 < runs.size() && runs[i - 1] && runs[i - 1]->perplexity.valid) {
            const RunResult& run = *runs[i - 1];
            ppl << pplText(run.perplexity.pplQ, run, d.settingsDiffer);
        }
        p.perplexity = ppl.isEmpty() ? QString("ppl —") : ppl.join('\n');
        d.points.push_back(std::move(p));
    }
    return d;
}

InferBenchChart::InferBenchChart(QWidget* parent) : QCustomPlot(parent) {
    setMinimumSize(300, 200);
    title_ = new FittedTitle(this, addTitleRow(this));
    xAxis->setLabel("resident weight memory (MiB)");
    yAxis->setLabel("decode tokens/s (filled)");
    yAxis2->setLabel("prefill tokens/s (hollow)");
    yAxis2->setVisible(true);
    message_ = new QCPItemText(this);
    message_->position->setType(QCPItemPosition::ptAxisRectRatio);
    message_->position->setCoords(0.5, 0.5);
    message_->setClipToAxisRect(false);
    legend->setVisible(false);  // the axes say which marker is which; labels name the models
    connect(this, &QCustomPlot::afterLayout, this, &InferBenchChart::placeLabels);
    applyPlotStyle(this, QApplication::palette());
    setResult(nullptr, {});
}

QString InferBenchChart::title() const {
    if (data_.points.empty()) return "Decode speed vs weight memory";
    const QString head = "Decode speed vs weight memory vs perplexity — ";
    if (data_.settingsDiffer)
        return head + "perplexities measured with different settings (each label names its own)";
    if (data_.evaluation.isEmpty()) return head + "no run was evaluated";
    return head + "perplexity: " + data_.evaluation;
}

QString InferBenchChart::message() const {
    return data_.points.empty()
               ? QString(
                     "No measurement yet: press Bench to measure the float model and the "
                     "checked runs.")
               : QString();
}

QCPGraph* InferBenchChart::decodeGraph(int model) const {
    return model >= 0 && model < int(decode_.size()) ? decode_[size_t(model)] : nullptr;
}

QCPGraph* InferBenchChart::prefillGraph(int model) const {
    return model >= 0 && model < int(prefill_.size()) ? prefill_[size_t(model)] : nullptr;
}

QCPItemText* InferBenchChart::label(int model) const {
    return model >= 0 && model < int(labels_.size()) ? labels_[size_t(model)] : nullptr;
}

void InferBenchChart::setResult(std::shared_ptr<const InferBenchResult> result,
                                const RunList& runs) {
    data_ = result ? inferBenchChartData(*result, runs) : InferBenchChartData{};
    rebuild();
}

// A model's decode and prefill markers, its label and its leader line, in `colour`.
void InferBenchChart::addModel(const InferBenchPoint& p, const QColor& colour,
                               const QPalette& palette) {
    const double x = p.weightBytes / kMiB;
    QCPGraph* d = addGraph(xAxis, yAxis);
    d->setName(p.name + " · decode");
    d->setLineStyle(QCPGraph::lsNone);
    d->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, colour, colour, 10));
    d->addData(x, p.decodeTokensPerSecond);
    QCPGraph* f = addGraph(xAxis, yAxis2);
    f->setName(p.name + " · prefill");
    f->setLineStyle(QCPGraph::lsNone);
    f->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(colour, 2), Qt::NoBrush, 11));
    f->addData(x, p.prefillTokensPerSecond);
    auto* label = new QCPItemText(this);
    label->setText(p.name + "\n" + p.perplexity);
    label->setTextAlignment(Qt::AlignLeft);
    label->setColor(palette.color(QPalette::WindowText));
    label->setPen(QPen(colour, 1));
    label->setBrush(palette.color(QPalette::Base));
    label->setPadding(QMargins(3, 1, 3, 1));
    label->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    label->position->setType(QCPItemPosition::ptAbsolute);  // placeLabels sets the pixels
    QFont small = font();
    small.setPointSizeF(font().pointSizeF() * 0.9);
    label->setFont(small);
    auto* leader = new QCPItemLine(this);
    leader->start->setType(QCPItemPosition::ptAbsolute);
    leader->end->setType(QCPItemPosition::ptAbsolute);
    leader->setPen(QPen(colour, 1));
    leader->setVisible(false);
    decode_.push_back(d);
    prefill_.push_back(f);
    labels_.push_back(label);
    leaders_.push_back(leader);
}

// A model's colour is that of its column in the Generate tab.
void InferBenchChart::rebuild() {
    clearGraphs();
    for (QCPItemText* l : labels_) removeItem(l);
    for (QCPItemLine* l : leaders_) removeItem(l);
    decode_.clear();
    prefill_.clear();
    labels_.clear();
    leaders_.clear();
    const QPalette palette = QApplication::palette();
    double maxX = 0.0, maxDecode = 0.0, maxPrefill = 0.0;
    for (size_t i = 0; i < data_.points.size(); ++i) {
        const InferBenchPoint& p = data_.points[i];
        addModel(p, runColor(int(i), isDarkPalette(palette)), palette);
        maxX = std::max(maxX, p.weightBytes / kMiB);
        maxDecode = std::max(maxDecode, p.decodeTokensPerSecond);
        maxPrefill = std::max(maxPrefill, p.prefillTokensPerSecond);
    }
    // From zero: the ratios between the models are what a reader compares.
    xAxis->setRange(0.0, maxX > 0.0 ? maxX * 1.08 : 1.0);
    yAxis->setRange(0.0, maxDecode > 0.0 ? maxDecode * 1.12 : 1.0);
    yAxis2->setRange(0.0, maxPrefill > 0.0 ? maxPrefill * 1.12 : 1.0);
    message_->setText(message());
    message_->setVisible(!message().isEmpty());
    message_->setColor(palette.color(QPalette::WindowText));
    title_->setText(title());
    replot(QCustomPlot::rpQueuedReplot);
}

// Labels beside their points where there is room, never over each other (labelplacement.h);
// a label away from its point gets a leader line.
void InferBenchChart::placeLabels() {
    LabelPlacementInput in;
    in.area = axisRect()->rect();
    for (size_t i = 0; i < decode_.size(); ++i)
        for (QCPGraph* g : {decode_[i], prefill_[i]}) {
            double x = 0.0, y = 0.0;
            g->coordsToPixels(g->data()->at(0)->key, g->data()->at(0)->value, x, y);
            in.markers.emplace_back(x - 7, y - 7, 14, 14);
        }
    for (size_t i = 0; i < labels_.size(); ++i) {
        const QRect text =
            QFontMetrics(labels_[i]->font())
                .boundingRect(QRect(0, 0, 100000, 100000), Qt::AlignLeft, labels_[i]->text());
        in.points.push_back(in.markers[2 * i].center());
        in.sizes.emplace_back(text.width() + 8, text.height() + 4);
    }
    const std::vector<QRectF> boxes = ql::placeLabels(in);
    for (size_t i = 0; i < labels_.size(); ++i) {
        labels_[i]->position->setCoords(boxes[i].left(), boxes[i].top());
        const QPointF p = in.points[i];
        const QPointF end(std::clamp(p.x(), boxes[i].left(), boxes[i].right()),
                          std::clamp(p.y(), boxes[i].top(), boxes[i].bottom()));
        leaders_[i]->setVisible(std::hypot(end.x() - p.x(), end.y() - p.y()) > 14.0);
        leaders_[i]->start->setCoords(p);
        leaders_[i]->end->setCoords(end);
    }
}

QString InferBenchChart::dataCsv() const {
    QString csv = "model,weight_bytes,decode_tokens_per_s,prefill_tokens_per_s,perplexity\n";
    for (const InferBenchPoint& p : data_.points)
        csv += QStringList{csvField(p.name), QString::number(p.weightBytes, 'f', 0),
                           QString::number(p.decodeTokensPerSecond, 'g', 8),
                           QString::number(p.prefillTokensPerSecond, 'g', 8),
                           csvField(QString(p.perplexity).replace('\n', "; "))}
                   .join(',') +
               "\n";
    return csv;
}

void InferBenchChart::applyPalette() {
    applyPlotStyle(this, QApplication::palette());
    rebuild();
}

}  // namespace ql
