// Incremental (KV-cached) decoding of a ql::Model: the prompt is fed once (prefill), then
// one token per step, each attending to the keys and values every block cached for the
// earlier tokens. Every projection goes through the model's own path (Transformer's
// applyLinear), so packed kernels (Linear::kernel) and input quantizers apply unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace ql {

class Model;

class Decoder {
public:
    // `model` must be resident (Model::load) and outlive the decoder; its weights may be
    // changed between resets (a decoder holds no weights, only the cache).
    explicit Decoder(const Model& model);
    ~Decoder();
    Decoder(const Decoder&) = delete;
    Decoder& operator=(const Decoder&) = delete;

    // Feeds `ids` at the next positions and returns the logits after the last one
    // ([vocab]). Throws ql::Error for an id outside the vocabulary, an empty list, or a
    // sequence longer than max_position_embeddings.
    std::vector<float> feed(const std::vector<int32_t>& ids);
    // The same, returning the logits after every fed token (row-major [ids.size(), vocab]).
    std::vector<float> feedAll(const std::vector<int32_t>& ids);

    int64_t position() const;  // tokens fed since the last reset
    // Bytes the K/V caches hold now: their storage, with the room a one-token step keeps for
    // the next positions (up to 255 per block) and a window's dropped entries until the
    // storage is replaced. The memory a user of the decoder pays.
    uint64_t cacheBytes() const;
    // Bytes of the cached keys and values themselves (blocks x 2 x KV heads x positions x
    // head_dim x 4): what the cache would hold with no spare room.
    uint64_t cachedValueBytes() const;
    void reset();  // forget every token (the cache is released)

private:
    struct State;
    std::vector<float> run(const std::vector<int32_t>& ids, bool allRows);
    const Model& model_;
    std::unique_ptr<State> state_;
};

}  // namespace ql
