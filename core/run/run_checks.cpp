// Up-front resource checks of model-path work (runs and `eval`): window length against
// the model's positions, memory against what is available, and reading only the prefix
// of a text that the windows asked for need.
#include "base/error.h"
#include "io/gguf_model.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "model/perplexity.h"
#include "run/run_internal.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>

namespace ql {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

uint64_t checkpointParameters(const TensorStore& store) {
    uint64_t parameters = 0;
    for (const auto& name : store.names()) parameters += uint64_t(store.get(name).numel());
    return parameters;
}

// Sum that saturates instead of wrapping (estimates of hostile settings are huge).
uint64_t saturatingSum(std::initializer_list<uint64_t> parts) {
    uint64_t sum = 0;
    for (uint64_t p : parts) sum = p > UINT64_MAX - sum ? UINT64_MAX : sum + p;
    return sum;
}

bool memoryCheckSkipped() {
    const char* skip = std::getenv("QL_SKIP_MEMORY_CHECK");
    return skip && skip[0] == '1';
}

// The one message of every memory refusal (`what`: "to evaluate 'X'"): how much is needed, of which
// parts, what is available and what to change.
void refuseUnlessFits(const std::string& what, uint64_t needed, const std::string& parts,
                      const std::string& advice) {
    const uint64_t available = memAvailableBytes();
    if (available == UINT64_MAX || needed <= available) return;
    char amounts[128];
    std::snprintf(amounts, sizeof amounts, "it needs about %.1f GB (%s), %.1f GB are available",
                  needed / kGiB, parts.c_str(), available / kGiB);
    throw Error("not enough memory " + what + ": " + amounts + "; " + advice);
}

}  // namespace

uint64_t forwardWorkingBytes(const ModelConfig& c, int64_t seq, int64_t batch, int64_t logitRows) {
    // In double: a hostile --seq (2^31) must saturate, not wrap to a small number.
    const double T = double(std::max<int64_t>(seq, 0)), B = double(std::max<int64_t>(batch, 1));
    const double heads = double(std::max(c.numHeads, 1));
    const double rep = std::floor(heads / double(std::max(c.numKvHeads, 1)));
    // Attention scores and their softmax, float32 [B, heads, T, T], plus the causal mask
    // repeated per query group (bool [rep * T, T]).
    const double attention = B * heads * T * T * 4 * 2 + (rep + 1) * T * T;
    // Residual stream, norms, q/k/v/o, gate/up/down of one block (float32).
    const double activations = B * T * (8.0 * c.hiddenSize + 3.0 * c.intermediateSize) * 4;
    // Logits, their log-softmax and one temporary.
    const double logits = double(std::max<int64_t>(logitRows, 0)) * double(c.vocabSize) * 4 * 3;
    const double total = attention + activations + logits;
    return total >= 1.8e19 ? UINT64_MAX : uint64_t(total);
}

void checkEvalMemory(const std::string& modelDir, int seq, int batch) {
    ModelConfig cfg;
    try {
        cfg = loadModelConfigOf(modelDir);
    } catch (const Error&) {
        return;  // the model load reports what is wrong
    }
    if (seq <= 0) seq = std::min(2048, cfg.maxPositions);
    // A window past max_position_embeddings is refused whatever the memory: naming the
    // model's limit tells the user the --seq that works, a memory figure would not.
    checkWindowLength(cfg, seq, "the perplexity");
    if (memoryCheckSkipped()) return;
    std::shared_ptr<TensorStore> store;
    try {
        store = TensorStore::open(modelDir);
    } catch (const Error&) {
        return;
    }
    const uint64_t model = checkpointParameters(*store) * 4;
    // evaluatePerplexity applies the output head to at most 512 rows at a time.
    const uint64_t sequence = forwardWorkingBytes(cfg, seq, batch, 512);
    const uint64_t working = uint64_t(0.5 * kGiB);
    char parts[256];
    std::snprintf(parts, sizeof parts,
                  "float32 model %.1f + %d window(s) of %d tokens %.1f + working %.1f",
                  model / kGiB, batch, seq, sequence / kGiB, working / kGiB);
    refuseUnlessFits("to evaluate '" + modelDir + "'", saturatingSum({model, sequence, working}),
                     parts, "use a smaller --seq or --batch");
}

void checkModelPathMemory(const RunConfig& c, bool grads) {
    if (memoryCheckSkipped()) return;
    ModelConfig cfg;
    std::shared_ptr<TensorStore> store;
    uint64_t parameters = 0, selected = 0;
    try {
        cfg = loadModelConfigOf(c.modelDir);
        store = TensorStore::open(c.modelDir);
        parameters = checkpointParameters(*store);
        for (const auto& l : selectLayers(checkpointLinears(*store, cfg.numLayers), c.layers))
            selected += uint64_t(l.outFeatures * l.inFeatures);
    } catch (const Error&) {
        return;  // no estimate; the model load reports what is wrong
    }
    const uint64_t modelBytes = parameters * 4, quantBytes = selected * 4;
    const uint64_t gradBytes = grads ? selected * 4 : 0;
    // The longest window any phase runs: calibration chunks (GPTQ/AWQ, captures) and the
    // evaluation batches (jointEvaluate: at most 4 windows, logits of both models).
    uint64_t sequence = 0;
    if (!c.calibrationText.empty())
        sequence = forwardWorkingBytes(cfg, c.calibrationSeq, 4, 4 * int64_t(c.calibrationSeq));
    if (!c.evaluationText.empty()) {
        const int seq = c.evalSeq > 0 ? c.evalSeq : std::min(2048, cfg.maxPositions);
        sequence = std::max(sequence, forwardWorkingBytes(cfg, seq, 4, 2 * 4 * int64_t(seq)));
    }
    const uint64_t working = uint64_t(1.5 * kGiB);
    char parts[256];
    std::snprintf(parts, sizeof parts,
                  "float32 model %.1f + quantized layers %.1f + gradients %.1f + windows %.1f + "
                  "working %.1f",
                  modelBytes / kGiB, quantBytes / kGiB, gradBytes / kGiB, sequence / kGiB,
                  working / kGiB);
    refuseUnlessFits("for a run of '" + c.modelDir + "' with the model",
                     saturatingSum({modelBytes, quantBytes, gradBytes, sequence, working}), parts,
                     "select fewer layers, turn off gradients, use shorter windows, or leave out "
                     "--calib/--eval for a weights-only run");
}

std::vector<int32_t> tokenizeTextFile(const std::string& path, size_t neededTokens,
                                      const TextEncoder& encode, const std::string& what) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw Error("the " + what + " text '" + path + "' is a directory, expected a text file");
    if (!std::filesystem::is_regular_file(path, ec))
        throw Error("the " + what + " text '" + path + "' is not a readable file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot read the " + what + " text '" + path + "': " + std::strerror(errno));
    std::string text;
    // Growing prefixes, cut after a line end, until they give the tokens needed plus a
    // margin: the tokens before the cut do not depend on what follows it.
    constexpr size_t kMargin = 64;
    size_t chunk = neededTokens > 0 && neededTokens < (SIZE_MAX >> 4)
                       ? std::max<size_t>(64 * 1024, neededTokens * 8)
                       : SIZE_MAX;
    std::string pending;
    for (;;) {
        std::string block(std::min<size_t>(chunk, 256u << 20), '\0');
        in.read(block.data(), std::streamsize(block.size()));
        block.resize(size_t(in.gcount()));
        const bool end = block.empty() || !in;
        pending += block;
        const size_t cut = end ? pending.size() : pending.rfind('\n');
        if (cut != std::string::npos && cut > 0) {
            const size_t take = end ? cut : cut + 1;
            text += pending.substr(0, take);
            pending.erase(0, take);
        }
        if (end) break;
        if (neededTokens > 0 && !text.empty()) {
            std::vector<int32_t> ids = encode(text);
            if (ids.size() >= neededTokens + kMargin) {
                ids.resize(neededTokens);
                return ids;
            }
        }
        chunk = chunk < (SIZE_MAX >> 1) ? chunk * 2 : SIZE_MAX;
    }
    if (text.empty()) throw Error("the " + what + " text '" + path + "' is empty");
    return encode(text);
}

}  // namespace ql
