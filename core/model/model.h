// A decoder-only language model (Llama, Mistral, Qwen2, Qwen3) loaded from a
// Hugging Face folder, evaluated in float32 with libtorch. libtorch stays behind
// this facade: the torch-facing API is in transformer.h, private to core/.
#pragma once

#include "base/progress.h"
#include "io/model_config.h"
#include "io/safetensors.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ql {

class Transformer;  // core-private, see model/transformer.h

// The seven projections of a decoder block.
enum class ProjKind { Q, K, V, O, Gate, Up, Down };
std::string projKindName(ProjKind k);  // "q_proj", ..., "down_proj"

struct LinearLayerInfo {
    std::string name;  // "model.layers.3.self_attn.q_proj" (weight tensor = name + ".weight")
    int block = 0;
    ProjKind kind = ProjKind::Q;
    int64_t outFeatures = 0;  // rows
    int64_t inFeatures = 0;   // columns
    bool hasBias = false;
};

struct ModelSummary {
    std::string folder;
    ModelConfig config;
    int64_t parameters = 0;  // unique parameters (tied embedding counted once)
    uint64_t bytesOnDisk = 0;
    uint64_t bytesInMemory = 0;       // float32 weights as evaluated
    std::vector<TensorInfo> tensors;  // every tensor of the checkpoint
    std::vector<LinearLayerInfo> linears;
    // Why there is no config (weights-only), e.g. "no config.json next to the weights".
    std::string weightsOnlyReason;
};

// Sets every pool the engine computes with: libtorch's intra-op (OpenMP) threads, its
// inter-op pool (first call only), OpenBLAS's pool and the engine's kernel threads.
// threads <= 0: the machine's core count; at most kMaxThreads (base/process_env.h).
// OpenMP's per-thread default for threads started later comes from OMP_NUM_THREADS, which
// prepareProcessEnvironment sets before the libraries load.
void setComputeThreads(int threads);

class Model {
public:
    // Loads config.json and the safetensors weights of `folder`. Throws ql::Error
    // for an unsupported architecture, a missing tensor, a shape mismatch, or a weight
    // that is NaN, infinite or too large for float32 (naming the tensor, first row and
    // count: every number of such a model would be nan).
    static std::shared_ptr<Model> load(const std::string& folder);
    // The same model with streamed residency (model/transformer.h): no weight is converted
    // until a block is loaded; the checkpoint stays mapped. For the block-streamed engine.
    // `progress` is asked for cancellation (ql::Cancelled) while the weights are checked,
    // every few MB: the check reads the whole checkpoint (seconds for a 1.5B model).
    static std::shared_ptr<Model> loadStreamed(const std::string& folder,
                                               const ProgressReporter& progress);
    static std::shared_ptr<Model> loadStreamed(const std::string& folder);
    ~Model();

    const ModelConfig& config() const;
    const ModelSummary& summary() const;
    const std::vector<LinearLayerInfo>& linears() const;

    // Mean next-token NLL (natural log) of ids[1..] given their prefixes, one sequence.
    double meanNll(const std::vector<int32_t>& ids) const;
    // Logits at the last position of one sequence.
    std::vector<float> lastLogits(const std::vector<int32_t>& ids) const;

    // Weight of a linear layer (row-major [out, in]) and replacing it (e.g. by
    // dequantized weights); restoreWeights() puts every original weight back.
    std::vector<float> linearWeight(const std::string& name) const;
    void setLinearWeight(const std::string& name, const std::vector<float>& rowMajor);
    void restoreWeights();

    Transformer& transformer();  // core-internal use (quant, run)
    const Transformer& transformer() const;

private:
    Model();
    static std::shared_ptr<Model> loadModel(const std::string& folder, bool streamed,
                                            const ProgressReporter& progress);
    std::unique_ptr<Transformer> net_;
    ModelSummary summary_;
};

// Values a float32 forward pass cannot use: NaN, +-Inf, or |w| > 2^64 (its square
// overflows float32). count == 0: none. firstRow: row (index / cols) of the first one.
struct UnusableWeights {
    std::string tensor;
    int64_t firstRow = -1;
    uint64_t count = 0;
};
UnusableWeights findUnusableWeights(const std::string& tensor, const float* values, size_t count,
                                    int64_t cols);
// The first floating tensor of the checkpoint holding unusable values (count 0: none).
// Asks `progress` for cancellation every kScanChunkElements values (throws ql::Cancelled).
UnusableWeights scanUnusableWeights(const TensorStore& store,
                                    const ProgressReporter& progress = ProgressReporter({}));
constexpr size_t kScanChunkElements = size_t(1) << 22;  // 8 MB of BF16
// "tensor 'X' has N value(s) that are NaN, infinite or beyond 1.8e19 (first in row R)".
std::string describeUnusable(const UnusableWeights& u);

// Weights-only summary of any .safetensors file or folder (any architecture).
ModelSummary inspectCheckpoint(const std::string& fileOrFolder);

}  // namespace ql
