// QuantLens's own packed export read back as a float model (quantized_source.h). Layout
// (written by run/quantlens_export.cpp): per integer-grid layer "<layer>.ql_codes" (U8,
// codes packed as ql::pack: bits <= 4 two per byte low nibble first holding q - qmin, else
// one byte, int8 when symmetric), "<layer>.ql_scales" (F32, one per row x group or one for
// the tensor), "<layer>.ql_zeros" (U8, asymmetric only), "<layer>.ql_divisor" (F32 per input
// column, AWQ only), and __metadata__ "ql.layer.<layer>" = JSON {bits, sym, rows, cols,
// group_size, per_tensor, method, ...}. Decoding is CompactWeights::decode's expression,
// (float(q) - zero) * scale, then / divisor: the run's weights bit for bit.
#include "base/error.h"
#include "io/quantized_source.h"
#include "io/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <map>

namespace ql {

namespace {

using nlohmann::json;

struct PackedLayer {
    std::string base;
    int bits = 8;
    bool sym = true, perTensor = false;
    int64_t rows = 0, cols = 0, groupSize = 0;
};

class QuantLensSource : public QuantizedWeightsSource {
public:
    explicit QuantLensSource(const std::string& folder) : raw_(TensorStore::openRaw(folder)) {
        for (const auto& path : raw_->files()) {
            const SafetensorsFile file(path);
            for (const auto& [key, value] : file.metadata())
                if (key.rfind("ql.layer.", 0) == 0) addLayer(key.substr(9), value, path);
        }
    }

    std::string formatName() const override { return "quantlens"; }
    const std::vector<QuantizedTensorInfo>& tensors() const override { return tensors_; }
    const std::vector<std::string>& packedNames() const override { return packed_; }

    std::vector<float> dequantize(const std::string& name) const override {
        const auto it = layers_.find(name);
        if (it == layers_.end())
            throw Error("tensor '" + name + "' is not a packed QuantLens weight");
        const PackedLayer& l = it->second;
        const size_t n = size_t(l.rows * l.cols);
        const int64_t gpr = l.perTensor ? 1 : (l.cols + l.groupSize - 1) / l.groupSize;
        const size_t cells = l.perTensor ? 1 : size_t(l.rows * gpr);
        const auto codes = bytes(l.base + ".ql_codes", l.bits <= 4 ? (n + 1) / 2 : n, DType::U8);
        const auto scales = floats(l.base + ".ql_scales", cells);
        const auto zeros =
            l.sym ? std::vector<unsigned char>() : bytes(l.base + ".ql_zeros", cells, DType::U8);
        const bool divided = raw_->find(l.base + ".ql_divisor") != nullptr;
        const auto divisor =
            divided ? floats(l.base + ".ql_divisor", size_t(l.cols)) : std::vector<float>();
        const int qmin = l.sym ? -(1 << (l.bits - 1)) : 0;
        std::vector<float> out(n);
        for (int64_t row = 0; row < l.rows; ++row)
            for (int64_t c = 0; c < l.cols; ++c) {
                const size_t i = size_t(row * l.cols + c);
                const size_t cell = l.perTensor ? 0 : size_t(row * gpr + c / l.groupSize);
                const int q = l.bits <= 4 ? int((codes[i / 2] >> ((i & 1) * 4)) & 0xf) + qmin
                              : l.sym     ? int(int8_t(codes[i]))
                                          : int(codes[i]);
                const float zero = l.sym ? 0.0f : float(zeros[cell]);
                float v = (float(q) - zero) * scales[cell];
                if (divided) v = v / divisor[size_t(c)];
                out[i] = v;
            }
        return out;
    }

private:
    const TensorInfo& need(const std::string& name, size_t count, DType dtype) const {
        const TensorInfo* t = raw_->find(name);
        if (!t) throw Error(raw_->files().front() + ": packed tensor '" + name + "' is missing");
        if (t->dtype != dtype || uint64_t(t->numel()) != count)
            throw Error(t->file + ": tensor '" + name + "' is " + dtypeName(t->dtype) + " with " +
                        std::to_string(t->numel()) + " values, expected " + dtypeName(dtype) +
                        " with " + std::to_string(count));
        return *t;
    }
    std::vector<unsigned char> bytes(const std::string& name, size_t count, DType dtype) const {
        const TensorInfo& t = need(name, count, dtype);
        const unsigned char* p = raw_->data(t);
        return std::vector<unsigned char>(p, p + count);
    }
    std::vector<float> floats(const std::string& name, size_t count) const {
        const TensorInfo& t = need(name, count, DType::F32);
        std::vector<float> v(count);
        std::memcpy(v.data(), raw_->data(t), count * 4);
        return v;
    }

    void addLayer(const std::string& base, const std::string& text, const std::string& file) {
        const std::string where = file + ": metadata 'ql.layer." + base + "'";
        PackedLayer l;
        l.base = base;
        try {
            const json j = json::parse(text);
            l.bits = j.at("bits").get<int>();
            l.sym = j.at("sym").get<bool>();
            l.perTensor = j.at("per_tensor").get<bool>();
            l.rows = j.at("rows").get<int64_t>();
            l.cols = j.at("cols").get<int64_t>();
            l.groupSize = j.at("group_size").get<int64_t>();
        } catch (const json::exception& e) {
            throw Error(where + " is not valid: " + e.what());
        }
        if (l.bits < 2 || l.bits > 8) throw Error(where + ": field 'bits' is out of 2..8");
        if (l.rows < 1 || l.cols < 1 || l.rows > (int64_t(1) << 32) || l.cols > (int64_t(1) << 32))
            throw Error(where + ": field 'rows'/'cols' is out of range");
        if (l.groupSize < 1 || l.groupSize > l.cols)
            throw Error(where + ": field 'group_size' is out of 1..cols");
        QuantizedTensorInfo info;
        info.name = base + ".weight";
        info.shape = {l.rows, l.cols};
        info.typeLabel = methodOf(text);
        info.file = file;
        for (const char* suffix : {".ql_codes", ".ql_scales", ".ql_zeros", ".ql_divisor"})
            if (const TensorInfo* t = raw_->find(base + suffix)) {
                packed_.push_back(t->name);
                info.packedBytes += t->byteSize;
            }
        tensors_.push_back(info);
        layers_[info.name] = l;
    }

    static std::string methodOf(const std::string& text) {
        const json j = json::parse(text, nullptr, false);
        return j.is_object() && j.contains("method") && j["method"].is_string()
                   ? j["method"].get<std::string>()
                   : std::string("quantlens");
    }

    std::shared_ptr<TensorStore> raw_;
    std::vector<QuantizedTensorInfo> tensors_;
    std::vector<std::string> packed_;
    std::map<std::string, PackedLayer> layers_;
};

}  // namespace

std::shared_ptr<QuantizedWeightsSource> openQuantLensSource(const std::string& folder) {
    // An export of a cast run (fp16/bf16) holds plain 16-bit tensors: nothing to dequantize.
    auto source = std::make_shared<QuantLensSource>(folder);
    return source->tensors().empty() ? nullptr : source;
}

}  // namespace ql
