// Display names of runs that stay unique within a session: two runs of the same recipe
// are told apart by the settings in which they differ ("INT8 channel RTN · seq 512"),
// else by a number ("INT8 channel RTN #2").
#pragma once

#include "widgets/resultutils.h"

#include <QString>
#include <QStringList>

namespace ql {

// The settings that matter for comparing runs, as short "key value" texts.
QStringList runSettingTexts(const RunConfig& config);

// A label for `run` that no run of `others` has.
QString uniqueRunLabel(const RunResult& run, const RunList& others);

}  // namespace ql
