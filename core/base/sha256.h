// SHA-256 (FIPS 180-4), used for the token-id digests of tokenizer-corpus.json.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ql {

std::string sha256Hex(std::string_view data);

// sha256 of the ids written in decimal and joined by commas, no spaces:
// the encoding of ../shared/reference/tokenizer-corpus.json.
std::string tokenIdsSha256(const std::vector<int32_t>& ids);

} // namespace ql
