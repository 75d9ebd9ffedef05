#include "app/gui/exports.h"

#include "base/output_folder.h"

#include <qcustomplot.h>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QMessageBox>
#include <QSpinBox>

namespace ql {

ChartExportDialog::ChartExportDialog(QSize defaultSize, QWidget* parent) : QDialog(parent) {
    setWindowTitle("Export chart");
    width_ = new QSpinBox;
    height_ = new QSpinBox;
    for (QSpinBox* s : {width_, height_}) {
        s->setRange(100, 8000);
        s->setSuffix(" px");
    }
    width_->setValue(defaultSize.width());
    height_->setValue(defaultSize.height());
    scale_ = new QComboBox;
    scale_->addItem("1× (96 DPI)", 1.0);
    scale_->addItem("2× (192 DPI)", 2.0);
    scale_->addItem("3× (288 DPI)", 3.0);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    auto* form = new QFormLayout(this);
    form->addRow("Width", width_);
    form->addRow("Height", height_);
    form->addRow("PNG resolution", scale_);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

QSize ChartExportDialog::size() const {
    return {width_->value(), height_->value()};
}
double ChartExportDialog::scale() const {
    return scale_->currentData().toDouble();
}

void exportChartInteractive(QCustomPlot* plot, const QString& baseName, QWidget* parent) {
    ChartExportDialog dialog(QSize(std::max(plot->width(), 800), std::max(plot->height(), 500)),
                             parent);
    if (dialog.exec() != QDialog::Accepted) return;
    const QString path = QFileDialog::getSaveFileName(
        parent, "Export chart", baseName + ".png", "PNG image (*.png);;PDF (*.pdf);;SVG (*.svg)");
    if (path.isEmpty()) return;
    const ExportResult r = exportPlot(plot, path, dialog.size(), dialog.scale());
    if (!r.ok) QMessageBox::warning(parent, "Export failed", r.error);
}

QStringList exportReport(const ReportContent& content, const QString& folder, bool replace) {
    QStringList problems;
    try {
        const std::string path = folder.toStdString();
        if (checkOutputFolder(path) == OutputFolder::Ours && !replace)
            return {folder + " already holds a report; it is replaced only when confirmed."};
        claimOutputFolder(path, "quantlens-report");
    } catch (const std::exception& e) {
        return {QString::fromUtf8(e.what())};
    }
    const QDir dir(folder);
    for (const auto& [stem, model] : content.tables) {
        const ExportResult r = writeTextFile(dir.filePath(stem + ".csv"), modelToCsv(*model));
        if (!r.ok) problems << r.error;
    }
    for (const auto& [stem, plot] : content.charts) {
        const ExportResult r = exportPlot(plot, dir.filePath(stem + ".png"), content.chartSize);
        if (!r.ok) problems << r.error;
    }
    if (content.run) {
        try {
            saveRun(*content.run, dir.filePath("run").toStdString(),
                    replace ? Overwrite::ExistingRun : Overwrite::Never);
        } catch (const std::exception& e) {
            problems << QString("Cannot save the run: %1").arg(e.what());
        }
    }
    return problems;
}

}  // namespace ql
