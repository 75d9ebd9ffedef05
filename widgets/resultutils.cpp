#include "widgets/resultutils.h"

#include "quant/recipe.h"
#include "run/run_compare.h"

#include <QFileInfo>
#include <QLocale>
#include <QStringList>

#include <cmath>

namespace ql {

const LayerResult* findLayer(const RunResult& run, const std::string& name) {
    for (const LayerResult& l : run.layers)
        if (l.name == name) return &l;
    return nullptr;
}

QString shortLayerName(const std::string& name, int block, const std::string& kind) {
    if (kind.empty()) return QString::fromStdString(name);
    return QString("%1.%2").arg(block).arg(QString::fromStdString(kind));
}

SqnrLevel sqnrLevelOf(double db) {
    if (std::isnan(db) || db < 10.0) return SqnrLevel::Critical;
    if (db < 20.0) return SqnrLevel::Warning;
    if (db < 30.0) return SqnrLevel::Fair;
    return SqnrLevel::Good;
}

QColor sqnrColor(SqnrLevel level, bool dark) {
    switch (level) {
        case SqnrLevel::Critical:
            return dark ? QColor(120, 30, 30) : QColor(255, 190, 190);
        case SqnrLevel::Warning:
            return dark ? QColor(125, 75, 20) : QColor(255, 220, 170);
        case SqnrLevel::Fair:
            return dark ? QColor(95, 90, 35) : QColor(255, 248, 200);
        case SqnrLevel::Good:
            return dark ? QColor(35, 90, 45) : QColor(205, 240, 205);
    }
    return {};
}

QString sqnrLevelName(SqnrLevel level) {
    switch (level) {
        case SqnrLevel::Critical:
            return "critical (< 10 dB)";
        case SqnrLevel::Warning:
            return "warning (< 20 dB)";
        case SqnrLevel::Fair:
            return "fair (20-30 dB)";
        case SqnrLevel::Good:
            return "good (>= 30 dB)";
    }
    return {};
}

QString formatBytes(double bytes) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        ++u;
    }
    return u == 0 ? QString("%1 B").arg(qint64(bytes))
                  : QString("%1 %2").arg(bytes, 0, 'f', 2).arg(units[u]);
}

QString formatCount(double n) {
    return QLocale(QLocale::English).toString(qint64(n));
}

QString formatDb(double db) {
    if (std::isnan(db)) return "n/a";
    if (std::isinf(db)) return db > 0 ? "inf" : "-inf";
    return QString::number(db, 'f', 2);
}

QString formatNumber(double v, int precision) {
    if (std::isnan(v)) return "n/a";
    return QString::number(v, 'g', precision);
}

QString runDisplayName(const RunResult& run) {
    if (!run.label.empty()) return QString::fromStdString(run.label);
    return QString::fromStdString(run.config.recipe);
}

QString fallbackText(bool fallback) {
    return fallback ? QString("yes") : QString("no");
}

QString fallbackColumnTitle() {
    return "Fallback";
}

QString fallbackNote(const std::string& recipe, size_t fell, size_t layers) {
    if (fell == 0) return {};
    bool group = false;
    try {
        group = Recipe::parse(recipe).granularity == Granularity::Group;
    } catch (const std::exception&) {
    }
    const QString of = fell < layers ? QString(" of %1").arg(layers) : QString();
    if (group) return QString("→ channel ×%1%2").arg(fell).arg(of);
    return QString("(%1 of %2 layers fell back)").arg(fell).arg(layers);
}

namespace {

QString fileName(const std::string& path) {
    return path.empty() ? QString("none") : QFileInfo(QString::fromStdString(path)).fileName();
}

}  // namespace

QString evalSettingKey(const RunResult& run) {
    const PerplexitySummary& p = run.perplexity;
    return QStringList{QString::fromStdString(run.config.modelDir),
                       QString::fromStdString(run.config.evaluationText),
                       QString::fromStdString(p.protocol), QString::number(p.seq),
                       QString::number(p.windows)}
        .join('\x1f');
}

QString evalSettingLabel(const RunResult& run) {
    const PerplexitySummary& p = run.perplexity;
    return QString("%1 protocol · seq %2 · %3 windows · %4")
        .arg(QString::fromStdString(p.protocol))
        .arg(p.seq)
        .arg(p.windows)
        .arg(fileName(run.config.evaluationText));
}

QString evalSettingDifference(const RunResult& a, const RunResult& b) {
    return QString::fromStdString(evaluationDifference(a, b));
}

QString calibrationKey(const RunResult& run) {
    const RunConfig& c = run.config;
    if (c.calibrationText.empty()) return {};
    return QStringList{QString::fromStdString(c.modelDir),
                       QString::fromStdString(c.calibrationText),
                       QString::number(c.calibrationWindows), QString::number(c.calibrationSeq)}
        .join('\x1f');
}

QString calibrationLabel(const RunResult& run) {
    const RunConfig& c = run.config;
    if (c.calibrationText.empty()) return "no calibration text";
    return QString("%1 · %2 × %3")
        .arg(fileName(c.calibrationText))
        .arg(c.calibrationWindows)
        .arg(c.calibrationSeq);
}

}  // namespace ql
