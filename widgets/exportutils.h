// Export helpers. Every file is written atomically through QSaveFile: on failure the
// target is untouched, no partial file remains, and the reason is returned.
#pragma once

#include <QAbstractItemModel>
#include <QSize>
#include <QString>

class QCustomPlot;

namespace ql {

struct ExportResult {
    bool ok = true;
    QString error;  // why it failed, naming the file
};

// One CSV field, quoted when it holds a separator, quote or newline (RFC 4180).
QString csvField(QString s);

// Table text from a model's ExportRole (raw values): a header row, then one line per row.
// CSV quotes fields containing separators, quotes or newlines (RFC 4180).
QString modelToCsv(const QAbstractItemModel& model);
QString modelToTsv(const QAbstractItemModel& model, const QModelIndexList& selection = {});

ExportResult writeTextFile(const QString& path, const QString& text);

// The data a chart plots as CSV: histogram bins with a column per series, the SQNR chart
// per layer with a column per run and series, other charts per category and series.
QString chartDataCsv(QCustomPlot* plot);

// Chart formats, chosen from the file suffix: .png, .pdf, .svg (also .jpg), and .csv for
// the chart's data (chartDataCsv).
// size: pixels (PNG) or points (PDF/SVG); scale: device pixel ratio for PNG (2 = 2x DPI).
ExportResult exportPlot(QCustomPlot* plot, const QString& path, QSize size, double scale = 1.0);
// PNG of any widget (for composite views), rendered by QWidget::grab.
ExportResult exportWidgetPng(class QWidget* widget, const QString& path);

}  // namespace ql
