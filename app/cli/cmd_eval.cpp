#include "base/error.h"
#include "commands.h"

namespace qlcli {
int cmdEval(const Argv&) { throw ql::Error("the eval command is not available yet"); }
} // namespace qlcli
