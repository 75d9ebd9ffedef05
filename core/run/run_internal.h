// core/run private: pieces of runQuantization shared between its translation units.
// No torch here; the torch-facing parts (model state swapping, captures, joint
// evaluation) are declared in run_torch.h.
#pragma once

#include "io/safetensors.h"
#include "methods/quantize_layers.h"
#include "model/model.h"
#include "quant/method_registry.h"
#include "quant/weight_analysis.h"
#include "run/run.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

// Times the phases of a run and records the peak RSS at each one's end (see
// PhaseTiming::peakBytes). With QL_PHASE_CPU=1 it also prints each phase's user and system
// CPU seconds and page faults to stderr (where system time goes, phase by phase).
class PhaseRecorder {
public:
    explicit PhaseRecorder(RunResult& run);
    void done(const std::string& phase);

private:
    RunResult& run_;
    double start_;
    double user_ = 0, sys_ = 0;
    long minorFaults_ = 0, majorFaults_ = 0;
};

// Glob with '*' (any run, also empty) and '?' (one character); the whole text must match.
bool globMatch(const std::string& pattern, const std::string& text);

// Text -> token ids as runs tokenize (the installed RunTokenizer, else the model's own).
std::vector<int32_t> runTokenize(const std::string& modelDir, const std::string& text);

// The layers of `all` chosen by `selection`, in model order. Throws ql::Error when
// nothing is selected.
std::vector<LinearLayerInfo> selectLayers(const std::vector<LinearLayerInfo>& all,
                                          const LayerSelection& selection);

// The seven projections of every decoder block, read from the checkpoint's tensor
// names and shapes only (no model load).
std::vector<LinearLayerInfo> checkpointLinears(const TensorStore& store, int numLayers);

// RTN or cast of one weight without a model (weights-only runs): the same grid,
// fallback rule and codes as quantizeLayers' RTN. Fills `lq`, reusing its buffers. `place`
// names the layer and its shape (and, for llama.cpp mixes, its place in the model).
void quantizeWeightOnly(LayerQuantization& lq, const LayerPlace& place, const std::vector<float>& w,
                        const Recipe& recipe);
// The checkpoint of a "compare a quantized file with its original" run (null otherwise).
using Checkpoint = std::shared_ptr<const QuantizedCheckpoint>;
// Fills `lq` with the checkpoint's weight of layer `name` (rows x cols) and its type.
void checkpointWeight(LayerQuantization& lq, const std::string& name,
                      const QuantizedCheckpoint& checkpoint, int64_t rows, int64_t cols);
// Where a layer of a model with config `c` sits (quant/method_registry.h).
LayerPlace layerPlace(const ModelConfig& c, const LinearLayerInfo& layer);

// Everything about one quantized layer that needs only its weights: metrics, memory,
// histograms, grid. `original` is the checkpoint weight; `after` the weight now in the
// model (lq.dequant, or the model's own tensor when the quantizer kept no copy), both n
// values row-major. Non-empty lq.awqScales (AWQ scales folded into the norms) means the
// weight is Q(W·diag(s)), compared in the original space, after[:, j] / s[j].
// weightAfterSource "stored" in the result means the after-weights cannot be recomputed
// from the grid (GPTQ, AWQ): the caller keeps storedAfterWeights(lq, ...). gridExact: lq
// was made with quantizeWithGrid from exactly `original` (no need to verify that the grid
// reproduces it, which costs two more layer-sized arrays).
struct LayerWeights {
    const float* original = nullptr;
    const float* after = nullptr;
    size_t n = 0;
};
LayerResult analyzeLayer(const LinearLayerInfo& info, const TensorInfo& tensor, LayerWeights w,
                         const LayerQuantization& lq, int bins, bool gridExact = false,
                         std::vector<float>* scratch = nullptr);
// The same with after = lq.dequant (which must have original.size() values).
LayerResult analyzeLayer(const LinearLayerInfo& info, const TensorInfo& tensor,
                         const std::vector<float>& original, const LayerQuantization& lq, int bins,
                         bool gridExact = false, std::vector<float>* scratch = nullptr);

// Rows of a checkpoint tensor [rows, cols] converted to float32 on demand, tile by tile.
// The store must outlive the source.
RowSource tensorRows(const TensorStore& store, const TensorInfo& tensor, int64_t cols);
// The same over a tensor's bytes in memory (dtype as stored).
RowSource bytesRows(const unsigned char* bytes, DType dtype, int64_t cols);
// Whether a weights-only layer of this recipe goes through the fused kernel
// (quant/weight_analysis.h): integer RTN without an activation side.
bool fusedWeightAnalysis(const Recipe& recipe);
// The recipe a weights-only layer of row length `cols` gets: per channel where the group
// does not divide the row (fallbackReason says so; empty otherwise).
Recipe weightOnlyRecipeFor(const Recipe& recipe, int64_t cols, std::string& fallbackReason);
// analyzeLayer's result for a weights-only RTN layer (fusedWeightAnalysis), in two streaming
// passes over the weight rows that `rows` supplies (float32), nothing weight-sized stored.
// Grid, w_hat, ranges and bin counts equal quantizeWeightOnly + analyzeLayer's.
// bins == 0: grid and metrics only, no histograms. mayHoldUnusable: set when the weight has
// NaN/Inf or values beyond 2^64 (then findUnusableWeights says which).
LayerResult analyzeRtnLayer(const LinearLayerInfo& info, const TensorInfo& tensor,
                            const RowSource& rows, const Recipe& recipe, int bins,
                            bool* mayHoldUnusable = nullptr);

// One layer of a weights-only run (runWeightsOnly, sweepWeights): read from the checkpoint,
// quantized and analyzed (fused for RTN); `bad` = its unusable values (NaN, Inf, > 2^64).
// With `quantized` (--from-checkpoint) the after-weight is that file's, not a quantization.
// bins == 0: metrics only (a sweep). The caller releases the tensor's pages when it is done
// with the layer (a sweep reads it once per recipe).
struct WeightOnlyBuffers {  // reused from layer to layer: no pages faulted in again
    std::vector<float> weight, scratch;
    LayerQuantization lq;
    // The stored bytes of tensor `rawName`, read once per layer (not per recipe or pass).
    std::vector<unsigned char> raw;
    std::string rawName;
};
// The bytes of `tensor` as stored, read into buf.raw with pread unless they are there already:
// on the VMs this project runs on, faulting in a mapped checkpoint costs 3-4x the CPU time of
// reading it, and a layer is read two or three times per recipe.
const unsigned char* layerBytes(const TensorStore& store, const TensorInfo& tensor,
                                WeightOnlyBuffers& buf);
LayerResult weightOnlyLayer(const TensorStore& store, const LinearLayerInfo& info,
                            const LayerPlace& place, const Recipe& recipe, int bins,
                            WeightOnlyBuffers& buf, UnusableWeights& bad,
                            const QuantizedCheckpoint* quantized = nullptr);

// The after-weights of a "stored" layer in compact form: lq's codes and grid, and for AWQ
// the scales s as column divisors (the compared weight is Q(W·diag(s))·diag(1/s) whether
// or not s was folded into the norms). Checks that decoding gives back the weight
// analyzeLayer compared (`after`, default lq.dequant, or that / s when `folded`);
// ql::Error if not.
CompactWeights storedAfterWeights(const LayerQuantization& lq, const std::vector<float>& awqScales,
                                  bool folded, const float* after = nullptr);

// Identifier and display label of a run, e.g. "20261123-191500-rtn-int4-g128-asym",
// "RTN INT4 g128 asym".
std::string runId(const Recipe& recipe, const std::string& timestampCompact);
std::string runLabel(const Recipe& recipe);

// MemAvailable of /proc/meminfo in bytes; UINT64_MAX if unknown (no check possible).
// QL_MEMORY_AVAILABLE_MB in the environment overrides it (tests).
uint64_t memAvailableBytes();

// With QL_MEMORY_TRACE set in the environment: "[mem] <what>: rss X MB, peak Y MB" on stderr.
void memoryTrace(const std::string& what);

// Working memory of a forward pass of `batch` windows of `seq` tokens beyond the weights:
// attention scores (seq^2 x heads), one block's activations and `logitRows` rows of logits.
uint64_t forwardWorkingBytes(const ModelConfig& c, int64_t seq, int64_t batch, int64_t logitRows);

// Refuses up front a model-path run that cannot fit in the available memory (instead of
// being killed by the OOM killer half an hour in): the float32 model, the quantized copies
// of the selected linears, one set of their weight gradients, the longest windows' working
// memory, plus a fixed margin. QL_SKIP_MEMORY_CHECK=1 skips the check.
void checkModelPathMemory(const RunConfig& c, bool grads);

// The quantized (after) weight of a layer of `run` whose checkpoint weight is `original`:
// recomputed by the grid or the cast, or the stored values. Throws ql::Error if unavailable.
std::vector<float> afterWeightsOf(const RunResult& run, const LayerResult& layer,
                                  const std::vector<float>& original);
std::vector<float> afterWeightsOf(const RunResult& run, const LayerResult& layer,
                                  const float* original, size_t n);
// The same written to `out` (n floats): the grid and in-memory stored sources need no
// temporary (a fresh vector per layer was 71 % of the page faults of a streamed run's
// weight gradients: BENCHMARKS.md, "System time under 5 %").
void afterWeightsInto(const RunResult& run, const LayerResult& layer, const float* original,
                      size_t n, float* out);

// The grid a layer result records (bits, symmetry, shape, group size, scales, zeros).
QuantGrid gridOf(const LayerResult& layer);

// The integer codes and grid of a quantized layer of `run` whose checkpoint weight is
// `original` (rows x cols): re-quantized with the recorded grid ("grid") or the stored
// compact weights ("stored"). ql::Error naming the layer for any other source (casts,
// codebooks, block formats) or runs saved before compact storage (.f32 weights).
CompactWeights layerCodesOf(const RunResult& run, const LayerResult& layer, const float* original);

// Paths of the stored after-weights of a layer inside a run folder: compact (.qlw, written
// today) and float32 (.f32, runs saved before; still read and copied on re-save).
std::string storedWeightPath(const std::string& folder, const std::string& layer);
std::string legacyStoredWeightPath(const std::string& folder, const std::string& layer);
std::vector<float> readStoredWeight(const std::string& path, uint64_t expectedCount);
void writeStoredWeight(const std::string& path, const std::vector<float>& values);

}  // namespace ql
