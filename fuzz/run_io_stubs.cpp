// Fuzz build only (see CMakeLists.txt): the writer side of run_io.cpp references these
// helpers of layer_metrics.cpp, which is compiled with libtorch. The run harness only
// reads runs, so reaching either one is a bug in the harness build.
#include "base/error.h"
#include "run/run_internal.h"

namespace ql {

std::string storedWeightPath(const std::string&, const std::string&) {
    throw Error("fuzz build: storedWeightPath is not available");
}

void writeStoredWeight(const std::string&, const std::vector<float>&) {
    throw Error("fuzz build: writeStoredWeight is not available");
}

}  // namespace ql
