// The recipe grammar, label, bytes and recomputation of the bitsandbytes 4-bit methods:
// nf4|fp4[:bN][:dq][:fp32|fp16|bf16], options in any order, each at most once. Defaults are
// bnb's (Linear4bit / BitsAndBytesConfig): blocks of 64, no double quantization, compute
// dtype float32. Block sizes are bnb's: powers of two from 32 to 4096.
#include "quant/codebook4.h"
#include "quant/method_families.h"
#include "quant/method_registry.h"
#include "quant/recipe_parts.h"

namespace ql::families {
namespace {

using recipe_parts::fail;

const char* dtypeName(ComputeDtype d) {
    return d == ComputeDtype::Fp16 ? "fp16" : d == ComputeDtype::Bf16 ? "bf16" : "fp32";
}

Codebook4 codebookOf(const Recipe& r) {
    return r.method == QuantMethod::Fp4 ? Codebook4::Fp4 : Codebook4::Nf4;
}

int parseBlockSize(std::string_view spec, const std::string& s) {
    const long n = recipe_parts::parsePositive(s.substr(1));
    if (n < kBlock4Min || n > kBlock4Max || (n & (n - 1)) != 0)
        fail(spec, "bad block size '" + s + "' (expected bN with N a power of two " +
                       std::to_string(kBlock4Min) + " .. " + std::to_string(kBlock4Max) +
                       ", e.g. b64)");
    return int(n);
}

}  // namespace

void parseCodebook4(std::string_view spec, const std::vector<std::string>& parts, Recipe& r) {
    r.bits = 4;
    bool haveBlock = false, haveDq = false, haveDtype = false;
    const auto once = [&](bool& seen, const std::string& part, const char* what) {
        if (seen) fail(spec, "part '" + part + "' repeats the " + what);
        seen = true;
    };
    for (size_t i = 1; i < parts.size(); ++i) {
        const std::string& p = parts[i];
        if (p == "dq") {
            once(haveDq, p, "double quantization");
            r.doubleQuant = true;
        } else if (p == "fp32" || p == "fp16" || p == "bf16") {
            once(haveDtype, p, "compute dtype");
            r.computeDtype = p == "fp16"   ? ComputeDtype::Fp16
                             : p == "bf16" ? ComputeDtype::Bf16
                                           : ComputeDtype::Fp32;
        } else if (p.size() > 1 && p[0] == 'b' && p[1] >= '0' && p[1] <= '9') {
            once(haveBlock, p, "block size");
            r.blockSize = parseBlockSize(spec, p);
        } else {
            fail(spec, "unknown part '" + p + "' for " + parts[0] +
                           " (expected bN block size, dq, or compute dtype fp32, fp16 or bf16)");
        }
    }
}

std::string printCodebook4(const Recipe& r) {
    return methodName(r.method) + ":b" + std::to_string(r.blockSize) +
           (r.doubleQuant ? ":dq:" : ":") + dtypeName(r.computeDtype);
}

std::string labelCodebook4(const Recipe& r) {
    return std::string(r.method == QuantMethod::Fp4 ? "FP4" : "NF4") + " b" +
           std::to_string(r.blockSize) + (r.doubleQuant ? " dq " : " ") + dtypeName(r.computeDtype);
}

uint64_t bytesCodebook4(const Recipe& r, int64_t rows, int64_t cols) {
    return blockwise4Bytes(uint64_t(rows) * uint64_t(cols), r.blockSize, r.doubleQuant);
}

std::vector<float> recomputeCodebook4(const Recipe& r, const float* w, size_t n) {
    const Blockwise4 q =
        quantizeBlockwise4(w, n, codebookOf(r), r.blockSize, r.doubleQuant, r.computeDtype);
    return dequantizeBlockwise4(q, w);
}

}  // namespace ql::families
