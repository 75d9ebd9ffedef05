// Safetensors reading (memory-mapped, lazy per tensor) and writing.
// Format: 8-byte little-endian header length N, N bytes of JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then data.
#pragma once

#include "io/dtype.h"

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ql {

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t dataBegin = 0;  // byte offset relative to the data section
    uint64_t byteSize = 0;
    std::string file;  // path of the file holding this tensor

    int64_t numel() const;
};

// One .safetensors file, memory-mapped. The header is fully validated on open:
// length bound, JSON, dtypes, offsets in range, sorted without overlap or gaps,
// sizes equal to shape x dtype. Errors name the file and the tensor.
class SafetensorsFile {
public:
    explicit SafetensorsFile(const std::string& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find(const std::string& name) const;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    uint64_t fileSize() const { return fileSize_; }
    // Pointer to the tensor's bytes inside the mapping (valid while this object lives).
    const unsigned char* data(const TensorInfo& t) const;
    // Copies bytes [offset, offset + bytes) of t's data with pread (ql::Error naming the file
    // on a failed or short read): no page of the mapping is touched. On the VMs this project
    // runs on, faulting mapped pages costs 3-4x the CPU time of reading the same bytes.
    void readBytes(const TensorInfo& t, uint64_t offset, uint64_t bytes, void* dst) const;

private:
    void parseHeader();

    std::string path_;
    int fd_ = -1;
    uint64_t fileSize_ = 0;
    const unsigned char* map_ = nullptr;
    uint64_t dataStart_ = 0;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t> index_;
    std::map<std::string, std::string> metadata_;
};

// All tensors of a checkpoint: a single .safetensors file, a folder with
// model.safetensors, or a sharded folder with model.safetensors.index.json.
// A quantized checkpoint (io/quantized_source.h: a GPTQ folder) is opened as its float
// model: the packed tensors are hidden and the float tensors they stand for are listed
// instead (dtype F32, dequantized when their data is first asked for and kept until
// releasePages of the whole tensor).
class QuantizedWeightsSource;
class TensorStore {
public:
    static std::shared_ptr<TensorStore> open(const std::string& fileOrFolder);
    // The files' tensors as stored, without the quantized view.
    static std::shared_ptr<TensorStore> openRaw(const std::string& fileOrFolder);
    TensorStore();
    ~TensorStore();
    // The quantized source behind the float tensors, null for a plain checkpoint.
    const QuantizedWeightsSource* quantizedSource() const { return quantized_.get(); }

    std::vector<std::string> names() const;  // sorted
    const TensorInfo* find(const std::string& name) const;
    const TensorInfo& get(const std::string& name) const;  // throws ql::Error if missing
    const unsigned char* data(const TensorInfo& t) const;
    // Bytes [offset, offset + bytes) of t's data copied into dst, read from the file (not
    // through the mapping: see SafetensorsFile::readBytes), or from the dequantized values.
    void readBytes(const TensorInfo& t, uint64_t offset, uint64_t bytes, void* dst) const;
    // The tensor converted to float32 (F32/F16/BF16/F64); throws for other dtypes.
    std::vector<float> readFloat(const std::string& name) const;
    // Drops the whole mapped pages of a tensor from this process's resident set (the page
    // cache keeps them; a later read faults them back in). Without it, reading a 3 GB
    // checkpoint once leaves 3 GB resident.
    void releasePages(const TensorInfo& t) const;
    // The same for bytes [offset, offset + bytes) of t's data (clamped to the tensor).
    void releasePages(const TensorInfo& t, uint64_t offset, uint64_t bytes) const;
    // Maps bytes [offset, offset + bytes) of t's data into this process in one call
    // (MADV_POPULATE_READ) instead of a page fault per 64 KiB on first touch: the kernel
    // time of reading a mapped checkpoint is mostly those faults. A no-op where the kernel
    // lacks it and for dequantized (quantized-view) tensors.
    void prefetchPages(const TensorInfo& t, uint64_t offset, uint64_t bytes) const;
    std::vector<std::string> files() const;
    uint64_t totalBytes() const;   // sum of tensor byte sizes (quantized: as float32)
    uint64_t bytesOnDisk() const;  // sum of file sizes

private:
    void attach(std::shared_ptr<QuantizedWeightsSource> source);
    const float* materialize(const TensorInfo& t) const;

    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, std::pair<size_t, size_t>> where_;  // name -> (file, tensor)
    // The quantized view: float tensors provided, packed ones hidden, dequantized data.
    std::shared_ptr<QuantizedWeightsSource> quantized_;
    std::map<std::string, TensorInfo> provided_;
    std::set<std::string> hidden_;
    struct Cache;
    std::unique_ptr<Cache> cache_;
};

// A tensor to write: raw bytes already in `dtype`.
struct TensorToWrite {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::vector<unsigned char> bytes;
};

// Writes a .safetensors file (tensors in the given order, 8-byte aligned header),
// atomically: to a temporary file that is renamed into place.
void writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Streaming writer for large files (e.g. synthetic models): the layout (names,
// dtypes, shapes) is given up front, then the data of the tensors is appended in
// the same order, in pieces of any size. finish() checks that every byte was
// written and renames the temporary file into place; without finish() the
// destructor removes the temporary file.
struct TensorLayout {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
};

class SafetensorsWriter {
public:
    SafetensorsWriter(const std::string& path, const std::vector<TensorLayout>& layout,
                      const std::map<std::string, std::string>& metadata = {});
    ~SafetensorsWriter();
    SafetensorsWriter(const SafetensorsWriter&) = delete;
    SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

    void write(const void* bytes, size_t n);
    void finish();
    uint64_t dataBytes() const { return expected_; }

private:
    std::string path_;
    std::string tempPath_;
    void* file_ = nullptr;  // FILE*
    uint64_t expected_ = 0;
    uint64_t written_ = 0;
};

}  // namespace ql
