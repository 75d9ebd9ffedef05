#include "app/gui/modelexport.h"

#include "base/error.h"
#include "base/output_folder.h"
#include "run/model_export.h"

#include <QCoreApplication>
#include <QFileDialog>
#include <QFutureWatcher>
#include <QInputDialog>
#include <QMessageBox>
#include <QPointer>
#include <QProgressDialog>
#include <QtConcurrent>

#include <atomic>
#include <memory>

namespace ql {

namespace {

struct ExportOutcome {
    QString folder, error;
    bool cancelled = false;
    QStringList warnings;
};

const QString kGptq = "GPTQ (transformers / vLLM)";
const QString kQuantLens = "QuantLens packed (reopens bit for bit)";

// The destination, or empty when the user gave up; `replace` when they agreed to replace an
// earlier QuantLens export there.
QString askDestination(QWidget* parent, bool& replace) {
    const QString dir = QFileDialog::getSaveFileName(parent, "Export model into new folder");
    if (dir.isEmpty()) return {};
    try {
        replace = checkOutputFolder(dir.toStdString()) == OutputFolder::Ours;
    } catch (const Error& e) {
        QMessageBox::warning(parent, "Export model", QString::fromUtf8(e.what()));
        return {};
    }
    if (replace && QMessageBox::question(parent, "Export model",
                                         dir + " holds an earlier QuantLens export. Replace it?") !=
                       QMessageBox::Yes)
        return {};
    return dir;
}

ExportOutcome runExport(const RunPtr& run, bool gptq, const std::string& dir, bool replace,
                        const ProgressCallback& callback) {
    ExportOutcome out;
    try {
        ModelExportOptions options;
        options.replaceExisting = replace;
        const ModelExportResult r = gptq ? exportGptq(*run, dir, options, callback)
                                         : exportQuantLens(*run, dir, options, callback);
        out.folder = QString::fromStdString(r.folder);
        for (const auto& w : r.warnings) out.warnings << QString::fromStdString(w);
    } catch (const Cancelled&) {
        out.cancelled = true;
    } catch (const std::exception& e) {
        out.error = QString::fromUtf8(e.what());
    }
    return out;
}

}  // namespace

void exportModelInteractive(QWidget* parent, const RunPtr& run,
                            const std::function<void(const QString&)>& log) {
    if (!run) {
        QMessageBox::information(parent, "Export model", "Select a finished run first.");
        return;
    }
    bool ok = false;
    const QString format = QInputDialog::getItem(parent, "Export model",
                                                 "Format:", {kGptq, kQuantLens}, 0, false, &ok);
    if (!ok) return;
    const bool gptq = format == kGptq;
    if (gptq) {
        const std::string why = whyNotGptqExportable(*run);
        if (!why.empty()) {
            QMessageBox::warning(parent, "Export model", QString::fromStdString(why));
            return;
        }
    }
    bool replace = false;
    const QString dir = askDestination(parent, replace);
    if (dir.isEmpty()) return;

    auto* dialog = new QProgressDialog("Exporting " + QString::fromStdString(run->label) + "…",
                                       "Cancel", 0, 1000, parent);
    dialog->setWindowModality(Qt::WindowModal);
    dialog->setMinimumDuration(0);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    QObject::connect(dialog, &QProgressDialog::canceled, [cancel] { *cancel = true; });
    QPointer<QProgressDialog> target(dialog);
    // Progress crosses to the GUI thread as queued calls on the dialog.
    auto callback = [cancel, target](const Progress& p) {
        if (p.fraction >= 0.0) {
            const int value = int(p.fraction * 1000.0);
            QMetaObject::invokeMethod(
                qApp,
                [target, value] {
                    if (target) target->setValue(value);
                },
                Qt::QueuedConnection);
        }
        return !cancel->load();
    };
    auto* watcher = new QFutureWatcher<ExportOutcome>(dialog);
    QObject::connect(watcher, &QFutureWatcher<ExportOutcome>::finished, [watcher, dialog, log] {
        const ExportOutcome out = watcher->result();
        dialog->close();
        if (out.cancelled)
            log("Model export cancelled; nothing was written.");
        else if (!out.error.isEmpty())
            log("Model export failed: " + out.error);
        else
            log("Model exported to " + out.folder +
                (out.warnings.isEmpty() ? QString() : " (" + out.warnings.join("; ") + ")"));
    });
    const std::string path = dir.toStdString();
    watcher->setFuture(QtConcurrent::run([run, gptq, path, replace, callback] {
        return runExport(run, gptq, path, replace, callback);
    }));
}

}  // namespace ql
