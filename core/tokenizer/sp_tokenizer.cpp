#include "tokenizer/sp_tokenizer.h"

#include "base/error.h"

#include <sentencepiece_processor.h>

namespace ql::tok {

SpTokenizer::SpTokenizer(const std::string& path)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
    const auto status = sp_->Load(path);
    if (!status.ok())
        throw Error("cannot load SentencePiece model " + path + ": " + status.ToString());
}

SpTokenizer::~SpTokenizer() = default;

std::vector<int32_t> SpTokenizer::encode(std::string_view text) const {
    std::vector<int> ids;
    const auto status = sp_->Encode(text, &ids);
    if (!status.ok()) throw Error("SentencePiece encoding failed: " + status.ToString());
    return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string SpTokenizer::decode(const std::vector<int32_t>& ids) const {
    const int size = vocabSize();
    for (int32_t id : ids)
        if (id < 0 || id >= size)
            throw Error("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                        std::to_string(size) + ")");
    std::string text;
    const auto status = sp_->Decode(std::vector<int>(ids.begin(), ids.end()), &text);
    if (!status.ok()) throw Error("SentencePiece decoding failed: " + status.ToString());
    return text;
}

int SpTokenizer::vocabSize() const {
    return sp_->GetPieceSize();
}

std::optional<int32_t> SpTokenizer::idOf(const std::string& token) const {
    const int id = sp_->PieceToId(token);
    // PieceToId answers unk_id for unknown pieces; only "<unk>" itself may map there.
    if (id < 0 || (id == sp_->unk_id() && token != sp_->IdToPiece(id))) return std::nullopt;
    return id;
}

std::optional<int32_t> SpTokenizer::modelBos() const {
    return sp_->bos_id() >= 0 ? std::optional<int32_t>(sp_->bos_id()) : std::nullopt;
}

std::optional<int32_t> SpTokenizer::modelEos() const {
    return sp_->eos_id() >= 0 ? std::optional<int32_t>(sp_->eos_id()) : std::nullopt;
}

}  // namespace ql::tok
