// Tokenizer::load: finds the tokenizer file, builds the right implementation and
// reads BOS/EOS from tokenizer_config.json when it is present.
#include "tokenizer/tokenizer.h"

#include "base/error.h"
#include "base/file_util.h"
#include "io/gguf_model.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/sp_tokenizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace ql {

namespace fs = std::filesystem;

namespace {

fs::path resolveTokenizerFile(const std::string& path) {
    const fs::path p(path);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
        for (const char* name : {"tokenizer.json", "tokenizer.model"})
            if (fs::is_regular_file(p / name, ec)) return p / name;
        throw Error("no tokenizer.json or tokenizer.model in " + path);
    }
    if (!fs::exists(p, ec)) throw Error(path + ": no such tokenizer file or model folder");
    requireRegularFile(path, "a tokenizer.json, a tokenizer.model or a model folder");
    return p;
}

// bos_token/eos_token of tokenizer_config.json: a string or {"content": ...}.
std::optional<std::string> configToken(const nlohmann::json& config, const char* key) {
    if (!config.contains(key)) return std::nullopt;
    const auto& v = config[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string())
        return v["content"].get<std::string>();
    return std::nullopt;
}

// Returns false when there is no tokenizer_config.json next to the tokenizer file.
bool applyConfig(tok::TokenizerBase& tokenizer, const fs::path& file) {
    const fs::path configPath = file.parent_path() / "tokenizer_config.json";
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(configPath, ec))) return false;
    const std::string text = readRegularFile(configPath.string(), "a tokenizer_config.json file");
    checkJsonDepth(text, configPath.string());
    nlohmann::json config;
    try {
        config = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(configPath.string() + ": not valid JSON: " + jsonErrorReason(e));
    }
    if (!config.is_object()) throw Error(configPath.string() + ": not a JSON object");
    auto lookup = [&](const char* key) -> std::optional<int32_t> {
        const auto name = configToken(config, key);
        return name ? tokenizer.idOf(*name) : std::nullopt;
    };
    tokenizer.setSpecialIds(lookup("bos_token"), lookup("eos_token"));
    return true;
}

}  // namespace

// Also a GGUF file: its tokenizer.ggml.* metadata (tokenizer/gguf_tokenizer.h).
std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
    if (isGgufFile(path)) return tok::loadGgufTokenizer(path);  // a GGUF model file
    const fs::path file = resolveTokenizerFile(path);
    if (file.extension() == ".model") {
        auto sp = std::make_unique<tok::SpTokenizer>(file.string());
        if (!applyConfig(*sp, file)) sp->setSpecialIds(sp->modelBos(), sp->modelEos());
        return sp;
    }
    auto hf = tok::HfTokenizer::fromFile(file.string());
    applyConfig(*hf, file);
    return hf;
}

}  // namespace ql
