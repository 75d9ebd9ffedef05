// tokenizer.json -> tokenizer.ggml.* for byte-level BPE models.
#include "run/gguf_vocab.h"

#include "base/error.h"
#include "base/file_util.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>

namespace ql {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// llama_token_type
enum TokenType : int32_t { Normal = 1, Control = 3, UserDefined = 4, Unused = 5 };

// The Qwen2 / Qwen3 Split regex (llama.cpp's pre-tokenizer "qwen2").
const char* kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

json readJson(const fs::path& p, const char* what) {
    try {
        return json::parse(readRegularFile(p.string(), what));
    } catch (const json::exception& e) {
        throw Error(p.string() + ": not valid JSON (" + jsonErrorReason(e) + ")");
    }
}

[[noreturn]] void fail(const fs::path& p, const std::string& field, const std::string& why) {
    throw Error(p.string() + ": field '" + field + "' " + why);
}

// llama.cpp's name of the pre-tokenizer: only Qwen's Split regex + ByteLevel is known here.
std::string preTokenizerName(const json& root, const fs::path& p) {
    const json& pre = root.value("pre_tokenizer", json());
    if (pre.is_object() && pre.value("type", "") == "Sequence")
        for (const json& step : pre.value("pretokenizers", json::array()))
            if (step.value("type", "") == "Split" && step.contains("pattern") &&
                step["pattern"].value("Regex", "") == kQwen2Regex)
                return "qwen2";
    fail(p, "pre_tokenizer",
         "is not Qwen's (Split with the Qwen2 regex, then ByteLevel): GGUF export knows no "
         "llama.cpp pre-tokenizer name for it");
}

std::string mergeText(const json& m, const fs::path& p) {
    if (m.is_string()) return m.get<std::string>();
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        return m[0].get<std::string>() + " " + m[1].get<std::string>();
    fail(p, "model.merges", "has an entry that is neither \"a b\" nor [\"a\", \"b\"]");
}

// Id of a token named in tokenizer_config.json (a string or {"content": ...}), or -1.
int32_t configTokenId(const json& tc, const char* key, const std::map<std::string, int32_t>& ids) {
    if (!tc.is_object() || !tc.contains(key)) return -1;
    const json& v = tc[key];
    const std::string name = v.is_string()   ? v.get<std::string>()
                             : v.is_object() ? v.value("content", "")
                                             : "";
    const auto it = ids.find(name);
    return it == ids.end() ? -1 : it->second;
}

void addVocab(GgufWriter& w, const ModelConfig& c, const std::string& modelDir);

}  // namespace

void addBytePairVocab(GgufWriter& w, const ModelConfig& c, const std::string& modelDir) {
    try {
        addVocab(w, c, modelDir);
    } catch (const json::exception& e) {
        throw Error((fs::path(modelDir) / "tokenizer.json").string() +
                    ": a token or id has the wrong JSON type (" + jsonErrorReason(e) + ")");
    }
}

namespace {

void addVocab(GgufWriter& w, const ModelConfig& c, const std::string& modelDir) {
    const fs::path path = fs::path(modelDir) / "tokenizer.json";
    const json root = readJson(path, "a tokenizer.json file");
    const json& model = root.value("model", json());
    if (!model.is_object() || model.value("type", "BPE") != "BPE" || !model.contains("vocab") ||
        !model["vocab"].is_object())
        fail(path, "model", "is not a BPE model with a vocab");
    const std::string pre = preTokenizerName(root, path);
    std::map<int32_t, std::pair<std::string, int32_t>> byId;  // id -> (text, type)
    for (const auto& [text, id] : model["vocab"].items()) byId[id.get<int32_t>()] = {text, Normal};
    for (const json& a : root.value("added_tokens", json::array()))
        byId[a.at("id").get<int32_t>()] = {a.at("content").get<std::string>(),
                                           a.value("special", false) ? Control : UserDefined};
    const int32_t count =
        std::max<int32_t>(c.vocabSize, byId.empty() ? 0 : byId.rbegin()->first + 1);
    std::vector<std::string> tokens(static_cast<size_t>(count));
    std::vector<int32_t> types(static_cast<size_t>(count), Unused);
    std::map<std::string, int32_t> ids;
    for (int32_t i = 0; i < count; ++i) {
        const auto it = byId.find(i);
        tokens[size_t(i)] = it != byId.end() ? it->second.first : "[PAD" + std::to_string(i) + "]";
        if (it != byId.end()) types[size_t(i)] = it->second.second;
        ids.emplace(tokens[size_t(i)], i);
    }
    std::vector<std::string> merges;
    for (const json& m : model.value("merges", json::array())) merges.push_back(mergeText(m, path));

    w.addString("tokenizer.ggml.model", "gpt2");
    w.addString("tokenizer.ggml.pre", pre);
    w.addStringArray("tokenizer.ggml.tokens", tokens);
    w.addI32Array("tokenizer.ggml.token_type", types);
    w.addStringArray("tokenizer.ggml.merges", merges);
    std::error_code ec;
    const fs::path configPath = fs::path(modelDir) / "tokenizer_config.json";
    const json tc = fs::exists(configPath, ec)
                        ? readJson(configPath, "a tokenizer_config.json file")
                        : json::object();
    // tokenizer_config.json names the special tokens; config.json's ids stand in where it does
    // not (Qwen's has no bos_token: its config.json bos_token_id is <|endoftext|>).
    const int32_t bos = configTokenId(tc, "bos_token", ids);
    const int32_t eos = configTokenId(tc, "eos_token", ids);
    const int32_t pad = configTokenId(tc, "pad_token", ids);
    if (eos >= 0 || c.eosTokenId >= 0)
        w.addU32("tokenizer.ggml.eos_token_id", uint32_t(eos >= 0 ? eos : c.eosTokenId));
    if (pad >= 0) w.addU32("tokenizer.ggml.padding_token_id", uint32_t(pad));
    if (bos >= 0 || c.bosTokenId >= 0)
        w.addU32("tokenizer.ggml.bos_token_id", uint32_t(bos >= 0 ? bos : c.bosTokenId));
    if (tc.is_object() && tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean())
        w.addBool("tokenizer.ggml.add_bos_token", tc["add_bos_token"].get<bool>());
}

}  // namespace

}  // namespace ql
