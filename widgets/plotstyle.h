// Chart styling that follows the application palette (light or dark theme), and the
// colours used for runs and before/after series.
#pragma once

#include <QColor>
#include <QPalette>

class QCustomPlot;
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

}  // namespace ql
