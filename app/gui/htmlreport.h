// The shareable report: one self-contained HTML file (no external files: charts are
// embedded PNG data) with the settings of every run, their perplexity, memory and
// warnings side by side, and the per-layer SQNR of every run.
#pragma once

#include "widgets/resultutils.h"

#include <QByteArray>
#include <QList>
#include <QString>

namespace ql {

// A chart rendered for a report: <stem>.png in the folder and an image in report.html.
struct ReportImage {
    QString stem;     // file name without .png, unique in the report
    QString caption;  // what it shows (chart, layer, run)
    QByteArray png;
};

struct HtmlReport {
    QString title;
    QString layer;  // the layer the histogram images show
    RunList runs;
    QList<ReportImage> images;
};

QString htmlReport(const HtmlReport& report);

}  // namespace ql
