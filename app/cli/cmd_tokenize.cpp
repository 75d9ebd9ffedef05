#include "base/error.h"
#include "commands.h"

namespace qlcli {
int cmdTokenize(const Argv&) { throw ql::Error("the tokenize command is not available yet"); }
} // namespace qlcli
