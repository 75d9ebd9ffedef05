// A mixed-precision plan as llama.cpp's `llama-quantize` takes it: one `--tensor-type
// PATTERN=TYPE` per planned layer (PATTERN an anchored regex of the layer's GGUF tensor name,
// as llama-quantize matches it with std::regex_search), when every candidate is a single
// llama.cpp type (q8_0 .. q6_k) or a cast (fp16 -> f16, bf16). Plain C++.
#pragma once

#include "run/plan.h"
#include "run/plan_inputs.h"

#include <string>
#include <vector>

namespace ql {

struct LlamaQuantizePlan {
    bool possible = false;
    std::string whyNot;                    // when not possible: which candidate or layer
    std::string baseType;                  // llama-quantize's positional type (e.g. Q4_K_M)
    std::vector<std::string> tensorTypes;  // "PATTERN=TYPE", one per planned layer
    std::string command;                   // the whole command line, quoted for a shell
};

// llama-quantize's type name of a recipe ("q4_k", "f16"); empty when it has none (integer
// grids, codebooks, mixes: a mix gives each layer its own type).
std::string llamaQuantizeType(const std::string& recipe);

LlamaQuantizePlan llamaQuantizePlan(const PlanInputs& in, const PlanResult& plan);

}  // namespace ql
