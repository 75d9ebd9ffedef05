#include "app/gui/htmlreport.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QFileInfo>

#include <cmath>
#include <set>

namespace ql {

namespace {

QString esc(const QString& s) {
    return s.toHtmlEscaped();
}
QString esc(const std::string& s) {
    return QString::fromStdString(s).toHtmlEscaped();
}

QString row(const QStringList& cells, const char* tag = "td") {
    QString out = "<tr>";
    for (const QString& c : cells) out += QString("<%1>%2</%1>").arg(tag, c);
    return out + "</tr>\n";
}

QString fileName(const std::string& path) {
    return path.empty() ? QString("—") : esc(QFileInfo(QString::fromStdString(path)).fileName());
}

QString settingsTable(const RunList& runs) {
    QString t = "<h2>Runs</h2>\n<table>\n";
    t += row({"Run", "Recipe", "Model", "Calibration", "Evaluation", "Layers", "Bins", "Created"},
             "th");
    for (const RunPtr& r : runs) {
        const RunConfig& c = r->config;
        QString layers = "decoder projections";
        if (!c.layers.include.empty() || !c.layers.exclude.empty()) {
            QStringList parts;
            for (const std::string& g : c.layers.include) parts << "+" + esc(g);
            for (const std::string& g : c.layers.exclude) parts << "−" + esc(g);
            layers = parts.join(" ");
        }
        const QString calib = c.calibrationText.empty() ? QString("—")
                                                        : QString("%1 (%2 × %3)")
                                                              .arg(fileName(c.calibrationText))
                                                              .arg(c.calibrationWindows)
                                                              .arg(c.calibrationSeq);
        const QString eval =
            c.evaluationText.empty()
                ? QString("—")
                : QString("%1 (%2)").arg(fileName(c.evaluationText), esc(c.evalProtocol));
        t += row({esc(runDisplayName(*r)), "<code>" + esc(c.recipe) + "</code>", esc(r->modelName),
                  calib, eval, layers, QString::number(c.histogramBins), esc(r->createdAt)});
    }
    return t + "</table>\n";
}

// Perplexity of each run next to its own float baseline; differing evaluation settings
// are said plainly, since the numbers are then not comparable across runs.
QString perplexityTable(const RunList& runs) {
    QString t = "<h2>Perplexity</h2>\n";
    std::set<QString> settings;
    bool any = false;
    for (const RunPtr& r : runs) {
        if (!r->perplexity.valid) continue;
        any = true;
        const PerplexitySummary& p = r->perplexity;
        settings.insert(QString("%1|%2|%3|%4")
                            .arg(QString::fromStdString(p.protocol))
                            .arg(p.seq)
                            .arg(p.windows)
                            .arg(QString::fromStdString(r->config.evaluationText)));
    }
    if (!any) return t + "<p>No run was evaluated.</p>\n";
    if (settings.size() > 1)
        t += "<p class=warn>These runs were evaluated with different settings (text, protocol, "
             "sequence length or windows): compare each quantized perplexity with its own float "
             "value, not across runs.</p>\n";
    t += "<table>\n";
    t += row({"Run", "ppl float", "ppl quantized", "Δ", "KL mean", "top-1 agreement", "protocol",
              "seq", "windows", "scored tokens"},
             "th");
    for (const RunPtr& r : runs) {
        const PerplexitySummary& p = r->perplexity;
        if (!p.valid) continue;
        t += row({esc(runDisplayName(*r)), QString::number(p.pplFp, 'f', 4),
                  QString::number(p.pplQ, 'f', 4),
                  QString("%1 %").arg(100.0 * (p.pplQ / p.pplFp - 1.0), 0, 'f', 2),
                  QString::number(p.klMean, 'g', 4),
                  QString("%1 %").arg(100.0 * p.top1Agreement, 0, 'f', 2), esc(p.protocol),
                  QString::number(p.seq), QString::number(p.windows),
                  formatCount(double(p.scoredTokens))});
    }
    return t + "</table>\n";
}

QString memoryAndWarnings(const RunList& runs) {
    QString t = "<h2>Memory and warnings</h2>\n<table>\n";
    t += row({"Run", "Model (float)", "Model (quantized)", "Quantized layers", "Warnings"}, "th");
    for (const RunPtr& r : runs) {
        const MemorySummary& m = r->memory;
        QStringList warnings;
        for (const std::string& w : r->warnings) warnings << esc(w);
        t += row({esc(runDisplayName(*r)), formatBytes(double(m.bytesFpTotal)),
                  formatBytes(double(m.bytesQTotal)),
                  QString("%1 → %2").arg(formatBytes(double(m.bytesFpQuantized)),
                                         formatBytes(double(m.bytesQQuantized))),
                  warnings.isEmpty() ? QString("—") : warnings.join("<br>")});
    }
    return t + "</table>\n";
}

QString sqnrCell(const LayerResult* l, bool output) {
    if (!l) return "—";
    const double db = output ? l->outputSqnrDb : l->weightSqnrDb;
    if (std::isnan(db)) return "n/a";
    static const char* cls[] = {"crit", "warn", "fair", "good"};
    return QString("<span class=%1>%2</span>").arg(QString(cls[int(sqnrLevel(db))]), formatDb(db));
}

QString layerTable(const RunList& runs) {
    QString t =
        "<h2>SQNR per layer (dB)</h2>\n<p>Weight SQNR / output SQNR of every run; "
        "below 10 dB critical, below 20 warning, below 30 fair.</p>\n<table>\n";
    QStringList header{"Layer"};
    for (const RunPtr& r : runs) header << esc(runDisplayName(*r));
    t += row(header, "th");
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const RunPtr& r : runs)
        for (const LayerResult& l : r->layers)
            if (seen.insert(l.name).second) names.push_back(l.name);
    for (const std::string& name : names) {
        QStringList cells{"<code>" + esc(name) + "</code>"};
        for (const RunPtr& r : runs) {
            const LayerResult* l = findLayer(*r, name);
            cells << sqnrCell(l, false) + " / " + sqnrCell(l, true);
        }
        t += row(cells);
    }
    return t + "</table>\n";
}

QString charts(const HtmlReport& report) {
    if (report.images.isEmpty()) return {};
    QString t = "<h2>Charts</h2>\n";
    if (!report.layer.isEmpty())
        t += "<p>Histograms of layer <code>" + esc(report.layer) + "</code> for every run.</p>\n";
    for (const ReportImage& image : report.images)
        t += QString(
                 "<figure><img alt=\"%1\" src=\"data:image/png;base64,%2\">"
                 "<figcaption>%1</figcaption></figure>\n")
                 .arg(esc(image.caption), QString::fromLatin1(image.png.toBase64()));
    return t;
}

const char* kStyle =
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin-bottom:1.5em;font-size:90%}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
    "th{background:#f0f0f0}.warn{color:#a05a00}.crit{color:#c00000;font-weight:bold}"
    ".fair{color:#806000}.good{color:#006000}"
    "figure{display:inline-block;margin:0 1em 1em 0}img{max-width:100%;border:1px solid #ddd}";

}  // namespace

QString htmlReport(const HtmlReport& report) {
    const QString title = report.title.isEmpty() ? QString("QuantLens report") : report.title;
    QString html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>" + esc(title) +
                   "</title>\n<style>" + kStyle + "</style></head><body>\n";
    html += "<h1>" + esc(title) + "</h1>\n";
    const QString version = QCoreApplication::applicationVersion();
    html += QString("<p>Written by QuantLens%1 on %2; %3 run(s).</p>\n")
                .arg(version.isEmpty() ? QString() : " " + version,
                     QDateTime::currentDateTimeUtc().toString(Qt::ISODate))
                .arg(report.runs.size());
    if (report.runs.empty()) return html + "<p>No runs.</p>\n</body></html>\n";
    html += settingsTable(report.runs);
    html += perplexityTable(report.runs);
    html += memoryAndWarnings(report.runs);
    html += layerTable(report.runs);
    html += charts(report);
    return html + "</body></html>\n";
}

}  // namespace ql
