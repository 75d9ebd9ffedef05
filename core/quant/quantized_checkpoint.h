// The quantized side of a run taken from an existing checkpoint instead of a quantizer ("how
// bad is this quantized file?"): for each linear layer, by its Hugging Face name, the
// dequantized weight and the type it is stored in. Implemented for GGUF files
// (run/gguf_source.h); a GPTQ folder is a second implementation of the same interface.
// Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ql {

struct QuantizedWeight {
    std::vector<float> values;  // row-major [rows, cols] as the Hugging Face weight
    std::string method;         // recipe text of the stored type, e.g. "q4_k", "q6_k", "fp16"
};

class QuantizedCheckpoint {
public:
    virtual ~QuantizedCheckpoint() = default;
    virtual const std::string& path() const = 0;
    // The recipe the whole checkpoint corresponds to (e.g. "q4_k_m" for a GGUF of file type
    // MOSTLY_Q4_K_M); the run's recipe and label.
    virtual std::string recipe() const = 0;
    // The weight of linear layer `name` ("model.layers.0.mlp.down_proj"), which must have shape
    // rows x cols; throws ql::Error naming the file and the tensor when it is missing, has
    // another shape or a type QuantLens cannot dequantize.
    virtual QuantizedWeight layer(const std::string& name, int64_t rows, int64_t cols) const = 0;
};

}  // namespace ql
