#include "base/error.h"
#include "commands.h"

namespace qlcli {
int cmdSynth(const Argv&) { throw ql::Error("the synth command is not available yet"); }
} // namespace qlcli
