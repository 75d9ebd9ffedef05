#include "run/plan_llama.h"

#include "base/gguf_names.h"
#include "quant/recipe.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace ql {
namespace {

// The positional file type for a base type: the k-quants' plain names are mixes in
// llama-quantize (Q4_K = Q4_K_M), which only decides the tensors the plan leaves alone.
std::string fileTypeOf(const std::string& type) {
    static const std::map<std::string, std::string> kMixes = {
        {"q3_k", "Q3_K_M"}, {"q4_k", "Q4_K_M"}, {"q5_k", "Q5_K_M"}};
    const auto it = kMixes.find(type);
    if (it != kMixes.end()) return it->second;
    std::string upper = type;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return char(std::toupper(c)); });
    return upper;
}

// An anchored regex matching exactly one tensor name (llama-quantize lowercases it).
std::string exactPattern(const std::string& name) {
    std::string p = "^";
    for (const char c : name) {
        if (c == '.') p += '\\';
        p += c;
    }
    return p + "$";
}

}  // namespace

std::string llamaQuantizeType(const std::string& recipe) {
    const Recipe r = Recipe::parse(recipe);
    switch (r.method) {
        case QuantMethod::Fp16:
            return "f16";
        case QuantMethod::Bf16:
            return "bf16";
        case QuantMethod::Q8_0:
        case QuantMethod::Q4_0:
        case QuantMethod::Q4_1:
        case QuantMethod::Q5_0:
        case QuantMethod::Q5_1:
        case QuantMethod::Q2_K:
        case QuantMethod::Q3_K:
        case QuantMethod::Q4_K:
        case QuantMethod::Q5_K:
        case QuantMethod::Q6_K:
            return r.quantizesActivations() ? std::string() : methodName(r.method);
        default:
            return {};
    }
}

LlamaQuantizePlan llamaQuantizePlan(const PlanInputs& in, const PlanResult& plan) {
    LlamaQuantizePlan out;
    std::vector<std::string> types;
    for (const std::string& c : in.candidates) {
        types.push_back(llamaQuantizeType(c));
        if (types.back().empty()) {
            out.whyNot =
                "candidate '" + c + "' is not a single llama.cpp type (q8_0 .. q6_k, fp16, bf16)";
            return out;
        }
    }
    // the base recipe of the plan's run (the most chosen candidate: none is fitted here)
    out.baseType = fileTypeOf(llamaQuantizeType(planRun(in, plan).recipe));
    out.command = "llama-quantize";
    for (size_t k = 0; k < in.layers.size(); ++k) {
        const auto gguf = ggufLinearName(in.layers[k].name);
        if (!gguf) {
            out.whyNot = "layer '" + in.layers[k].name + "' has no llama.cpp tensor name";
            out.tensorTypes.clear();
            return out;
        }
        out.tensorTypes.push_back(exactPattern(*gguf) + "=" + types[size_t(plan.choice[k])]);
        out.command += " --tensor-type '" + out.tensorTypes.back() + "'";
    }
    out.command += " MODEL-F16.gguf MODEL-PLAN.gguf " + out.baseType;
    out.possible = true;
    return out;
}

}  // namespace ql
