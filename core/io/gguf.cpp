// GGUF reading: a bounds-checked cursor over the mapped file, the key-value section, the tensor
// infos and the data layout. Hostile input ends in one ql::Error naming the file and the field
// (key or tensor) being read; nothing is allocated from an unchecked count.
#include "io/gguf.h"

#include "base/error.h"
#include "base/file_util.h"
#include "io/dtype.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ql {

namespace {

constexpr uint32_t kMaxDims = 4;   // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 4;  // arrays of arrays nest at most this deep
constexpr uint64_t kMaxStringBytes = 1u << 30;
// Array elements in all metadata together. Real files hold a few arrays of at most ~1M
// (vocabulary, merges, scores, types); the bound keeps a hostile file of millions of empty
// strings from allocating gigabytes of values.
constexpr uint64_t kMaxMetadataElements = 8u << 20;
constexpr uint64_t kDefaultAlignment = 32;  // GGUF_DEFAULT_ALIGNMENT

// Reads little-endian fields from [pos, end); every read checks the remaining bytes and names
// the field being read in its error.
class Cursor {
public:
    Cursor(const unsigned char* base, uint64_t size, const std::string& file)
        : base_(base), size_(size), file_(file) {}

    uint64_t elements = 0;  // metadata array elements read so far (kMaxMetadataElements)

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }
    [[noreturn]] void fail(const std::string& field, const std::string& what) const {
        throw Error(file_ + ": " + field + ": " + what);
    }

    const unsigned char* take(uint64_t n, const std::string& field) {
        if (n > remaining())
            fail(field, "truncated file: needs " + std::to_string(n) + " bytes at offset " +
                            std::to_string(pos_) + ", only " + std::to_string(remaining()) +
                            " left");
        const unsigned char* p = base_ + pos_;
        pos_ += n;
        return p;
    }
    template <typename T>
    T read(const std::string& field) {
        T v;
        std::memcpy(&v, take(sizeof(T), field), sizeof(T));  // x86/ARM hosts are little-endian
        return v;
    }
    std::string readString(const std::string& field) {
        const uint64_t n = read<uint64_t>(field + " (string length)");
        if (n > kMaxStringBytes)
            fail(field, "string length " + std::to_string(n) + " is too large");
        const unsigned char* p = take(n, field + " (string of " + std::to_string(n) + " bytes)");
        return std::string(reinterpret_cast<const char*>(p), size_t(n));
    }

private:
    const unsigned char* base_;
    uint64_t size_;
    uint64_t pos_ = 0;
    const std::string& file_;
};

// A name from the file as it goes into a message: control bytes escaped (\xNN) so that the
// error stays one line, and cut after 200 bytes.
std::string quoted(const std::string& name) {
    std::string out = "'";
    for (size_t i = 0; i < name.size() && i < 200; ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7F) {
            static const char* hex = "0123456789abcdef";
            out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
        } else {
            out += char(c);
        }
    }
    return out + (name.size() > 200 ? "...'" : "'");
}

bool knownValueType(uint32_t t) {
    return t <= uint32_t(GgufValueType::F64);
}

// The fewest bytes one element of type t occupies: bounds array counts before allocating.
uint64_t minElementBytes(GgufValueType t) {
    switch (t) {
        case GgufValueType::U8:
        case GgufValueType::I8:
        case GgufValueType::Bool:
            return 1;
        case GgufValueType::U16:
        case GgufValueType::I16:
            return 2;
        case GgufValueType::U32:
        case GgufValueType::I32:
        case GgufValueType::F32:
            return 4;
        case GgufValueType::U64:
        case GgufValueType::I64:
        case GgufValueType::F64:
        case GgufValueType::String:
            return 8;
        case GgufValueType::Array:
            return 12;
    }
    return 1;
}

GgufValue readValue(Cursor& c, GgufValueType type, const std::string& field, int depth);

GgufValue readArray(Cursor& c, const std::string& field, int depth) {
    if (depth >= kMaxArrayDepth)
        c.fail(field, "arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
    GgufValue v;
    v.type = GgufValueType::Array;
    const uint32_t et = c.read<uint32_t>(field + " (array element type)");
    if (!knownValueType(et)) c.fail(field, "unknown array element type " + std::to_string(et));
    v.elementType = GgufValueType(et);
    const uint64_t n = c.read<uint64_t>(field + " (array length)");
    if (n > c.remaining() / minElementBytes(v.elementType))
        c.fail(field, "array length " + std::to_string(n) + " of " +
                          ggufValueTypeName(v.elementType) + " exceeds the " +
                          std::to_string(c.remaining()) + " bytes left in the file");
    if (n > kMaxMetadataElements - c.elements)
        c.fail(field, "array length " + std::to_string(n) + " exceeds the limit of " +
                          std::to_string(kMaxMetadataElements) + " metadata array elements");
    c.elements += n;
    v.elements.reserve(size_t(n));
    for (uint64_t k = 0; k < n; ++k)
        v.elements.push_back(
            readValue(c, v.elementType, field + "[" + std::to_string(k) + "]", depth + 1));
    return v;
}

GgufValue readValue(Cursor& c, GgufValueType type, const std::string& field, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
        case GgufValueType::U8:
            v.u = c.read<uint8_t>(field);
            break;
        case GgufValueType::I8:
            v.i = c.read<int8_t>(field);
            break;
        case GgufValueType::U16:
            v.u = c.read<uint16_t>(field);
            break;
        case GgufValueType::I16:
            v.i = c.read<int16_t>(field);
            break;
        case GgufValueType::U32:
            v.u = c.read<uint32_t>(field);
            break;
        case GgufValueType::I32:
            v.i = c.read<int32_t>(field);
            break;
        case GgufValueType::U64:
            v.u = c.read<uint64_t>(field);
            break;
        case GgufValueType::I64:
            v.i = c.read<int64_t>(field);
            break;
        case GgufValueType::F32:
            v.f = c.read<float>(field);
            break;
        case GgufValueType::F64:
            v.f = c.read<double>(field);
            break;
        case GgufValueType::Bool: {
            const uint8_t b = c.read<uint8_t>(field);
            if (b > 1) c.fail(field, "bool value " + std::to_string(b) + " is neither 0 nor 1");
            v.i = b;
            break;
        }
        case GgufValueType::String:
            v.s = c.readString(field);
            break;
        case GgufValueType::Array:
            return readArray(c, field, depth);
    }
    return v;
}

uint64_t alignUp(uint64_t x, uint64_t a) {
    return x % a == 0 ? x : x + (a - x % a);
}

}  // namespace

std::string ggufValueTypeName(GgufValueType t) {
    static const char* names[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                  "int32",  "float32", "bool",   "string", "array",
                                  "uint64", "int64",   "float64"};
    const auto i = uint32_t(t);
    return i < 13 ? names[i] : "type " + std::to_string(i);
}

bool GgufValue::isInteger() const {
    return type == GgufValueType::U8 || type == GgufValueType::I8 || type == GgufValueType::U16 ||
           type == GgufValueType::I16 || type == GgufValueType::U32 || type == GgufValueType::I32 ||
           type == GgufValueType::U64 || type == GgufValueType::I64;
}

std::string GgufValue::toString() const {
    switch (type) {
        case GgufValueType::U8:
        case GgufValueType::U16:
        case GgufValueType::U32:
        case GgufValueType::U64:
            return std::to_string(u);
        case GgufValueType::I8:
        case GgufValueType::I16:
        case GgufValueType::I32:
        case GgufValueType::I64:
            return std::to_string(i);
        case GgufValueType::F32:
        case GgufValueType::F64:
            return std::to_string(f);
        case GgufValueType::Bool:
            return i ? "true" : "false";
        case GgufValueType::String:
            return s;
        case GgufValueType::Array:
            return "[" + std::to_string(elements.size()) + " x " + ggufValueTypeName(elementType) +
                   "]";
    }
    return "?";
}

int64_t GgufTensor::numel() const {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    return n;
}

GgufFile::GgufFile(const std::string& path) : path_(path) {
    // Checked before open(): opening a FIFO blocks until a writer appears.
    requireRegularFile(path, "a .gguf file");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    fileSize_ = uint64_t(st.st_size);
    if (fileSize_ < 24) {
        ::close(fd);
        throw Error(path + ": header: truncated file: " + std::to_string(fileSize_) +
                    " bytes, a GGUF header needs 24");
    }
    void* m = ::mmap(nullptr, fileSize_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);  // the mapping keeps the file alive
    if (m == MAP_FAILED) throw Error(path + ": cannot map: " + std::strerror(errno));
    map_ = static_cast<const unsigned char*>(m);
    try {
        parse();
    } catch (...) {
        ::munmap(const_cast<unsigned char*>(map_), fileSize_);
        map_ = nullptr;
        throw;
    }
}

GgufFile::~GgufFile() {
    if (map_) ::munmap(const_cast<unsigned char*>(map_), fileSize_);
}

namespace {

void readHeader(Cursor& c, uint32_t& version, uint64_t& nTensors, uint64_t& nKv) {
    const unsigned char* magic = c.take(4, "magic");
    if (std::memcmp(magic, "GGUF", 4) != 0) c.fail("magic", "not a GGUF file (no \"GGUF\" magic)");
    version = c.read<uint32_t>("version");
    if (version != 2 && version != 3)
        c.fail("version",
               "GGUF version " + std::to_string(version) + " is not supported (expected 2 or 3)");
    nTensors = c.read<uint64_t>("tensor count");
    nKv = c.read<uint64_t>("metadata count");
    // Each key-value pair takes at least 12 bytes, each tensor info at least 24.
    if (nKv > c.remaining() / 12)
        c.fail("metadata count", std::to_string(nKv) + " key-value pairs cannot fit in the " +
                                     std::to_string(c.remaining()) + " bytes left");
    if (nTensors > c.remaining() / 24)
        c.fail("tensor count", std::to_string(nTensors) + " tensors cannot fit in the " +
                                   std::to_string(c.remaining()) + " bytes left");
}

GgufTensor readTensorInfo(Cursor& c, uint64_t index) {
    const std::string where = "tensor #" + std::to_string(index);
    GgufTensor t;
    t.name = c.readString(where + " name");
    const std::string field = "tensor " + quoted(t.name);
    const uint32_t dims = c.read<uint32_t>(field + " dimension count");
    if (dims == 0 || dims > kMaxDims)
        c.fail(field, "dimension count " + std::to_string(dims) + " is not 1.." +
                          std::to_string(kMaxDims));
    uint64_t numel = 1;
    for (uint32_t d = 0; d < dims; ++d) {
        const int64_t n = c.read<int64_t>(field + " ne[" + std::to_string(d) + "]");
        if (n < 0) c.fail(field, "ne[" + std::to_string(d) + "] = " + std::to_string(n) + " < 0");
        if (n != 0 && numel > uint64_t(std::numeric_limits<int64_t>::max()) / uint64_t(n))
            c.fail(field, "element count overflows int64");
        numel *= uint64_t(n);
        t.ne.push_back(n);
    }
    const uint32_t type = c.read<uint32_t>(field + " type");
    const auto traits = ggmlTypeTraits(type);
    if (!traits) c.fail(field, "unknown ggml type " + std::to_string(type));
    t.type = GgmlType(type);
    if (t.ne[0] % traits->blockValues != 0)
        c.fail(field, "row length ne[0] = " + std::to_string(t.ne[0]) +
                          " is not a multiple of the " + traits->name + " block of " +
                          std::to_string(traits->blockValues));
    const auto bytes = ggmlBytes(t.type, numel);
    if (!bytes) c.fail(field, "byte size overflows");
    t.bytes = *bytes;
    t.offset = c.read<uint64_t>(field + " data offset");
    return t;
}

}  // namespace

void GgufFile::parse() {
    Cursor c(map_, fileSize_, path_);
    uint64_t nTensors = 0, nKv = 0;
    readHeader(c, version_, nTensors, nKv);

    for (uint64_t k = 0; k < nKv; ++k) {
        std::string key = c.readString("metadata key #" + std::to_string(k));
        const std::string field = "metadata key " + quoted(key);
        if (key.empty()) c.fail("metadata key #" + std::to_string(k), "empty key");
        if (values_.count(key)) c.fail(field, "key appears twice");
        const uint32_t type = c.read<uint32_t>(field + " value type");
        if (!knownValueType(type)) c.fail(field, "unknown value type " + std::to_string(type));
        values_[key] = readValue(c, GgufValueType(type), field, 0);
        keys_.push_back(std::move(key));
    }
    if (const GgufValue* a = find("general.alignment")) {
        if (a->type != GgufValueType::U32)
            c.fail("metadata key 'general.alignment'",
                   "must be uint32, is " + ggufValueTypeName(a->type));
        if (a->u == 0 || (a->u & (a->u - 1)) != 0)
            c.fail("metadata key 'general.alignment'",
                   std::to_string(a->u) + " is not a power of two");
        alignment_ = a->u;
    } else {
        alignment_ = kDefaultAlignment;
    }

    tensors_.reserve(size_t(nTensors));
    for (uint64_t k = 0; k < nTensors; ++k) {
        GgufTensor t = readTensorInfo(c, k);
        if (tensorIndex_.count(t.name)) c.fail("tensor " + quoted(t.name), "name appears twice");
        tensorIndex_[t.name] = tensors_.size();
        tensors_.push_back(std::move(t));
    }
    dataOffset_ = alignUp(c.pos(), alignment_);
    if (nTensors > 0 && dataOffset_ > fileSize_)
        c.fail("data section", "truncated file: the data section would start at byte " +
                                   std::to_string(dataOffset_) + " of " +
                                   std::to_string(fileSize_));
    const uint64_t dataSize = dataOffset_ <= fileSize_ ? fileSize_ - dataOffset_ : 0;

    // Offsets aligned, inside the data section, and no two tensors sharing bytes.
    std::vector<const GgufTensor*> byOffset;
    for (const GgufTensor& t : tensors_) {
        const std::string field = "tensor " + quoted(t.name);
        if (t.offset % alignment_ != 0)
            c.fail(field, "data offset " + std::to_string(t.offset) + " is not a multiple of the " +
                              "alignment " + std::to_string(alignment_));
        if (t.offset > dataSize || t.bytes > dataSize - t.offset)
            c.fail(field, "data [" + std::to_string(t.offset) + ", +" + std::to_string(t.bytes) +
                              ") exceeds the data section of " + std::to_string(dataSize) +
                              " bytes (truncated file?)");
        byOffset.push_back(&t);
    }
    std::sort(byOffset.begin(), byOffset.end(),
              [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
    for (size_t k = 1; k < byOffset.size(); ++k)
        if (byOffset[k]->offset < byOffset[k - 1]->offset + byOffset[k - 1]->bytes)
            c.fail("tensor " + quoted(byOffset[k]->name),
                   "data overlaps tensor " + quoted(byOffset[k - 1]->name));
}

const GgufValue* GgufFile::find(const std::string& key) const {
    const auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::findTensor(const std::string& name) const {
    const auto it = tensorIndex_.find(name);
    return it == tensorIndex_.end() ? nullptr : &tensors_[it->second];
}

const unsigned char* GgufFile::data(const GgufTensor& t) const {
    return map_ + dataOffset_ + t.offset;
}

std::vector<float> GgufFile::readFloat(const GgufTensor& t) const {
    std::vector<float> out(static_cast<size_t>(t.numel()));
    const unsigned char* p = data(t);
    switch (t.type) {
        case GgmlType::F32:
            convertToFloat(DType::F32, p, out.size(), out.data());
            break;
        case GgmlType::F16:
            convertToFloat(DType::F16, p, out.size(), out.data());
            break;
        case GgmlType::BF16:
            convertToFloat(DType::BF16, p, out.size(), out.data());
            break;
        default:
            throw Error(path_ + ": tensor " + quoted(t.name) + ": type " + ggmlTypeName(t.type) +
                        " is not a float type");
    }
    return out;
}

}  // namespace ql
