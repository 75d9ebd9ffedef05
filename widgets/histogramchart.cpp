#include "widgets/histogramchart.h"

#include "widgets/exportutils.h"
#include "widgets/plotstyle.h"

#include <QApplication>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace ql {

HistogramChart::HistogramChart(QWidget* parent) : QCustomPlot(parent) {
    setMinimumSize(240, 160);
    plotLayout()->insertRow(0);
    title_ = new QCPTextElement(this, "", QFont(font().family(), font().pointSize(), QFont::Bold));
    plotLayout()->addElement(0, 0, title_);
    fittedTitle_ = new FittedTitle(this, title_);
    before_ = new QCPBars(xAxis, yAxis);
    after_ = new QCPBars(xAxis, yAxis);
    for (QCPBars* b : {before_, after_}) {
        b->setWidthType(QCPBars::wtPlotCoords);
        b->setAntialiased(false);
    }
    reference_ = addGraph();
    reference_->setLineStyle(QCPGraph::lsStepCenter);
    reference_->setVisible(false);
    reference_->removeFromLegend();
    levelNote_ = new QCPItemText(this);
    levelNote_->position->setType(QCPItemPosition::ptAxisRectRatio);
    levelNote_->position->setCoords(0.01, 0.02);
    levelNote_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    levelNote_->setVisible(false);
    levelNote_->setSelectable(false);
    for (auto& line : clipLines_) {
        line = new QCPItemStraightLine(this);
        line->setSelectable(false);
        line->setVisible(false);
    }
    clipLegend_ = addGraph();
    clipLegend_->setLineStyle(QCPGraph::lsLine);
    clipLegend_->removeFromLegend();
    clipNote_ = new QCPItemText(this);
    clipNote_->position->setType(QCPItemPosition::ptAxisRectRatio);
    clipNote_->position->setCoords(0.01, 0.02);
    clipNote_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    clipNote_->setVisible(false);
    clipNote_->setSelectable(false);
    setColors(beforeColor(false), afterColor(false));
    yAxis->setLabel("count");
    legend->setVisible(true);
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    axisRect()->setRangeDrag(Qt::Horizontal);
    axisRect()->setRangeZoom(Qt::Horizontal);
    setMouseTracking(true);
    connect(xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            [this](const QCPRange& r) {
                if (!levels_.empty()) drawLevels();
                if (!settingRange_) emit xRangeChanged(r.lower, r.upper);
            });
}

QString HistogramChart::title() const {
    return fittedTitle_->text();
}

QString HistogramChart::shownTitle() const {
    return title_->text();
}

void HistogramChart::setReference(const Histogram& reference, const QString& name) {
    hReference_ = reference;
    QVector<double> keys, values;
    for (int i = 0; i < reference.bins(); ++i) {
        keys << reference.lo + (i + 0.5) * reference.binWidth();
        values << double(reference.counts[size_t(i)]);
    }
    reference_->setData(keys, values, true);
    reference_->setName(name);
    reference_->setPen(QPen(QApplication::palette().color(QPalette::WindowText), 1.5));
    reference_->setVisible(!reference.empty());
    if (reference.empty())
        reference_->removeFromLegend();
    else
        reference_->addToLegend();
    fitY();
    replot(rpQueuedReplot);
}

void HistogramChart::setColors(const QColor& before, const QColor& after) {
    auto style = [](QCPBars* b, QColor c) {
        QColor fillColor = c;
        fillColor.setAlpha(110);
        b->setBrush(fillColor);
        c.setAlpha(200);
        b->setPen(QPen(c, 1));
    };
    style(before_, before);
    style(after_, after);
    replot(rpQueuedReplot);
}

void HistogramChart::setTitle(const QString& title) {
    fittedTitle_->setText(title);
}

void HistogramChart::setXLabel(const QString& label) {
    xAxis->setLabel(label);
}

void HistogramChart::fill(QCPBars* bars, const Histogram& h) {
    QVector<double> keys, values;
    keys.reserve(h.bins());
    values.reserve(h.bins());
    const double w = h.binWidth();
    for (int i = 0; i < h.bins(); ++i) {
        keys << h.lo + (i + 0.5) * w;
        values << double(h.counts[size_t(i)]);
    }
    bars->setWidth(w);
    bars->setData(keys, values, true);
}

void HistogramChart::setHistograms(const Histogram& before, const Histogram& after,
                                   const QString& beforeName, const QString& afterName,
                                   bool keepRange) {
    hBefore_ = before;
    hAfter_ = after;
    fill(before_, before);
    fill(after_, after);
    before_->setName(beforeName);
    after_->setName(afterName);
    after_->setVisible(!after.empty());
    if (after.empty())
        after_->removeFromLegend();
    else
        after_->addToLegend();
    if (!keepRange)
        resetView();
    else
        fitY();
    replot(rpQueuedReplot);
}

void HistogramChart::clearHistograms(const QString& message) {
    hBefore_ = {};
    hAfter_ = {};
    before_->data()->clear();
    after_->data()->clear();
    setReference({}, {});
    setLevels({});
    setClipRange(std::nan(""), std::nan(""), {});
    setTitle(message);
}

void HistogramChart::resetView() {
    const Histogram& h = hBefore_.empty() ? hAfter_ : hBefore_;
    if (!h.empty()) {
        double lo = h.lo, hi = h.hi;
        if (!hAfter_.empty()) {
            lo = std::min(lo, hAfter_.lo);
            hi = std::max(hi, hAfter_.hi);
        }
        if (hasClipRange()) {  // both clip lines in view, even beyond the data
            lo = std::min(lo, clipLine(0));
            hi = std::max(hi, clipLine(1));
        }
        const double pad = (hi - lo) * 0.02;
        settingRange_ = true;
        xAxis->setRange(lo - pad, hi + pad);
        settingRange_ = false;
    }
    fitY();
    replot(rpQueuedReplot);
}

void HistogramChart::fitY() {
    double maxCount = 1;
    for (const Histogram* h : {&hBefore_, &hAfter_, &hReference_})
        for (uint64_t c : h->counts) maxCount = std::max(maxCount, double(c));
    if (log_)
        yAxis->setRange(0.5, maxCount * 2.0);
    else
        yAxis->setRange(0, maxCount * 1.08);
}

void HistogramChart::setLogScale(bool log) {
    log_ = log;
    if (log) {
        yAxis->setScaleType(QCPAxis::stLogarithmic);
        yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        yAxis->setNumberFormat("eb");
        yAxis->setNumberPrecision(0);
    } else {
        yAxis->setScaleType(QCPAxis::stLinear);
        yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        yAxis->setNumberFormat("gb");
        yAxis->setNumberPrecision(6);
    }
    yAxis->setLabel(log ? "count (log)" : "count");
    fitY();
    replot(rpQueuedReplot);
}

void HistogramChart::setLevels(const std::vector<double>& xs) {
    levels_ = xs;
    drawLevels();
}

void HistogramChart::drawLevels() {
    for (QCPItemStraightLine* line : levelLines_) removeItem(line);
    levelLines_.clear();
    const QCPRange range = xAxis->range();
    std::vector<double> visible;
    for (double x : levels_)
        if (range.contains(x)) visible.push_back(x);
    const bool dense = int(visible.size()) > kMaxDrawnLevels;
    levelNote_->setVisible(dense);
    QColor c = QApplication::palette().color(QPalette::WindowText);
    levelNote_->setColor(c);
    if (dense)
        levelNote_->setText(QString("%1 quantization levels (%2 in view): too dense to draw, "
                                    "zoom in to see them")
                                .arg(levels_.size())
                                .arg(visible.size()));
    c.setAlpha(110);
    for (double x : dense ? std::vector<double>() : visible) {
        auto* line = new QCPItemStraightLine(this);
        line->point1->setCoords(x, 0);
        line->point2->setCoords(x, 1);
        line->setPen(QPen(c, 1, Qt::DashLine));
        line->setSelectable(false);
        levelLines_.push_back(line);
    }
    replot(rpQueuedReplot);
}

void HistogramChart::setClipRange(double lo, double hi, const QString& name, const QString& note) {
    const bool shown = std::isfinite(lo) && std::isfinite(hi);
    const QColor c = QApplication::palette().color(QPalette::WindowText);
    const QPen pen(c, 1.5, Qt::DashLine);
    const double xs[2] = {lo, hi};
    for (size_t i = 0; i < clipLines_.size(); ++i) {
        clipLines_[i]->point1->setCoords(shown ? xs[i] : 0.0, 0);
        clipLines_[i]->point2->setCoords(shown ? xs[i] : 0.0, 1);
        clipLines_[i]->setPen(pen);
        clipLines_[i]->setVisible(shown);
    }
    clipLegend_->setPen(pen);
    clipLegend_->setName(name);
    if (shown)
        clipLegend_->addToLegend();
    else
        clipLegend_->removeFromLegend();
    clipNote_->setColor(c);
    clipNote_->setText(note);
    clipNote_->setVisible(!shown && !note.isEmpty());
    if (shown) resetView();
    replot(rpQueuedReplot);
}

QString HistogramChart::levelNote() const {
    return levelNote_->visible() ? levelNote_->text() : QString();
}

// Wide (one row per bin) when every series shares the bins, else one row per series and bin.
QString HistogramChart::dataCsv() const {
    std::vector<std::pair<QString, const Histogram*>> series;
    if (!hBefore_.empty()) series.push_back({before_->name(), &hBefore_});
    if (!hAfter_.empty()) series.push_back({after_->name(), &hAfter_});
    if (!hReference_.empty()) series.push_back({reference_->name(), &hReference_});
    if (series.empty()) return "bin_lo,bin_hi,count\n";
    const Histogram& first = *series[0].second;
    const bool shared = std::all_of(series.begin(), series.end(), [&](const auto& s) {
        return s.second->bins() == first.bins() && s.second->lo == first.lo &&
               s.second->hi == first.hi;
    });
    auto num = [](double v) { return QString::number(v, 'g', 10); };
    QStringList lines;
    if (shared) {
        QStringList header = {"bin_lo", "bin_hi"};
        for (const auto& s : series) header << csvField(s.first);
        lines << header.join(',');
        for (int i = 0; i < first.bins(); ++i) {
            QStringList row = {num(first.lo + i * first.binWidth()),
                               num(first.lo + (i + 1) * first.binWidth())};
            for (const auto& s : series) row << QString::number(s.second->counts[size_t(i)]);
            lines << row.join(',');
        }
    } else {
        lines << "series,bin_lo,bin_hi,count";
        for (const auto& [name, h] : series)
            for (int i = 0; i < h->bins(); ++i)
                lines << QStringList{csvField(name), num(h->lo + i * h->binWidth()),
                                     num(h->lo + (i + 1) * h->binWidth()),
                                     QString::number(h->counts[size_t(i)])}
                             .join(',');
    }
    return lines.join('\n') + '\n';
}

QString HistogramChart::binTooltip(double key) const {
    const Histogram& h = hBefore_.empty() ? hAfter_ : hBefore_;
    if (h.empty() || key < h.lo || key > h.hi) return {};
    const double w = h.binWidth();
    const int bin = std::min(h.bins() - 1, int((key - h.lo) / w));
    QString text =
        QString("[%1, %2)\n").arg(h.lo + bin * w, 0, 'g', 5).arg(h.lo + (bin + 1) * w, 0, 'g', 5);
    text += QString("%1: %2").arg(before_->name()).arg(h.counts[size_t(bin)]);
    if (!hAfter_.empty() && hAfter_.bins() == h.bins() && hAfter_.lo == h.lo)
        text += QString("\n%1: %2").arg(after_->name()).arg(hAfter_.counts[size_t(bin)]);
    return text;
}

void HistogramChart::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    if (event->buttons() != Qt::NoButton) return;
    const QPointF pos = event->position();
    if (!axisRect()->rect().contains(pos.toPoint())) {
        QToolTip::hideText();
        return;
    }
    const QString tip = binTooltip(xAxis->pixelToCoord(pos.x()));
    if (tip.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), tip, this);
}

}  // namespace ql
