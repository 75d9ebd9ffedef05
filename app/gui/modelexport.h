// File → Export model…: asks for a format (GPTQ or QuantLens packed) and a destination
// folder, then writes the export off the GUI thread (QtConcurrent) behind a progress dialog
// with Cancel. Errors arrive as a message value; nothing crosses threads but values.
#pragma once

#include "widgets/resultutils.h"

#include <QString>

#include <functional>

class QWidget;

namespace ql {

// `log` receives one line per outcome (written, refused, cancelled, failed).
void exportModelInteractive(QWidget* parent, const RunPtr& run,
                            const std::function<void(const QString&)>& log);

}  // namespace ql
