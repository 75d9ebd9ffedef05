// What makes two runs' numbers not comparable: the settings each number was measured under.
// Plain strings so the CLI, the GUI and reports say the same thing.
#pragma once

#include "run/run.h"

#include <string>
#include <vector>

namespace ql {

// What differs between two runs' perplexity settings — model, evaluation text, protocol,
// sequence length, windows — as "seq 256 vs 512, windows 17 vs 8"; empty when equal. Only
// runs with equal settings share a float perplexity, so only then do their deltas compare.
std::string evaluationDifference(const RunResult& a, const RunResult& b);

// The same for output SQNR, measured on calibration inputs: model, text, windows × length.
// Empty when equal or when either run has no calibration (its output SQNR is then n/a).
std::string calibrationDifference(const RunResult& a, const RunResult& b);

// Every caveat of a side-by-side comparison of A and B, one sentence each, in the order a
// reader needs them: different models first (layers then match by name only), then
// perplexity and output-SQNR settings. Empty when the runs compare like with like.
std::vector<std::string> comparisonCaveats(const RunResult& a, const RunResult& b);

}  // namespace ql
