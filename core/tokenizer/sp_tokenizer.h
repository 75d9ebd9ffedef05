// SentencePiece tokenizer.model through libsentencepiece (e.g. stories260k).
#pragma once

#include "tokenizer/tokenizer_base.h"

#include <memory>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace ql::tok {

class SpTokenizer : public TokenizerBase {
public:
    // Throws ql::Error naming `path` if the model cannot be read.
    explicit SpTokenizer(const std::string& path);
    ~SpTokenizer() override;

    std::vector<int32_t> encode(std::string_view text) const override;
    std::string decode(const std::vector<int32_t>& ids) const override;
    int vocabSize() const override;
    std::string kind() const override { return "sentencepiece"; }
    std::optional<int32_t> idOf(const std::string& token) const override;
    std::optional<int32_t> modelBos() const;
    std::optional<int32_t> modelEos() const;

private:
    std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace ql::tok
