#include "widgets/plotstyle.h"

#include <qcustomplot.h>
#include <QFontMetrics>
#include <QtMath>

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
    if (metrics.horizontalAdvance(text) > room) {
        QStringList lines = text.split('\n');
        for (QString& line : lines) line = metrics.elidedText(line, Qt::ElideMiddle, room);
        text = lines.join('\n');
    }
    if (text == element_->text()) return false;
    element_->setText(text);
    return true;
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
