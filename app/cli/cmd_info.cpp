#include "base/error.h"
#include "commands.h"

namespace qlcli {
int cmdInfo(const Argv&) { throw ql::Error("the info command is not available yet"); }
} // namespace qlcli
