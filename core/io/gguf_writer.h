// GGUF v3 writing (the layout io/gguf.h reads): metadata key-value pairs in the order added,
// tensor infos, the data section aligned to 32 bytes (GGUF_DEFAULT_ALIGNMENT; no
// general.alignment key is written), each tensor's data padded to 32. Tensor bytes are
// produced one tensor at a time while writing, so a model larger than memory streams through.
// The file is written atomically (base/atomic_write.h): complete or not there.
#pragma once

#include "base/ggml_type.h"
#include "base/progress.h"
#include "io/gguf.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ql {

class GgufWriter {
public:
    // Metadata, in file order. A key added twice is an error (ql::Error naming it).
    void add(const std::string& key, GgufValue value);
    void addString(const std::string& key, const std::string& v);
    void addU32(const std::string& key, uint32_t v);
    void addI32(const std::string& key, int32_t v);
    void addF32(const std::string& key, float v);
    void addBool(const std::string& key, bool v);
    void addStringArray(const std::string& key, const std::vector<std::string>& v);
    void addF32Array(const std::string& key, const std::vector<float>& v);
    void addI32Array(const std::string& key, const std::vector<int32_t>& v);

    // A tensor of shape ne (ne[0] = row length) and type; `bytes` returns its data when the
    // file is written and must return exactly ggmlBytes(type, numel) bytes.
    using Producer = std::function<std::vector<uint8_t>()>;
    void addTensor(const std::string& name, const std::vector<int64_t>& ne, GgmlType type,
                   Producer bytes);

    // Writes the file atomically; throws ql::Error naming `path` (and the tensor whose bytes
    // had the wrong size). `progress` hears of each tensor (by bytes written) and may stop
    // the write between tensors: ql::Cancelled, and nothing is left at `path`.
    void write(const std::string& path, const ProgressCallback& progress = {}) const;

    static GgufValue stringValue(const std::string& s);

private:
    struct Tensor {
        std::string name;
        std::vector<int64_t> ne;
        GgmlType type;
        uint64_t bytes;
        uint64_t offset;
        Producer produce;
    };
    std::vector<std::pair<std::string, GgufValue>> kv_;
    std::vector<Tensor> tensors_;
    uint64_t dataSize_ = 0;
};

}  // namespace ql
