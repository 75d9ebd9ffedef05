// Parsing of tokenizer.json into an HfTokenizer. Unsupported components are reported
// by name rather than silently ignored, since they would change the token ids.
#include "base/error.h"
#include "base/file_util.h"
#include "tokenizer/hf_tokenizer.h"

#include <nlohmann/json.hpp>

#include <limits>

namespace ql::tok {

using nlohmann::json;

// GPT-2's pre-tokenizer regex, used by ByteLevel with use_regex = true.
static const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// obj[key] without copying (json::value() returns a copy, which for the vocabulary and the
// merges costs more than the parse); null when absent.
static const json& member(const json& obj, const char* key) {
    static const json null;
    if (!obj.is_object()) return null;
    auto it = obj.find(key);
    return it == obj.end() ? null : *it;
}

class HfTokenizerLoader {
public:
    HfTokenizerLoader(HfTokenizer& t, std::string path) : t_(t), path_(std::move(path)) {}

    void load(const json& root) {
        if (!root.is_object()) fail("the top level is not a JSON object");
        const json& model = member(root, "model");
        if (!model.is_object()) fail("it has no \"model\" object");
        const std::string type = model.value("type", std::string("BPE"));
        if (type != "BPE") fail("model type \"" + type + "\" is not supported (only BPE)");
        t_.byteLevel_ = usesByteLevel(root);
        parseNormalizer(member(root, "normalizer"));
        parsePreTokenizer(member(root, "pre_tokenizer"));
        parseDecoder(member(root, "decoder"));
        parseModel(model);
        parseAddedTokens(member(root, "added_tokens"));
    }

private:
    [[noreturn]] void fail(const std::string& why) const {
        throw Error("tokenizer file " + path_ + ": " + why);
    }

    static bool hasType(const json& node, const std::string& type, const char* listKey) {
        if (!node.is_object()) return false;
        if (node.value("type", std::string()) == type) return true;
        if (node.contains(listKey) && node[listKey].is_array())
            for (const json& child : node[listKey])
                if (hasType(child, type, listKey)) return true;
        return false;
    }
    static bool usesByteLevel(const json& root) {
        return hasType(member(root, "pre_tokenizer"), "ByteLevel", "pretokenizers") ||
               hasType(member(root, "decoder"), "ByteLevel", "decoders");
    }

    std::string stringPattern(const json& step) const {
        const json& pattern = member(step, "pattern");
        if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string())
            return pattern["String"].get<std::string>();
        fail("only String patterns are supported in " + step.value("type", std::string()));
    }

    void parseNormalizer(const json& n) {
        if (n.is_null()) return;
        const std::string type = n.value("type", std::string());
        if (type == "Sequence") {
            for (const json& child : member(n, "normalizers")) parseNormalizer(child);
        } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
            NormalizerStep step;
            step.kind = NormalizerStep::Unicode;
            step.form = type == "NFC"    ? NormalForm::NFC
                        : type == "NFD"  ? NormalForm::NFD
                        : type == "NFKC" ? NormalForm::NFKC
                                         : NormalForm::NFKD;
            t_.normalizers_.push_back(step);
        } else if (type == "Prepend") {
            NormalizerStep step;
            step.kind = NormalizerStep::Prepend;
            step.content = n.value("prepend", std::string());
            if (t_.normalizers_.empty()) t_.leadingPrepend_ = step.content;
            t_.normalizers_.push_back(step);
        } else if (type == "Replace") {
            NormalizerStep step;
            step.kind = NormalizerStep::Replace;
            step.pattern = stringPattern(n);
            step.content = n.value("content", std::string());
            if (step.pattern.empty()) fail("Replace normalizer with an empty pattern");
            t_.normalizers_.push_back(step);
        } else {
            fail("normalizer \"" + type + "\" is not supported");
        }
    }

    void parsePreTokenizer(const json& p) {
        if (p.is_null()) return;
        const std::string type = p.value("type", std::string());
        if (type == "Sequence") {
            for (const json& child : member(p, "pretokenizers")) parsePreTokenizer(child);
        } else if (type == "Split") {
            PreTokenizerStep step;
            step.kind = PreTokenizerStep::Split;
            const json& pattern = member(p, "pattern");
            std::string regex;
            if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string())
                regex = pattern["Regex"].get<std::string>();
            else if (pattern.is_object() && pattern.contains("String") &&
                     pattern["String"].is_string())
                regex = "\\Q" + pattern["String"].get<std::string>() + "\\E";
            else
                fail("Split pre-tokenizer without a \"Regex\" or \"String\" pattern");
            const std::string behavior = p.value("behavior", std::string("Isolated"));
            if (behavior != "Isolated" && behavior != "Removed")
                fail("Split behavior \"" + behavior + "\" is not supported");
            if (p.value("invert", false)) fail("inverted Split pre-tokenizers are not supported");
            step.removeMatches = behavior == "Removed";
            try {
                step.regex = std::make_shared<RegexSplitter>(regex);
            } catch (const Error& e) {
                fail(e.what());
            }
            t_.preTokenizers_.push_back(step);
        } else if (type == "Digits") {
            // Digits are isolated one by one, or in runs (Unicode numerics, like Rust's
            // char::is_numeric).
            PreTokenizerStep step;
            step.kind = PreTokenizerStep::Split;
            step.regex = std::make_shared<RegexSplitter>(
                p.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+");
            t_.preTokenizers_.push_back(step);
        } else if (type == "ByteLevel") {
            PreTokenizerStep step;
            step.kind = PreTokenizerStep::ByteLevel;
            step.addPrefixSpace = p.value("add_prefix_space", false);
            if (p.value("use_regex", true))
                step.regex = std::make_shared<RegexSplitter>(kGpt2Pattern);
            t_.preTokenizers_.push_back(step);
        } else if (type == "Metaspace") {
            PreTokenizerStep step;
            step.kind = PreTokenizerStep::Metaspace;
            step.replacement = p.value("replacement", std::string("\xE2\x96\x81"));
            const std::string scheme =
                p.value("prepend_scheme",
                        std::string(p.value("add_prefix_space", true) ? "always" : "never"));
            step.prepend = scheme != "never";
            step.prependFirstOnly = scheme == "first";
            step.splitOnReplacement = p.value("split", true);
            t_.preTokenizers_.push_back(step);
        } else {
            fail("pre-tokenizer \"" + type + "\" is not supported");
        }
    }

    void parseDecoder(const json& d) {
        if (d.is_null()) return;
        const std::string type = d.value("type", std::string());
        DecoderStep step;
        step.kind = DecoderStep::Fuse;
        if (type == "Sequence") {
            for (const json& child : member(d, "decoders")) parseDecoder(child);
            return;
        } else if (type == "Replace") {
            step.kind = DecoderStep::Replace;
            step.pattern = stringPattern(d);
            step.content = d.value("content", std::string());
        } else if (type == "ByteFallback") {
            step.kind = DecoderStep::ByteFallback;
        } else if (type == "Fuse") {
            step.kind = DecoderStep::Fuse;
        } else if (type == "Strip") {
            step.kind = DecoderStep::Strip;
            step.content = d.value("content", std::string(" "));
            step.start = d.value("start", 0);
            step.stop = d.value("stop", 0);
        } else if (type == "ByteLevel") {
            step.kind = DecoderStep::ByteLevel;
        } else if (type == "Metaspace") {
            step.kind = DecoderStep::Metaspace;
            step.content = d.value("replacement", std::string("\xE2\x96\x81"));
            const std::string scheme =
                d.value("prepend_scheme",
                        std::string(d.value("add_prefix_space", true) ? "always" : "never"));
            step.prepend = scheme != "never";
        } else {
            fail("decoder \"" + type + "\" is not supported");
        }
        t_.decoders_.push_back(step);
    }

    // An id as written in the file, range-checked before any narrowing (2^32 + 7 must
    // not become 7).
    int32_t tokenId(const json& v, const std::string& what) const {
        constexpr int64_t kMaxId = 50'000'000;
        const bool ok = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(kMaxId)
                                               : v.is_number_integer() && v.get<int64_t>() >= 0 &&
                                                     v.get<int64_t>() <= kMaxId;
        if (!ok)
            fail(what + " has id " + v.dump() + ", expected an integer id from 0 to " +
                 std::to_string(kMaxId));
        return static_cast<int32_t>(v.get<int64_t>());
    }

    void setToken(int32_t id, const std::string& text, bool added) {
        if (id < 0 || id > 50'000'000) fail("token id " + std::to_string(id) + " is out of range");
        if (static_cast<size_t>(id) >= t_.tokenText_.size()) {
            t_.tokenText_.resize(static_cast<size_t>(id) + 1);
            t_.isAdded_.resize(static_cast<size_t>(id) + 1, false);
        }
        t_.tokenText_[static_cast<size_t>(id)] = text;
        if (added) t_.isAdded_[static_cast<size_t>(id)] = true;
    }

    // Vocabulary key of a token as written in the file (raw bytes for byte-level).
    std::string vocabKey(const std::string& token) const {
        if (!t_.byteLevel_) return token;
        std::string bytes;
        if (!byteLevelToBytes(token, bytes)) return token;  // e.g. "<|endoftext|>"-like entries
        return bytes;
    }

    int32_t lookup(std::string_view token, const char* what) const {
        auto it = fileVocab_.find(token);
        if (it == fileVocab_.end())
            fail(std::string(what) + " \"" + std::string(token) + "\" is not in the vocabulary");
        return it->second;
    }

    void parseModel(const json& model) {
        const json& vocab = member(model, "vocab");
        if (!vocab.is_object() || vocab.empty()) fail("the model has no \"vocab\" object");
        fileVocab_.reserve(vocab.size());
        t_.vocab_.reserve(vocab.size());
        t_.tokenText_.reserve(vocab.size());
        for (auto it = vocab.begin(); it != vocab.end(); ++it) {
            const int32_t id =
                tokenId(it.value(), "vocab entry \"" + it.key().substr(0, 80) + "\"");
            setToken(id, it.key(), false);
            fileVocab_.emplace(it.key(), id);
            t_.vocab_.emplace(vocabKey(it.key()), id);
        }
        for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
            const json& v = model.value(key, json());
            if (v.is_string() && !v.get<std::string>().empty())
                fail(std::string(key) + " is not supported");
        }
        const json& dropout = member(model, "dropout");
        if (dropout.is_number() && dropout.get<double>() > 0.0)
            fail("BPE dropout is not supported");
        t_.byteFallback_ = model.value("byte_fallback", false);
        t_.fuseUnk_ = model.value("fuse_unk", false);
        t_.ignoreMerges_ = model.value("ignore_merges", false);
        const json& unk = member(model, "unk_token");
        if (unk.is_string()) t_.unkId_ = lookup(unk.get<std::string>(), "unk_token");
        setupByteTables();
        parseMerges(member(model, "merges"));
    }

    void setupByteTables() {
        t_.byteFallbackIds_.fill(-1);
        t_.byteIds_.fill(-1);
        char name[8];
        for (int b = 0; b < 256; ++b) {
            std::snprintf(name, sizeof(name), "<0x%02X>", b);
            auto it = fileVocab_.find(name);
            if (it != fileVocab_.end()) t_.byteFallbackIds_[b] = it->second;
        }
        if (!t_.byteLevel_) return;
        const auto& alphabet = byteLevelAlphabet();
        for (int b = 0; b < 256; ++b) {
            auto it = fileVocab_.find(alphabet[b]);
            // A missing byte symbol makes that byte untokenizable: encode() reports it.
            if (it != fileVocab_.end()) t_.byteIds_[b] = it->second;
        }
    }

    void parseMerges(const json& merges) {
        if (merges.is_null()) return;
        if (!merges.is_array()) fail("\"merges\" is not a list");
        int32_t rank = 0;
        std::string merged;
        for (const json& m : merges) {
            std::string_view left, right;
            if (m.is_string()) {
                const std::string_view s = m.get_ref<const std::string&>();
                const size_t space = s.find(' ', 1);
                if (space == std::string::npos)
                    fail("merge \"" + std::string(s) + "\" is not of the form \"a b\"");
                left = s.substr(0, space);
                right = s.substr(space + 1);
            } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
                left = m[0].get_ref<const std::string&>();
                right = m[1].get_ref<const std::string&>();
            } else {
                fail("merge #" + std::to_string(rank) + " is neither \"a b\" nor [\"a\", \"b\"]");
            }
            merged.assign(left).append(right);
            t_.merges_.add(lookup(left, "merge part"), lookup(right, "merge part"),
                           lookup(merged, "merged token"), rank++);
        }
    }

    void parseAddedTokens(const json& added) {
        if (added.is_null()) return;
        if (!added.is_array()) fail("\"added_tokens\" is not a list");
        std::vector<AddedToken> normalizedTokens;
        for (const json& a : added) {
            if (!a.is_object() || !a.contains("id") || !a.contains("content") ||
                !a["id"].is_number_integer() || !a["content"].is_string())
                fail("an added token lacks \"id\" or \"content\"");
            AddedToken token;
            token.id = tokenId(
                a["id"],
                "added token \"" + a["content"].get_ref<const std::string&>().substr(0, 80) + "\"");
            token.content = a["content"].get<std::string>();
            token.lstrip = a.value("lstrip", false);
            token.rstrip = a.value("rstrip", false);
            token.normalized = a.value("normalized", !a.value("special", false));
            token.special = a.value("special", false);
            setToken(token.id, token.content, true);
            t_.addedIds_[token.content] = token.id;
            if (token.normalized) {
                // HF matches normalized tokens by their normalized form.
                token.content = t_.normalize(token.content);
                t_.normalizedAdded_.add(token);
            } else {
                t_.rawAdded_.add(token);
            }
        }
    }

    HfTokenizer& t_;
    std::string path_;
    // Token as written -> id; keys point into the parsed JSON, alive while loading.
    std::unordered_map<std::string_view, int32_t> fileVocab_;
};

std::unique_ptr<HfTokenizer> HfTokenizer::fromFile(const std::string& path) {
    const std::string text = readRegularFile(path, "a tokenizer.json file");
    checkJsonDepth(text, path);
    json root;
    try {
        root = json::parse(text);
    } catch (const json::exception& e) {
        throw Error(path + ": not valid JSON: " + jsonErrorReason(e));
    }
    return fromJson(root, path);
}

std::unique_ptr<HfTokenizer> HfTokenizer::fromJson(const json& root, const std::string& source) {
    auto tokenizer = std::unique_ptr<HfTokenizer>(new HfTokenizer());
    try {
        HfTokenizerLoader(*tokenizer, source).load(root);
    } catch (const json::exception& e) {
        throw Error(source + ": a tokenizer field has the wrong JSON type (" + jsonErrorReason(e) +
                    ")");
    }
    return tokenizer;
}

}  // namespace ql::tok
