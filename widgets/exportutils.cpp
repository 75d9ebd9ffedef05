#include "widgets/exportutils.h"

#include "widgets/channelranges.h"
#include "widgets/histogramchart.h"
#include "widgets/inferbenchchart.h"
#include "widgets/layerchart.h"
#include "widgets/modeloverview.h"
#include "widgets/sweepview.h"
#include "widgets/tableroles.h"

#include <qcustomplot.h>
#include <QFileInfo>
#include <QImageWriter>
#include <QPageSize>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QWidget>

#include <map>

namespace ql {
namespace {

QString tsvField(QString s) {
    s.replace('\t', ' ');
    s.replace('\n', ' ');
    return s;
}

QString cellText(const QAbstractItemModel& m, int row, int col) {
    const QVariant v = m.data(m.index(row, col), ExportRole);
    if (v.isValid())
        return v.typeId() == QMetaType::Double ? QString::number(v.toDouble(), 'g', 10)
                                               : v.toString();
    return m.data(m.index(row, col), Qt::DisplayRole).toString();
}

QString headerText(const QAbstractItemModel& m, int col) {
    const QVariant v = m.headerData(col, Qt::Horizontal, ExportRole);
    return (v.isValid() ? v : m.headerData(col, Qt::Horizontal, Qt::DisplayRole)).toString();
}

ExportResult failure(const QString& path, const QString& why) {
    return {false, QString("Cannot write %1: %2").arg(path, why)};
}

// Opens `file`, lets `write` fill it, commits. Nothing is left behind on failure.
template <typename Fn>
ExportResult saveAtomically(const QString& path, Fn write) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) return failure(path, file.errorString());
    const QString error = write(file);
    if (!error.isEmpty()) {
        file.cancelWriting();
        return failure(path, error);
    }
    if (!file.commit()) return failure(path, file.errorString());
    return {};
}

// Bar/line charts over categories: one row per x position (with its axis label), one
// column per named series; empty where a series has no point.
QString categoryChartCsv(QCustomPlot* plot) {
    const auto ticker = plot->xAxis->ticker().dynamicCast<QCPAxisTickerText>();
    std::map<double, std::vector<QString>> rows;
    QStringList header = {"x", "label"};
    const int n = plot->plottableCount();
    int column = 0;
    for (int p = 0; p < n; ++p) {
        QCPAbstractPlottable* pl = plot->plottable(p);
        auto* iface = pl->interface1D();
        if (!iface || !pl->visible()) continue;
        header << csvField(pl->name());
        for (int i = 0; i < iface->dataCount(); ++i) {
            auto& row = rows[iface->dataMainKey(i)];
            row.resize(size_t(n));
            row[size_t(column)] = QString::number(iface->dataMainValue(i), 'g', 10);
        }
        ++column;
    }
    QStringList lines = {header.join(',')};
    for (auto& [x, values] : rows) {
        QString label = ticker ? ticker->ticks().value(x) : QString();
        QStringList fields = {QString::number(x, 'g', 10), csvField(label.replace('\n', " "))};
        for (int c = 0; c < column; ++c) fields << values[size_t(c)];
        lines << fields.join(',');
    }
    return lines.join('\n') + '\n';
}

}  // namespace

QString csvField(QString s) {
    if (s.contains(',') || s.contains('"') || s.contains('\n') || s.contains('\r')) {
        s.replace("\"", "\"\"");
        return '"' + s + '"';
    }
    return s;
}

QString modelToCsv(const QAbstractItemModel& model) {
    QStringList lines;
    QStringList header;
    for (int c = 0; c < model.columnCount(); ++c) header << csvField(headerText(model, c));
    lines << header.join(',');
    for (int r = 0; r < model.rowCount(); ++r) {
        QStringList fields;
        for (int c = 0; c < model.columnCount(); ++c) fields << csvField(cellText(model, r, c));
        lines << fields.join(',');
    }
    return lines.join('\n') + '\n';
}

// With a selection: its bounding rows/columns (selected cells only), header included.
QString modelToTsv(const QAbstractItemModel& model, const QModelIndexList& selection) {
    QList<int> rows, cols;
    for (const QModelIndex& i : selection) {
        if (!rows.contains(i.row())) rows << i.row();
        if (!cols.contains(i.column())) cols << i.column();
    }
    if (selection.isEmpty()) {
        for (int r = 0; r < model.rowCount(); ++r) rows << r;
        for (int c = 0; c < model.columnCount(); ++c) cols << c;
    }
    std::sort(rows.begin(), rows.end());
    std::sort(cols.begin(), cols.end());
    QStringList lines;
    QStringList header;
    for (int c : cols) header << tsvField(headerText(model, c));
    lines << header.join('\t');
    for (int r : rows) {
        QStringList fields;
        for (int c : cols)
            fields << tsvField(model.data(model.index(r, c), Qt::DisplayRole).toString());
        lines << fields.join('\t');
    }
    return lines.join('\n') + '\n';
}

ExportResult writeTextFile(const QString& path, const QString& text) {
    return saveAtomically(path, [&](QSaveFile& f) -> QString {
        const QByteArray bytes = text.toUtf8();
        return f.write(bytes) == bytes.size() ? QString() : f.errorString();
    });
}

ExportResult exportPlot(QCustomPlot* plot, const QString& path, QSize size, double scale) {
    if (size.width() < 16 || size.height() < 16 || size.width() > 20000 || size.height() > 20000)
        return failure(path,
                       QString("size %1x%2 out of range").arg(size.width()).arg(size.height()));
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == "csv") return writeTextFile(path, chartDataCsv(plot));
    if (suffix == "pdf" || suffix == "svg") {
        return saveAtomically(path, [&](QSaveFile& f) -> QString {
            std::unique_ptr<QPaintDevice> device;
            if (suffix == "pdf") {
                auto pdf = std::make_unique<QPdfWriter>(&f);
                pdf->setPageSize(QPageSize(QSizeF(size), QPageSize::Point));
                pdf->setPageMargins(QMarginsF(0, 0, 0, 0));
                pdf->setResolution(72);
                device = std::move(pdf);
            } else {
                auto svg = std::make_unique<QSvgGenerator>();
                svg->setOutputDevice(&f);
                svg->setSize(size);
                svg->setViewBox(QRect(QPoint(0, 0), size));
                device = std::move(svg);
            }
            QCPPainter painter;
            if (!painter.begin(device.get())) return "cannot start painting";
            painter.setMode(QCPPainter::pmVectorized);
            painter.setMode(QCPPainter::pmNoCaching);
            plot->toPainter(&painter, size.width(), size.height());
            painter.end();
            return {};
        });
    }
    const QByteArray format = suffix == "jpg" || suffix == "jpeg" ? "jpg" : "png";
    if (suffix != "png" && format == "png")
        return failure(path, "unknown format '" + suffix + "' (use .png, .pdf or .svg)");
    const QImage image = plot->toPixmap(size.width(), size.height(), scale).toImage();
    return saveAtomically(path, [&](QSaveFile& f) -> QString {
        QImageWriter writer(&f, format);
        return writer.write(image) ? QString() : writer.errorString();
    });
}

QString chartDataCsv(QCustomPlot* plot) {
    if (auto* h = qobject_cast<HistogramChart*>(plot)) return h->dataCsv();
    if (auto* l = qobject_cast<LayerChart*>(plot)) return l->dataCsv();
    if (auto* o = qobject_cast<ModelOverview*>(plot)) return o->dataCsv();
    if (auto* c = qobject_cast<ChannelRangesChart*>(plot)) return c->dataCsv();
    if (auto* b = qobject_cast<InferBenchChart*>(plot)) return b->dataCsv();
    if (auto* s = qobject_cast<SweepView*>(plot->parentWidget())) return s->dataCsv();
    return categoryChartCsv(plot);
}

ExportResult exportWidgetPng(QWidget* widget, const QString& path) {
    const QImage image = widget->grab().toImage();
    return saveAtomically(path, [&](QSaveFile& f) -> QString {
        QImageWriter writer(&f, "png");
        return writer.write(image) ? QString() : writer.errorString();
    });
}

}  // namespace ql
