#include "fuzz_texts.h"

#include "fuzz_common.h"

#include <cstdio>
#include <cstdlib>

namespace qlfuzz {

void exerciseTokenizer(const ql::Tokenizer& tokenizer) {
    static const char* const kTexts[] = {
        "Once upon a time, there was a little girl named Lily.",
        "  leading and\ttabs\n\nnewlines   ",
        "caf\xC3\xA9 cafe\xCC\x81 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\xA4\x97 I'm we'll",
        "<|endoftext|><s></s><unk> <|im_start|>user",
        "\x01\x7F \xFF\xFE broken \xC3 utf-8",
        "",
    };
    qlfuzz::sink(uint64_t(tokenizer.vocabSize()) + tokenizer.bosId().value_or(0));
    for (const char* text : kTexts) {
        const std::vector<int32_t> ids = tokenizer.encode(text);
        for (int32_t id : ids) {
            // Ids outside the vocabulary would index embeddings out of range later.
            if (id < 0 || id >= tokenizer.vocabSize()) {
                std::fprintf(stderr, "encode produced id %d outside the vocabulary of %d\n", id,
                             tokenizer.vocabSize());
                std::abort();
            }
        }
        qlfuzz::sink(tokenizer.decode(ids).size());
    }
}

}  // namespace qlfuzz
