// GGUF tokenizer metadata -> QuantLens's tokenizers: the SentencePiece vocabulary goes to
// SpTokenizer as pieces; a byte-level BPE vocabulary becomes the tokenizer.json document that
// Hugging Face would have (vocab, merges, added tokens, the pre-tokenizer llama.cpp names by
// tokenizer.ggml.pre) and is read by HfTokenizer.
#include "tokenizer/gguf_tokenizer.h"

#include "base/error.h"
#include "io/gguf.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/sp_tokenizer.h"

#include <nlohmann/json.hpp>

#include <optional>

namespace ql::tok {

namespace {

using nlohmann::json;

// llama.cpp's token types (llama_token_type), the same numbers as SentencePiece's.
enum TokenType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

// Split regexes of the byte-level pre-tokenizers, as the models' tokenizer.json write them.
const char* kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

[[noreturn]] void failKey(const GgufFile& f, const std::string& key, const std::string& why) {
    throw Error(f.path() + ": metadata '" + key + "' " + why);
}

const GgufValue& arrayOf(const GgufFile& f, const std::string& key, GgufValueType element) {
    const GgufValue* v = f.find(key);
    if (!v) failKey(f, key, "is missing");
    if (v->type != GgufValueType::Array || v->elementType != element)
        failKey(f, key, "is not an array of " + ggufValueTypeName(element));
    return *v;
}

std::optional<int32_t> tokenId(const GgufFile& f, const std::string& key, size_t vocab) {
    const GgufValue* v = f.find(key);
    if (!v) return std::nullopt;
    if (!v->isInteger() || v->type == GgufValueType::Bool) failKey(f, key, "is not an integer");
    const bool isSigned = v->type == GgufValueType::I8 || v->type == GgufValueType::I16 ||
                          v->type == GgufValueType::I32 || v->type == GgufValueType::I64;
    const int64_t id = isSigned ? v->i : int64_t(v->u);
    if (id == -1) return std::nullopt;
    if (id < 0 || uint64_t(id) >= vocab)
        failKey(
            f, key,
            "is " + std::to_string(id) + ", not a token id (0.." + std::to_string(vocab - 1) + ")");
    return int32_t(id);
}

bool boolKey(const GgufFile& f, const std::string& key, bool fallback) {
    const GgufValue* v = f.find(key);
    if (!v) return fallback;
    if (v->type != GgufValueType::Bool) failKey(f, key, "is not a bool");
    return v->i != 0;
}

// Token types, Normal for every token when the key is absent.
std::vector<int> tokenTypes(const GgufFile& f, size_t count) {
    const std::string key = "tokenizer.ggml.token_type";
    std::vector<int> types(count, Normal);
    if (!f.find(key)) return types;
    const GgufValue& v = arrayOf(f, key, GgufValueType::I32);
    if (v.elements.size() != count)
        failKey(f, key,
                "has " + std::to_string(v.elements.size()) + " entries for " +
                    std::to_string(count) + " tokens");
    for (size_t i = 0; i < count; ++i) types[i] = int(v.elements[i].i);
    return types;
}

std::unique_ptr<Tokenizer> sentencePiece(const GgufFile& f, const GgufValue& tokens) {
    const size_t n = tokens.elements.size();
    const std::vector<int> types = tokenTypes(f, n);
    const std::string scoresKey = "tokenizer.ggml.scores";
    const GgufValue* scores =
        f.find(scoresKey) ? &arrayOf(f, scoresKey, GgufValueType::F32) : nullptr;
    if (scores && scores->elements.size() != n)
        failKey(f, scoresKey,
                "has " + std::to_string(scores->elements.size()) + " entries for " +
                    std::to_string(n) + " tokens");
    std::vector<SpTokenizer::Piece> pieces(n);
    for (size_t i = 0; i < n; ++i) {
        pieces[i].text = tokens.elements[i].s;
        pieces[i].score = scores ? float(scores->elements[i].f) : 0.0f;
        pieces[i].type = types[i] >= Normal && types[i] <= Byte ? types[i] : Normal;
    }
    SpTokenizer::Options o;
    // GGUF does not carry the normalizer's remove_extra_whitespaces: SentencePiece's default
    // (true, as the shared stories260k tokenizer.model has it) is taken, so the ids equal the
    // original tokenizer's. llama.cpp itself never collapses runs of spaces, and Llama 2's
    // tokenizer.model says false: on such text the ids can differ from those two.
    o.addDummyPrefix = boolKey(f, "tokenizer.ggml.add_space_prefix", true);
    o.removeExtraWhitespaces = true;
    o.unkId = tokenId(f, "tokenizer.ggml.unknown_token_id", n).value_or(0);
    o.bosId = tokenId(f, "tokenizer.ggml.bos_token_id", n).value_or(-1);
    o.eosId = tokenId(f, "tokenizer.ggml.eos_token_id", n).value_or(-1);
    auto sp = std::make_unique<SpTokenizer>(std::move(pieces), o, f.path());
    sp->setSpecialIds(sp->modelBos(), sp->modelEos());
    return sp;
}

// The pre-tokenizer and normalizer of tokenizer.json for llama.cpp's pre-tokenizer name.
void addPreTokenizer(json& root, const GgufFile& f) {
    const std::string key = "tokenizer.ggml.pre";
    const GgufValue* v = f.find(key);
    const std::string pre = v && v->type == GgufValueType::String ? v->s : "default";
    const json byteLevel = {{"type", "ByteLevel"},
                            {"add_prefix_space", false},
                            {"trim_offsets", false},
                            {"use_regex", false}};
    const auto split = [&](const char* pattern) {
        return json{{"type", "Sequence"},
                    {"pretokenizers",
                     {{{"type", "Split"},
                       {"pattern", {{"Regex", pattern}}},
                       {"behavior", "Isolated"},
                       {"invert", false}},
                      byteLevel}}};
    };
    if (pre == "qwen2") {
        root["normalizer"] = {{"type", "NFC"}};
        root["pre_tokenizer"] = split(kQwen2Pattern);
    } else if (pre == "llama-bpe" || pre == "llama3") {
        root["pre_tokenizer"] = split(kLlama3Pattern);
    } else if (pre == "default" || pre == "gpt-2" || pre == "gpt2") {
        root["pre_tokenizer"] = {
            {"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
    } else {
        failKey(f, key,
                "is '" + pre +
                    "', a pre-tokenizer QuantLens does not know (qwen2, llama-bpe, "
                    "gpt-2, default are known)");
    }
}

std::unique_ptr<Tokenizer> bytePairs(const GgufFile& f, const GgufValue& tokens) {
    const size_t n = tokens.elements.size();
    const std::vector<int> types = tokenTypes(f, n);
    json root = json::object();
    addPreTokenizer(root, f);
    root["decoder"] = {{"type", "ByteLevel"}};
    json vocab = json::object(), added = json::array();
    for (size_t i = 0; i < n; ++i) {
        const std::string& text = tokens.elements[i].s;
        if (types[i] == Control || types[i] == UserDefined)
            added.push_back({{"id", i},
                             {"content", text},
                             {"special", types[i] == Control},
                             {"normalized", false}});
        else
            vocab[text] = i;
    }
    json merges = json::array();
    for (const GgufValue& m : arrayOf(f, "tokenizer.ggml.merges", GgufValueType::String).elements)
        merges.push_back(m.s);
    root["model"] = {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)}};
    root["added_tokens"] = std::move(added);
    auto hf = HfTokenizer::fromJson(root, f.path() + " (GGUF tokenizer metadata)");
    hf->setSpecialIds(tokenId(f, "tokenizer.ggml.bos_token_id", n),
                      tokenId(f, "tokenizer.ggml.eos_token_id", n));
    return hf;
}

}  // namespace

std::unique_ptr<Tokenizer> loadGgufTokenizer(const std::string& path) {
    const GgufFile f(path);
    const std::string key = "tokenizer.ggml.model";
    const GgufValue* model = f.find(key);
    if (!model || model->type != GgufValueType::String)
        failKey(f, key, "is missing: the file has no tokenizer");
    const GgufValue& tokens = arrayOf(f, "tokenizer.ggml.tokens", GgufValueType::String);
    if (tokens.elements.empty()) failKey(f, "tokenizer.ggml.tokens", "is empty");
    if (model->s == "llama") return sentencePiece(f, tokens);
    if (model->s == "gpt2") return bytePairs(f, tokens);
    failKey(f, key, "is '" + model->s + "', a tokenizer QuantLens cannot read (llama, gpt2 can)");
}

}  // namespace ql::tok
