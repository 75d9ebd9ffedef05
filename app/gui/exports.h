// Export of charts (with a size/DPI choice) and of a whole report folder.
#pragma once

#include "widgets/exportutils.h"
#include "widgets/resultutils.h"

#include <QDialog>
#include <QList>
#include <QPair>

class QAbstractItemModel;
class QComboBox;
class QCustomPlot;
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

// Asks for everything and exports `plot`; reports failures in a message box.
void exportChartInteractive(QCustomPlot* plot, const QString& baseName, QWidget* parent);

struct ReportContent {
    RunPtr run;  // saved with saveRun into <folder>/run
    QList<QPair<QString, const QAbstractItemModel*>> tables;  // file stem -> model
    QList<QPair<QString, QCustomPlot*>> charts;               // file stem -> chart
    QSize chartSize{1200, 800};
};

// Writes <folder>/<stem>.csv, <folder>/<stem>.png and the run; every file atomic.
// `folder` must be new, empty or an earlier report (see base/output_folder.h), which is
// replaced only with `replace` (the user confirmed). Returns the problems (empty: success).
QStringList exportReport(const ReportContent& content, const QString& folder, bool replace = false);

}  // namespace ql
