// quantlens-cli tokenize --tokenizer PATH --text FILE [--json]: token count, sha256 of
// the ids (the encoding of ../shared/reference/tokenizer-corpus.json), first/last ids
// and the tokenization time.
#include "args.h"
#include "base/error.h"
#include "base/sha256.h"
#include "commands.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

using json = nlohmann::ordered_json;

namespace qlcli {

namespace {

const char* kUsage =
    "Usage: quantlens-cli tokenize --tokenizer PATH --text FILE [--json]\n"
    "\n"
    "Tokenizes the whole of FILE (UTF-8) without adding special tokens; special tokens\n"
    "written in the text are matched as such. PATH is a model folder (tokenizer.json\n"
    "preferred, else tokenizer.model), a tokenizer.json or a tokenizer.model.\n"
    "Prints the token count, the sha256 of the ids written in decimal and joined by\n"
    "commas, the first 32 and last 8 ids, and the tokenization time (loading excluded).\n"
    "\n"
    "  --tokenizer PATH   tokenizer to use\n"
    "  --text FILE        text file to tokenize (an empty file gives 0 tokens)\n"
    "  --json             machine-readable output\n";

std::string joinIds(const std::vector<int32_t>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
    return s;
}

}  // namespace

int cmdTokenize(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(argv, {"tokenizer", "text"}, {"json"});
    if (!args.positional().empty())
        throw ql::Error("unexpected argument '" + args.positional().front() + "' (see --help)");
    const auto tokenizer = ql::Tokenizer::load(args.required("tokenizer"));
    const std::string text = readTextFile(args.required("text"));

    const auto start = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = tokenizer->encode(text);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const std::vector<int32_t> first(ids.begin(), ids.begin() + std::min<size_t>(32, ids.size()));
    const std::vector<int32_t> last(ids.end() - std::min<size_t>(8, ids.size()), ids.end());
    const std::string digest = ql::tokenIdsSha256(ids);
    if (args.flag("json")) {
        json out;
        out["count"] = ids.size();
        out["sha256"] = digest;
        out["first"] = first;
        out["last"] = last;
        out["seconds"] = seconds;
        std::cout << out.dump() << "\n";
        return 0;
    }
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::printf("tokenizer  %s (%s, vocabulary %d)\n", args.value("tokenizer").c_str(),
                tokenizer->kind().c_str(), tokenizer->vocabSize());
    std::printf("text       %s (%zu bytes)\n", args.value("text").c_str(), text.size());
    std::printf("tokens     %zu\n", ids.size());
    std::printf("sha256     %s\n", digest.c_str());
    std::printf("first      %s\n", joinIds(first).c_str());
    std::printf("last       %s\n", joinIds(last).c_str());
    std::printf("time       %.3f s (%.2f MB/s)\n", seconds, seconds > 0 ? mb / seconds : 0.0);
    return 0;
}

}  // namespace qlcli
