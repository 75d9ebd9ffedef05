// File → Export model…: a dialog offers the formats the selected run can be written in (GPTQ,
// QuantLens packed, GGUF for llama.cpp; the others disabled with the reason as tooltip), asks
// for a destination (a new folder, or a .gguf file), then writes the export off the GUI thread
// (QtConcurrent) behind a progress dialog with Cancel. Errors arrive as one message value;
// nothing crosses threads but values.
#pragma once

#include "base/progress.h"
#include "widgets/resultutils.h"

#include <QDialog>
#include <QString>
#include <QStringList>

#include <functional>
#include <map>
#include <string>
#include <vector>

class QCheckBox;
class QRadioButton;
class QWidget;

namespace ql {

enum class ModelExportFormat { Gptq, QuantLens, Gguf };

// One format as the dialog offers it: `whyNot` is empty when the run can be written in it,
// else the reason (core's check: the same the CLI's export makes before writing).
struct ModelExportChoice {
    ModelExportFormat format;
    QString label;
    QString whyNot;
};
std::vector<ModelExportChoice> modelExportChoices(const RunResult& run);

struct ModelExportRequest {
    ModelExportFormat format = ModelExportFormat::QuantLens;
    std::string path;                 // a folder (GPTQ, QuantLens) or a .gguf file
    bool replace = false;             // replace an earlier QuantLens export folder
    bool llamaQuantizeTypes = false;  // GGUF: embedding and output head as llama-quantize
};

struct ModelExportOutcome {
    QString path, error;  // where it was written, or the one error message
    bool cancelled = false;
    QStringList warnings;
};

// The format's core export call; any thread, never throws (errors and cancellation are in
// the outcome, and a cancelled or failed export leaves nothing at the path).
ModelExportOutcome runModelExport(const RunResult& run, const ModelExportRequest& request,
                                  const ProgressCallback& progress = {});

// The format choice: one radio button per format (disabled with the reason as tooltip when the
// run cannot be written in it, the first possible one checked) and, for GGUF, llama-quantize's
// types for the embedding and output head.
class ModelExportDialog : public QDialog {
    Q_OBJECT
public:
    ModelExportDialog(const RunResult& run, QWidget* parent = nullptr);

    bool anyAvailable() const;
    ModelExportFormat format() const;
    bool llamaQuantizeTypes() const;
    QRadioButton* button(ModelExportFormat f) const { return buttons_.at(f); }

private:
    std::map<ModelExportFormat, QRadioButton*> buttons_;
    QCheckBox* llamaTypes_ = nullptr;
};

// Runs `request` on a background thread behind a window-modal progress dialog with Cancel;
// `done` gets the outcome on the GUI thread.
void startModelExport(QWidget* parent, const RunPtr& run, const ModelExportRequest& request,
                      const std::function<void(const ModelExportOutcome&)>& done);

// The log line of an outcome (written, cancelled, failed).
QString modelExportLogLine(const ModelExportOutcome& outcome);

// `log` receives one line per outcome (written, refused, cancelled, failed).
void exportModelInteractive(QWidget* parent, const RunPtr& run,
                            const std::function<void(const QString&)>& log);

}  // namespace ql
