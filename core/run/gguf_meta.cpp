// GGUF metadata as convert_hf_to_gguf.py (at the commit of ../shared/reference/gguf) writes it
// for Llama-family models with a SentencePiece tokenizer.model, and for Qwen2 / Qwen3 with their
// byte-level BPE tokenizer.json (run/gguf_vocab.h).
#include "run/gguf_meta.h"

#include "base/error.h"
#include "base/file_util.h"
#include "run/gguf_vocab.h"
#include "tokenizer/sp_tokenizer.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace ql {

namespace {

namespace fs = std::filesystem;

bool isLower(const std::string& w) {  // Python's str.islower(): cased letters all lower
    bool cased = false;
    for (unsigned char c : w) {
        if (std::isupper(c)) return false;
        cased = cased || std::islower(c);
    }
    return cased;
}

std::string pythonTitle(const std::string& w) {  // str.title(): upper after a non-letter
    std::string out = w;
    bool previousLetter = false;
    for (char& c : out) {
        const bool letter = std::isalpha(static_cast<unsigned char>(c));
        if (letter) c = char(previousLetter ? std::tolower(c) : std::toupper(c));
        previousLetter = letter;
    }
    return out;
}

// Metadata.id_to_title: words title-cased unless acronyms or version numbers.
std::string idToTitle(const std::string& id) {
    std::string spaced = id;
    for (char& c : spaced)
        if (c == '-') c = ' ';
    std::istringstream in(spaced);
    static const std::regex version(R"(^(v\d+(?:\.\d+)*|\d.*)$)");
    std::string word, out;
    while (in >> word) {
        if (!out.empty()) out += ' ';
        out += isLower(word) && !std::regex_match(word, version) ? pythonTitle(word) : word;
    }
    return out;
}

// model_weight_count_rounded_notation: "1.8M", "260K", "494M", "1.5B".
std::string sizeLabel(uint64_t params) {
    double scaled = double(params) * 1e-3;
    const char* suffix = "K";
    if (params > 1000000000000ull) {
        scaled = double(params) * 1e-12, suffix = "T";
    } else if (params > 1000000000ull) {
        scaled = double(params) * 1e-9, suffix = "B";
    } else if (params > 1000000ull) {
        scaled = double(params) * 1e-6, suffix = "M";
    }
    const int digits = int(std::to_string(int64_t(std::nearbyint(scaled))).size());
    const int fix = std::max(2 - digits, 0);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f%s", fix, scaled, suffix);
    return buf;
}

nlohmann::json readJsonIfPresent(const fs::path& p) {
    std::error_code ec;
    if (!fs::exists(p, ec)) return nlohmann::json::object();
    try {
        return nlohmann::json::parse(readRegularFile(p.string(), "a tokenizer_config.json file"));
    } catch (const nlohmann::json::exception& e) {
        throw Error(p.string() + ": not valid JSON (" + e.what() + ")");
    }
}

void addNames(GgufWriter& w, const std::string& arch, const GgufModelNames& n) {
    w.addString("general.architecture", arch);
    w.addString("general.type", "model");
    w.addString("general.name", n.name);
    if (!n.version.empty()) w.addString("general.version", n.version);
    if (!n.finetune.empty()) w.addString("general.finetune", n.finetune);
    if (!n.basename.empty()) w.addString("general.basename", n.basename);
    w.addString("general.size_label", n.sizeLabel);
}

// _set_vocab_sentencepiece + SpecialVocab (ids from config.json, add_* from
// tokenizer_config.json).
void requireSentencePiece(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir / "tokenizer.model", ec))
        throw Error(dir.string() +
                    ": no tokenizer.model (GGUF export of tokenizer.json vocabularies is not "
                    "supported yet)");
}

void addSentencePiece(GgufWriter& w, const ModelConfig& c, const fs::path& dir) {
    requireSentencePiece(dir);
    const fs::path model = dir / "tokenizer.model";
    const tok::SpTokenizer sp(model.string());
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    for (const auto& p : sp.pieces()) {
        tokens.push_back(p.text);
        scores.push_back(p.score);
        const bool kept = p.type == tok::SpTokenizer::Unknown ||
                          p.type == tok::SpTokenizer::Control ||
                          p.type == tok::SpTokenizer::Unused || p.type == tok::SpTokenizer::Byte;
        types.push_back(kept ? p.type : tok::SpTokenizer::Normal);
    }
    for (int i = 1; int(tokens.size()) < c.vocabSize; ++i) {
        tokens.push_back("[PAD" + std::to_string(i) + "]");
        scores.push_back(-1000.0f);
        types.push_back(tok::SpTokenizer::Unused);
    }
    w.addString("tokenizer.ggml.model", "llama");
    w.addString("tokenizer.ggml.pre", "default");
    w.addStringArray("tokenizer.ggml.tokens", tokens);
    w.addF32Array("tokenizer.ggml.scores", scores);
    w.addI32Array("tokenizer.ggml.token_type", types);
    if (c.bosTokenId >= 0) w.addU32("tokenizer.ggml.bos_token_id", uint32_t(c.bosTokenId));
    if (c.eosTokenId >= 0) w.addU32("tokenizer.ggml.eos_token_id", uint32_t(c.eosTokenId));
    const nlohmann::json tc = readJsonIfPresent(dir / "tokenizer_config.json");
    for (const char* key : {"add_bos_token", "add_eos_token"})
        if (tc.is_object() && tc.contains(key) && tc[key].is_boolean())
            w.addBool(std::string("tokenizer.ggml.") + key, tc[key].get<bool>());
}

}  // namespace

std::string ggufArchitecture(const ModelConfig& c) {
    switch (c.architecture) {
        case Architecture::Llama:
        case Architecture::Mistral:
            return "llama";
        case Architecture::Qwen2:
            return "qwen2";
        case Architecture::Qwen3:
            return "qwen3";
    }
    throw Error("GGUF export of " + architectureDisplayName(c.architecture) +
                " models is not supported");
}

GgufModelNames ggufModelNames(const std::string& folderName, uint64_t parameters) {
    // Metadata.get_model_id_components, for a folder name without organisation.
    std::vector<std::string> parts;
    std::stringstream in(folderName);
    for (std::string p; std::getline(in, p, '-');)
        if (!p.empty()) parts.push_back(p);
    static const std::regex version(R"((v|iter)?\d+([.]\d+)*)", std::regex::icase);
    static const std::regex size(R"((\d+[x])?\d+([._]\d+)?[KMBT]\d?)", std::regex::icase);
    static const std::regex tune("chat|instruct|vision|lora", std::regex::icase);
    enum Kind { None, Version, Size, Finetune };
    std::vector<Kind> kinds(parts.size(), None);
    for (size_t i = 0; i < parts.size(); ++i) {
        if (std::regex_match(parts[i], version))
            kinds[i] = Version;
        else if (i > 0 && std::regex_match(parts[i], size))
            kinds[i] = Size;
        else if (i > 0 && std::regex_match(parts[i], tune))
            kinds[i] = Finetune;
    }
    GgufModelNames n;
    std::vector<bool> base(parts.size(), false);
    bool atStart = true;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (atStart &&
            ((kinds[i] == None && std::isalpha(static_cast<unsigned char>(parts[i][0]))) ||
             kinds[i] == Version)) {
            base[i] = true;
        } else {
            atStart = false;
            if (kinds[i] == None) kinds[i] = Finetune;
        }
    }
    for (size_t i = parts.size(); i-- > 0;) {  // a trailing version is not the basename
        if (!(base[i] && kinds[i] != None)) break;
        base[i] = false;
    }
    const auto join = [&](auto pick) {
        std::string s;
        for (size_t i = 0; i < parts.size(); ++i)
            if (pick(i)) s += (s.empty() ? "" : "-") + parts[i];
        return s;
    };
    n.basename = join([&](size_t i) { return base[i]; });
    n.finetune = join([&](size_t i) { return kinds[i] == Finetune; });
    n.version = join([&](size_t i) { return kinds[i] == Version && !base[i]; });
    n.sizeLabel = join([&](size_t i) { return kinds[i] == Size; });
    if (n.sizeLabel.empty() && n.finetune.empty() && n.version.empty()) n.basename.clear();
    if (n.sizeLabel.empty()) n.sizeLabel = sizeLabel(parameters);
    n.name = idToTitle(folderName);
    return n;
}

void addGgufMetadata(GgufWriter& w, const ModelConfig& c, const std::string& modelDir,
                     uint64_t parameters, uint32_t fileType, bool quantized) {
    const std::string arch = ggufArchitecture(c);
    fs::path dir(modelDir);
    if (!dir.has_filename()) dir = dir.parent_path();
    addNames(w, arch, ggufModelNames(dir.filename().string(), parameters));
    w.addU32(arch + ".block_count", uint32_t(c.numLayers));
    w.addU32(arch + ".context_length", uint32_t(c.maxPositions));
    w.addU32(arch + ".embedding_length", uint32_t(c.hiddenSize));
    w.addU32(arch + ".feed_forward_length", uint32_t(c.intermediateSize));
    w.addU32(arch + ".attention.head_count", uint32_t(c.numHeads));
    w.addU32(arch + ".attention.head_count_kv", uint32_t(c.numKvHeads));
    w.addF32(arch + ".rope.freq_base", float(c.ropeTheta));
    w.addF32(arch + ".attention.layer_norm_rms_epsilon", float(c.rmsNormEps));
    if (arch != "llama") {  // Qwen2 / Qwen3: convert's TextModel keys, byte-level BPE
        if (c.architecture == Architecture::Qwen3) {  // its config.json has head_dim
            w.addU32(arch + ".attention.key_length", uint32_t(c.headDim));
            w.addU32(arch + ".attention.value_length", uint32_t(c.headDim));
        }
        if (!quantized) w.addU32("general.file_type", fileType);
        addBytePairVocab(w, c, dir.string());
        w.addU32("general.quantization_version", 2);
        if (quantized) w.addU32("general.file_type", fileType);
        return;
    }
    if (!quantized) w.addU32("general.file_type", fileType);
    w.addU32(arch + ".vocab_size", uint32_t(c.vocabSize));
    w.addU32(arch + ".rope.dimension_count", uint32_t(c.headDim));
    addSentencePiece(w, c, dir);
    w.addU32("general.quantization_version", 2);
    if (quantized) w.addU32("general.file_type", fileType);
}

void checkGgufMetadataSource(const ModelConfig& c, const std::string& modelDir) {
    const std::string arch = ggufArchitecture(c);
    fs::path dir(modelDir);
    if (!dir.has_filename()) dir = dir.parent_path();
    if (arch == "llama") return requireSentencePiece(dir);
    std::error_code ec;
    if (!fs::exists(dir / "tokenizer.json", ec))
        throw Error((dir / "tokenizer.json").string() +
                    ": not found (GGUF export converts this byte-level BPE vocabulary)");
}

void addGgufMetadataFrom(GgufWriter& w, const GgufFile& source, uint32_t fileType, bool quantized) {
    for (const std::string& key : source.keys()) {
        if (key == "general.alignment") continue;
        if (key == "general.file_type") {
            if (!quantized) w.addU32(key, fileType);
            continue;
        }
        if (quantized && key == "general.quantization_version") continue;
        w.add(key, *source.find(key));
    }
    if (!quantized) {
        if (!source.find("general.file_type")) w.addU32("general.file_type", fileType);
        return;
    }
    w.addU32("general.quantization_version", 2);
    w.addU32("general.file_type", fileType);
}

}  // namespace ql
