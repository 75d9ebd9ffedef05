// QL_PROGRESS_GAPS=1: how long a cancel request could wait. Every call of a progress
// callback is a point where a run can stop, so the longest time between two calls in a
// phase bounds that phase's cancel latency. Wall seconds grow with the machine's load;
// CPU seconds of the process divided by the threads do not (an idle-machine estimate).
#pragma once

#include "base/progress.h"

namespace qlcli {

// Wraps `inner` so that each call is timed; the table is printed to stderr when the
// returned callback's last copy is destroyed. Returns `inner` unchanged unless
// QL_PROGRESS_GAPS=1.
ql::ProgressCallback recordProgressGaps(ql::ProgressCallback inner, int threads);

}  // namespace qlcli
