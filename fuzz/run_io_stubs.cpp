// Fuzz build only (see CMakeLists.txt): the writer side of run_io.cpp references these
// helpers of layer_metrics.cpp, which is compiled with libtorch, and the compact weight
// writer of the quant library, which this build does not link. The run harness only
// reads runs, so reaching any one is a bug in the harness build.
#include "base/error.h"
#include "run/run_internal.h"

namespace ql {

std::string storedWeightPath(const std::string&, const std::string&) {
    throw Error("fuzz build: storedWeightPath is not available");
}

std::string legacyStoredWeightPath(const std::string&, const std::string&) {
    throw Error("fuzz build: legacyStoredWeightPath is not available");
}

void writeCompactWeights(const std::string&, const CompactWeights&) {
    throw Error("fuzz build: writeCompactWeights is not available");
}

void writeStoredWeight(const std::string&, const std::vector<float>&) {
    throw Error("fuzz build: writeStoredWeight is not available");
}

}  // namespace ql
