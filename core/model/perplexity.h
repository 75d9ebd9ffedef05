// Perplexity evaluation, protocols exactly as ../shared/README.md defines them.
#pragma once

#include "base/progress.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

class Model;
struct ModelConfig;

// Throws ql::Error when a window of `seq` tokens is longer than the model's
// max_position_embeddings; `what` starts the message, e.g. "the calibration".
void checkWindowLength(const ModelConfig& config, int seq, const std::string& what);

enum class PplProtocol { Gptq, LlamaCpp };
std::string protocolName(PplProtocol p);          // "gptq", "llamacpp"
PplProtocol parseProtocol(const std::string& s);  // throws ql::Error

struct PerplexityOptions {
    PplProtocol protocol = PplProtocol::Gptq;
    int seq = 0;         // 0: min(2048, max_position_embeddings)
    int maxWindows = 0;  // 0: all windows
    int batch = 4;       // windows per forward call
    int bosToken = -1;   // llamacpp: BOS id (e.g. the tokenizer's); -1: config's bos_token_id
};

struct PerplexityResult {
    double ppl = 0.0;
    double meanNll = 0.0;
    int64_t scoredTokens = 0;
    int windows = 0;
    int seq = 0;
    std::string protocol;
    double seconds = 0.0;
    double tokensPerSecond = 0.0;  // tokens fed through the model per second
};

// Throws ql::Error when the text is shorter than one window, ql::Cancelled on cancel.
PerplexityResult evaluatePerplexity(const Model& model, const std::vector<int32_t>& tokens,
                                    const PerplexityOptions& options,
                                    const ProgressCallback& progress = {});

}  // namespace ql
