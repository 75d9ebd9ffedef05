// Text generation of the float model and of runs' quantized models from one prompt, and
// how each run's next-token distributions differ from the float model's (issue 11): the
// engine of `quantlens-cli generate` and of the GUI's Generate tab.
//
// The per-token numbers are teacher-forced on the float text, so that every run is
// measured after the same prefix: at position i (predicting the float text's token i,
// given the prompt and float tokens 0..i-1), p is the float model's distribution and q
// the run's; reported are KL(p || q), the run's most likely token there and p of it. The
// run's own text (free-running, same sampling settings and seed) is reported beside, with
// the first token where it leaves the float text.
#pragma once

#include "base/progress.h"
#include "model/generate.h"
#include "run/packed_install.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ql {

struct RunResult;

struct GenerationRequest {
    std::string modelDir;
    std::vector<std::string> runFolders;  // in output order after the float model
    // Runs already in memory (the workbench's), after the folders' runs: a run need not be
    // saved to be compared. Their after-weights come from the run as every view gets them.
    std::vector<std::shared_ptr<const RunResult>> runs;
    std::string prompt;
    bool chat =
        false;  // format the prompt with the model's chat template (tokenizer/chat_template.h)
    GenerationOptions options;  // stopTokens: the tokenizer's EOS and the chat end token are added
    // false: each run's weights dequantized into the float model (simulated quantization; its
    // seconds are float32's). true: each run generates on its own copy of the model computing
    // from the packed INT8/INT4 codes (run/packed_install.h), so its seconds are the quantized
    // kernels'; one model is resident at a time. Texts and KL equal the simulated ones up to
    // float summation order.
    bool packedKernels = false;
    // With packedKernels only (else compareGeneration throws): the packed layers decode with
    // int8 activations, and the runs' output head is quantized (installQuantizedHead), as
    // bench-infer --activations / --head measure them. The KL then includes both: with int8
    // activations the runs' teacher-forced logits come from one-token decode steps (the
    // path that quantizes activations), not one pass.
    bool int8Activations = false;
    HeadFormat head = HeadFormat::Float32;
};

struct GeneratedText {
    std::string name;       // "float" or the run's label
    std::string runFolder;  // empty for the float model
    // What the output was computed with: "f32" (the float model), "simulated-f32" (a run's
    // dequantized weights) or run/packed_install.h's describeInstall ("packed (int4 g128 asym)").
    std::string weightsAs;
    // At least one of the run's layers computed from its packed codes: its seconds are the
    // quantized model's own (GenerationRequest::packedKernels).
    bool onPackedKernels = false;
    std::vector<int32_t> tokens;
    std::vector<std::string> pieces;  // each token decoded alone
    // Each token's share of the text as it streams: concatenated (without a final stop
    // token's) they are `text`. Decoded alone, SentencePiece drops a piece's leading space;
    // a token that ends inside a UTF-8 character has an empty share and the character comes
    // with the token that completes it.
    std::vector<std::string> textPieces;
    std::string text;  // the tokens decoded together
    bool stopped = false;
    double prefillSeconds = 0.0, decodeSeconds = 0.0;
    int firstDivergence = -1;  // runs: first index differing from the float tokens; -1: none
    std::vector<TokenComparison> perToken;    // runs: one per float token (teacher-forced)
    std::vector<std::string> runTokenPieces;  // runs: perToken[i].runToken decoded alone
    double meanKl = 0.0;                      // runs: mean of perToken's KL
    int top1Agreement = 0;                    // runs: positions where runToken == floatToken
    std::vector<std::string> notes;
};

struct GenerationComparison {
    std::vector<int32_t> promptTokens;
    std::string chatFormat;              // the recognized template family, or empty
    std::vector<GeneratedText> outputs;  // [0] the float model, then each run
};

// Called as tokens are generated, on the generating thread: output index (0 = float, then
// the runs in order), token index, token, its share of the text (GeneratedText::textPieces).
using GenerationStream =
    std::function<void(int output, int index, int32_t token, const std::string& piece)>;

// Loads the model, tokenizer and runs (every run is read before anything is generated, so
// a bad folder fails fast), then generates. Throws ql::Error (one line naming the file or
// option) or ql::Cancelled when `progress` returns false.
GenerationComparison compareGeneration(const GenerationRequest& request,
                                       const GenerationStream& stream = {},
                                       const ProgressCallback& progress = {});

}  // namespace ql
