#include "widgets/tokenklchart.h"

#include "widgets/plotstyle.h"

#include <QApplication>

#include <algorithm>

namespace ql {

TokenKlChart::TokenKlChart(QWidget* parent) : QCustomPlot(parent) {
    setMinimumSize(240, 130);
    // No legend: each line has its column's colour, and the columns are right above.
    xAxis->setLabel("float text's token (teacher-forced) · colours as the columns");
    yAxis->setLabel("KL (nats)");
    legend->setVisible(false);
    applyPalette();
}

// Graphs come in pairs per run: the line, then its first-divergence marker.
QCPGraph* TokenKlChart::graphOf(int run) const {
    return run >= 0 && 2 * run < graphCount() ? graph(2 * run) : nullptr;
}

void TokenKlChart::setSeries(std::vector<TokenKlSeries> series) {
    series_ = std::move(series);
    clearGraphs();
    const bool dark = isDarkPalette(palette());
    double top = 0.0;
    int length = 1;
    for (size_t r = 0; r < series_.size(); ++r) {
        const TokenKlSeries& s = series_[r];
        // Run r is column r + 1 (the float model is column 0): the same colour there.
        const QColor colour = runColor(int(r) + 1, dark);
        QCPGraph* line = addGraph();
        line->setName(s.name);
        line->setPen(QPen(colour, 1.5));
        line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, colour, colour, 4));
        for (size_t i = 0; i < s.kl.size(); ++i) line->addData(double(i), s.kl[i]);
        QCPGraph* mark = addGraph();
        mark->removeFromLegend();
        mark->setLineStyle(QCPGraph::lsNone);
        mark->setScatterStyle(
            QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(colour, 2), Qt::NoBrush, 11));
        if (s.firstDivergence >= 0 && s.firstDivergence < int(s.kl.size()))
            mark->addData(double(s.firstDivergence), s.kl[size_t(s.firstDivergence)]);
        for (const double v : s.kl) top = std::max(top, v);
        length = std::max(length, int(s.kl.size()));
    }
    xAxis->setRange(-0.5, double(length) - 0.5);
    yAxis->setRange(0.0, top > 0.0 ? top * 1.1 : 1.0);
    replot();
}

void TokenKlChart::applyPalette() {
    applyPlotStyle(this, QApplication::palette());
    if (!series_.empty()) setSeries(series_);
    replot();
}

}  // namespace ql
