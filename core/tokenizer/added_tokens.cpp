#include "tokenizer/added_tokens.h"

#include <algorithm>

namespace ql::tok {

namespace {
bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
}  // namespace

void AddedTokenMatcher::add(const AddedToken& token) {
    if (token.content.empty()) return;
    tokens_.push_back(token);
    std::stable_sort(tokens_.begin(), tokens_.end(), [](const AddedToken& a, const AddedToken& b) {
        return a.content.size() > b.content.size();
    });
    for (auto& bucket : byFirstByte_) bucket.clear();
    for (size_t i = 0; i < tokens_.size(); ++i)
        byFirstByte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
}

bool AddedTokenMatcher::findNext(std::string_view text, size_t from, Match& match) const {
    for (size_t pos = from; pos < text.size(); ++pos) {
        const auto& bucket = byFirstByte_[static_cast<unsigned char>(text[pos])];
        for (size_t index : bucket) {  // longest first: leftmost-longest
            const AddedToken& token = tokens_[index];
            if (text.compare(pos, token.content.size(), token.content) != 0) continue;
            match = {pos, pos + token.content.size(), token.id};
            if (token.lstrip)
                while (match.start > from && isSpace(text[match.start - 1])) --match.start;
            if (token.rstrip)
                while (match.end < text.size() && isSpace(text[match.end])) ++match.end;
            return true;
        }
    }
    return false;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
    size_t pos = 0;
    Match match{};
    while (!tokens_.empty() && findNext(text, pos, match)) {
        if (match.start > pos) out.push_back({text.substr(pos, match.start - pos), -1});
        out.push_back({text.substr(match.start, match.end - match.start), match.id});
        pos = match.end;
    }
    if (pos < text.size()) out.push_back({text.substr(pos), -1});
}

}  // namespace ql::tok
