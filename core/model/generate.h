// Text generation with a ql::Model: token sampling (greedy, temperature, top-k, top-p,
// seeded), KV-cached generation (model/decoder.h) and the teacher-forced comparison of a
// quantized model's next-token distributions with the float model's.
#pragma once

#include "base/progress.h"

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace ql {

class Model;

struct SamplingOptions {
    bool greedy = true;        // argmax (the first of equal maxima); ignores the rest
    double temperature = 1.0;  // > 0; logits / temperature before the softmax
    int topK = 0;              // keep the K most likely tokens; 0 = all
    double topP = 1.0;         // then the smallest set whose probability reaches P, in (0, 1]
    uint64_t seed = 0;         // the same seed, options and logits give the same tokens
};

// Throws ql::Error naming the option for a value out of range.
void checkSampling(const SamplingOptions& options);

// The index of the largest logit (the first one of equal maxima).
int32_t argmaxToken(const std::vector<float>& logits);

class Sampler {
public:
    explicit Sampler(const SamplingOptions& options);  // checks the options
    int32_t next(const std::vector<float>& logits);

private:
    SamplingOptions options_;
    std::mt19937_64 rng_;  // fully specified by the standard: same sequence everywhere
};

struct GenerationOptions {
    int maxNewTokens = 32;
    SamplingOptions sampling;
    std::vector<int32_t> stopTokens;  // e.g. EOS: generation ends after one of them
    bool useCache = true;             // false: every step recomputes the whole sequence
};

struct GenerationResult {
    std::vector<int32_t> tokens;  // generated tokens (a final stop token included)
    bool stopped = false;         // ended on a stop token (else maxNewTokens reached)
    double prefillSeconds = 0.0;  // the prompt's forward pass
    double decodeSeconds = 0.0;   // every later step
    uint64_t cacheBytes = 0;      // K/V cache held at the end (Decoder::cacheBytes)
};

// Called after every generated token with its index in GenerationResult::tokens.
using TokenCallback = std::function<void(int index, int32_t token)>;

// Generates up to maxNewTokens after `prompt` (not empty). `progress` is asked after
// every token (false: ql::Cancelled). Throws ql::Error for bad options or ids.
GenerationResult generate(const Model& model, const std::vector<int32_t>& prompt,
                          const GenerationOptions& options, const TokenCallback& onToken = {},
                          const ProgressCallback& progress = {});

// The logits that predict each token of `continuation` after `prompt`, teacher-forced; row
// i predicts continuation[i]. By default one cached pass of prompt + continuation; with
// oneTokenSteps the prompt in one pass and then one decode step per token, the computation
// that generated the text (a packed model with int8 activations quantizes them only in
// one-token decode calls: prefill takes float activations).
std::vector<std::vector<float>> continuationLogits(const Model& model,
                                                   const std::vector<int32_t>& prompt,
                                                   const std::vector<int32_t>& continuation,
                                                   bool oneTokenSteps = false);

// One position of a teacher-forced comparison: p is the float model's next-token
// distribution, q the quantized model's, both after the same (float) prefix.
struct TokenComparison {
    int32_t floatToken = 0;            // the float text's token at this position
    int32_t runToken = 0;              // the quantized model's most likely token here
    double floatProbOfRunToken = 0;    // p(runToken)
    double floatProbOfFloatToken = 0;  // p(floatToken)
    double kl = 0;                     // KL(p || q) in nats
};

// Row i of both logit lists (softmax in double) against floatTokens[i].
std::vector<TokenComparison> compareNextTokens(const std::vector<std::vector<float>>& floatLogits,
                                               const std::vector<std::vector<float>>& runLogits,
                                               const std::vector<int32_t>& floatTokens);

// The first index where the two token lists differ (the shorter length when one is a
// prefix of the other; -1 when they are equal).
int firstDivergence(const std::vector<int32_t>& a, const std::vector<int32_t>& b);

}  // namespace ql
