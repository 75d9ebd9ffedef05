// quantlens-cli eval: perplexity of a model on a text file.
#include "args.h"
#include "base/error.h"
#include "commands.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "progress_line.h"
#include "run/run.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace qlcli {

namespace {

const char* kEvalUsage =
    "Usage: quantlens-cli eval --model DIR --text FILE [options]\n"
    "\n"
    "Perplexity of the model on the text, over non-overlapping windows of SEQ tokens.\n"
    "\n"
    "  --model DIR         Hugging Face model folder (config.json, safetensors, tokenizer)\n"
    "                      or a .gguf file (config and tokenizer from its metadata)\n"
    "  --text FILE         UTF-8 text file\n"
    "  --seq N             window length (default min(2048, max_position_embeddings))\n"
    "  --protocol P        gptq (default): no BOS, every token but the first scored;\n"
    "                      llamacpp: BOS first, second half of each window scored\n"
    "  --max-windows K     evaluate at most K windows (default all)\n"
    "  --batch B           windows per forward pass (default 4)\n"
    "  --threads T         compute threads, 1..256 (default: QUANTLENS_THREADS, else all\n"
    "                      cores); bounds every pool: torch, OpenMP, OpenBLAS\n"
    "  --json              print the result as JSON\n";

}  // namespace

int cmdEval(const Argv& argv) {
    if (wantsHelp(argv, kEvalUsage)) return 0;
    const Args args(argv, {"model", "text", "seq", "protocol", "max-windows", "batch", "threads"},
                    {"json"});
    args.allowPositional(0);
    const std::string modelDir = modelFolderOption(args);
    const std::string textPath = args.required("text");
    ql::PerplexityOptions options;
    options.protocol = ql::parseProtocol(args.value("protocol", "gptq"));
    options.seq = args.intValue("seq", 0);
    options.maxWindows = args.intValue("max-windows", 0);
    options.batch = args.intValue("batch", 4);
    if (options.seq < 0 || options.seq == 1) throw ql::Error("--seq must be at least 2");
    if (options.maxWindows < 0) throw ql::Error("--max-windows must be positive");
    if (options.batch < 1 || options.batch > 4096) throw ql::Error("--batch must be in 1..4096");
    applyThreads(threadsOption(args));

    // Before anything big is loaded: the windows fit the model's positions (named first,
    // the most actionable), then the model and its windows fit in memory.
    ql::checkEvalMemory(modelDir, options.seq, options.batch);
    const auto tokenizer = ql::Tokenizer::load(modelDir);
    const auto model = ql::Model::load(modelDir);
    if (const auto bos = tokenizer->bosId()) options.bosToken = *bos;
    const int seq = options.seq > 0 ? options.seq : std::min(2048, model->config().maxPositions);
    ql::checkWindowLength(model->config(), seq, "the perplexity");
    // --max-windows K needs only the first K windows: tokenize only that prefix.
    const size_t needed = size_t(options.maxWindows) * size_t(seq);
    const std::vector<int32_t> tokens = ql::tokenizeTextFile(
        textPath, needed, [&](const std::string& text) { return tokenizer->encode(text); },
        "evaluation");

    const bool json = args.flag("json");
    const ql::PerplexityResult r = ql::evaluatePerplexity(
        *model, tokens, options, json ? ql::ProgressCallback() : stderrProgress());

    if (json) {
        const nlohmann::json j = {{"ppl", r.ppl},
                                  {"scored_tokens", r.scoredTokens},
                                  {"windows", r.windows},
                                  {"seq", r.seq},
                                  {"protocol", r.protocol},
                                  {"seconds", r.seconds},
                                  {"tokens_per_second", r.tokensPerSecond}};
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("perplexity %.4f (%s, seq %d, %d windows, %lld scored tokens)\n", r.ppl,
                    r.protocol.c_str(), r.seq, r.windows, static_cast<long long>(r.scoredTokens));
        std::printf("%.2f s, %.0f tokens/s\n", r.seconds, r.tokensPerSecond);
    }
    return 0;
}

}  // namespace qlcli
