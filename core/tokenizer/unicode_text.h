// Text helpers shared by the tokenizers: UTF-8 validation and iteration, Unicode
// normalization (ICU), and the GPT-2 byte-level alphabet (byte <-> printable char).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace ql::tok {

// Byte offset of the first invalid UTF-8 sequence, or npos when the text is valid.
size_t firstInvalidUtf8(std::string_view text);

// Length in bytes of the UTF-8 character starting with lead byte `lead` (1 for invalid).
inline size_t utf8CharLength(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead >> 5) == 0x6) return 2;
    if ((lead >> 4) == 0xE) return 3;
    if ((lead >> 3) == 0x1E) return 4;
    return 1;
}

std::string encodeUtf8(char32_t codepoint);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
// Unicode normalization of UTF-8 text (ICU). ASCII text is returned unchanged quickly.
std::string normalizeUnicode(std::string_view text, NormalForm form);

// GPT-2 bytes_to_unicode: every byte maps to one printable character (as UTF-8).
const std::array<std::string, 256>& byteLevelAlphabet();
// Inverse mapping of a byte-level string back to raw bytes; false if some character
// is not in the byte-level alphabet.
bool byteLevelToBytes(std::string_view text, std::string& bytes);

}  // namespace ql::tok
