#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex_splitter.h"

#include "base/error.h"

#include <pcre2.h>

namespace ql::tok {

struct RegexSplitter::Impl {
    pcre2_code* code = nullptr;
    bool jit = false;
    ~Impl() {
        if (code) pcre2_code_free(code);
    }
};

RegexSplitter::RegexSplitter(const std::string& pattern) : impl_(std::make_unique<Impl>()) {
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                PCRE2_UTF | PCRE2_UCP, &errorCode, &errorOffset, nullptr);
    if (!impl_->code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(errorCode, message, sizeof(message));
        const std::string shown = pattern.size() > 60 ? pattern.substr(0, 60) + "..." : pattern;
        throw Error("cannot compile the pre-tokenizer regex '" + shown + "' at offset " +
                    std::to_string(errorOffset) + ": " + reinterpret_cast<char*>(message));
    }
    // JIT makes matching ~10x faster; the interpreter remains a correct fallback.
    impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

RegexSplitter::~RegexSplitter() = default;

void RegexSplitter::split(std::string_view text, std::vector<std::string_view>& pieces,
                          bool removeMatches) const {
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0;
    size_t gapStart = 0;
    while (pos < text.size()) {
        const int rc =
            impl_->jit ? pcre2_jit_match(impl_->code, subject, text.size(), pos, 0, match, nullptr)
                       : pcre2_match(impl_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK,
                                     match, nullptr);
        if (rc < 0) break;  // no further match (or a matching error): the rest is a gap
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
        const size_t start = ovector[0];
        const size_t end = ovector[1];
        if (end == start) {  // empty match: step over one character
            pos = start + 1;
            while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80)
                ++pos;
            continue;
        }
        if (start > gapStart) pieces.push_back(text.substr(gapStart, start - gapStart));
        if (!removeMatches) pieces.push_back(text.substr(start, end - start));
        gapStart = pos = end;
    }
    if (gapStart < text.size()) pieces.push_back(text.substr(gapStart));
    pcre2_match_data_free(match);
}

}  // namespace ql::tok
