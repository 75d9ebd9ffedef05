// GGUF (llama.cpp's model file), versions 2 and 3: reading, memory-mapped.
// Layout (all little-endian): "GGUF", uint32 version, uint64 tensor count, uint64 key-value
// count; the key-value pairs (string key, uint32 value type, value; arrays are uint32 element
// type + uint64 count + elements); the tensor infos (string name, uint32 dimension count,
// int64 dimensions with ne0 first, uint32 ggml type, uint64 offset into the data section);
// padding to `general.alignment` (default 32); the data section. Strings are uint64 length +
// bytes (no terminator). Every field is validated on open; an error names the file and field.
#pragma once

#include "base/ggml_type.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ql {

enum class GgufValueType : uint32_t {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
};
std::string ggufValueTypeName(GgufValueType t);

// One metadata value. Integers are held in `u` (unsigned types) or `i` (signed types and bool),
// floats in `f`, strings in `s`; an array has its element type and its elements.
struct GgufValue {
    GgufValueType type = GgufValueType::U8;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0.0;
    std::string s;
    GgufValueType elementType = GgufValueType::U8;  // arrays only
    std::vector<GgufValue> elements;                // arrays only

    bool isInteger() const;
    // The value as text for display: numbers, "true", the string, or "[n x type]" for arrays.
    std::string toString() const;
};

struct GgufTensor {
    std::string name;
    std::vector<int64_t> ne;  // ne[0] is the row length (contiguous), as ggml
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;  // relative to the data section
    uint64_t bytes = 0;

    int64_t numel() const;
    int64_t rowLength() const { return ne.empty() ? 1 : ne[0]; }
    int64_t rows() const { return rowLength() == 0 ? 0 : numel() / rowLength(); }
};

class GgufFile {
public:
    explicit GgufFile(const std::string& path);
    ~GgufFile();
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t dataOffset() const { return dataOffset_; }  // absolute offset of the data section
    uint64_t fileSize() const { return fileSize_; }

    // Keys in file order, and lookup by key (null when absent).
    const std::vector<std::string>& keys() const { return keys_; }
    const GgufValue* find(const std::string& key) const;

    const std::vector<GgufTensor>& tensors() const { return tensors_; }  // file order
    const GgufTensor* findTensor(const std::string& name) const;
    // The tensor's bytes inside the mapping (valid while this object lives).
    const unsigned char* data(const GgufTensor& t) const;
    // F32, F16 or BF16 tensor values as float32; throws ql::Error for other types.
    std::vector<float> readFloat(const GgufTensor& t) const;

private:
    void parse();

    std::string path_;
    uint64_t fileSize_ = 0;
    const unsigned char* map_ = nullptr;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t dataOffset_ = 0;
    std::vector<std::string> keys_;
    std::map<std::string, GgufValue> values_;
    std::vector<GgufTensor> tensors_;
    std::map<std::string, size_t> tensorIndex_;
};

}  // namespace ql
