// A PCRE2 regular expression (UTF + UCP, JIT-compiled) that splits text the way the
// Hugging Face `Split` pre-tokenizer does.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ql::tok {

class RegexSplitter {
public:
    // Throws ql::Error naming the pattern if it does not compile.
    explicit RegexSplitter(const std::string& pattern);
    ~RegexSplitter();
    RegexSplitter(const RegexSplitter&) = delete;
    RegexSplitter& operator=(const RegexSplitter&) = delete;

    // Appends to `pieces` the matches and the gaps between them, in order
    // ("Isolated"); with removeMatches only the gaps ("Removed").
    // `text` must be valid UTF-8.
    void split(std::string_view text, std::vector<std::string_view>& pieces,
               bool removeMatches = false) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ql::tok
