#include "widgets/plotstyle.h"

#include <qcustomplot.h>
#include <QFontMetrics>
#include <QRegularExpression>
#include <QtMath>
#include <algorithm>

namespace ql {

bool isDarkPalette(const QPalette& p) {
    return p.color(QPalette::Window).lightness() < 128;
}

QColor beforeColor(bool dark) {
    return dark ? QColor(90, 160, 255) : QColor(31, 119, 180);
}
QColor afterColor(bool dark) {
    return dark ? QColor(255, 150, 60) : QColor(230, 100, 20);
}

QColor runColor(int index, bool dark) {
    static const QColor light[] = {{31, 119, 180},  {214, 39, 40}, {44, 160, 44},
                                   {148, 103, 189}, {140, 86, 75}, {227, 119, 194},
                                   {127, 127, 127}, {188, 189, 34}};
    static const QColor darkc[] = {{100, 170, 255}, {255, 110, 110}, {110, 220, 110},
                                   {200, 160, 255}, {220, 170, 130}, {255, 160, 220},
                                   {200, 200, 200}, {230, 230, 90}};
    const int i = ((index % 8) + 8) % 8;
    return dark ? darkc[i] : light[i];
}

static void styleAxis(QCPAxis* axis, const QPalette& p) {
    const QColor fg = p.color(QPalette::WindowText);
    const bool dark = isDarkPalette(p);
    QColor grid = dark ? QColor(255, 255, 255, 40) : QColor(0, 0, 0, 35);
    axis->setBasePen(QPen(fg, 1));
    axis->setTickPen(QPen(fg, 1));
    axis->setSubTickPen(QPen(fg, 1));
    axis->setTickLabelColor(fg);
    axis->setLabelColor(fg);
    axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
    axis->grid()->setZeroLinePen(QPen(grid, 1));
    QFont f = axis->tickLabelFont();
    f.setPointSizeF(std::max(8.5, QFont().pointSizeF() - 0.5));
    axis->setTickLabelFont(f);
    QFont lf = QFont();
    axis->setLabelFont(lf);
}

void placeLegendAbove(QCustomPlot* plot, int row) {
    plot->axisRect()->insetLayout()->take(plot->legend);
    plot->plotLayout()->insertRow(row);
    plot->plotLayout()->addElement(row, 0, plot->legend);
    plot->legend->setWrap(4);  // many runs: several rows instead of clipped names
    plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
    plot->legend->setMargins(QMargins(4, 1, 4, 1));
    plot->legend->setBorderPen(Qt::NoPen);
    plot->plotLayout()->setRowStretchFactor(row, 0.001);
    plot->plotLayout()->setRowSpacing(0);
}

void fitLegendColumns(QCustomPlot* plot, int maxColumns) {
    QCPLegend* legend = plot->legend;
    if (!legend || legend->itemCount() == 0) return;
    int widest = 0, items = 0;  // itemCount() counts a wrapped grid's empty cells too
    for (int i = 0; i < legend->itemCount(); ++i)
        if (QCPAbstractLegendItem* item = legend->item(i)) {
            widest = std::max(widest, item->minimumOuterSizeHint().width());
            ++items;
        }
    if (items == 0) return;
    const QMargins m = legend->margins();
    const int room = plot->width() - m.left() - m.right() - 8;
    const int columns = std::clamp(room / std::max(1, widest + legend->columnSpacing()), 1,
                                   std::min(maxColumns, items));
    if (legend->wrap() == columns) return;
    legend->setWrap(columns);
    legend->setFillOrder(QCPLegend::foColumnsFirst, true);
}

void fitRotatedTickLabels(QCPAxis* axis) {
    QCPAxisRect* rect = axis->axisRect();
    QMargins margins = rect->minimumMargins();
    margins.setRight(0);
    const auto ticker = axis->ticker().dynamicCast<QCPAxisTickerText>();
    const double degrees = axis->tickLabelRotation();
    if (ticker && degrees > 0 && axis->axisType() == QCPAxis::atBottom) {
        const QFontMetrics fm(axis->tickLabelFont());
        const double rad = qDegreesToRadians(degrees);
        // Only the last label reaches past the axis rect (labels run to the right).
        const QString text = ticker->ticks().isEmpty() ? QString() : ticker->ticks().last();
        const QRect r = fm.boundingRect(QRect(), Qt::TextDontClip | Qt::AlignHCenter, text);
        // Rotated bounds plus QCustomPlot's offset of half the height (atBottom, > 0°).
        const double extent = r.width() * std::cos(rad) + 1.5 * r.height() * std::sin(rad);
        margins.setRight(int(std::ceil(extent)) + 6);
    }
    rect->setMinimumMargins(margins);
}

void applyPlotStyle(QCustomPlot* plot, const QPalette& p) {
    const QColor bg = p.color(QPalette::Base);
    const QColor fg = p.color(QPalette::WindowText);
    plot->setBackground(QBrush(bg));
    for (QCPAxisRect* rect : plot->axisRects()) {
        rect->setBackground(QBrush(bg));
        for (QCPAxis* axis : rect->axes()) styleAxis(axis, p);
    }
    // A heat map's colour scale has an axis of its own, outside axisRects().
    for (QCPLayoutElement* element : plot->plotLayout()->elements(true))
        if (auto* scale = qobject_cast<QCPColorScale*>(element)) styleAxis(scale->axis(), p);
    if (plot->legend) {
        QColor lb = bg;
        lb.setAlpha(210);
        plot->legend->setBrush(QBrush(lb));
        if (plot->legend->borderPen().style() != Qt::NoPen)
            plot->legend->setBorderPen(QPen(p.color(QPalette::Mid)));
        plot->legend->setTextColor(fg);
    }
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
        if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i)))
            title->setTextColor(fg);
    plot->replot(QCustomPlot::rpQueuedReplot);
}

QCPTextElement* addTitleRow(QCustomPlot* plot) {
    plot->plotLayout()->insertRow(0);
    auto* title = new QCPTextElement(
        plot, "", QFont(plot->font().family(), plot->font().pointSize(), QFont::Bold));
    plot->plotLayout()->addElement(0, 0, title);
    return title;
}

FittedTitle::FittedTitle(QCustomPlot* plot, QCPTextElement* element)
    : QObject(plot), plot_(plot), element_(element), full_(element->text()) {
    plot->installEventFilter(this);
}

void FittedTitle::setText(const QString& text) {
    full_ = text;
    fit();
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

bool FittedTitle::eventFilter(QObject* watched, QEvent* event) {
    if (watched == plot_ && event->type() == QEvent::Resize && fit())
        plot_->replot(QCustomPlot::rpQueuedReplot);
    return false;
}

QString fitLines(const QString& text, const QFontMetrics& metrics, int room) {
    // A line too wide breaks at its separators (" · ", "; "), and only a part that alone
    // does not fit is elided in the middle.
    QStringList lines;
    for (const QString& line : text.split('\n')) {
        QString current, pending;  // pending: the separator before the next part
        int from = 0;
        static const QRegularExpression separator(" · |; ");
        auto take = [&](const QString& part, const QString& sep) {
            const QString longer = current.isEmpty() ? part : current + pending + part;
            if (!current.isEmpty() && metrics.horizontalAdvance(longer) > room) {
                lines << current + (pending == "; " ? ";" : "");
                current = part;
            } else {
                current = longer;
            }
            pending = sep;
        };
        for (auto it = separator.globalMatch(line); it.hasNext();) {
            const auto m = it.next();
            take(line.mid(from, m.capturedStart() - from), m.captured());
            from = int(m.capturedEnd());
        }
        take(line.mid(from), QString());
        lines << current;
    }
    // A part still too wide wraps at its spaces into two lines if it can, else is elided.
    QStringList out;
    for (const QString& line : lines) {
        const QString wrapped = wrapToWidth(line, metrics, room);
        if (metrics.horizontalAdvance(line) > room && wrapped.count('\n') == 1 &&
            metrics.horizontalAdvance(wrapped.section('\n', 0, 0)) <= room &&
            metrics.horizontalAdvance(wrapped.section('\n', 1)) <= room)
            out << wrapped.split('\n');
        else
            out << metrics.elidedText(line, Qt::ElideMiddle, room);
    }
    return out.join('\n');
}

bool FittedTitle::fit() {
    const QFontMetrics metrics(element_->font());
    const int room = std::max(80, plot_->width() - 12);
    QString text = full_;
    // " — ": the dash goes; " (": the parenthesis starts line two; ": " ends line one.
    struct Break {
        QString at;
        int keep, skip;
    };
    if (metrics.horizontalAdvance(text) > room && !text.contains('\n')) {
        for (const Break& b : {Break{" — ", 0, 3}, Break{" (", 0, 1}, Break{": ", 1, 2}}) {
            const int cut = text.indexOf(b.at);
            if (cut <= 0) continue;
            text = text.left(cut + b.keep) + "\n" + text.mid(cut + b.skip);
            break;
        }
    }
    text = fitLines(text, metrics, room);  // lines that fit stay as they are
    if (text == element_->text()) return false;
    element_->setText(text);
    return true;
}

QString wrapToWidth(const QString& text, const QFont& font, int px) {
    return wrapToWidth(text, QFontMetrics(font), px);
}

QString wrapToWidth(const QString& text, const QFontMetrics& metrics, int px) {
    QStringList lines;
    QString line;
    for (const QString& word : text.split(' ', Qt::SkipEmptyParts)) {
        const QString longer = line.isEmpty() ? word : line + " " + word;
        if (!line.isEmpty() && metrics.horizontalAdvance(longer) > px) {
            lines << line;
            line = word;
        } else {
            line = longer;
        }
    }
    if (!line.isEmpty()) lines << line;
    return lines.join('\n');
}

FittedTicks::FittedTicks(QCPAxis* axis) : QObject(axis->parentPlot()), axis_(axis) {
    connect(axis->parentPlot(), &QCustomPlot::afterLayout, this, &FittedTicks::fit);
}

void FittedTicks::setTicks(const QMap<double, QString>& full) {
    full_ = full;
    room_ = -1;
    axis_->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    fit();
}

void FittedTicks::fit() {
    const double step = std::abs(axis_->coordToPixel(1.0) - axis_->coordToPixel(0.0));
    const int room = std::max(44, int(step) - 8);
    const auto ticker = axis_->ticker().dynamicCast<QCPAxisTickerText>();
    if (!ticker || room == room_) return;
    room_ = room;
    QMap<double, QString> wrapped;
    for (auto it = full_.begin(); it != full_.end(); ++it) {
        QStringList lines;
        for (const QString& line : it.value().split('\n'))
            lines << wrapToWidth(line, axis_->tickLabelFont(), room);
        wrapped.insert(it.key(), lines.join('\n'));
    }
    ticker->setTicks(wrapped);
    axis_->parentPlot()->replot(QCustomPlot::rpQueuedReplot);  // margins for the new labels
}

QString wrapLabel(const QString& text, int width) {
    QStringList lines;
    QString line;
    for (const QString& word : text.split(' ', Qt::SkipEmptyParts)) {
        if (!line.isEmpty() && line.size() + 1 + word.size() > width) {
            lines << line;
            line.clear();
        }
        line += (line.isEmpty() ? "" : " ") + word;
    }
    if (!line.isEmpty()) lines << line;
    return lines.join('\n');
}

}  // namespace ql
