// KV-cached decoding: per block a BlockCache (transformer.h) of the keys and values seen.
#include "model/decoder.h"

#include "base/error.h"
#include "model/model.h"
#include "model/stage_profile.h"
#include "model/torch_errors.h"
#include "model/transformer.h"

#include <new>
#include <set>

namespace ql {

struct Decoder::State {
    std::vector<BlockCache> blocks;
    int64_t position = 0;
};

Decoder::Decoder(const Model& model) : model_(model), state_(std::make_unique<State>()) {
    if (model.transformer().residency() != Residency::Resident)
        throw Error("internal: incremental decoding needs a resident model");
    reset();
}

Decoder::~Decoder() = default;

void Decoder::reset() {
    state_->blocks.assign(size_t(model_.config().numLayers), BlockCache{});
    state_->position = 0;
}

int64_t Decoder::position() const {
    return state_->position;
}

uint64_t Decoder::cacheBytes() const {
    // Each storage once: k and v are views of kStore and vStore after a one-token step, and
    // of a larger tensor after a window dropped entries.
    std::set<const void*> seen;
    uint64_t bytes = 0;
    for (const BlockCache& c : state_->blocks)
        for (const at::Tensor* t : {&c.k, &c.v, &c.kStore, &c.vStore})
            if (t->defined() && seen.insert(t->storage().data()).second)
                bytes += uint64_t(t->storage().nbytes());
    return bytes;
}

uint64_t Decoder::cachedValueBytes() const {
    uint64_t bytes = 0;
    for (const BlockCache& c : state_->blocks)
        if (c.length() > 0) bytes += uint64_t(c.keys().nbytes() + c.values().nbytes());
    return bytes;
}

std::vector<float> Decoder::feed(const std::vector<int32_t>& ids) {
    return run(ids, false);
}

std::vector<float> Decoder::feedAll(const std::vector<int32_t>& ids) {
    return run(ids, true);
}

std::vector<float> Decoder::run(const std::vector<int32_t>& ids, bool allRows) {
    if (ids.empty()) throw Error("decoding needs at least one token");
    const ModelConfig& c = model_.config();
    if (c.maxPositions > 0 && state_->position + int64_t(ids.size()) > c.maxPositions)
        throw Error("the sequence would be " + std::to_string(state_->position + ids.size()) +
                    " tokens, more than the model's max_position_embeddings (" +
                    std::to_string(c.maxPositions) + ")");
    const Transformer& net = model_.transformer();
    try {
        at::NoGradGuard noGrad;
        const at::Tensor tokens =
            at::from_blob(const_cast<int32_t*>(ids.data()), {1, int64_t(ids.size())}, at::kInt)
                .to(at::kLong);
        StageClock clock;
        at::Tensor hidden = net.embed(tokens);
        clock.mark(Stage::Embed);
        for (int b = 0; b < c.numLayers; ++b)
            hidden = net.blockCached(b, std::move(hidden), state_->blocks[size_t(b)]);
        StageClock headClock;
        // Only the rows asked for go through the output head (vocab x hidden each).
        if (!allRows) hidden = hidden.narrow(1, hidden.size(1) - 1, 1);
        // The logits written straight into the vector returned (a decode step's 0.6 MB at
        // Qwen2.5's vocabulary: no copy for a quantized head).
        std::vector<float> out(size_t(hidden.size(1)) * size_t(c.vocabSize));
        at::Tensor logits = at::from_blob(out.data(), {1, hidden.size(1), c.vocabSize}, at::kFloat);
        net.headInto(hidden, logits);
        headClock.mark(Stage::Head);
        state_->position += int64_t(ids.size());
        headClock.mark(Stage::Logits);
        return out;
    } catch (const c10::Error& e) {
        reset();  // a failed step leaves some blocks ahead of the others
        throwTorchError(e, "decoding");
    } catch (const std::bad_alloc&) {
        reset();
        throwOutOfMemory("decoding");
    } catch (...) {
        reset();
        throw;
    }
}

}  // namespace ql
