#include "base/error.h"
#include "commands.h"

namespace qlcli {
int cmdCompare(const Argv&) { throw ql::Error("the compare command is not available yet"); }
} // namespace qlcli
