// Export of charts (with a size/DPI choice) and of a whole report folder.
#pragma once

#include "app/gui/htmlreport.h"
#include "widgets/exportutils.h"
#include "widgets/resultutils.h"

#include <QDialog>
#include <QList>
#include <QPair>

class QAbstractItemModel;
class QComboBox;
class QCustomPlot;
class QCPTextElement;
class QSpinBox;

namespace ql {

// Asks for size and scale; the file name and format come from a file dialog afterwards.
class ChartExportDialog : public QDialog {
    Q_OBJECT
public:
    ChartExportDialog(QSize defaultSize, QWidget* parent = nullptr);
    QSize size() const;
    double scale() const;

private:
    QSpinBox *width_ = nullptr, *height_ = nullptr;
    QComboBox* scale_ = nullptr;
};

// The formats of Export chart, as a file dialog filter: the images, and the chart's data
// as CSV (exportPlot picks the format from the suffix).
QString chartFileFilter();

// Asks for everything and exports `plot`; reports failures in a message box.
void exportChartInteractive(QCustomPlot* plot, const QString& baseName, QWidget* parent);

struct ReportContent {
    RunPtr run;    // saved with saveRun into <folder>/run
    RunList runs;  // every run compared in report.html
    QString title;
    QString layer;                                            // the layer the images show
    QList<QPair<QString, const QAbstractItemModel*>> tables;  // file stem -> model
    QList<ReportImage> images;
};

// Adds a caption (run, layer) to a chart's title while alive, so that an exported
// file says what it shows; the chart on screen gets its title back afterwards.
class ChartCaption {
public:
    ChartCaption(QCustomPlot* plot, const QString& caption);
    ~ChartCaption();
    ChartCaption(const ChartCaption&) = delete;
    ChartCaption& operator=(const ChartCaption&) = delete;

private:
    QCustomPlot* plot_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QString original_;
};

// A chart as PNG bytes at `size`, with `caption` added to its title.
QByteArray renderChartPng(QCustomPlot* plot, QSize size, const QString& caption);

// A file-name-safe piece: "INT8 channel RTN · seq 512" -> "INT8_channel_RTN_seq_512".
QString fileStem(const QString& text);

// Writes <folder>/<stem>.csv, <folder>/<stem>.png, <folder>/report.html (self-contained:
// images embedded) and the run; every file atomic. Returns the problems (empty on success).
// `folder` must be new, empty or an earlier report (see base/output_folder.h), which is
// replaced only with `replace` (the user confirmed).
QStringList exportReport(const ReportContent& content, const QString& folder, bool replace = false);

}  // namespace ql
