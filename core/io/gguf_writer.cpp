// GGUF serialization: little-endian fields appended to a byte string for the header, tensor
// data streamed to the temp file one tensor at a time.
#include "io/gguf_writer.h"

#include "base/atomic_write.h"
#include "base/error.h"

#include <cerrno>
#include <cstring>

#include <unistd.h>

namespace ql {

namespace {

constexpr uint64_t kAlignment = 32;

uint64_t padded(uint64_t n) {
    return (n + kAlignment - 1) / kAlignment * kAlignment;
}

template <typename T>
void put(std::string& out, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // hosts are little-endian (as the reader assumes)
    out.append(b, sizeof(T));
}

void putString(std::string& out, const std::string& s) {
    put<uint64_t>(out, s.size());
    out += s;
}

void putValue(std::string& out, const GgufValue& v, bool withType) {
    if (withType) put<uint32_t>(out, uint32_t(v.type));
    switch (v.type) {
        case GgufValueType::U8:
            return put<uint8_t>(out, uint8_t(v.u));
        case GgufValueType::I8:
            return put<int8_t>(out, int8_t(v.i));
        case GgufValueType::U16:
            return put<uint16_t>(out, uint16_t(v.u));
        case GgufValueType::I16:
            return put<int16_t>(out, int16_t(v.i));
        case GgufValueType::U32:
            return put<uint32_t>(out, uint32_t(v.u));
        case GgufValueType::I32:
            return put<int32_t>(out, int32_t(v.i));
        case GgufValueType::F32:
            return put<float>(out, float(v.f));
        case GgufValueType::Bool:
            return put<uint8_t>(out, v.i ? 1 : 0);
        case GgufValueType::String:
            return putString(out, v.s);
        case GgufValueType::U64:
            return put<uint64_t>(out, v.u);
        case GgufValueType::I64:
            return put<int64_t>(out, v.i);
        case GgufValueType::F64:
            return put<double>(out, v.f);
        case GgufValueType::Array:
            put<uint32_t>(out, uint32_t(v.elementType));
            put<uint64_t>(out, v.elements.size());
            for (const GgufValue& e : v.elements) putValue(out, e, false);
            return;
    }
}

void writeAll(int fd, const void* data, size_t n, const std::string& path) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw Error(path + ": cannot write: " + describeErrno(errno));
        p += w;
        n -= size_t(w);
    }
}

GgufValue scalar(GgufValueType t) {
    GgufValue v;
    v.type = t;
    return v;
}

GgufValue arrayOf(GgufValueType element, std::vector<GgufValue> elements) {
    GgufValue v = scalar(GgufValueType::Array);
    v.elementType = element;
    v.elements = std::move(elements);
    return v;
}

}  // namespace

GgufValue GgufWriter::stringValue(const std::string& s) {
    GgufValue v = scalar(GgufValueType::String);
    v.s = s;
    return v;
}

void GgufWriter::add(const std::string& key, GgufValue value) {
    for (const auto& kv : kv_)
        if (kv.first == key) throw Error("GGUF metadata key '" + key + "' added twice");
    kv_.emplace_back(key, std::move(value));
}

void GgufWriter::addString(const std::string& key, const std::string& v) {
    add(key, stringValue(v));
}

void GgufWriter::addU32(const std::string& key, uint32_t v) {
    GgufValue x = scalar(GgufValueType::U32);
    x.u = v;
    add(key, x);
}

void GgufWriter::addI32(const std::string& key, int32_t v) {
    GgufValue x = scalar(GgufValueType::I32);
    x.i = v;
    add(key, x);
}

void GgufWriter::addF32(const std::string& key, float v) {
    GgufValue x = scalar(GgufValueType::F32);
    x.f = v;
    add(key, x);
}

void GgufWriter::addBool(const std::string& key, bool v) {
    GgufValue x = scalar(GgufValueType::Bool);
    x.i = v ? 1 : 0;
    add(key, x);
}

void GgufWriter::addStringArray(const std::string& key, const std::vector<std::string>& v) {
    std::vector<GgufValue> e;
    e.reserve(v.size());
    for (const std::string& s : v) e.push_back(stringValue(s));
    add(key, arrayOf(GgufValueType::String, std::move(e)));
}

void GgufWriter::addF32Array(const std::string& key, const std::vector<float>& v) {
    std::vector<GgufValue> e(v.size(), scalar(GgufValueType::F32));
    for (size_t i = 0; i < v.size(); ++i) e[i].f = v[i];
    add(key, arrayOf(GgufValueType::F32, std::move(e)));
}

void GgufWriter::addI32Array(const std::string& key, const std::vector<int32_t>& v) {
    std::vector<GgufValue> e(v.size(), scalar(GgufValueType::I32));
    for (size_t i = 0; i < v.size(); ++i) e[i].i = v[i];
    add(key, arrayOf(GgufValueType::I32, std::move(e)));
}

void GgufWriter::addTensor(const std::string& name, const std::vector<int64_t>& ne, GgmlType type,
                           Producer bytes) {
    uint64_t n = 1;
    for (int64_t d : ne) n *= uint64_t(d);
    const std::optional<uint64_t> size = ggmlBytes(type, n);
    if (!size)
        throw Error("GGUF tensor '" + name + "': " + std::to_string(n) +
                    " values are not whole blocks of " + ggmlTypeName(type));
    tensors_.push_back({name, ne, type, *size, dataSize_, std::move(bytes)});
    dataSize_ += padded(*size);
}

void GgufWriter::write(const std::string& path, const ProgressCallback& progress) const {
    std::string head = "GGUF";
    put<uint32_t>(head, 3);
    put<uint64_t>(head, tensors_.size());
    put<uint64_t>(head, kv_.size());
    for (const auto& [key, value] : kv_) {
        putString(head, key);
        putValue(head, value, true);
    }
    for (const Tensor& t : tensors_) {
        putString(head, t.name);
        put<uint32_t>(head, uint32_t(t.ne.size()));
        for (int64_t d : t.ne) put<int64_t>(head, d);
        put<uint32_t>(head, uint32_t(t.type));
        put<uint64_t>(head, t.offset);
    }
    head.resize(padded(head.size()), '\0');
    const ProgressReporter reporter(progress);
    std::string temp;
    const int fd = createTempFor(path, temp);
    try {
        writeAll(fd, head.data(), head.size(), path);
        const std::vector<uint8_t> zeros(kAlignment, 0);
        for (const Tensor& t : tensors_) {
            reporter.report("export", dataSize_ ? double(t.offset) / double(dataSize_) : 0.0,
                            t.name);
            const std::vector<uint8_t> data = t.produce();
            if (data.size() != t.bytes)
                throw Error(path + ": tensor '" + t.name + "' has " + std::to_string(data.size()) +
                            " bytes, its type " + ggmlTypeName(t.type) + " needs " +
                            std::to_string(t.bytes));
            writeAll(fd, data.data(), data.size(), path);
            writeAll(fd, zeros.data(), padded(t.bytes) - t.bytes, path);
        }
    } catch (...) {
        ::close(fd);
        ::unlink(temp.c_str());
        throw;
    }
    commitTemp(fd, temp, path);
}

}  // namespace ql
