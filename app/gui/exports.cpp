#include "app/gui/exports.h"

#include "app/gui/htmlreport.h"
#include "base/output_folder.h"

#include <qcustomplot.h>
#include <QBuffer>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QMessageBox>
#include <QRegularExpression>
#include <QSaveFile>
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

QString chartFileFilter() {
    return "PNG image (*.png);;PDF (*.pdf);;SVG (*.svg);;CSV data (*.csv)";
}

void exportChartInteractive(QCustomPlot* plot, const QString& baseName, QWidget* parent) {
    ChartExportDialog dialog(QSize(std::max(plot->width(), 800), std::max(plot->height(), 500)),
                             parent);
    if (dialog.exec() != QDialog::Accepted) return;
    const QString path =
        QFileDialog::getSaveFileName(parent, "Export chart", baseName + ".png", chartFileFilter());
    if (path.isEmpty()) return;
    const ExportResult r = exportPlot(plot, path, dialog.size(), dialog.scale());
    if (!r.ok) QMessageBox::warning(parent, "Export failed", r.error);
}

ChartCaption::ChartCaption(QCustomPlot* plot, const QString& caption) : plot_(plot) {
    if (!plot || caption.isEmpty()) return;
    QCPLayoutGrid* grid = plot->plotLayout();
    for (int i = 0; i < grid->elementCount() && !title_; ++i)
        title_ = qobject_cast<QCPTextElement*>(grid->elementAt(i));
    if (!title_) return;
    original_ = title_->text();
    title_->setText(original_.isEmpty() ? caption : original_ + "\n" + caption);
}

ChartCaption::~ChartCaption() {
    if (!title_) return;
    title_->setText(original_);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

QByteArray renderChartPng(QCustomPlot* plot, QSize size, const QString& caption) {
    const ChartCaption captioned(plot, caption);
    const QImage image = plot->toPixmap(size.width(), size.height(), 1.0).toImage();
    QByteArray png;
    QBuffer buffer(&png);
    buffer.open(QIODevice::WriteOnly);
    image.save(&buffer, "PNG");
    return png;
}

QString fileStem(const QString& text) {
    QString stem = text;
    stem.replace(QRegularExpression("[^A-Za-z0-9.+-]+"), "_");
    stem.replace(QRegularExpression("^[._]+|_+$"), "");
    return stem.isEmpty() ? QString("chart") : stem.left(120);
}

namespace {

ExportResult writeBytes(const QString& path, const QByteArray& bytes) {
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
        return {false, QString("Cannot write %1: %2").arg(path, f.errorString())};
    return {};
}

}  // namespace

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
    for (const ReportImage& image : content.images) {
        const ExportResult r = writeBytes(dir.filePath(image.stem + ".png"), image.png);
        if (!r.ok) problems << r.error;
    }
    HtmlReport html;
    html.title = content.title;
    html.layer = content.layer;
    html.runs = content.runs;
    html.images = content.images;
    const ExportResult r = writeTextFile(dir.filePath("report.html"), htmlReport(html));
    if (!r.ok) problems << r.error;
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
