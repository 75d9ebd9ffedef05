// Progress of a long command on stderr, one line per phase change or 10 % step: readable
// in a terminal and in a log file alike (no carriage returns), and stdout stays the
// command's result for scripts.
#pragma once

#include "base/progress.h"

namespace qlcli {

// "[ 40%] evaluate    window 12/30"; cancellation checks (fraction < 0) print nothing.
ql::ProgressCallback stderrProgress();

}  // namespace qlcli
