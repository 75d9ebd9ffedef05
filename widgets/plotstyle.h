// Chart styling that follows the application palette (light or dark theme), and the
// colours used for runs and before/after series.
#pragma once

#include <QColor>
#include <QPalette>

class QCustomPlot;
class QCPAxis;
class QCPAxisRect;

namespace ql {

bool isDarkPalette(const QPalette& p);
// Background, axes, grid, legend and fonts of every axis rect of `plot` from `p`.
void applyPlotStyle(QCustomPlot* plot, const QPalette& p);
QColor beforeColor(bool dark);
QColor afterColor(bool dark);
QColor runColor(int index, bool dark);  // distinct colours for runs
// Moves the legend out of the axis rect into a row above it, laid out horizontally.
void placeLegendAbove(QCustomPlot* plot, int row);
// QCustomPlot silently skips a tick label that would cross the widget's edge, which drops
// the last category of a rotated bottom axis (the last layer is often the worst). Reserves
// room right of the axis rect for the last label of the axis' text ticker.
void fitRotatedTickLabels(QCPAxis* axis);

}  // namespace ql
