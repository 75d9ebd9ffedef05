// Chart styling that follows the application palette (light or dark theme), and the
// colours used for runs and before/after series.
#pragma once

#include <QColor>
#include <QMap>
#include <QObject>
#include <QPalette>
#include <QString>

class QCustomPlot;
class QCPAxis;
class QCPAxisRect;
class QCPTextElement;
class QFontMetrics;

namespace ql {

bool isDarkPalette(const QPalette& p);
// Background, axes, grid, legend and fonts of every axis rect of `plot` from `p`.
void applyPlotStyle(QCustomPlot* plot, const QPalette& p);
QColor beforeColor(bool dark);
QColor afterColor(bool dark);
QColor runColor(int index, bool dark);  // distinct colours for runs
// Moves the legend out of the axis rect into a row above it, laid out horizontally.
void placeLegendAbove(QCustomPlot* plot, int row);
// A legend above the plot (placeLegendAbove) in as many columns (at most `maxColumns`) as
// its widest item fits in the plot's width, so that no name is cut; call on resize.
void fitLegendColumns(QCustomPlot* plot, int maxColumns = 4);
// QCustomPlot silently skips a tick label that would cross the widget's edge, which drops
// the last category of a rotated bottom axis (the last layer is often the worst). Reserves
// room right of the axis rect for the last label of the axis' text ticker.
void fitRotatedTickLabels(QCPAxis* axis);

// A bold, empty title element in a new top row of the plot's layout (its text set later).
QCPTextElement* addTitleRow(QCustomPlot* plot);

// `text` in lines no wider than `room`: a line too wide breaks at " · " and "; ", a part
// that alone does not fit at its spaces into two lines, and only then is it elided.
QString fitLines(const QString& text, const QFontMetrics& metrics, int room);

// A chart title that fits its chart: too wide, it breaks after its subject (at " — ",
// else " (" or ": ") and each line is elided in the middle, so that neither end is cut
// off at a small window size. text() stays the whole title; it refits on every resize.
class FittedTitle : public QObject {
public:
    FittedTitle(QCustomPlot* plot, QCPTextElement* element);
    void setText(const QString& text);
    QString text() const { return full_; }
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    bool fit();  // true when the text shown changed

    QCustomPlot* plot_;
    QCPTextElement* element_;
    QString full_;
};

// `text` broken at spaces into lines no wider than `px` in `font` (a word longer than that
// stays whole on its own line): chart messages that must be read whole.
QString wrapToWidth(const QString& text, const QFont& font, int px);
QString wrapToWidth(const QString& text, const QFontMetrics& metrics, int px);

// Category tick labels of a text ticker (one category per key unit) broken into lines that
// fit the room between neighbouring categories, refitted whenever the plot's layout
// changes (resize): run names side by side never run into each other. Explicit line
// breaks in a label are kept.
class FittedTicks : public QObject {
public:
    explicit FittedTicks(QCPAxis* axis);
    void setTicks(const QMap<double, QString>& full);  // a fresh text ticker on the axis
    QMap<double, QString> fullTicks() const { return full_; }
    int room() const { return room_; }  // pixels a label line may take (-1: not laid out)

private:
    void fit();

    QCPAxis* axis_;
    QMap<double, QString> full_;
    int room_ = -1;
};

// Run names as category labels: broken at spaces into lines of about `width` characters,
// so that neighbouring labels do not run into each other.
QString wrapLabel(const QString& text, int width = 18);

}  // namespace ql
