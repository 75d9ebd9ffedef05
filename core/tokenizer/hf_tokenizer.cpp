// Encoding and decoding of HfTokenizer: added tokens -> normalizer -> pre-tokenizer ->
// BPE per pre-token (with a per-call cache, since words repeat a lot) -> ids.
#include "tokenizer/hf_tokenizer.h"

#include "base/error.h"

namespace ql::tok {

namespace {

const char* kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
    if (from.empty() || s.find(from) == std::string::npos) return;
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
        out.append(s, pos, hit - pos);
        out += to;
    }
    out.append(s, pos, std::string::npos);
    s.swap(out);
}

// Like Rust's String::from_utf8_lossy, one U+FFFD per invalid byte.
std::string toValidUtf8(std::string_view bytes) {
    std::string out;
    while (!bytes.empty()) {
        const size_t bad = firstInvalidUtf8(bytes);
        if (bad == std::string_view::npos) {
            out.append(bytes);
            break;
        }
        out.append(bytes.substr(0, bad));
        out += kReplacementChar;
        bytes.remove_prefix(bad + 1);
    }
    return out;
}

bool parseByteToken(const std::string& token, unsigned char& byte) {
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return false;
    unsigned value = 0;
    for (int i = 3; i < 5; ++i) {
        const char c = token[static_cast<size_t>(i)];
        value <<= 4;
        if (c >= '0' && c <= '9')
            value |= static_cast<unsigned>(c - '0');
        else if (c >= 'A' && c <= 'F')
            value |= static_cast<unsigned>(c - 'A' + 10);
        else
            return false;
    }
    byte = static_cast<unsigned char>(value);
    return true;
}

}  // namespace

// Open-addressing table of pre-token -> span of ids in a flat arena. Words repeat a
// lot in real text, so most pre-tokens are answered here without running BPE.
struct HfTokenizer::WordCache {
    struct Entry {
        std::string_view word;  // data() == nullptr: empty slot
        uint32_t offset = 0, count = 0;
    };
    std::vector<Entry> table = std::vector<Entry>(4096);
    size_t used = 0;
    std::vector<int32_t> ids;

    // The entry for `word`: either its cached span or a fresh slot (word unset).
    Entry& slot(std::string_view word) {
        if ((used + 1) * 2 > table.size()) rehash();
        const size_t mask = table.size() - 1;
        for (size_t i = std::hash<std::string_view>()(word) & mask;; i = (i + 1) & mask) {
            Entry& e = table[i];
            if (!e.word.data() || e.word == word) return e;
        }
    }
    void rehash() {
        std::vector<Entry> old(table.size() * 2);
        old.swap(table);
        const size_t mask = table.size() - 1;
        for (const Entry& e : old) {
            if (!e.word.data()) continue;
            size_t i = std::hash<std::string_view>()(e.word) & mask;
            while (table[i].word.data()) i = (i + 1) & mask;
            table[i] = e;
        }
    }
};

std::optional<int32_t> HfTokenizer::idOf(const std::string& token) const {
    if (auto it = addedIds_.find(token); it != addedIds_.end()) return it->second;
    std::string key;
    if (!byteLevel_ || !byteLevelToBytes(token, key)) key = token;
    if (auto it = vocab_.find(key); it != vocab_.end()) return it->second;
    return std::nullopt;
}

std::string HfTokenizer::normalize(std::string_view text) const {
    std::string s(text);
    for (const NormalizerStep& step : normalizers_) {
        switch (step.kind) {
            case NormalizerStep::Unicode:
                s = normalizeUnicode(s, step.form);
                break;
            case NormalizerStep::Prepend:
                if (!s.empty()) s.insert(0, step.content);
                break;
            case NormalizerStep::Replace:
                replaceAll(s, step.pattern, step.content);
                break;
        }
    }
    return s;
}

void HfTokenizer::preTokenize(std::string_view text, std::vector<std::string_view>& pieces,
                              std::deque<std::string>& storage) const {
    pieces.assign(1, text);
    std::vector<std::string_view> next;
    for (const PreTokenizerStep& step : preTokenizers_) {
        next.clear();
        for (size_t i = 0; i < pieces.size(); ++i) {
            std::string_view piece = pieces[i];
            if (step.kind == PreTokenizerStep::Metaspace) {
                std::string s(piece);
                replaceAll(s, " ", step.replacement);
                const bool prepend = step.prepend && (!step.prependFirstOnly || i == 0);
                if (prepend && s.compare(0, step.replacement.size(), step.replacement) != 0)
                    s.insert(0, step.replacement);
                piece = storage.emplace_back(std::move(s));
                if (!step.splitOnReplacement) {
                    next.push_back(piece);
                    continue;
                }
                // Each replacement character starts a new piece (MergedWithNext).
                size_t start = 0;
                for (size_t hit = piece.find(step.replacement, 1); hit != std::string_view::npos;
                     hit = piece.find(step.replacement, hit + 1)) {
                    next.push_back(piece.substr(start, hit - start));
                    start = hit;
                }
                next.push_back(piece.substr(start));
                continue;
            }
            if (step.kind == PreTokenizerStep::ByteLevel && step.addPrefixSpace &&
                (piece.empty() || piece[0] != ' '))
                piece = storage.emplace_back(" " + std::string(piece));
            if (step.regex)
                step.regex->split(piece, next, step.removeMatches);
            else
                next.push_back(piece);
        }
        pieces.swap(next);
    }
}

void HfTokenizer::initialSymbols(std::string_view word, std::vector<int32_t>& ids,
                                 bool startsWithPrepend) const {
    ids.clear();
    if (byteLevel_) {
        for (unsigned char b : word) {
            if (byteIds_[b] < 0)
                throw Error("the byte-level vocabulary has no token for byte " + std::to_string(b));
            ids.push_back(byteIds_[b]);
        }
        return;
    }
    // SentencePiece-style: one symbol per character; unknown characters become their
    // <0xNN> byte tokens (byte_fallback) or <unk>, consecutive <unk>s fused (fuse_unk).
    bool pendingUnk = false;
    size_t i = 0;
    if (startsWithPrepend && absorbsPrepend(word)) {
        // The reference treats the prepended "▁" as part of an unknown first character
        // (it is aligned with it), so it disappears into that character's <unk>.
        i = leadingPrepend_.size();
        pendingUnk = true;
    }
    while (i < word.size()) {
        const size_t len = utf8CharLength(static_cast<unsigned char>(word[i]));
        const std::string ch(word.substr(i, len));
        i += len;
        if (auto it = vocab_.find(ch); it != vocab_.end()) {
            if (pendingUnk) ids.push_back(unkId_);
            pendingUnk = false;
            ids.push_back(it->second);
            continue;
        }
        if (byteFallback_) {
            bool allBytes = true;
            for (unsigned char b : ch) allBytes = allBytes && byteFallbackIds_[b] >= 0;
            if (allBytes) {
                // HF keeps a pending <unk> across byte-fallback pieces.
                for (unsigned char b : ch) ids.push_back(byteFallbackIds_[b]);
                continue;
            }
        }
        if (unkId_ < 0) continue;  // no unk token: the character is dropped, as in HF
        if (pendingUnk && !fuseUnk_) ids.push_back(unkId_);
        pendingUnk = true;
    }
    if (pendingUnk) ids.push_back(unkId_);
}

bool HfTokenizer::absorbsPrepend(std::string_view word) const {
    if (leadingPrepend_.empty() || unkId_ < 0 || word.size() <= leadingPrepend_.size() ||
        word.compare(0, leadingPrepend_.size(), leadingPrepend_) != 0)
        return false;
    const std::string_view rest = word.substr(leadingPrepend_.size());
    const std::string first(rest.substr(0, utf8CharLength(static_cast<unsigned char>(rest[0]))));
    if (vocab_.count(first)) return false;
    if (!byteFallback_) return true;
    for (unsigned char b : first)
        if (byteFallbackIds_[b] < 0) return true;
    return false;
}

void HfTokenizer::encodeWord(std::string_view word, std::vector<int32_t>& out,
                             bool startsWithPrepend) const {
    if (ignoreMerges_) {
        if (auto it = vocab_.find(std::string(word)); it != vocab_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    thread_local std::vector<int32_t> ids;  // scratch, reused across words
    initialSymbols(word, ids, startsWithPrepend && !byteLevel_);
    merges_.apply(ids);
    out.insert(out.end(), ids.begin(), ids.end());
}

std::vector<int32_t> HfTokenizer::encode(std::string_view text) const {
    if (const size_t bad = firstInvalidUtf8(text); bad != std::string_view::npos)
        throw Error("the text is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
    std::deque<std::string> storage;  // owns normalized text; outlives the cache keys
    WordCache cache;
    std::vector<int32_t> out;
    out.reserve(text.size() / 3);
    std::vector<Segment> raw, normalized;
    rawAdded_.split(text, raw);
    std::vector<std::string_view> pieces;
    for (const Segment& segment : raw) {
        if (segment.id >= 0) {
            out.push_back(segment.id);
            continue;
        }
        const std::string_view norm =
            normalizers_.empty() ? segment.text : storage.emplace_back(normalize(segment.text));
        normalized.clear();
        normalizedAdded_.split(norm, normalized);
        for (const Segment& part : normalized) {
            if (part.id >= 0) {
                out.push_back(part.id);
                continue;
            }
            preTokenize(part.text, pieces, storage);
            for (std::string_view piece : pieces) {
                if (piece.empty()) continue;
                if (!leadingPrepend_.empty() && piece.data() == norm.data()) {
                    encodeWord(piece, out, true);  // the piece that got the prepended text
                    continue;
                }
                WordCache::Entry& entry = cache.slot(piece);
                if (!entry.word.data()) {
                    const size_t offset = cache.ids.size();
                    encodeWord(piece, cache.ids);
                    entry.word = piece;
                    entry.offset = static_cast<uint32_t>(offset);
                    entry.count = static_cast<uint32_t>(cache.ids.size() - offset);
                    ++cache.used;
                }
                const auto begin = cache.ids.begin() + entry.offset;
                out.insert(out.end(), begin, begin + entry.count);
            }
        }
    }
    return out;
}

std::string HfTokenizer::decode(const std::vector<int32_t>& ids) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
        if (id < 0 || static_cast<size_t>(id) >= tokenText_.size())
            throw Error("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                        std::to_string(tokenText_.size()) + ")");
        tokens.push_back(tokenText_[static_cast<size_t>(id)]);
    }
    if (decoders_.empty()) {  // Hugging Face joins undecoded tokens with spaces
        std::string joined;
        for (size_t i = 0; i < tokens.size(); ++i) joined += (i ? " " : "") + tokens[i];
        return joined;
    }
    for (const DecoderStep& step : decoders_) {
        std::vector<std::string> next;
        switch (step.kind) {
            case DecoderStep::Replace:
                for (auto& t : tokens) replaceAll(t, step.pattern, step.content);
                continue;
            case DecoderStep::Strip:
                for (auto& t : tokens) {
                    int cut = 0;
                    while (cut < step.start &&
                           t.compare(0, step.content.size(), step.content) == 0) {
                        t.erase(0, step.content.size());
                        ++cut;
                    }
                    cut = 0;
                    while (cut < step.stop && t.size() >= step.content.size() &&
                           t.compare(t.size() - step.content.size(), step.content.size(),
                                     step.content) == 0) {
                        t.erase(t.size() - step.content.size());
                        ++cut;
                    }
                }
                continue;
            case DecoderStep::Fuse: {
                std::string all;
                for (const auto& t : tokens) all += t;
                next.push_back(std::move(all));
                break;
            }
            case DecoderStep::ByteFallback: {
                std::string bytes;
                auto flush = [&] {
                    if (bytes.empty()) return;
                    if (firstInvalidUtf8(bytes) == std::string::npos)
                        next.push_back(bytes);
                    else
                        for (size_t i = 0; i < bytes.size(); ++i) next.push_back(kReplacementChar);
                    bytes.clear();
                };
                for (auto& t : tokens) {
                    unsigned char b = 0;
                    if (parseByteToken(t, b)) {
                        bytes += static_cast<char>(b);
                    } else {
                        flush();
                        next.push_back(std::move(t));
                    }
                }
                flush();
                break;
            }
            case DecoderStep::ByteLevel: {
                std::string bytes, decoded;
                for (const auto& t : tokens) bytes += byteLevelToBytes(t, decoded) ? decoded : t;
                next.push_back(toValidUtf8(bytes));
                break;
            }
            case DecoderStep::Metaspace:
                for (size_t i = 0; i < tokens.size(); ++i) {
                    replaceAll(tokens[i], step.content, " ");
                    if (i == 0 && step.prepend && !tokens[i].empty() && tokens[i][0] == ' ')
                        tokens[i].erase(0, 1);
                }
                continue;
        }
        tokens.swap(next);
    }
    std::string text;
    for (const auto& t : tokens) text += t;
    return text;
}

}  // namespace ql::tok
