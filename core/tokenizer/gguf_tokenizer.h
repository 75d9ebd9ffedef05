// tokenizer-private: the tokenizer of a GGUF file, built from its tokenizer.ggml.* metadata.
#pragma once

#include "tokenizer/tokenizer.h"

#include <memory>
#include <string>

namespace ql::tok {

// tokenizer.ggml.model "llama" (SentencePiece: tokens, scores, token types) becomes an
// SpTokenizer; "gpt2" (byte-level BPE: tokens, merges, pre-tokenizer by tokenizer.ggml.pre)
// an HfTokenizer. Throws ql::Error naming the file and the key for anything else.
std::unique_ptr<Tokenizer> loadGgufTokenizer(const std::string& path);

}  // namespace ql::tok
