// Recipes: how each selected layer is quantized. Text form METHOD:BITS:GRANULARITY:SYMMETRY,
// e.g. "rtn:int8:channel:sym", "gptq:int4:g128:asym", plus "fp16" and "bf16" (cast only).
// Case-insensitive; omitted trailing parts default to int8, channel, sym ("rtn:int4" ==
// "rtn:int4:channel:sym"). Bits int2..int8; granularity tensor, channel (per output row) or
// gN (N > 0 input columns per group).
#pragma once

#include <string>
#include <string_view>

namespace ql {

enum class QuantMethod { Rtn, Gptq, Awq, Fp16, Bf16 };
enum class Granularity { Tensor, Channel, Group };

struct Recipe {
    QuantMethod method = QuantMethod::Rtn;
    int bits = 8;                     // 2..8 for integer methods; 16 for casts
    Granularity granularity = Granularity::Channel;
    int groupSize = 0;                // columns per group when granularity == Group
    bool symmetric = true;

    // GPTQ parameters
    double gptqDampening = 0.01;      // fraction of the mean Hessian diagonal
    int gptqBlockSize = 128;
    bool gptqActOrder = false;
    // AWQ parameters
    int awqGridPoints = 20;           // alpha in {0, 1/n, ..., (n-1)/n}

    bool isCast() const { return method == QuantMethod::Fp16 || method == QuantMethod::Bf16; }
    std::string toString() const;     // canonical text form
    // Throws ql::Error with the offending part for an invalid spec.
    static Recipe parse(std::string_view spec);
};

std::string methodName(QuantMethod m);  // "rtn", "gptq", "awq", "fp16", "bf16"

} // namespace ql
