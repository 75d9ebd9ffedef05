// Safetensors: memory-mapped reading with full header validation, and atomic writing.
#include "io/safetensors.h"

#include "base/atomic_write.h"
#include "base/error.h"
#include "base/file_util.h"
#include "io/gguf_model.h"
#include "io/quantized_source.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace ql {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;
constexpr size_t kMaxRank = 8;
constexpr uint64_t kMaxIndexBytes = 64ull * 1024 * 1024;

[[noreturn]] void fail(const std::string& file, const std::string& what) {
    throw Error(file + ": " + what);
}

[[noreturn]] void failTensor(const std::string& file, const std::string& tensor,
                             const std::string& what) {
    throw Error(file + ": tensor '" + tensor + "': " + what);
}

// JSON text -> value, with the nesting bound and (nlohmann keeps the last of duplicate
// keys silently) every duplicate key in any object rejected by name.
json parseStrictJson(const char* begin, const char* end, const std::string& file,
                     const std::string& what) {
    checkJsonDepth(std::string_view(begin, size_t(end - begin)), file);
    std::vector<std::set<std::string>> keys;  // one set per open object
    std::string duplicate;
    const json::parser_callback_t callback = [&](int, json::parse_event_t event, json& value) {
        if (event == json::parse_event_t::object_start) {
            keys.emplace_back();
        } else if (event == json::parse_event_t::object_end) {
            if (!keys.empty()) keys.pop_back();
        } else if (event == json::parse_event_t::key && !keys.empty() && duplicate.empty()) {
            const std::string& key = value.get_ref<const std::string&>();
            if (!keys.back().insert(key).second) duplicate = key;
        }
        return true;
    };
    json out;
    try {
        out = json::parse(begin, end, callback);
    } catch (const json::exception& e) {
        fail(file, what + " is not valid JSON: " + jsonErrorReason(e));
    }
    if (!duplicate.empty()) fail(file, what + " has the key \"" + duplicate + "\" twice");
    return out;
}

uint64_t readLittleEndian64(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// shape x dtype size in bytes, or nullopt on overflow.
std::optional<uint64_t> checkedByteSize(const std::vector<int64_t>& shape, DType dtype) {
    uint64_t n = dtypeSize(dtype);
    for (int64_t d : shape) {
        const auto ud = uint64_t(d);
        if (ud != 0 && n > std::numeric_limits<uint64_t>::max() / ud) return std::nullopt;
        n *= ud;
    }
    return n;
}

TensorInfo parseTensorEntry(const std::string& file, const std::string& name, const json& e,
                            uint64_t dataSize) {
    if (!e.is_object()) failTensor(file, name, "header entry is not a JSON object");
    TensorInfo t;
    t.name = name;
    t.file = file;
    const auto dt = e.find("dtype");
    if (dt == e.end() || !dt->is_string()) failTensor(file, name, "missing dtype");
    const auto parsed = parseDType(dt->get<std::string>());
    if (!parsed) failTensor(file, name, "unknown dtype '" + dt->get<std::string>() + "'");
    t.dtype = *parsed;

    const auto sh = e.find("shape");
    if (sh == e.end() || !sh->is_array()) failTensor(file, name, "missing shape array");
    if (sh->size() > kMaxRank)
        failTensor(file, name,
                   "shape has " + std::to_string(sh->size()) + " dimensions, at most " +
                       std::to_string(kMaxRank) + " expected");
    for (const auto& d : *sh) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0)
            failTensor(file, name, "shape must hold non-negative integers, got " + sh->dump());
        t.shape.push_back(d.get<int64_t>());
    }

    const auto off = e.find("data_offsets");
    if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
        failTensor(file, name, "data_offsets must be two non-negative integers");
    const uint64_t begin = (*off)[0].get<uint64_t>();
    const uint64_t end = (*off)[1].get<uint64_t>();
    if (begin > end) failTensor(file, name, "data_offsets begin > end");
    if (end > dataSize)
        failTensor(file, name,
                   "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                       "] exceed the data section of " + std::to_string(dataSize) +
                       " bytes (truncated file?)");
    const auto expected = checkedByteSize(t.shape, t.dtype);
    if (!expected || *expected != end - begin)
        failTensor(file, name,
                   "byte size " + std::to_string(end - begin) + " does not match shape " +
                       sh->dump() + " x " + dtypeName(t.dtype) +
                       (expected ? " = " + std::to_string(*expected) : std::string(" (overflow)")));
    t.dataBegin = begin;
    t.byteSize = end - begin;
    return t;
}

// Tensors sorted by offset must tile the data section from 0 without overlap or gap.
void checkLayout(const std::string& file, std::vector<TensorInfo>& tensors) {
    std::stable_sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return a.dataBegin < b.dataBegin || (a.dataBegin == b.dataBegin && a.byteSize < b.byteSize);
    });
    uint64_t cursor = 0;
    std::string previous;
    for (const auto& t : tensors) {
        if (t.dataBegin < cursor)
            failTensor(file, t.name, "data overlaps tensor '" + previous + "'");
        if (t.dataBegin > cursor)
            failTensor(file, t.name,
                       "gap of " + std::to_string(t.dataBegin - cursor) +
                           " bytes before its data (offsets not contiguous)");
        cursor = t.dataBegin + t.byteSize;
        previous = t.name;
    }
}

}  // namespace

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
    // Checked before open(): opening a FIFO blocks until a writer appears.
    requireRegularFile(path, "a .safetensors file");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(path, "not a regular file");
    }
    fileSize_ = uint64_t(st.st_size);
    if (fileSize_ < 8) {
        ::close(fd);
        fail(path, "truncated: " + std::to_string(fileSize_) +
                       " bytes, shorter than the 8-byte header length");
    }
    void* m = ::mmap(nullptr, fileSize_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        ::close(fd);
        fail(path, std::string("cannot map: ") + std::strerror(errno));
    }
    fd_ = fd;  // kept for readBytes
    map_ = static_cast<const unsigned char*>(m);
    try {
        parseHeader();
    } catch (...) {
        ::munmap(const_cast<unsigned char*>(map_), fileSize_);
        map_ = nullptr;
        ::close(fd_);
        fd_ = -1;
        throw;
    }
}

void SafetensorsFile::parseHeader() {
    const uint64_t headerLen = readLittleEndian64(map_);
    if (headerLen > fileSize_ - 8)
        fail(path_, "header length " + std::to_string(headerLen) + " exceeds the file size " +
                        std::to_string(fileSize_) + " (truncated or not a safetensors file)");
    if (headerLen > kMaxHeaderBytes)
        fail(path_, "header length " + std::to_string(headerLen) + " exceeds the 100 MB limit");
    dataStart_ = 8 + headerLen;
    const uint64_t dataSize = fileSize_ - dataStart_;

    const char* text = reinterpret_cast<const char*>(map_ + 8);
    const json header = parseStrictJson(text, text + headerLen, path_, "header");
    if (!header.is_object()) fail(path_, "header is not a JSON object");

    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it->is_object()) fail(path_, "__metadata__ is not a JSON object");
            for (auto m = it->begin(); m != it->end(); ++m)
                metadata_[m.key()] = m->is_string() ? m->get<std::string>() : m->dump();
            continue;
        }
        tensors_.push_back(parseTensorEntry(path_, it.key(), *it, dataSize));
    }
    checkLayout(path_, tensors_);
    for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) ::munmap(const_cast<unsigned char*>(map_), fileSize_);
    if (fd_ >= 0) ::close(fd_);
}

void SafetensorsFile::readBytes(const TensorInfo& t, uint64_t offset, uint64_t bytes,
                                void* dst) const {
    if (offset > t.byteSize || bytes > t.byteSize - offset)
        fail(path_, "read of bytes [" + std::to_string(offset) + ", " +
                        std::to_string(offset + bytes) + ") outside tensor '" + t.name + "'");
    auto* out = static_cast<unsigned char*>(dst);
    uint64_t at = dataStart_ + t.dataBegin + offset;
    while (bytes > 0) {
        const ssize_t got =
            ::pread(fd_, out, size_t(std::min<uint64_t>(bytes, 1u << 30)), off_t(at));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            fail(path_,
                 "cannot read tensor '" + t.name + "': " +
                     (got < 0 ? std::strerror(errno) : "the file is shorter than its header says"));
        out += got, at += uint64_t(got), bytes -= uint64_t(got);
    }
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

const unsigned char* SafetensorsFile::data(const TensorInfo& t) const {
    return map_ + dataStart_ + t.dataBegin;
}

// ---------------------------------------------------------------- TensorStore

namespace {

bool existsNoThrow(const fs::path& p) {
    std::error_code ec;
    return fs::exists(p, ec);
}

// A shard named by the index must be a plain file name or relative path inside the
// folder: no absolute path, no "..", and (after symlinks) still inside the folder. The
// one exception is a Hugging Face cache snapshot, whose files link into the repo's blobs/.
fs::path checkedInside(const fs::path& folder, const std::string& name, const std::string& source) {
    const fs::path rel(name);
    bool dotdot = false;
    for (const auto& part : rel) dotdot = dotdot || part == "..";
    if (name.empty() || rel.is_absolute() || dotdot)
        fail(source, "shard '" + name + "' is not a file inside the model folder");
    std::error_code ec;
    const fs::path root = fs::canonical(folder, ec);
    if (ec) fail(folder.string(), "cannot resolve the model folder: " + ec.message());
    const fs::path target = fs::weakly_canonical(folder / rel, ec);
    if (ec) fail((folder / rel).string(), "cannot resolve the shard path: " + ec.message());
    const auto inside = [&target](const fs::path& dir) {
        const auto mismatch = std::mismatch(dir.begin(), dir.end(), target.begin(), target.end());
        return mismatch.first == dir.end();
    };
    const bool hfSnapshot = root.parent_path().filename() == "snapshots";
    if (!inside(root) && !(hfSnapshot && inside(root.parent_path().parent_path() / "blobs")))
        fail(source, "shard '" + name + "' resolves to " + target.string() +
                         ", outside the model folder " + root.string());
    return folder / rel;
}

json readIndex(const fs::path& indexPath) {
    const std::string text =
        readRegularFile(indexPath.string(), "a shard index (JSON)", kMaxIndexBytes);
    const json index =
        parseStrictJson(text.data(), text.data() + text.size(), indexPath.string(), "the index");
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        fail(indexPath.string(), "missing \"weight_map\" object (tensor name -> shard file)");
    if (index["weight_map"].empty()) fail(indexPath.string(), "weight_map is empty");
    for (const auto& [name, file] : index["weight_map"].items())
        if (!file.is_string())
            fail(indexPath.string(), "weight_map entry '" + name + "' is not a file name");
    return index;
}

std::vector<std::string> shardsFromIndex(const fs::path& folder, const json& index,
                                         const std::string& source) {
    std::set<std::string> shards;
    for (const auto& [name, file] : index["weight_map"].items()) {
        const fs::path shard = checkedInside(folder, file.get<std::string>(), source);
        if (!existsNoThrow(shard))
            fail(source, "shard '" + file.get<std::string>() + "' (of tensor '" + name +
                             "') does not exist in the model folder");
        shards.insert(shard.string());
    }
    return {shards.begin(), shards.end()};
}

std::vector<std::string> checkpointFiles(const std::string& fileOrFolder, const json* index) {
    const fs::path p(fileOrFolder);
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (ec && ec != std::errc::no_such_file_or_directory)
        fail(fileOrFolder, "cannot access: " + ec.message());
    if (!fs::exists(st)) throw Error(fileOrFolder + ": no such file or folder");
    if (!fs::is_directory(st)) return {fileOrFolder};
    const fs::path indexPath = p / "model.safetensors.index.json";
    if (index) return shardsFromIndex(p, *index, indexPath.string());
    if (existsNoThrow(p / "model.safetensors"))
        return {checkedInside(p, "model.safetensors", fileOrFolder).string()};
    std::vector<std::string> files;
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".safetensors" && it->is_regular_file(ec))
            files.push_back(
                checkedInside(p, it->path().filename().string(), fileOrFolder).string());
    if (ec) fail(fileOrFolder, "cannot list the folder: " + ec.message());
    if (files.empty()) throw Error(fileOrFolder + ": no .safetensors file in this folder");
    std::sort(files.begin(), files.end());
    return files;
}

void checkIndexNames(const fs::path& indexPath, const json& index, const TensorStore& store) {
    for (const auto& [name, file] : index["weight_map"].items()) {
        const TensorInfo* t = store.find(name);
        if (!t)
            fail(indexPath.string(), "tensor '" + name + "' listed for " + file.get<std::string>() +
                                         " is not in that file");
        if (fs::path(t->file).filename() != fs::path(file.get<std::string>()).filename())
            fail(indexPath.string(), "tensor '" + name + "' is listed for " +
                                         file.get<std::string>() + " but stored in " + t->file);
    }
}

}  // namespace

struct TensorStore::Cache {
    std::mutex mutex;
    std::map<std::string, std::vector<float>> values;  // dequantized provided tensors
};

TensorStore::TensorStore() : cache_(std::make_unique<Cache>()) {}
TensorStore::~TensorStore() = default;

std::shared_ptr<TensorStore> TensorStore::open(const std::string& fileOrFolder) {
    if (isGgufFile(fileOrFolder)) {  // the whole model in one GGUF file, no safetensors
        auto store = std::make_shared<TensorStore>();
        store->attach(openGgufModelSource(fileOrFolder));
        return store;
    }
    auto store = openRaw(fileOrFolder);
    if (auto source = openQuantizedSource(fileOrFolder)) store->attach(std::move(source));
    return store;
}

void TensorStore::attach(std::shared_ptr<QuantizedWeightsSource> source) {
    for (const auto& name : source->packedNames()) hidden_.insert(name);
    for (const auto& q : source->tensors()) {
        TensorInfo t;
        t.name = q.name;
        t.dtype = DType::F32;
        t.shape = q.shape;
        t.byteSize = uint64_t(t.numel()) * 4;
        t.file = q.file;
        if (where_.count(q.name))
            failTensor(q.file, q.name, "is stored both as a float tensor and in packed form");
        provided_[q.name] = t;
    }
    quantized_ = std::move(source);
}

const float* TensorStore::materialize(const TensorInfo& t) const {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto it = cache_->values.find(t.name);
    if (it == cache_->values.end())
        it = cache_->values.emplace(t.name, quantized_->dequantize(t.name)).first;
    return it->second.data();
}

std::shared_ptr<TensorStore> TensorStore::openRaw(const std::string& fileOrFolder) {
    auto store = std::make_shared<TensorStore>();
    std::error_code ec;
    const fs::path indexPath = fs::path(fileOrFolder) / "model.safetensors.index.json";
    const bool sharded = fs::is_directory(fileOrFolder, ec) && existsNoThrow(indexPath);
    const json index = sharded ? readIndex(indexPath) : json();
    for (const auto& path : checkpointFiles(fileOrFolder, sharded ? &index : nullptr)) {
        store->files_.push_back(std::make_unique<SafetensorsFile>(path));
        const size_t fi = store->files_.size() - 1;
        const auto& tensors = store->files_.back()->tensors();
        for (size_t ti = 0; ti < tensors.size(); ++ti) {
            const auto [it, fresh] =
                store->where_.emplace(tensors[ti].name, std::make_pair(fi, ti));
            if (!fresh)
                failTensor(path, tensors[ti].name,
                           "also stored in another shard, " +
                               store->files_[it->second.first]->path() +
                               " (duplicate tensor name)");
        }
    }
    if (sharded) checkIndexNames(indexPath, index, *store);
    return store;
}

std::vector<std::string> TensorStore::names() const {
    std::vector<std::string> out;
    out.reserve(where_.size() + provided_.size());
    for (const auto& kv : where_)
        if (!hidden_.count(kv.first)) out.push_back(kv.first);
    for (const auto& kv : provided_) out.push_back(kv.first);
    std::sort(out.begin(), out.end());
    return out;
}

const TensorInfo* TensorStore::find(const std::string& name) const {
    const auto p = provided_.find(name);
    if (p != provided_.end()) return &p->second;
    if (hidden_.count(name)) return nullptr;
    const auto it = where_.find(name);
    if (it == where_.end()) return nullptr;
    return &files_[it->second.first]->tensors()[it->second.second];
}

const TensorInfo& TensorStore::get(const std::string& name) const {
    const TensorInfo* t = find(name);
    if (!t) {
        const auto all = files();
        const std::string where = all.empty() ? std::string("checkpoint") : all.front();
        throw Error("tensor '" + name + "' not found in " + where +
                    (files_.size() > 1 ? " (and the other shards)" : ""));
    }
    return *t;
}

namespace {
// madvise over every page that [at, at + bytes) touches (ends rounded out to whole pages).
void adviseWholePages(const unsigned char* at, uint64_t bytes, int advice) {
    const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
    const uintptr_t a = reinterpret_cast<uintptr_t>(at);
    const uintptr_t begin = a & ~(page - 1), end = (a + bytes + page - 1) & ~(page - 1);
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, advice);
}
}  // namespace

const unsigned char* TensorStore::data(const TensorInfo& t) const {
    if (provided_.count(t.name)) return reinterpret_cast<const unsigned char*>(materialize(t));
    const auto it = where_.find(t.name);
    if (it == where_.end()) throw Error("tensor '" + t.name + "' not in this checkpoint");
    const auto& f = files_[it->second.first];
    return f->data(f->tensors()[it->second.second]);
}

void TensorStore::readBytes(const TensorInfo& t, uint64_t offset, uint64_t bytes, void* dst) const {
    if (provided_.count(t.name)) {
        if (offset > t.byteSize || bytes > t.byteSize - offset)
            throw Error("read outside tensor '" + t.name + "'");
        std::memcpy(dst, data(t) + offset, size_t(bytes));
        return;
    }
    const auto it = where_.find(t.name);
    if (it == where_.end()) throw Error("tensor '" + t.name + "' not in this checkpoint");
    const auto& f = files_[it->second.first];
    f->readBytes(f->tensors()[it->second.second], offset, bytes, dst);
}

void TensorStore::releasePages(const TensorInfo& t) const {
    releasePages(t, 0, t.byteSize);
}

void TensorStore::releasePages(const TensorInfo& t, uint64_t offset, uint64_t bytes) const {
    if (offset >= t.byteSize) return;
    if (provided_.count(t.name)) {  // dequantized values: dropped when the whole is released
        if (offset == 0 && bytes >= t.byteSize) {
            std::lock_guard<std::mutex> lock(cache_->mutex);
            cache_->values.erase(t.name);
        }
        return;
    }
    // Pages shared with a neighbour go too: the mapping is private and never written, so a
    // later read of the neighbour faults the same bytes back in from the file.
    adviseWholePages(data(t) + offset, std::min(bytes, t.byteSize - offset), MADV_DONTNEED);
}

void TensorStore::prefetchPages(const TensorInfo& t, uint64_t offset, uint64_t bytes) const {
#ifdef MADV_POPULATE_READ
    if (offset >= t.byteSize || provided_.count(t.name)) return;
    // Failure (EINVAL before Linux 5.14) only means the pages fault in on first touch.
    adviseWholePages(data(t) + offset, std::min(bytes, t.byteSize - offset), MADV_POPULATE_READ);
#else
    (void)t;
    (void)offset;
    (void)bytes;
#endif
}

std::vector<float> TensorStore::readFloat(const std::string& name) const {
    const TensorInfo& t = get(name);
    if (provided_.count(name)) {
        std::lock_guard<std::mutex> lock(cache_->mutex);
        const auto it = cache_->values.find(name);
        if (it != cache_->values.end()) return it->second;
        return quantized_->dequantize(name);
    }
    if (!isFloatDType(t.dtype))
        failTensor(t.file, name, "dtype " + dtypeName(t.dtype) + " is not a float type");
    std::vector<float> out(size_t(t.numel()));
    convertToFloat(t.dtype, data(t), out.size(), out.data());
    return out;
}

std::vector<std::string> TensorStore::files() const {
    std::vector<std::string> out;
    for (const auto& f : files_) out.push_back(f->path());
    if (quantized_ && !quantized_->modelFile().empty()) out.push_back(quantized_->modelFile());
    return out;
}

uint64_t TensorStore::totalBytes() const {
    uint64_t n = 0;
    for (const auto& f : files_)
        for (const auto& t : f->tensors())
            if (!hidden_.count(t.name)) n += t.byteSize;
    for (const auto& kv : provided_) n += kv.second.byteSize;
    return n;
}

uint64_t TensorStore::bytesOnDisk() const {
    uint64_t n = 0;
    for (const auto& f : files_) n += f->fileSize();
    if (quantized_ && !quantized_->modelFile().empty()) {
        std::error_code ec;
        const auto size = fs::file_size(quantized_->modelFile(), ec);
        if (!ec) n += size;
    }
    return n;
}

// ---------------------------------------------------------------- writing

namespace {

// Header JSON padded with spaces so that the data section starts 8-byte aligned.
std::string buildHeader(const std::vector<TensorLayout>& layout,
                        const std::map<std::string, std::string>& metadata, uint64_t& dataSize) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::set<std::string> seen;
    uint64_t offset = 0;
    for (const auto& t : layout) {
        if (t.name.empty() || t.name == "__metadata__" || !seen.insert(t.name).second)
            throw Error("cannot write tensor '" + t.name + "': empty, reserved or duplicate name");
        for (int64_t d : t.shape)
            if (d < 0) throw Error("cannot write tensor '" + t.name + "': negative dimension");
        const auto size = checkedByteSize(t.shape, t.dtype);
        if (!size) throw Error("cannot write tensor '" + t.name + "': size overflows");
        header[t.name] = {{"dtype", dtypeName(t.dtype)},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + *size}}};
        offset += *size;
    }
    dataSize = offset;
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(const std::string& path,
                                     const std::vector<TensorLayout>& layout,
                                     const std::map<std::string, std::string>& metadata)
    : path_(path) {
    const std::string header = buildHeader(layout, metadata, expected_);
    // A locked ".<name>.tmp-XXXXXX" sibling: leftovers of killed writers are removed here.
    const int fd = createTempFor(path_, tempPath_);
    FILE* f = ::fdopen(fd, "wb");
    if (!f) {
        ::close(fd);
        std::remove(tempPath_.c_str());
        fail(path_, "cannot create file: " + describeErrno(errno));
    }
    file_ = f;
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
    if (std::fwrite(len, 1, 8, f) != 8 ||
        std::fwrite(header.data(), 1, header.size(), f) != header.size()) {
        const int err = errno;
        std::fclose(f);
        file_ = nullptr;
        std::remove(tempPath_.c_str());
        fail(path_, "write failed: " + describeErrno(err));
    }
}

SafetensorsWriter::~SafetensorsWriter() {
    if (file_) {
        std::fclose(static_cast<FILE*>(file_));
        std::remove(tempPath_.c_str());
    }
}

void SafetensorsWriter::write(const void* bytes, size_t n) {
    if (!file_) fail(path_, "write after finish");
    if (written_ + n > expected_) fail(path_, "more tensor data written than the header declares");
    if (n == 0) return;  // empty tensors: fwrite must not see their null data pointer
    if (std::fwrite(bytes, 1, n, static_cast<FILE*>(file_)) != n)
        fail(path_, "write failed: " + describeErrno(errno));
    written_ += n;
}

void SafetensorsWriter::finish() {
    if (!file_) fail(path_, "finish called twice");
    if (written_ != expected_)
        fail(path_, "only " + std::to_string(written_) + " of " + std::to_string(expected_) +
                        " data bytes were written");
    FILE* f = static_cast<FILE*>(file_);
    const bool flushed = std::fflush(f) == 0;
    const int err = errno;
    // commitTemp owns a duplicate: fsync, rename and close errors are all reported.
    const int fd = flushed ? ::dup(::fileno(f)) : -1;
    std::fclose(f);
    file_ = nullptr;
    if (fd < 0) {
        std::remove(tempPath_.c_str());
        fail(path_, "write failed: " + describeErrno(flushed ? errno : err));
    }
    commitTemp(fd, tempPath_, path_);
}

void writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    std::vector<TensorLayout> layout;
    layout.reserve(tensors.size());
    for (const auto& t : tensors) layout.push_back({t.name, t.dtype, t.shape});
    SafetensorsWriter writer(path, layout, metadata);
    for (const auto& t : tensors) {
        const auto size = checkedByteSize(t.shape, t.dtype);
        if (!size || *size != t.bytes.size())
            throw Error("cannot write tensor '" + t.name + "': " + std::to_string(t.bytes.size()) +
                        " bytes do not match its shape");
        writer.write(t.bytes.data(), t.bytes.size());
    }
    writer.finish();
}

}  // namespace ql
