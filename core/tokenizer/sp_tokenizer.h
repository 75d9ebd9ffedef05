// SentencePiece tokenizer.model (BPE models such as stories260k and Llama 2), read and
// encoded natively. libsentencepiece is not used: it embeds its own protobuf runtime,
// which clashes with libtorch's libprotobuf in one process (crash at start-up).
#pragma once

#include "tokenizer/tokenizer_base.h"

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ql::tok {

class SpTokenizer : public TokenizerBase {
public:
    // Throws ql::Error naming `path` if the model cannot be read or is not supported.
    explicit SpTokenizer(const std::string& path);

    std::vector<int32_t> encode(std::string_view text) const override;
    std::string decode(const std::vector<int32_t>& ids) const override;
    int vocabSize() const override { return static_cast<int>(pieces_.size()); }
    std::string kind() const override { return "sentencepiece"; }
    std::optional<int32_t> idOf(const std::string& token) const override;
    std::optional<int32_t> modelBos() const { return validId(bosId_); }
    std::optional<int32_t> modelEos() const { return validId(eosId_); }

    // Piece types of sentencepiece_model.proto.
    enum Type { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };
    struct Piece {
        std::string text;
        float score = 0.0f;
        int type = Normal;
    };
    // Every piece in id order (GGUF export writes them as llama.cpp's vocabulary).
    const std::vector<Piece>& pieces() const { return pieces_; }

    // A vocabulary given piece by piece (a GGUF file's tokenizer.ggml.tokens/scores/types):
    // byte fallback when it has Byte pieces. Throws ql::Error naming `source`.
    struct Options {
        bool addDummyPrefix = true;
        bool removeExtraWhitespaces = true;
        int32_t unkId = 0, bosId = -1, eosId = -1;
    };
    SpTokenizer(std::vector<Piece> pieces, const Options& options, const std::string& source);

private:
    using UnusedSplits =
        std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>>;
    void indexPieces(const std::string& path);
    void checkSpecialIds(const std::string& path) const;
    std::string normalize(std::string_view text) const;
    void mergeSymbols(const std::string& normalized, std::vector<std::string_view>& symbols,
                      UnusedSplits& unusedSplits) const;
    void emit(std::string_view piece, std::vector<int32_t>& out,
              const UnusedSplits& unusedSplits) const;
    std::optional<int32_t> validId(int32_t id) const {
        return id >= 0 && id < vocabSize() ? std::optional<int32_t>(id) : std::nullopt;
    }

    std::vector<Piece> pieces_;
    std::unordered_map<std::string_view, int32_t> mergeable_;  // Normal, UserDefined, Unused
    std::unordered_map<std::string_view, int32_t> reserved_;   // Control, Unknown, Byte
    std::vector<std::string> userDefined_;                     // matched whole, longest first
    int32_t byteIds_[256];
    bool byteFallback_ = false;
    bool addDummyPrefix_ = true;
    bool removeExtraWhitespaces_ = true;
    bool escapeWhitespaces_ = true;
    int32_t unkId_ = 0, bosId_ = 1, eosId_ = 2;
};

}  // namespace ql::tok
