// Harness: a SentencePiece tokenizer.model (protobuf), loaded as Tokenizer::load does,
// then used to encode and decode short texts.
#include "base/error.h"
#include "fuzz_common.h"
#include "fuzz_texts.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = qlfuzz::writeScratch("tokenizer.model", data, size);
    try {
        qlfuzz::exerciseTokenizer(*ql::Tokenizer::load(path));
    } catch (const ql::Error&) {
    }
    return 0;
}
