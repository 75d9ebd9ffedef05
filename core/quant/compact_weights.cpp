// Compact after-weights: codes packed as ql::pack, float32 grid, optional AWQ divisors.
//
// Exactness. Every quantizer computes its dequantized value as r * scale in float32, with
// r = round(clamp(w / scale)) and code q = r + zero (RTN: quantizeWithGrid; GPTQ:
// quantizeColumn; AWQ: RTN of W·diag(s)). q - zero gives r back exactly (small integers),
// so (float(q) - zero) * scale is the same float32 product. AWQ then divides by s[j]
// (ATen's float division in methods/awq.cpp, a scalar '/' in run/layer_metrics.cpp when the
// scales were folded): both are one correctly rounded IEEE division, and so is ours. Hence
// decode reproduces the quantizer's values bit for bit. Zeros are +0.0 on both sides (the
// quantizers' rounding never gives -0.0, see roundScalar in quantize.cpp). Non-finite
// weights (passed through by the quantizer, refused by Model::load before any GPTQ/AWQ
// run, and never stored by the weights-only RTN path) would decode as their code.
// No fused multiply-add may join the product and the division: the build targets x86-64
// without FMA, and the two operations are separate statements below.
//
// File (.qlw), little endian: "QLWCODE\0", u32 version (1), u8 bits, u8 flags (1: symmetric,
// 2: per tensor), u16 reserved (0), i64 rows, i64 cols, i64 group size, u64 counts of scales,
// zeros, code bytes and divisors; then f32 scales, u8 zeros (asym zero points are integers
// 0..2^bits-1), the code bytes, f32 divisors. The file size must match the header exactly.
#include "quant/compact_weights.h"

#include "base/atomic_write.h"
#include "base/error.h"
#include "base/parallel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace ql {

namespace {

const char kMagic[8] = {'Q', 'L', 'W', 'C', 'O', 'D', 'E', 0};
constexpr uint32_t kVersion = 1;
constexpr uint8_t kSymmetric = 1, kPerTensor = 2;
constexpr int64_t kMaxDim = int64_t(1) << 32;       // as the run reader's bounds
constexpr int64_t kMaxElements = int64_t(1) << 40;  // rows x cols
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 3 * 8 + 4 * 8;

#pragma pack(push, 1)
struct Header {
    char magic[8];
    uint32_t version;
    uint8_t bits, flags;
    uint16_t reserved;
    int64_t rows, cols, groupSize;
    uint64_t scales, zeros, codeBytes, divisors;
};
#pragma pack(pop)
static_assert(sizeof(Header) == kHeaderBytes, "the .qlw header is packed");

// Whatever names the data in messages: "compact weights" or "weights file '<path>'".
[[noreturn]] void fail(const std::string& where, const std::string& field, const std::string& why) {
    throw Error(where + ": field '" + field + "' " + why);
}

uint64_t codeBytesFor(int bits, uint64_t count) {
    return bits <= 4 ? (count + 1) / 2 : count;
}

uint64_t groupCount(const QuantGrid& g) {
    return g.perTensor ? 1 : uint64_t(g.rows) * uint64_t(g.groupsPerRow());
}

struct Counts {
    uint64_t scales, zeros, codeBytes, divisors;
};

// Shape and counts; everything decode indexes by is checked here, before anything is
// allocated from a count.
void checkLayout(const QuantGrid& g, const Counts& n, const std::string& where) {
    if (g.bits < 2 || g.bits > 8) fail(where, "bits", "is " + std::to_string(g.bits) + " (2..8)");
    if (g.rows < 0 || g.rows > kMaxDim)
        fail(where, "rows", "is " + std::to_string(g.rows) + " (0..2^32)");
    if (g.cols < 1 || g.cols > kMaxDim)
        fail(where, "cols", "is " + std::to_string(g.cols) + " (1..2^32)");
    // Divided, not multiplied: rows x cols of two 2^32 bounds overflows (found by fuzz_qlw).
    if (uint64_t(g.rows) > uint64_t(kMaxElements) / uint64_t(g.cols))
        fail(where, "cols", "makes rows x cols exceed 2^40 elements");
    if (g.groupSize < 1 || g.groupSize > g.cols)
        fail(where, "group_size",
             "is " + std::to_string(g.groupSize) + " (1.." + std::to_string(g.cols) + ")");
    auto count = [&](const char* field, uint64_t have, uint64_t want, const char* unit) {
        if (have != want)
            fail(where, field,
                 "has " + std::to_string(have) + " " + unit + ", expected " + std::to_string(want));
    };
    const uint64_t groups = groupCount(g);
    count("scales", n.scales, groups, "values");
    count("zeros", n.zeros, g.symmetric ? 0 : groups, "values");
    count("codes", n.codeBytes, codeBytesFor(g.bits, uint64_t(g.rows) * uint64_t(g.cols)), "bytes");
    if (n.divisors != 0) count("divisors", n.divisors, uint64_t(g.cols), "values");
}

Counts countsOf(const CompactWeights& w) {
    return {w.grid.scales.size(), w.grid.zeros.size(), w.codes.size(), w.columnDivisor.size()};
}

// Values a quantizer can produce; a file holding others is corrupt.
void checkGridValues(const QuantGrid& g, const std::string& where) {
    for (float s : g.scales)
        if (!(s > 0.0f) || !std::isfinite(s))
            fail(where, "scales", "holds a non-positive or non-finite scale");
    for (float z : g.zeros)
        if (!(z >= 0.0f && z <= float(g.qmax())) || z != std::nearbyint(z))
            fail(where, "zeros",
                 "holds a zero point off the " + std::to_string(g.bits) + "-bit grid");
}

void checkValues(const CompactWeights& w, const std::string& where) {
    const QuantGrid& g = w.grid;
    checkGridValues(g, where);
    for (float d : w.columnDivisor)
        if (!(d > 0.0f) || !std::isfinite(d))
            fail(where, "divisors", "holds a non-positive or non-finite divisor");
    const uint64_t n = uint64_t(g.rows) * uint64_t(g.cols);
    const int qmin = g.qmin(), qmax = g.qmax();
    bool onGrid = true;
    if (g.bits <= 4) {
        const int top = qmax - qmin;  // nibbles hold q - qmin
        for (uint64_t i = 0; i < n && onGrid; ++i)
            onGrid = ((w.codes[i / 2] >> ((i & 1) * 4)) & 0xf) <= top;
    } else {
        for (uint64_t i = 0; i < n && onGrid; ++i) {
            const int q = qmin < 0 ? int(int8_t(w.codes[i])) : int(w.codes[i]);
            onGrid = q >= qmin && q <= qmax;
        }
    }
    if (!onGrid)
        fail(where, "codes", "holds a code off the " + std::to_string(g.bits) + "-bit grid");
}

template <class T>
void append(std::string& out, const T* p, size_t n) {
    if (n) out.append(reinterpret_cast<const char*>(p), n * sizeof(T));
}

}  // namespace

uint64_t CompactWeights::bytes() const {
    return codes.size() + (grid.scales.size() + grid.zeros.size() + columnDivisor.size()) * 4;
}

std::vector<float> CompactWeights::decode() const {
    std::vector<float> out(size_t(grid.rows * grid.cols));
    decodeInto(out.data());
    return out;
}

void CompactWeights::decodeInto(float* out) const {
    const QuantGrid& g = grid;
    const int64_t gpr = g.perTensor ? 1 : g.groupsPerRow();
    const int64_t span = g.perTensor ? g.cols : g.groupSize;
    const int qmin = g.qmin();
    const bool nibbles = g.bits <= 4, signedBytes = qmin < 0;
    const float* divisor = columnDivisor.empty() ? nullptr : columnDivisor.data();
    const uint8_t* packed = codes.data();
    parallelChunks(size_t(g.rows), 0, [&](int, size_t b, size_t e) {
        for (size_t row = b; row < e; ++row)
            for (int64_t k = 0; k < gpr; ++k) {
                const size_t idx = g.perTensor ? 0 : row * size_t(gpr) + size_t(k);
                const float scale = g.scales[idx], zero = g.symmetric ? 0.0f : g.zeros[idx];
                const int64_t c0 = k * span, c1 = std::min(g.cols, c0 + span);
                for (int64_t c = c0; c < c1; ++c) {
                    const size_t i = row * size_t(g.cols) + size_t(c);
                    const int q = nibbles       ? int((packed[i / 2] >> ((i & 1) * 4)) & 0xf) + qmin
                                  : signedBytes ? int(int8_t(packed[i]))
                                                : int(packed[i]);
                    // (q - zero) * scale as quantizeWithGrid's r * scale: exact r, one product
                    float v = (float(q) - zero) * scale;
                    if (divisor) v = v / divisor[c];  // as AWQ's dequant / s
                    out[i] = v;
                }
            }
    });
}

CompactWeights compactFromCodes(const QuantGrid& grid, const std::vector<int32_t>& codes,
                                const std::vector<float>& columnDivisor) {
    const std::string where = "compact weights";
    const uint64_t n =
        uint64_t(std::max<int64_t>(grid.rows, 0)) * uint64_t(std::max<int64_t>(grid.cols, 0));
    if (codes.size() != n)
        fail(where, "codes",
             "has " + std::to_string(codes.size()) + " codes, expected " + std::to_string(n));
    checkLayout(
        grid,
        {grid.scales.size(), grid.zeros.size(), codeBytesFor(grid.bits, n), columnDivisor.size()},
        where);
    CompactWeights w;
    w.grid = grid;
    w.codes = pack(codes.data(), grid).data;  // throws for a code off the grid
    w.columnDivisor = columnDivisor;
    return w;
}

CompactWeights compactFromWeights(const float* w, const QuantGrid& grid) {
    const uint64_t n =
        uint64_t(std::max<int64_t>(grid.rows, 0)) * uint64_t(std::max<int64_t>(grid.cols, 0));
    checkLayout(grid, {grid.scales.size(), grid.zeros.size(), codeBytesFor(grid.bits, n), 0},
                "compact weights");
    CompactWeights out;
    out.grid = grid;
    out.codes.reserve(size_t(codeBytesFor(grid.bits, n)));
    // An even number of rows per block: each block's codes fill whole bytes at 4 bits or less.
    const int64_t cols = std::max<int64_t>(grid.cols, 1);
    const int64_t blockRows = std::max<int64_t>(2, (int64_t(1) << 18) / cols / 2 * 2);
    std::vector<int32_t> codes(size_t(std::min(blockRows, std::max<int64_t>(grid.rows, 0)) * cols));
    for (int64_t r0 = 0; r0 < grid.rows; r0 += blockRows) {
        const int64_t count = std::min(blockRows, grid.rows - r0);
        quantizeRowsWithGrid(w, grid, r0, count, codes.data());
        const std::vector<uint8_t> bytes =
            packGridCodes(codes.data(), size_t(count * grid.cols), grid);
        out.codes.insert(out.codes.end(), bytes.begin(), bytes.end());
    }
    return out;
}

void writeCompactWeights(const std::string& path, const CompactWeights& w) {
    const QuantGrid& g = w.grid;
    checkLayout(g, countsOf(w), "weights file '" + path + "'");
    checkValues(w, "weights file '" + path + "'");  // never write what the reader refuses
    Header h{};
    std::memcpy(h.magic, kMagic, 8);
    h.version = kVersion;
    h.bits = uint8_t(g.bits);
    h.flags = uint8_t((g.symmetric ? kSymmetric : 0) | (g.perTensor ? kPerTensor : 0));
    h.rows = g.rows, h.cols = g.cols, h.groupSize = g.groupSize;
    h.scales = g.scales.size(), h.zeros = g.zeros.size();
    h.codeBytes = w.codes.size(), h.divisors = w.columnDivisor.size();
    std::string bytes;
    bytes.reserve(sizeof h + w.bytes());
    append(bytes, &h, 1);
    append(bytes, g.scales.data(), g.scales.size());
    std::vector<uint8_t> zeros(g.zeros.size());
    for (size_t i = 0; i < zeros.size(); ++i) zeros[i] = uint8_t(g.zeros[i]);
    append(bytes, zeros.data(), zeros.size());
    append(bytes, w.codes.data(), w.codes.size());
    append(bytes, w.columnDivisor.data(), w.columnDivisor.size());
    // Durable, as every file of a run folder: saveRun writes them into a temporary folder
    // that is renamed into place whole, which makes the set crash-safe.
    writeFileDurable(path, bytes);
}

namespace {

// Opens a .qlw file and checks its header against the file's size; `in` is left at the
// first scale.
CompactWeights readHeader(const std::string& path, const std::string& where, std::ifstream& in,
                          Header& h) {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(path, ec);
    in.open(path, std::ios::binary);
    if (ec || !in) throw Error(where + " cannot be read (missing or not a file)");
    if (size < sizeof h || !in.read(reinterpret_cast<char*>(&h), sizeof h))
        fail(where, "header", "is truncated (" + std::to_string(size) + " bytes)");
    if (std::memcmp(h.magic, kMagic, 8) != 0) fail(where, "magic", "is not QLWCODE");
    if (h.version != kVersion) fail(where, "version", "is " + std::to_string(h.version) + " (1)");
    if ((h.flags & ~(kSymmetric | kPerTensor)) != 0 || h.reserved != 0)
        fail(where, "flags", "holds unknown bits");
    CompactWeights w;
    QuantGrid& g = w.grid;
    g.bits = h.bits;
    g.symmetric = (h.flags & kSymmetric) != 0;
    g.perTensor = (h.flags & kPerTensor) != 0;
    g.rows = h.rows, g.cols = h.cols, g.groupSize = h.groupSize;
    checkLayout(g, {h.scales, h.zeros, h.codeBytes, h.divisors}, where);
    const uint64_t expected = sizeof h + (h.scales + h.divisors) * 4 + h.zeros + h.codeBytes;
    if (size != expected)
        fail(where, "size",
             "is " + std::to_string(size) + " bytes, the header describes " +
                 std::to_string(expected) + (size < expected ? " (truncated)" : ""));
    return w;
}

// Scales and zero points, which follow the header.
void readGrid(std::ifstream& in, const Header& h, QuantGrid& g) {
    g.scales.resize(size_t(h.scales));
    std::vector<uint8_t> zeros(size_t(h.zeros));
    in.read(reinterpret_cast<char*>(g.scales.data()), std::streamsize(h.scales * 4));
    in.read(reinterpret_cast<char*>(zeros.data()), std::streamsize(h.zeros));
    g.zeros.assign(zeros.begin(), zeros.end());
}

}  // namespace

CompactWeights readCompactWeights(const std::string& path) {
    const std::string where = "weights file '" + path + "'";
    std::ifstream in;
    Header h{};
    CompactWeights w = readHeader(path, where, in, h);
    readGrid(in, h, w.grid);
    w.codes.resize(size_t(h.codeBytes));
    w.columnDivisor.resize(size_t(h.divisors));
    in.read(reinterpret_cast<char*>(w.codes.data()), std::streamsize(h.codeBytes));
    in.read(reinterpret_cast<char*>(w.columnDivisor.data()), std::streamsize(h.divisors * 4));
    if (!in) fail(where, "codes", "could not be read (the file changed while reading)");
    checkValues(w, where);
    return w;
}

QuantGrid readCompactGrid(const std::string& path) {
    const std::string where = "weights file '" + path + "'";
    std::ifstream in;
    Header h{};
    CompactWeights w = readHeader(path, where, in, h);
    readGrid(in, h, w.grid);
    if (!in) fail(where, "scales", "could not be read (the file changed while reading)");
    checkGridValues(w.grid, where);
    return std::move(w.grid);
}

}  // namespace ql
