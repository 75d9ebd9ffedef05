// Quantized inference from a run's packed weights (issue 11): every linear projection the run
// quantized to INT8 per-channel or INT4 per-group (32/64/128) computes through a
// ql::infer::PackedLinear built from the run's own integer codes, and its float32 weight is
// released. Plain C++ header (the Transformer is only named).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ql {

class Transformer;
struct RunResult;

struct PackedLayerInstall {
    std::string name;
    bool packed = false;
    std::string format;        // packed: e.g. "int4 g128 asym"; else empty
    std::string reason;        // not packed: why the layer computes in float32
    bool simulated = false;    // not packed but in the run: its dequantized float32 weight
    uint64_t floatBytes = 0;   // out x in x 4
    uint64_t packedBytes = 0;  // PackedLinear::bytes() when packed
};

struct PackedInstallReport {
    std::vector<PackedLayerInstall> layers;  // every linear of the model, in model order
    int packedLayers = 0;
    uint64_t packedBytes = 0;         // held by the kernels
    uint64_t floatBytesReleased = 0;  // float32 weights dropped for them
    uint64_t floatBytesKept = 0;      // float32 weights of the layers left as they were
};

// For a resident (not streamed) Transformer of the run's model, loaded unmodified: each
// linear the run quantized gets Linear::kernel computing from the packed codes — RTN layers
// ("grid") re-quantized from the checkpoint weight with the recorded grid, GPTQ/AWQ layers
// ("stored") from the run's compact weights (in memory or weights/<layer>.qlw in its folder;
// AWQ column scales applied as the run compared them) — and its `weight` and `original`
// are released. Layers of the run that cannot be packed (casts, codebooks, block formats,
// other bit widths or group sizes, per-channel INT4, a group that fell back to per-channel)
// compute in float32 with the run's dequantized weight (as the simulated model), layers the
// run left alone keep their float32 weight; the report says which and why. Afterwards the model is
// for inference only (no gradients, no setLinearWeight/restoreWeights on packed layers). The result
// then equals the simulated (dequantized float32) model of the run up to float summation order.
// Throws ql::Error for a streamed model or a run of another model (shapes differ).
// int8Activations: the packed layers' decode calls quantize their input to int8 per block of
// 32 values and use integer dot products (W8A8 / W4A8, infer::ActivationMode::Int8); the
// outputs then differ from the simulated model by that rounding too. Prefill is unchanged.
PackedInstallReport installPackedKernels(Transformer& net, const RunResult& run,
                                         bool int8Activations = false);

}  // namespace ql
