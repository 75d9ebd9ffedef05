#include "app/gui/runnames.h"

#include <QFileInfo>

#include <set>

namespace ql {

namespace {

QString fileName(const std::string& path) {
    return path.empty() ? QString("none") : QFileInfo(QString::fromStdString(path)).fileName();
}

QString globs(const std::vector<std::string>& list) {
    QStringList l;
    for (const std::string& g : list) l << QString::fromStdString(g);
    return l.join(',');
}

// One entry per setting, in a fixed order; a setting absent from a run is an empty text.
QStringList settingsOf(const RunResult& run) {
    const RunConfig& c = run.config;
    const bool eval = !c.evaluationText.empty();
    const bool calib = !c.calibrationText.empty();
    return {
        QString("model %1").arg(QString::fromStdString(run.modelName)),
        QString("calib %1").arg(fileName(c.calibrationText)),
        calib ? QString("calib %1×%2").arg(c.calibrationWindows).arg(c.calibrationSeq) : "",
        QString("eval %1").arg(fileName(c.evaluationText)),
        eval ? (c.evalSeq > 0 ? QString("seq %1").arg(c.evalSeq) : QString("seq auto")) : "",
        eval ? (c.evalMaxWindows > 0 ? QString("%1 windows").arg(c.evalMaxWindows)
                                     : QString("all windows"))
             : "",
        eval ? QString::fromStdString(c.evalProtocol) : "",
        c.layers.include.empty() ? "" : "include " + globs(c.layers.include),
        c.layers.exclude.empty() ? "" : "exclude " + globs(c.layers.exclude),
        QString("%1 bins").arg(c.histogramBins),
    };
}

}  // namespace

QStringList runSettingTexts(const RunConfig& config) {
    RunResult r;
    r.config = config;
    QStringList l = settingsOf(r);
    l.removeFirst();  // the model name is not part of a config
    l.removeAll(QString());
    return l;
}

QString uniqueRunLabel(const RunResult& run, const RunList& others) {
    const QString base = runDisplayName(run);
    std::set<QString> taken;
    std::vector<const RunResult*> sameRecipe;
    for (const RunPtr& o : others) {
        if (!o) continue;
        const QString name = runDisplayName(*o);
        taken.insert(name);
        if (name == base || name.startsWith(base + " · ") || name.startsWith(base + " #"))
            sameRecipe.push_back(o.get());
    }
    if (sameRecipe.empty()) return base;
    // Name the settings of this run that differ from at least one run of the same recipe.
    const QStringList mine = settingsOf(run);
    QStringList differing;
    for (int i = 0; i < mine.size(); ++i)
        for (const RunResult* o : sameRecipe)
            if (settingsOf(*o)[i] != mine[i]) {
                if (!mine[i].isEmpty()) differing << mine[i];
                break;
            }
    QString label = differing.isEmpty() ? base : base + " · " + differing.join(" · ");
    if (!differing.isEmpty() && !taken.count(label)) return label;
    for (int n = 2;; ++n) {
        const QString numbered = QString("%1 #%2").arg(label).arg(n);
        if (!taken.count(numbered)) return numbered;
    }
}

}  // namespace ql
