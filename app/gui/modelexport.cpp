#include "app/gui/modelexport.h"

#include "base/error.h"
#include "base/output_folder.h"
#include "run/gguf_export.h"
#include "run/model_export.h"

#include <QButtonGroup>
#include <QCheckBox>
#include <QCoreApplication>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QLabel>
#include <QMessageBox>
#include <QPointer>
#include <QProgressDialog>
#include <QPushButton>
#include <QRadioButton>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <atomic>
#include <memory>

namespace ql {

namespace {

const char* kTitle = "Export model";

// The destination folder, or empty when the user gave up; `replace` when they agreed to
// replace an earlier QuantLens export there.
QString askFolder(QWidget* parent, bool& replace) {
    const QString dir = QFileDialog::getSaveFileName(parent, "Export model into new folder");
    if (dir.isEmpty()) return {};
    try {
        replace = checkOutputFolder(dir.toStdString()) == OutputFolder::Ours;
    } catch (const Error& e) {
        QMessageBox::warning(parent, kTitle, QString::fromUtf8(e.what()));
        return {};
    }
    if (replace && QMessageBox::question(parent, kTitle,
                                         dir + " holds an earlier QuantLens export. Replace it?") !=
                       QMessageBox::Yes)
        return {};
    return dir;
}

// The .gguf file to write, or empty when the user gave up. The dialog confirms replacing the
// name typed; a ".gguf" the user left out is added, and replacing that file is asked here.
QString askGgufFile(QWidget* parent, const RunResult& run) {
    const QString suggested = QString::fromStdString(run.label).replace(' ', '-') + ".gguf";
    QString path = QFileDialog::getSaveFileName(parent, "Export model as GGUF file", suggested,
                                                "GGUF models (*.gguf);;All files (*)");
    if (path.isEmpty() || path.endsWith(".gguf", Qt::CaseInsensitive)) return path;
    path += ".gguf";
    if (QFileInfo::exists(path) &&
        QMessageBox::question(parent, kTitle, path + " exists. Replace it?") != QMessageBox::Yes)
        return {};
    return path;
}

QString whyNotOf(const std::string& reason) {
    return QString::fromStdString(reason);
}

}  // namespace

std::vector<ModelExportChoice> modelExportChoices(const RunResult& run) {
    return {
        {ModelExportFormat::Gptq, "GPTQ checkpoint (transformers / vLLM)",
         whyNotOf(whyNotGptqExportable(run))},
        {ModelExportFormat::QuantLens, "QuantLens packed (reopens bit for bit)",
         whyNotOf(whyNotQuantLensExportable(run))},
        {ModelExportFormat::Gguf, "GGUF file (llama.cpp)", whyNotOf(whyNotGgufExportable(run))},
    };
}

ModelExportOutcome runModelExport(const RunResult& run, const ModelExportRequest& request,
                                  const ProgressCallback& progress) {
    ModelExportOutcome out;
    try {
        ModelExportOptions options;
        options.replaceExisting = request.replace;
        switch (request.format) {
            case ModelExportFormat::Gguf: {
                GgufExportOptions gguf;
                gguf.llamaQuantizeTypes = request.llamaQuantizeTypes;
                exportRunGguf(run, request.path, gguf, progress);
                out.path = QString::fromStdString(request.path);
                break;
            }
            case ModelExportFormat::Gptq:
            case ModelExportFormat::QuantLens: {
                const ModelExportResult r =
                    request.format == ModelExportFormat::Gptq
                        ? exportGptq(run, request.path, options, progress)
                        : exportQuantLens(run, request.path, options, progress);
                out.path = QString::fromStdString(r.folder);
                for (const auto& w : r.warnings) out.warnings << QString::fromStdString(w);
                break;
            }
        }
    } catch (const Cancelled&) {
        out.cancelled = true;
    } catch (const std::exception& e) {
        out.error = QString::fromUtf8(e.what());
    }
    return out;
}

ModelExportDialog::ModelExportDialog(const RunResult& run, QWidget* parent) : QDialog(parent) {
    setWindowTitle(kTitle);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel("Export " + QString::fromStdString(run.label) + " as:", this));
    auto* group = new QButtonGroup(this);
    for (const ModelExportChoice& c : modelExportChoices(run)) {
        auto* b = new QRadioButton(c.label, this);
        b->setEnabled(c.whyNot.isEmpty());
        // Qt shows tooltips of disabled widgets: the reason is where the user points.
        b->setToolTip(c.whyNot.isEmpty() ? QString() : "Not for this run: " + c.whyNot);
        if (c.whyNot.isEmpty() && !group->checkedButton()) b->setChecked(true);
        group->addButton(b);
        layout->addWidget(b);
        buttons_[c.format] = b;
    }
    llamaTypes_ = new QCheckBox("Token embedding and output head in llama-quantize's types", this);
    llamaTypes_->setToolTip(
        "Off: the tensors the run did not quantize stay float32, so the file is the model the "
        "run measured. On: they get the type llama-quantize gives them (its file exactly).");
    QRadioButton* gguf = buttons_.at(ModelExportFormat::Gguf);
    llamaTypes_->setEnabled(gguf->isChecked());
    connect(gguf, &QRadioButton::toggled, llamaTypes_, &QCheckBox::setEnabled);
    layout->addWidget(llamaTypes_);
    auto* box = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    box->button(QDialogButtonBox::Ok)->setEnabled(anyAvailable());
    connect(box, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(box, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(box);
}

bool ModelExportDialog::anyAvailable() const {
    for (const auto& [format, b] : buttons_)
        if (b->isEnabled()) return true;
    return false;
}

ModelExportFormat ModelExportDialog::format() const {
    for (const auto& [format, b] : buttons_)
        if (b->isChecked()) return format;
    return ModelExportFormat::QuantLens;
}

bool ModelExportDialog::llamaQuantizeTypes() const {
    return format() == ModelExportFormat::Gguf && llamaTypes_->isChecked();
}

void startModelExport(QWidget* parent, const RunPtr& run, const ModelExportRequest& request,
                      const std::function<void(const ModelExportOutcome&)>& done) {
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
    auto* watcher = new QFutureWatcher<ModelExportOutcome>(dialog);
    QObject::connect(watcher, &QFutureWatcher<ModelExportOutcome>::finished,
                     [watcher, dialog, done] {
                         const ModelExportOutcome out = watcher->result();
                         dialog->close();
                         done(out);
                     });
    watcher->setFuture(QtConcurrent::run(
        [run, request, callback] { return runModelExport(*run, request, callback); }));
}

QString modelExportLogLine(const ModelExportOutcome& out) {
    if (out.cancelled) return "Model export cancelled; nothing was written.";
    if (!out.error.isEmpty()) return "Model export failed: " + out.error;
    return "Model exported to " + out.path +
           (out.warnings.isEmpty() ? QString() : " (" + out.warnings.join("; ") + ")");
}

void exportModelInteractive(QWidget* parent, const RunPtr& run,
                            const std::function<void(const QString&)>& log) {
    if (!run) {
        QMessageBox::information(parent, kTitle, "Select a finished run first.");
        return;
    }
    ModelExportDialog choose(*run, parent);
    if (choose.exec() != QDialog::Accepted || !choose.anyAvailable()) return;
    ModelExportRequest request;
    request.format = choose.format();
    request.llamaQuantizeTypes = choose.llamaQuantizeTypes();
    const QString path = request.format == ModelExportFormat::Gguf
                             ? askGgufFile(parent, *run)
                             : askFolder(parent, request.replace);
    if (path.isEmpty()) return;
    request.path = path.toStdString();
    QPointer<QWidget> owner(parent);
    startModelExport(parent, run, request, [log, owner](const ModelExportOutcome& out) {
        log(modelExportLogLine(out));
        if (!out.error.isEmpty() && owner)
            QMessageBox::warning(owner, kTitle, "Model export failed: " + out.error);
    });
}

}  // namespace ql
