#include "run/generation_compare.h"

#include "base/error.h"
#include "model/model.h"
#include "run/packed_install.h"
#include "run/run.h"
#include "run/run_model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>

namespace ql {

namespace {

// The prompt's ids: BOS first when the tokenizer has one (the story models are trained with
// it; Qwen has none), the chat template's text when asked. Adds the stop tokens.
std::vector<int32_t> promptIds(const GenerationRequest& r, const Tokenizer& tokenizer,
                               GenerationOptions& options, std::string& chatFormat) {
    std::string text = r.prompt;
    bool bos = !r.chat && tokenizer.bosId().has_value();
    if (r.chat) {
        const ChatTemplate chat = detectChatTemplate(r.modelDir);
        const ChatPrompt p = chatPrompt(chat, r.prompt);
        chatFormat = chat.name;
        text = p.text;
        bos = p.bos && tokenizer.bosId().has_value();
        for (const std::string& stop : p.stopTokens) {
            const std::vector<int32_t> ids = tokenizer.encode(stop);
            if (ids.size() == 1) options.stopTokens.push_back(ids[0]);
        }
    }
    if (const auto eos = tokenizer.eosId()) options.stopTokens.push_back(*eos);
    std::vector<int32_t> ids;
    if (bos) ids.push_back(*tokenizer.bosId());
    const std::vector<int32_t> body = tokenizer.encode(text);
    ids.insert(ids.end(), body.begin(), body.end());
    if (ids.empty()) throw Error("the prompt is empty");
    return ids;
}

// The text of `ids`, an id the tokenizer has no text for shown as "<id N>". A model's
// embedding can have more rows than its tokenizer has tokens (Qwen2.5 pads 151665 tokens to
// 151936 rows; a synthetic model's tokenizer has 331): a model that picks such an id must
// not fail the whole generation.
std::string decodeIds(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
    std::string text;
    std::vector<int32_t> known;
    const auto flush = [&] {
        if (!known.empty()) text += tokenizer.decode(known);
        known.clear();
    };
    for (const int32_t id : ids) {
        if (id >= 0 && id < tokenizer.vocabSize()) {
            known.push_back(id);
            continue;
        }
        flush();
        text += "<id " + std::to_string(id) + ">";
    }
    flush();
    return text;
}

// The text of `tokens` grows by the returned share when the last token is added (empty while
// a UTF-8 character is incomplete). `shown` is the text given out so far.
std::string nextShare(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens,
                      std::string& shown) {
    const std::string text = decodeIds(tokenizer, tokens);
    static const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD: bytes still to come
    const bool incomplete =
        text.size() >= kReplacement.size() &&
        text.compare(text.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0;
    if (incomplete || text.compare(0, shown.size(), shown) != 0) return {};
    std::string share = text.substr(shown.size());
    shown = text;
    return share;
}

// Generates with `model` as it is now (float or a run's weights) into `out`.
void generateInto(const Model& model, const std::vector<int32_t>& prompt,
                  const GenerationOptions& options, const Tokenizer& tokenizer, int output,
                  const GenerationStream& stream, const ProgressReporter& rep, GeneratedText& out) {
    std::vector<int32_t> sofar;
    std::string given;  // the text the shares add up to so far
    const auto onToken = [&](int index, int32_t token) {
        out.pieces.push_back(decodeIds(tokenizer, {token}));
        sofar.push_back(token);
        out.textPieces.push_back(nextShare(tokenizer, sofar, given));
        if (stream) stream(output, index, token, out.textPieces.back());
    };
    const auto progress = [&](const Progress& p) {
        rep.report("generate", p.fraction, out.name + ": " + p.message);
        return true;
    };
    const GenerationResult g = generate(model, prompt, options, onToken, progress);
    out.tokens = g.tokens;
    out.stopped = g.stopped;
    out.prefillSeconds = g.prefillSeconds;
    out.decodeSeconds = g.decodeSeconds;
    std::vector<int32_t> shown = g.tokens;  // the stop token is not part of the text
    if (g.stopped && !shown.empty()) shown.pop_back();
    out.text = decodeIds(tokenizer, shown);
}

// A short untimed generation (the prompt and two steps): the first model timed otherwise
// pays the thread pools, first touches and kernel set-up alone, and its tokens/s would not
// compare with the next one's (as bench-infer's warm-up).
void warmUp(const Model& model, const std::vector<int32_t>& prompt) {
    GenerationOptions options;
    options.maxNewTokens = 2;
    options.sampling.greedy = true;
    generate(model, prompt, options);
}

}  // namespace

GenerationComparison compareGeneration(const GenerationRequest& request,
                                       const GenerationStream& stream,
                                       const ProgressCallback& progress) {
    checkSampling(request.options.sampling);
    if ((request.int8Activations || request.head != HeadFormat::Float32) && !request.packedKernels)
        throw Error("int8 activations and a quantized output head need the packed kernels");
    if (request.options.maxNewTokens < 1) throw Error("--max-new-tokens must be at least 1");
    std::vector<std::shared_ptr<const RunResult>> runs;
    for (const std::string& folder : request.runFolders)
        runs.push_back(std::make_shared<const RunResult>(loadRun(folder)));
    for (const auto& run : request.runs) {
        if (!run) throw Error("internal: an empty run was given to compare");
        runs.push_back(run);
    }
    const auto tokenizer = Tokenizer::load(request.modelDir);
    GenerationComparison result;
    GenerationOptions options = request.options;
    result.promptTokens = promptIds(request, *tokenizer, options, result.chatFormat);
    auto model = Model::load(request.modelDir);
    for (const auto& run : runs) checkRunFitsModel(*model, *run);  // before any generation
    if (!runs.empty()) checkHeadFormat(request.head, model->config().hiddenSize);

    const int models = 1 + int(runs.size());
    const ProgressReporter rep(progress);
    GeneratedText floatText;
    floatText.name = "float";
    floatText.weightsAs = "f32";
    warmUp(*model, result.promptTokens);
    generateInto(*model, result.promptTokens, options, *tokenizer, 0, stream,
                 rep.sub(0.0, 1.0 / models), floatText);
    const auto floatRows = continuationLogits(*model, result.promptTokens, floatText.tokens);
    result.outputs.push_back(std::move(floatText));

    for (size_t r = 0; r < runs.size(); ++r) {
        const RunResult& run = *runs[r];
        rep.checkCancelled();  // between models too, not only between tokens
        GeneratedText out;
        out.name = run.label.empty() ? run.config.recipe : run.label;
        out.runFolder = r < request.runFolders.size() ? request.runFolders[r] : run.folder;
        if (request.packedKernels) {
            model.reset();  // one model in memory at a time: the packed copy releases floats
            model = Model::load(request.modelDir);
            const PackedInstallReport installed =
                installPackedKernels(model->transformer(), run, request.int8Activations);
            out.weightsAs = describeInstall(installed);
            out.onPackedKernels = installed.packedLayers > 0;
            if (request.int8Activations && out.onPackedKernels)
                out.weightsAs += ", int8 activations";
            if (request.head != HeadFormat::Float32) {
                const HeadInstall head = installQuantizedHead(model->transformer(), request.head,
                                                              request.int8Activations);
                out.weightsAs += ", " + head.format + " head";
            }
            warmUp(*model, result.promptTokens);
        } else {
            out.notes = applyRunWeights(*model, run);
            out.weightsAs = "simulated-f32";
        }
        const ProgressReporter sub = rep.sub(double(r + 1) / models, double(r + 2) / models);
        generateInto(*model, result.promptTokens, options, *tokenizer, int(r + 1), stream, sub,
                     out);
        const std::vector<int32_t>& floatTokens = result.outputs[0].tokens;
        rep.checkCancelled();
        out.firstDivergence = firstDivergence(floatTokens, out.tokens);
        out.perToken = compareNextTokens(
            floatRows,
            continuationLogits(*model, result.promptTokens, floatTokens, request.int8Activations),
            floatTokens);
        for (const TokenComparison& t : out.perToken) {
            out.runTokenPieces.push_back(decodeIds(*tokenizer, {t.runToken}));
            out.meanKl += t.kl / double(out.perToken.size());
            out.top1Agreement += t.runToken == t.floatToken ? 1 : 0;
        }
        result.outputs.push_back(std::move(out));
        if (request.packedKernels) model.reset();
    }
    if (model) model->restoreWeights();
    return result;
}

}  // namespace ql
