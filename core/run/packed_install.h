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

// What an install computes with, in a few words: "packed (int4 g128 asym)", "packed 160 (int8
// channel sym) + f32 8" when some of the run's layers stay float32, "simulated-f32 (no
// packable layer)".
std::string describeInstall(const PackedInstallReport& report);

// The output head's format for inference. Float32: as loaded (every run leaves it so).
// Int8: RTN per output row, symmetric (the grid of a run's rtn:int8:channel:sym), on the
// packed INT8 kernel. Int4: RTN groups of 128, asymmetric (rtn:int4:g128:asym), on the INT4
// kernel; it needs a hidden size that 128 divides.
enum class HeadFormat { Float32, Int8, Int4 };
// "f32", "int8", "int4" (the CLI's --head values); parse throws ql::Error for others.
const char* headFormatName(HeadFormat format);
HeadFormat parseHeadFormat(const std::string& text);
// Throws ql::Error when `format` cannot quantize a head of that hidden size (Int4: 128 must
// divide it), so that callers can refuse before any work.
void checkHeadFormat(HeadFormat format, int64_t hiddenSize);

struct HeadInstall {
    std::string format;               // "f32" or e.g. "int8 channel sym"
    bool tied = false;                // the head is the input embedding's table
    uint64_t floatBytes = 0;          // vocab x hidden x 4
    uint64_t packedBytes = 0;         // PackedLinear::bytes(): what a decode step reads
    uint64_t floatBytesReleased = 0;  // floatBytes when untied; 0 when tied (the embedding
                                      // lookups keep the float32 table resident)
};

// Quantizes the resident model's float32 output head by `format` (RTN with QuantLens' own
// grid code, quant/quantize.h) and makes Transformer::head compute from the packed codes;
// int8Activations as for installPackedKernels. Call after installPackedKernels, or alone
// on the float model. Float32 does nothing. Throws ql::Error for a streamed model, a head
// already quantized, or a hidden size the format's group does not divide.
HeadInstall installQuantizedHead(Transformer& net, HeadFormat format, bool int8Activations = false);

}  // namespace ql
