// Recipes: how each selected layer is quantized. Text form METHOD[:PART...], case-insensitive;
// what parts a method takes is the method's own grammar (quant/method_registry.h):
//   integer grids  rtn|gptq|awq[:intB[:GRANULARITY[:SYMMETRY]]], e.g. "rtn:int8:channel:sym",
//                  "gptq:int4:g128:asym"; omitted trailing parts default to int8, channel, sym.
//                  Bits int2..int8; granularity tensor, channel (per output row) or gN.
//   casts          fp16, bf16 (no further parts)
//   4-bit codebook nf4|fp4[:bN][:dq][:fp32|fp16|bf16] (bitsandbytes blockwise, quant/codebook4.h)
//   llama.cpp      q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k (no further parts;
//                  quant/ggml_quants.h, fallbacks in quant/ggml_recipe.cpp)
//   llama.cpp mixes q2_k_mix, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m: each layer
//                  gets the type llama-quantize gives it (quant/ggml_mix.h); "q2_k_mix" is
//                  llama-quantize's Q2_K file type, "q2_k" the one type everywhere (--pure)
//   LLM.int8()     llm_int8[:tT] (bitsandbytes): int8 row-wise absmax weights, int8 per-token
//                  activations, input columns reaching |x| >= T (default 6) in any token of a
//                  window kept in fp16 (mixed-precision decomposition; t0: none)
// Any of them but llm_int8 (which has its own) may be followed by an activation side,
// "+aB[:token|tensor][:sym|asym]": the input of every quantized linear is fake-quantized to B bits
// (a2..a8; a16 = float, the default), per token (dynamic, one scale per row of the input) or per
// tensor (static, one scale per layer calibrated on the float model's calibration inputs); defaults
// token, sym. E.g. "rtn:int8:channel:sym+a8" (W8A8 per-token), "rtn:int4:g128:asym+a8:tensor:asym".
// SmoothQuant, "+sq[:ALPHA]" (last part; ALPHA 0..1, default 0.5), on the methods whose registry
// entry offers kOptSmoothQuant (rtn, gptq, nf4, fp4, llama.cpp formats and mixes; not awq,
// llm_int8 or the casts): per input channel s_j = max|X_j|^a / max|W_j|^(1-a), the weight
// quantized as W·diag(s) by the method (GPTQ with the Hessian of X·diag(1/s)) and the input as
// X·diag(1/s) (methods/smoothquant.h). E.g. "rtn:int8:channel:sym+a8:token+sq" (W8A8
// SmoothQuant), "rtn:int8+a8+sq:0.8", "gptq:int4:g128:asym+a8+sq:0.5", "nf4+sq".
#pragma once

#include <string>
#include <string_view>

namespace ql {

enum class QuantMethod {
    Rtn,
    Gptq,
    Awq,
    Fp16,
    Bf16,
    Nf4,
    Fp4,
    // llama.cpp's block formats (quant/ggml_quants.h)
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    LlmInt8,  // LLM.int8() (bitsandbytes)
    // llama-quantize's mixes: a ggml type per layer (quant/ggml_mix.h)
    Q2_K_Mix,
    Q3_K_S,
    Q3_K_M,
    Q3_K_L,
    Q4_K_S,
    Q4_K_M,
    Q5_K_S,
    Q5_K_M,
};
enum class Granularity { Tensor, Channel, Group };
// The dtype the dequantized weight is rounded to (bitsandbytes' compute dtype).
enum class ComputeDtype { Fp32, Fp16, Bf16 };

struct Recipe {
    QuantMethod method = QuantMethod::Rtn;
    int bits = 8;  // 2..8 for integer methods; 16 for casts; 4 for nf4/fp4
    Granularity granularity = Granularity::Channel;
    int groupSize = 0;  // columns per group when granularity == Group
    bool symmetric = true;

    // GPTQ parameters
    double gptqDampening = 0.01;  // fraction of the mean Hessian diagonal
    int gptqBlockSize = 128;
    bool gptqActOrder = false;
    // AWQ parameters
    int awqGridPoints = 20;  // alpha in {0, 1/n, ..., (n-1)/n}
    // NF4/FP4 parameters (bitsandbytes blockwise absmax over the flattened weight)
    int blockSize = 64;        // elements per absmax block
    bool doubleQuant = false;  // absmax 8-bit in blocks of 256 (bnb compress_statistics)
    ComputeDtype computeDtype = ComputeDtype::Fp32;
    // Activation side (quant/activation_quant.h): 0 = inputs stay float (A16).
    int actBits = 0;
    bool actPerToken = true;  // dynamic per token; false = static per tensor (calibrated)
    bool actSymmetric = true;
    // LLM.int8() decomposition threshold: input columns with |x| >= this in any token of a
    // window stay in fp16 (methods/activation_quant.h); 0 = no decomposition.
    double outlierThreshold = 0.0;
    // SmoothQuant (methods/smoothquant.h): migration strength alpha, calibrated scales.
    bool smooth = false;
    double smoothAlpha = 0.5;

    bool quantizesActivations() const { return actBits > 0; }
    // Needs calibration statistics to quantize (the method's, or SmoothQuant's scales).
    bool needsCalibration() const;

    bool isCast() const;           // fp16 / bf16
    std::string toString() const;  // canonical text form
    // Throws ql::Error with the offending part for an invalid spec.
    static Recipe parse(std::string_view spec);
};

std::string methodName(QuantMethod m);  // "rtn", "gptq", "awq", "fp16", ..., "q6_k", "llm_int8"
// The activation side in text form: "+a8:token:sym", "" without one; and as a label part,
// " A8 per-token sym".
std::string activationSuffix(const Recipe& r);
std::string activationLabel(const Recipe& r);
// The SmoothQuant part: "+sq:0.5" / " SmoothQuant α0.5"; "" without one.
std::string smoothSuffix(const Recipe& r);
std::string smoothLabel(const Recipe& r);

}  // namespace ql
