// quantlens-cli generate: the float model's and runs' texts from one prompt, side by side,
// with per-token probability and KL against the float model (run/generation_compare.h).
#include "args.h"
#include "base/error.h"
#include "commands.h"
#include "progress_line.h"
#include "run/generation_compare.h"

#include <nlohmann/json.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace qlcli {

namespace {

const char* kUsage =
    "Usage: quantlens-cli generate --model DIR [--run RUN ...] (--prompt TEXT | --prompt-file F)\n"
    "                              [--max-new-tokens N] [--greedy | --temperature T --top-k K\n"
    "                              --top-p P --seed S] [--chat] [--packed [--activations\n"
    "                              float|int8] [--head f32|int8|int4]] [--threads N] [--json]\n"
    "\n"
    "Generates text with the float model and with each run's quantized weights (simulated in\n"
    "float32), KV-cached, and prints the texts side by side (one after another when the\n"
    "terminal is narrow), the first token where each run leaves the float text, and per\n"
    "token, teacher-forced on the float text so that every run sees the same prefix: the\n"
    "run's most likely token, the float model's probability of it and KL(float || run).\n"
    "\n"
    "  --model DIR           Hugging Face model folder (the runs' model)\n"
    "  --run RUN             a run folder (quantlens-cli quantize --out); repeatable\n"
    "  --prompt TEXT         the prompt (BOS first when the tokenizer has one)\n"
    "  --prompt-file F       the prompt from a UTF-8 file\n"
    "  --max-new-tokens N    tokens to generate, 1..4096 (default 32); EOS ends earlier\n"
    "  --greedy              argmax decoding (the default)\n"
    "  --temperature T       sample at temperature T > 0 (default 1 when sampling)\n"
    "  --top-k K             sample among the K most likely tokens (0 = all, the default)\n"
    "  --top-p P             then among the fewest whose probability reaches P (default 1)\n"
    "  --seed S              sampling seed (default 0); every model samples with the same seed\n"
    "  --chat                format the prompt as one user turn with the model's chat template\n"
    "                        (tokenizer_config.json): ChatML (Qwen), Llama-2 [INST] and\n"
    "                        Llama-3 headers are recognized, other templates are refused\n"
    "  --packed              each run computes from its packed INT8/INT4 codes (the kernels\n"
    "                        bench-infer measures; one model resident at a time), so its\n"
    "                        seconds are the quantized model's; without it a run's weights\n"
    "                        are dequantized into the float model and its seconds are float32's\n"
    "  --activations A       with --packed: float (default) or int8 (the packed layers decode\n"
    "                        with their input quantized to int8, as bench-infer --activations)\n"
    "  --head H              with --packed: the runs' output head f32 (default), int8 or int4\n"
    "                        (as bench-infer --head); the KL and text then include it\n"
    "  --threads N           compute threads, 1..256\n"
    "  --json                print the result as JSON\n";

int terminalWidth() {
    winsize ws{};
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (const char* c = std::getenv("COLUMNS"))
        if (const int n = std::atoi(c); n > 0) return n;
    return 120;
}

// UTF-8 code points of `s` (a display column each; wide CJK glyphs are not measured).
std::vector<std::string> codePoints(const std::string& s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size();) {
        size_t n = 1;
        while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
        out.push_back(s.substr(i, n));
        i += n;
    }
    return out;
}

// `text` cut into lines of at most `width` code points (at newlines and at the width).
std::vector<std::string> wrap(const std::string& text, size_t width) {
    std::vector<std::string> lines(1);
    size_t used = 0;
    for (const std::string& cp : codePoints(text)) {
        if (cp == "\n" || used == width) {
            lines.emplace_back();
            used = 0;
            if (cp == "\n") continue;
        }
        lines.back() += cp == "\t" ? " " : cp;
        ++used;
    }
    return lines;
}

std::string padded(const std::string& s, size_t width) {
    const size_t n = codePoints(s).size();
    return n >= width ? s : s + std::string(width - n, ' ');
}

// A token's text for a table cell: quoted, newlines shown as \n.
std::string cell(const std::string& piece) {
    std::string out = "\"";
    for (char c : piece) out += c == '\n' ? std::string("\\n") : std::string(1, c);
    return out + "\"";
}

void printTexts(const ql::GenerationComparison& g) {
    const size_t n = g.outputs.size();
    const int width = terminalWidth();
    const int column = (width - 3 * int(n - 1)) / int(n);
    if (column < 28) {  // narrow: one after another
        for (const ql::GeneratedText& o : g.outputs)
            std::printf("=== %s ===\n%s\n\n", o.name.c_str(), o.text.c_str());
        return;
    }
    std::vector<std::vector<std::string>> cols;
    size_t rows = 0;
    for (const ql::GeneratedText& o : g.outputs) {
        std::vector<std::string> lines = wrap(o.name, size_t(column));
        lines.push_back(std::string(size_t(column), '-'));
        for (const std::string& l : wrap(o.text, size_t(column))) lines.push_back(l);
        rows = std::max(rows, lines.size());
        cols.push_back(std::move(lines));
    }
    for (size_t r = 0; r < rows; ++r) {
        std::string line;
        for (size_t c = 0; c < n; ++c) {
            const std::string text = r < cols[c].size() ? cols[c][r] : "";
            line += c + 1 < n ? padded(text, size_t(column)) + " | " : text;
        }
        std::printf("%s\n", line.c_str());
    }
    std::printf("\n");
}

void printRunTable(const ql::GeneratedText& f, const ql::GeneratedText& o) {
    std::printf("%s: ", o.name.c_str());
    if (o.firstDivergence < 0)
        std::printf("same tokens as float");
    else
        std::printf("leaves the float text at token %d (float %s, run %s)", o.firstDivergence,
                    size_t(o.firstDivergence) < f.pieces.size()
                        ? cell(f.pieces[size_t(o.firstDivergence)]).c_str()
                        : "(end)",
                    size_t(o.firstDivergence) < o.pieces.size()
                        ? cell(o.pieces[size_t(o.firstDivergence)]).c_str()
                        : "(end)");
    std::printf("; teacher-forced: mean KL %.4g nats, top-1 agreement %d/%zu\n", o.meanKl,
                o.top1Agreement, o.perToken.size());
    for (const std::string& note : o.notes) std::printf("  note: %s\n", note.c_str());
    std::printf("  %4s  %-18s %-18s %12s %12s\n", "#", "float token", "run's top token",
                "p_float(run)", "KL(f||run)");
    for (size_t i = 0; i < o.perToken.size(); ++i) {
        const ql::TokenComparison& t = o.perToken[i];
        const std::string runPiece = t.runToken == t.floatToken ? "=" : cell(o.runTokenPieces[i]);
        std::printf("  %4zu  %-18s %-18s %12.4f %12.4g\n", i, cell(f.pieces[i]).c_str(),
                    runPiece.c_str(), t.floatProbOfRunToken, t.kl);
    }
    std::printf("\n");
}

nlohmann::json toJson(const ql::GenerationComparison& g) {
    nlohmann::json outputs = nlohmann::json::array();
    for (const ql::GeneratedText& o : g.outputs) {
        nlohmann::json j = {{"name", o.name},
                            {"text", o.text},
                            {"tokens", o.tokens},
                            {"pieces", o.pieces},
                            {"stopped", o.stopped},
                            {"prefill_seconds", o.prefillSeconds},
                            {"decode_seconds", o.decodeSeconds}};
        if (!o.runFolder.empty()) {
            // Simulated: the run's weights dequantized to float32, its seconds are the float
            // kernels'. --packed: the packed kernels' (bench-infer measures the same).
            j["weights"] =
                o.weightsAs == "simulated-f32" ? "dequantized float32 (simulated)" : o.weightsAs;
            nlohmann::json per = nlohmann::json::array();
            for (const ql::TokenComparison& t : o.perToken)
                per.push_back({{"float_token", t.floatToken},
                               {"run_token", t.runToken},
                               {"p_float_of_run_token", t.floatProbOfRunToken},
                               {"p_float_of_float_token", t.floatProbOfFloatToken},
                               {"kl", t.kl}});
            j["run"] = o.runFolder;
            j["first_divergence"] =
                o.firstDivergence < 0 ? nlohmann::json() : nlohmann::json(o.firstDivergence);
            j["mean_kl"] = o.meanKl;
            j["top1_agreement"] = o.top1Agreement;
            j["per_token"] = per;
            j["run_token_pieces"] = o.runTokenPieces;
            j["notes"] = o.notes;
        }
        outputs.push_back(j);
    }
    return {{"prompt_tokens", g.promptTokens},
            {"chat_format", g.chatFormat.empty() ? nlohmann::json() : nlohmann::json(g.chatFormat)},
            {"teacher_forced_on", "float"},
            {"outputs", outputs}};
}

ql::SamplingOptions samplingOptions(const Args& args) {
    ql::SamplingOptions s;
    const bool sampling = args.has("temperature") || args.has("top-k") || args.has("top-p");
    if (args.flag("greedy") && sampling)
        throw ql::Error("--greedy cannot be combined with --temperature, --top-k or --top-p");
    s.greedy = !sampling;
    s.temperature = args.doubleValue("temperature", 1.0);
    s.topK = args.intValue("top-k", 0);
    s.topP = args.doubleValue("top-p", 1.0);
    const std::string seed = args.value("seed", "0");
    if (seed.empty() || seed.find_first_not_of("0123456789") != std::string::npos ||
        seed.size() > 19)
        throw ql::Error("--seed expects a non-negative integer, got '" + seed + "'");
    s.seed = std::stoull(seed);
    ql::checkSampling(s);
    return s;
}

}  // namespace

int cmdGenerate(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(argv,
                    {"model", "run", "prompt", "prompt-file", "max-new-tokens", "temperature",
                     "top-k", "top-p", "seed", "threads", "activations", "head"},
                    {"greedy", "chat", "json", "packed"});
    args.allowPositional(0);
    ql::GenerationRequest request;
    request.modelDir = modelFolderOption(args);
    request.runFolders = repeated(argv, "--run");
    if (args.has("prompt") == args.has("prompt-file"))
        throw ql::Error("give the prompt with exactly one of --prompt TEXT and --prompt-file F");
    request.prompt =
        args.has("prompt") ? args.value("prompt") : readTextFile(args.value("prompt-file"));
    request.chat = args.flag("chat");
    request.packedKernels = args.flag("packed");
    request.int8Activations = int8ActivationsOption(args);
    request.head = ql::parseHeadFormat(args.value("head", "f32"));
    if (request.int8Activations && !request.packedKernels)
        throw ql::Error(
            "--activations int8 needs --packed (the simulated runs compute in float32)");
    if (request.head != ql::HeadFormat::Float32 && !request.packedKernels)
        throw ql::Error(std::string("--head ") + ql::headFormatName(request.head) +
                        " needs --packed (the simulated runs compute in float32)");
    request.options.maxNewTokens = args.intValue("max-new-tokens", 32);
    if (request.options.maxNewTokens < 1 || request.options.maxNewTokens > 4096)
        throw ql::Error("--max-new-tokens must be in 1..4096");
    request.options.sampling = samplingOptions(args);
    applyThreads(threadsOption(args));

    const bool json = args.flag("json");
    const ql::GenerationComparison g =
        ql::compareGeneration(request, {}, json ? ql::ProgressCallback() : stderrProgress());
    if (json) {
        std::cout << toJson(g).dump(2) << "\n";
        return 0;
    }
    std::printf("prompt: %zu tokens%s%s\n\n", g.promptTokens.size(),
                g.chatFormat.empty() ? "" : ", chat template ", g.chatFormat.c_str());
    printTexts(g);
    for (size_t i = 1; i < g.outputs.size(); ++i) printRunTable(g.outputs[0], g.outputs[i]);
    const ql::GeneratedText& f = g.outputs[0];
    std::printf("float: %zu tokens, prefill %.3f s, decode %.3f s\n", f.tokens.size(),
                f.prefillSeconds, f.decodeSeconds);
    // A simulated run's seconds are float32's: only the packed kernels' say anything.
    for (size_t i = 1; i < g.outputs.size() && request.packedKernels; ++i) {
        const ql::GeneratedText& o = g.outputs[i];
        std::printf("%s: %zu tokens, prefill %.3f s, decode %.3f s, weights %s\n", o.name.c_str(),
                    o.tokens.size(), o.prefillSeconds, o.decodeSeconds, o.weightsAs.c_str());
    }
    return 0;
}

}  // namespace qlcli
