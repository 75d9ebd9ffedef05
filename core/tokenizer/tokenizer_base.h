// Internal base of the concrete tokenizers: holds the BOS/EOS ids and lets load()
// look special-token names up in the vocabulary.
#pragma once

#include "tokenizer/tokenizer.h"

namespace ql::tok {

class TokenizerBase : public Tokenizer {
public:
    std::optional<int32_t> bosId() const override { return bos_; }
    std::optional<int32_t> eosId() const override { return eos_; }
    void setSpecialIds(std::optional<int32_t> bos, std::optional<int32_t> eos) {
        bos_ = bos;
        eos_ = eos;
    }
    // Id of a token given by its text (vocabulary or added tokens), if any.
    virtual std::optional<int32_t> idOf(const std::string& token) const = 0;

private:
    std::optional<int32_t> bos_, eos_;
};

}  // namespace ql::tok
