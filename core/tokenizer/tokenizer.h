// Tokenizers: Hugging Face tokenizer.json (BPE: byte-level GPT-2/Qwen style and
// Llama/SentencePiece style) and SentencePiece tokenizer.model (libsentencepiece).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ql {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // path: a model folder (tokenizer.json preferred, else tokenizer.model),
    // a tokenizer.json or a tokenizer.model. Throws ql::Error with a clear message.
    static std::unique_ptr<Tokenizer> load(const std::string& path);

    // No special tokens are added; special/added tokens written in the text are
    // matched as such (Hugging Face add_special_tokens=false semantics).
    virtual std::vector<int32_t> encode(std::string_view text) const = 0;
    virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
    virtual int vocabSize() const = 0;
    virtual std::optional<int32_t> bosId() const = 0;
    virtual std::optional<int32_t> eosId() const = 0;
    virtual std::string kind() const = 0;  // "bpe-bytelevel", "bpe-sentencepiece", "sentencepiece"
};

}  // namespace ql
