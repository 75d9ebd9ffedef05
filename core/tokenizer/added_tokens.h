// Added/special tokens of a tokenizer.json, matched in the text before the rest of
// the pipeline (Hugging Face semantics: leftmost-longest match; lstrip/rstrip swallow
// the whitespace next to the token).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ql::tok {

struct AddedToken {
    std::string content;
    int32_t id = -1;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = false;
    bool special = false;
};

// A piece of input: plain text (id < 0) or a matched added token.
struct Segment {
    std::string_view text;
    int32_t id = -1;
};

class AddedTokenMatcher {
public:
    void add(const AddedToken& token);  // tokens with empty content are ignored
    bool empty() const { return tokens_.empty(); }

    // Splits `text` into plain-text segments and matched tokens, appended to `out`.
    void split(std::string_view text, std::vector<Segment>& out) const;

private:
    struct Match {
        size_t start, end;
        int32_t id;
    };
    bool findNext(std::string_view text, size_t from, Match& match) const;

    std::vector<AddedToken> tokens_;                    // sorted longest first
    std::array<std::vector<size_t>, 256> byFirstByte_;  // indexes into tokens_
};

}  // namespace ql::tok
