// Texts every tokenizer harness encodes: what users feed (stories, wiki text) and the
// corners the reference cases cover (NFC, emoji, CJK, whitespace runs, special tokens).
#pragma once

#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qlfuzz {

void exerciseTokenizer(const ql::Tokenizer& tokenizer);

}  // namespace qlfuzz
