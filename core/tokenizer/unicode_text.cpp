#include "tokenizer/unicode_text.h"

#include "base/error.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/utypes.h>

#include <cstdint>

namespace ql::tok {

size_t firstInvalidUtf8(std::string_view text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len = 0;
        char32_t cp = 0;
        if ((c >> 5) == 0x6) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c >> 4) == 0xE) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c >> 3) == 0x1E) {
            len = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + len > n) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        // Overlong forms, surrogates and values beyond U+10FFFF are invalid.
        const char32_t minimum = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        if (cp < minimum || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += len;
    }
    return std::string_view::npos;
}

std::string encodeUtf8(char32_t cp) {
    std::string out;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
}

static bool isAscii(std::string_view text) {
    for (char c : text)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

std::string normalizeUnicode(std::string_view text, NormalForm form) {
    if (isAscii(text)) return std::string(text);  // ASCII is invariant under all four forms
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* normalizer = nullptr;
    switch (form) {
        case NormalForm::NFC:
            normalizer = icu::Normalizer2::getNFCInstance(status);
            break;
        case NormalForm::NFD:
            normalizer = icu::Normalizer2::getNFDInstance(status);
            break;
        case NormalForm::NFKC:
            normalizer = icu::Normalizer2::getNFKCInstance(status);
            break;
        case NormalForm::NFKD:
            normalizer = icu::Normalizer2::getNFKDInstance(status);
            break;
    }
    if (U_FAILURE(status) || !normalizer)
        throw Error(std::string("ICU normalizer unavailable: ") + u_errorName(status));
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    icu::StringByteSink<std::string> sink(&out);
    normalizer->normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())),
                              sink, nullptr, status);
    if (U_FAILURE(status))
        throw Error(std::string("Unicode normalization failed: ") + u_errorName(status));
    return out;
}

const std::array<std::string, 256>& byteLevelAlphabet() {
    static const std::array<std::string, 256> alphabet = [] {
        std::array<std::string, 256> map;
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            map[b] = encodeUtf8(printable ? static_cast<char32_t>(b) : next++);
        }
        return map;
    }();
    return alphabet;
}

bool byteLevelToBytes(std::string_view text, std::string& bytes) {
    // Code point -> byte; the alphabet uses code points below 324 only.
    static const std::array<int16_t, 324> inverse = [] {
        std::array<int16_t, 324> map;
        map.fill(-1);
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            map[printable ? static_cast<size_t>(b) : static_cast<size_t>(next++)] =
                static_cast<int16_t>(b);
        }
        return map;
    }();
    bytes.clear();
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    for (size_t i = 0; i < n;) {
        char32_t cp = 0;
        if (s[i] < 0x80) {
            cp = s[i++];
        } else if ((s[i] >> 5) == 0x6 && i + 1 < n) {  // 2-byte sequence: enough below U+0800
            cp = ((s[i] & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
            i += 2;
        } else {
            return false;
        }
        if (cp >= inverse.size() || inverse[cp] < 0) return false;
        bytes += static_cast<char>(inverse[cp]);
    }
    return true;
}

}  // namespace ql::tok
