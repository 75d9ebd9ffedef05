// SentencePiece BPE, following sentencepiece's normalizer.cc (identity rule) and
// bpe_model.cc: highest-score merge of adjacent symbols first, leftmost on ties;
// unknown symbols fall back to <0xNN> byte pieces when the model enables it.
#include "tokenizer/sp_tokenizer.h"

#include "base/error.h"
#include "base/file_util.h"
#include "tokenizer/unicode_text.h"

#include <algorithm>
#include <cstring>
#include <queue>

namespace ql::tok {

namespace {

const char* kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's whitespace symbol

// Minimal protobuf wire-format reader (varint, 32/64-bit, length-delimited).
class ProtoReader {
public:
    ProtoReader(std::string_view data, const std::string& file) : data_(data), file_(file) {}
    bool next(uint32_t& field, uint32_t& wireType) {
        if (pos_ >= data_.size()) return false;
        const uint64_t key = varint();
        field = static_cast<uint32_t>(key >> 3);
        wireType = static_cast<uint32_t>(key & 7);
        return true;
    }
    uint64_t varint() {
        uint64_t value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos_ >= data_.size()) fail();
            const auto byte = static_cast<unsigned char>(data_[pos_++]);
            value |= static_cast<uint64_t>(byte & 0x7F) << shift;
            if (byte < 0x80) return value;
        }
        fail();
    }
    std::string_view bytes() {
        const uint64_t length = varint();
        if (length > data_.size() - pos_) fail();
        const std::string_view out = data_.substr(pos_, length);
        pos_ += length;
        return out;
    }
    float fixed32Float() {
        if (data_.size() - pos_ < 4) fail();
        float value;
        std::memcpy(&value, data_.data() + pos_, 4);  // little-endian, as on all our targets
        pos_ += 4;
        return value;
    }
    void skip(uint32_t wireType) {
        switch (wireType) {
            case 0:
                varint();
                break;
            case 1:
                advance(8);
                break;
            case 2:
                bytes();
                break;
            case 5:
                advance(4);
                break;
            default:
                fail();
        }
    }

private:
    void advance(size_t n) {
        if (data_.size() - pos_ < n) fail();
        pos_ += n;
    }
    [[noreturn]] void fail() const {
        throw Error("cannot load SentencePiece model " + file_ + ": not a valid model file");
    }
    std::string_view data_;
    const std::string& file_;
    size_t pos_ = 0;
};

// The byte of a "<0xNN>" piece, or -1.
int bytePieceValue(const std::string& text) {
    if (text.size() != 6 || text.compare(0, 3, "<0x") != 0 || text[5] != '>') return -1;
    int value = 0;
    for (size_t i = 3; i < 5; ++i) {
        const char c = text[i];
        const int digit = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                 : -1;
        if (digit < 0) return -1;
        value = value * 16 + digit;
    }
    return value;
}

// Special ids are read as 64-bit varints: keep them out of int32 wrap-around.
int32_t specialId(uint64_t raw) {
    const auto v = static_cast<int64_t>(raw);
    return v < -1 || v > (int64_t(1) << 30) ? int32_t(1) << 30 : static_cast<int32_t>(v);
}

SpTokenizer::Piece parsePiece(std::string_view data, const std::string& file) {
    SpTokenizer::Piece piece;
    ProtoReader r(data, file);
    uint32_t field, wire;
    while (r.next(field, wire)) {
        if (field == 1 && wire == 2)
            piece.text = std::string(r.bytes());
        else if (field == 2 && wire == 5)
            piece.score = r.fixed32Float();
        else if (field == 3 && wire == 0)
            piece.type = static_cast<int>(r.varint());
        else
            r.skip(wire);
    }
    return piece;
}

}  // namespace

SpTokenizer::SpTokenizer(const std::string& path) {
    const std::string data = readRegularFile(path, "a SentencePiece tokenizer.model file");
    std::string normalizerName, charsMap;
    int modelType = 1;  // UNIGRAM is the proto default
    ProtoReader r(data, path);
    uint32_t field, wire;
    while (r.next(field, wire)) {
        if (field == 1 && wire == 2) {
            pieces_.push_back(parsePiece(r.bytes(), path));
        } else if (field == 2 && wire == 2) {  // TrainerSpec
            ProtoReader t(r.bytes(), path);
            while (t.next(field, wire)) {
                if (wire != 0)
                    t.skip(wire);
                else if (field == 3)
                    modelType = static_cast<int>(t.varint());
                else if (field == 35)
                    byteFallback_ = t.varint() != 0;
                else if (field == 40)
                    unkId_ = specialId(t.varint());
                else if (field == 41)
                    bosId_ = specialId(t.varint());
                else if (field == 42)
                    eosId_ = specialId(t.varint());
                else if (field == 24 && t.varint() != 0)
                    throw Error("SentencePiece model " + path +
                                ": treat_whitespace_as_suffix is not supported");
                else if (field != 24)
                    t.skip(wire);
            }
        } else if (field == 3 && wire == 2) {  // NormalizerSpec
            ProtoReader n(r.bytes(), path);
            while (n.next(field, wire)) {
                if (field == 1 && wire == 2)
                    normalizerName = std::string(n.bytes());
                else if (field == 2 && wire == 2)
                    charsMap = std::string(n.bytes());
                else if (field == 3 && wire == 0)
                    addDummyPrefix_ = n.varint() != 0;
                else if (field == 4 && wire == 0)
                    removeExtraWhitespaces_ = n.varint() != 0;
                else if (field == 5 && wire == 0)
                    escapeWhitespaces_ = n.varint() != 0;
                else
                    n.skip(wire);
            }
        } else {
            r.skip(wire);
        }
    }
    if (pieces_.empty()) throw Error("SentencePiece model " + path + " has no pieces");
    if (modelType != 2)
        throw Error("SentencePiece model " + path + ": only BPE models are supported (model type " +
                    std::to_string(modelType) + ")");
    if (!charsMap.empty() || (!normalizerName.empty() && normalizerName != "identity"))
        throw Error("SentencePiece model " + path + ": normalization rule '" + normalizerName +
                    "' is not supported (only identity)");
    indexPieces(path);
}

SpTokenizer::SpTokenizer(std::vector<Piece> pieces, const Options& options,
                         const std::string& source) {
    pieces_ = std::move(pieces);
    if (pieces_.empty()) throw Error(source + ": the vocabulary has no tokens");
    addDummyPrefix_ = options.addDummyPrefix;
    removeExtraWhitespaces_ = options.removeExtraWhitespaces;
    unkId_ = options.unkId;
    bosId_ = options.bosId;
    eosId_ = options.eosId;
    for (const Piece& p : pieces_) byteFallback_ = byteFallback_ || p.type == Byte;
    indexPieces(source);
}

// The lookup tables of pieces_ (and the unknown id from its Unknown piece).
void SpTokenizer::indexPieces(const std::string& path) {
    std::fill(std::begin(byteIds_), std::end(byteIds_), -1);
    for (size_t i = 0; i < pieces_.size(); ++i) {
        const Piece& p = pieces_[i];
        const auto id = static_cast<int32_t>(i);
        if (p.type == Normal || p.type == UserDefined || p.type == Unused)
            mergeable_.emplace(p.text, id);
        else
            reserved_.emplace(p.text, id);
        if (p.type == UserDefined && !p.text.empty()) userDefined_.push_back(p.text);
        if (p.type == Byte) {
            const int byte = bytePieceValue(p.text);
            if (byte < 0)
                throw Error(path + ": byte piece #" + std::to_string(i) + " is '" +
                            p.text.substr(0, 40) + "', expected <0xNN>");
            byteIds_[byte] = id;
        }
        if (p.type == Unknown) unkId_ = id;
    }
    checkSpecialIds(path);
    std::sort(userDefined_.begin(), userDefined_.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

// Every id read from the file indexes pieces_: the unknown id must be a piece, BOS and
// EOS a piece or -1 (disabled).
void SpTokenizer::checkSpecialIds(const std::string& path) const {
    const auto check = [&](const char* field, int32_t id, bool optional) {
        if ((optional && id == -1) || (id >= 0 && id < vocabSize())) return;
        throw Error(path + ": trainer_spec." + field + " is " + std::to_string(id) +
                    ", expected a piece index from 0 to " + std::to_string(vocabSize() - 1) +
                    (optional ? " or -1" : ""));
    };
    check("unk_id", unkId_, false);
    check("bos_id", bosId_, true);
    check("eos_id", eosId_, true);
}

std::optional<int32_t> SpTokenizer::idOf(const std::string& token) const {
    if (auto it = reserved_.find(token); it != reserved_.end()) return it->second;
    if (auto it = mergeable_.find(token); it != mergeable_.end()) return it->second;
    return std::nullopt;
}

// normalizer.cc with the identity rule: drop leading spaces, add the dummy prefix,
// collapse runs of spaces, escape them as U+2581, drop trailing spaces.
std::string SpTokenizer::normalize(std::string_view input) const {
    std::string out;
    if (removeExtraWhitespaces_)
        while (!input.empty() && input.front() == ' ') input.remove_prefix(1);
    if (input.empty()) return out;
    const std::string space = escapeWhitespaces_ ? kSpace : " ";
    out.reserve(input.size() + input.size() / 4);
    if (addDummyPrefix_) out += space;
    bool previousSpace = removeExtraWhitespaces_;
    while (!input.empty()) {
        size_t length = utf8CharLength(static_cast<unsigned char>(input[0]));
        std::string_view ch = input.substr(0, std::min(length, input.size()));
        if (firstInvalidUtf8(ch) != std::string_view::npos) {
            ch = "\xEF\xBF\xBD";  // malformed UTF-8 -> U+FFFD, one byte consumed
            length = 1;
        }
        input.remove_prefix(std::min(length, input.size()));
        if (ch == " ") {
            if (!(previousSpace && removeExtraWhitespaces_)) out += space;
            previousSpace = true;
        } else {
            out += ch;
            previousSpace = false;
        }
        if (!removeExtraWhitespaces_) previousSpace = false;
    }
    if (removeExtraWhitespaces_)
        while (out.size() >= space.size() &&
               out.compare(out.size() - space.size(), space.size(), space) == 0)
            out.resize(out.size() - space.size());
    return out;
}

void SpTokenizer::mergeSymbols(const std::string& normalized,
                               std::vector<std::string_view>& symbols,
                               UnusedSplits& unusedSplits) const {
    struct Symbol {
        std::string_view piece;
        int prev, next;
        bool frozen;  // user-defined symbols are never merged
    };
    std::vector<Symbol> syms;
    const std::string_view text(normalized);
    for (size_t pos = 0; pos < text.size();) {
        size_t length = 0;
        bool frozen = false;
        for (const std::string& user : userDefined_)
            if (text.compare(pos, user.size(), user) == 0) {
                length = user.size();
                frozen = true;
                break;
            }
        if (!length)
            length =
                std::min(utf8CharLength(static_cast<unsigned char>(text[pos])), text.size() - pos);
        const int index = static_cast<int>(syms.size());
        syms.push_back({text.substr(pos, length), index - 1, -1, frozen});
        pos += length;
        if (pos < text.size()) syms.back().next = index + 1;
    }
    struct Pair {
        float score;
        int left, right;
        size_t size;
    };
    auto lower = [](const Pair& a, const Pair& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Pair, std::vector<Pair>, decltype(lower)> agenda(lower);
    auto maybeAdd = [&](int left, int right) {
        if (left < 0 || right < 0 || syms[left].frozen || syms[right].frozen) return;
        const std::string_view merged(syms[left].piece.data(),
                                      syms[left].piece.size() + syms[right].piece.size());
        auto it = mergeable_.find(merged);
        if (it == mergeable_.end()) return;
        agenda.push({pieces_[it->second].score, left, right, merged.size()});
        // Unused pieces are split back into their parts on output (sentencepiece's rev_merge).
        if (pieces_[it->second].type == Unused)
            unusedSplits[merged] = {syms[left].piece, syms[right].piece};
    };
    for (size_t i = 1; i < syms.size(); ++i) maybeAdd(static_cast<int>(i) - 1, static_cast<int>(i));
    while (!agenda.empty()) {
        const Pair top = agenda.top();
        agenda.pop();
        Symbol& left = syms[top.left];
        Symbol& right = syms[top.right];
        if (left.piece.empty() || right.piece.empty() ||
            left.piece.size() + right.piece.size() != top.size)
            continue;  // stale: one side was merged elsewhere since
        left.piece = std::string_view(left.piece.data(), top.size);
        left.next = right.next;
        if (right.next >= 0) syms[right.next].prev = top.left;
        right.piece = std::string_view();
        maybeAdd(left.prev, top.left);
        maybeAdd(top.left, left.next);
    }
    symbols.clear();
    for (int i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) symbols.push_back(syms[i].piece);
}

void SpTokenizer::emit(std::string_view piece, std::vector<int32_t>& out,
                       const UnusedSplits& unusedSplits) const {
    int32_t id = unkId_;
    if (auto it = reserved_.find(piece); it != reserved_.end())
        id = it->second;
    else if (auto m = mergeable_.find(piece); m != mergeable_.end())
        id = m->second;
    if (pieces_[id].type == Unused) {  // resegment unused pieces into their parts
        if (auto split = unusedSplits.find(piece); split != unusedSplits.end()) {
            emit(split->second.first, out, unusedSplits);
            emit(split->second.second, out, unusedSplits);
            return;
        }
    }
    if (id == unkId_ && byteFallback_) {
        for (unsigned char b : piece) out.push_back(byteIds_[b] >= 0 ? byteIds_[b] : unkId_);
        return;
    }
    out.push_back(id);
}

std::vector<int32_t> SpTokenizer::encode(std::string_view text) const {
    const std::string normalized = normalize(text);
    std::vector<std::string_view> symbols;
    UnusedSplits unusedSplits;
    mergeSymbols(normalized, symbols, unusedSplits);
    std::vector<int32_t> out;
    out.reserve(symbols.size());
    for (std::string_view piece : symbols) emit(piece, out, unusedSplits);
    return out;
}

std::string SpTokenizer::decode(const std::vector<int32_t>& ids) const {
    std::string text, bytes;
    auto flushBytes = [&] {
        if (firstInvalidUtf8(bytes) == std::string::npos)
            text += bytes;
        else
            for (size_t i = 0; i < bytes.size(); ++i) text += "\xEF\xBF\xBD";
        bytes.clear();
    };
    for (int32_t id : ids) {
        if (id < 0 || id >= vocabSize())
            throw Error("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                        std::to_string(vocabSize()) + ")");
        const Piece& p = pieces_[static_cast<size_t>(id)];
        if (p.type == Byte) {
            bytes += static_cast<char>(bytePieceValue(p.text));
            continue;
        }
        flushBytes();
        if (p.type == Control) continue;
        text += p.type == Unknown ? std::string(" \xE2\x81\x87 ") : p.text;
    }
    flushBytes();
    std::string out;
    out.reserve(text.size());
    const std::string_view space(kSpace);
    for (size_t i = 0; i < text.size();) {
        if (text.compare(i, space.size(), space) == 0) {
            out += ' ';
            i += space.size();
        } else {
            out += text[i++];
        }
    }
    if (addDummyPrefix_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
}

}  // namespace ql::tok
