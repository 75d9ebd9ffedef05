// Hugging Face tokenizer.json with a BPE model: byte-level (GPT-2/Qwen/Llama-3) or
// SentencePiece style (Llama: Prepend/Replace normalizer, byte_fallback, fuse_unk).
#pragma once

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/regex_splitter.h"
#include "tokenizer/tokenizer_base.h"
#include "tokenizer/unicode_text.h"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ql::tok {

struct NormalizerStep {
    enum Kind { Unicode, Prepend, Replace } kind = Unicode;
    NormalForm form = NormalForm::NFC;
    std::string pattern, content;  // Prepend: content; Replace: pattern -> content
};

struct PreTokenizerStep {
    enum Kind { Split, ByteLevel, Metaspace } kind = Split;
    std::shared_ptr<RegexSplitter> regex;  // Split; ByteLevel with use_regex
    bool removeMatches = false;            // Split behavior "Removed"
    bool addPrefixSpace = false;           // ByteLevel
    std::string replacement;               // Metaspace
    bool prependFirstOnly = false;         // Metaspace prepend_scheme "first"
    bool prepend = false;                  // Metaspace prepend_scheme "always"/"first"
    bool splitOnReplacement = true;        // Metaspace split
};

struct DecoderStep {
    enum Kind { Replace, ByteFallback, Fuse, Strip, ByteLevel, Metaspace } kind = Fuse;
    std::string pattern, content;  // Replace; Strip: content; Metaspace: content = replacement
    int start = 0, stop = 0;       // Strip
    bool prepend = false;          // Metaspace: drop the leading space of the first token
};

class HfTokenizer : public TokenizerBase {
public:
    // Parses a tokenizer.json; throws ql::Error naming `path` on any problem.
    static std::unique_ptr<HfTokenizer> fromFile(const std::string& path);
    // The same from a parsed tokenizer.json document (e.g. one built from a GGUF file's
    // tokenizer metadata); errors name `source`.
    static std::unique_ptr<HfTokenizer> fromJson(const nlohmann::json& root,
                                                 const std::string& source);

    std::vector<int32_t> encode(std::string_view text) const override;
    std::string decode(const std::vector<int32_t>& ids) const override;
    int vocabSize() const override { return static_cast<int>(tokenText_.size()); }
    std::string kind() const override { return byteLevel_ ? "bpe-bytelevel" : "bpe-sentencepiece"; }
    std::optional<int32_t> idOf(const std::string& token) const override;

private:
    friend class HfTokenizerLoader;
    struct WordCache;  // pre-token -> ids, for one encode() call (hf_tokenizer.cpp)

    std::string normalize(std::string_view text) const;
    void preTokenize(std::string_view text, std::vector<std::string_view>& pieces,
                     std::deque<std::string>& storage) const;
    void encodeWord(std::string_view word, std::vector<int32_t>& out,
                    bool startsWithPrepend = false) const;
    void initialSymbols(std::string_view word, std::vector<int32_t>& ids,
                        bool startsWithPrepend) const;
    bool absorbsPrepend(std::string_view word) const;

    bool byteLevel_ = false;
    std::vector<NormalizerStep> normalizers_;
    // Content of a Prepend normalizer that runs first (e.g. "▁"), else empty.
    std::string leadingPrepend_;
    std::vector<PreTokenizerStep> preTokenizers_;
    std::vector<DecoderStep> decoders_;
    AddedTokenMatcher rawAdded_;         // normalized = false: matched on the input
    AddedTokenMatcher normalizedAdded_;  // normalized = true: matched after normalization
    std::unordered_map<std::string, int32_t> addedIds_;

    // Model. For byte-level models the vocabulary keys are raw bytes.
    std::unordered_map<std::string, int32_t> vocab_;
    BpeMerges merges_;
    std::array<int32_t, 256> byteIds_{};          // byte-level: id of each byte
    std::array<int32_t, 256> byteFallbackIds_{};  // <0xNN> tokens, -1 if absent
    bool byteFallback_ = false;
    bool fuseUnk_ = false;
    bool ignoreMerges_ = false;
    int32_t unkId_ = -1;

    std::vector<std::string> tokenText_;  // id -> token as written in the file
    std::vector<bool> isAdded_;
};

}  // namespace ql::tok
