// Quantized checkpoints read as float models. A source knows, for each weight it holds in a
// packed format (GPTQ today), the float tensor it stands for ("<layer>.weight", [out, in]),
// how to dequantize it, a type label and the packed bytes. TensorStore::open puts these
// float tensors in place of the packed ones, so every path that opens a model (info, eval,
// quantize, the workbench) reads a quantized checkpoint as its dequantized float model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ql {

struct QuantizedTensorInfo {
    std::string name;  // the float tensor provided, e.g. "model.layers.0.mlp.up_proj.weight"
    std::vector<int64_t> shape;  // its shape ([out, in] for a linear)
    std::string typeLabel;       // e.g. "gptq int4 g128 asym"
    uint64_t packedBytes = 0;    // bytes of the packed tensors in the checkpoint
    std::string file;            // the checkpoint file holding them
};

class QuantizedWeightsSource {
public:
    virtual ~QuantizedWeightsSource() = default;
    virtual std::string formatName() const = 0;  // "gptq"
    virtual const std::vector<QuantizedTensorInfo>& tensors() const = 0;
    // The packed tensors the float ones replace (hidden from the model's tensor list).
    virtual const std::vector<std::string>& packedNames() const = 0;
    // The float32 values of a provided tensor, row-major. ql::Error naming the tensor and
    // field for corrupt packed data.
    virtual std::vector<float> dequantize(const std::string& name) const = 0;
    // The file that is the whole model when there are no safetensors beside it (a GGUF);
    // empty for sources that sit in a safetensors folder.
    virtual std::string modelFile() const { return {}; }
};

// The quantized source of a checkpoint folder, or null for a plain (float) checkpoint.
// A folder whose config.json has a quantization_config with quant_method "gptq" (its
// checkpoint_format "gptq" or "gptq_v2") or "quantlens" is quantized; other quant_methods
// are read as before (as float checkpoints, whose missing tensors name the problem).
std::shared_ptr<QuantizedWeightsSource> openQuantizedSource(const std::string& fileOrFolder);

// QuantLens's own packed export (run/model_export.h), quant_method "quantlens"; null when
// it holds no packed layer (a cast run: its F16/BF16 tensors are read as they are).
std::shared_ptr<QuantizedWeightsSource> openQuantLensSource(const std::string& folder);

}  // namespace ql
