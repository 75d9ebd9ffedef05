#include "base/error.h"
#include "commands.h"

namespace qlcli {
int cmdQuantize(const Argv&) { throw ql::Error("the quantize command is not available yet"); }
} // namespace qlcli
