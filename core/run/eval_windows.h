// Evaluation windows of the perplexity protocols (../shared/README.md), shared by the
// joint float/quantized evaluation of a run.
#pragma once

#include "model/perplexity.h"

#include <cstdint>
#include <vector>

namespace ql {

struct EvalWindow {
    std::vector<int32_t> ids;  // model input, `seq` tokens
    int firstScored = 0;       // positions p in [firstScored, seq-1) predict ids[p+1]
};

// gptq: non-overlapping windows of `seq` tokens from the start, remainder dropped, no
// BOS, every token but the first scored. llamacpp (as llama.cpp's llama-perplexity): one
// BOS in front of the whole stream, windows of `seq` cut from that stream, the first token
// of each window replaced by BOS, only the second half scored (positions seq/2 .. seq-2
// predict the next token). maxWindows 0 = all. Throws ql::Error when the text is shorter
// than one window, or llamacpp without a BOS id (bosId < 0).
std::vector<EvalWindow> buildEvalWindows(const std::vector<int32_t>& tokens, PplProtocol protocol,
                                         int seq, int maxWindows, int32_t bosId);

}  // namespace ql
