// PackedLinear's Int8 activation mode (W8A8 / W4A8): the row-interleaved form of the codes
// that packed_kernels_a8.h reads, built from the row-major form and converted back, and the
// decode path over it. One form is held at a time (setActivationMode).
#include "infer/packed_kernels.h"
#include "infer/packed_kernels_a8.h"
#include "infer/packed_linear.h"

#include <cstring>
#include <vector>

namespace ql::infer {

namespace {

template <class T>
void release(std::vector<T>& v) {
    std::vector<T>().swap(v);
}

}  // namespace

uint64_t PackedLinear::a8Bytes() const {
    return a8codes_.size() + a8scales_.size() * sizeof(float) + a8zeros_.size();
}

void PackedLinear::setActivationMode(ActivationMode mode) {
    if (mode != mode_ && rows_ > 0) {
        if (mode == ActivationMode::Int8) {
            buildA8();
            release(rowForm_.codes), release(rowForm_.scales), release(rowForm_.zeros);
        } else {
            rowFormFromA8(0, rows_, rowForm_);
            release(a8codes_), release(a8scales_), release(a8zeros_);
        }
    }
    mode_ = mode;
}

// The row-interleaved tiles of packed_kernels_a8.h from this layer's codes.
void PackedLinear::buildA8() {
    constexpr int64_t T = detail::kA8Tile;
    const int64_t tiles = (rows_ + T - 1) / T;
    const int64_t pcols = (cols_ + detail::kA8Block - 1) / detail::kA8Block * detail::kA8Block;
    const int64_t tileBytes = T * pcols * bits_ / 8, G = groupsPerRow_;
    a8codes_.assign(size_t(tiles * tileBytes), 0);
    a8scales_.assign(size_t(tiles * G * T), 0.0f);
    if (asymmetric_) a8zeros_.assign(size_t(tiles * G * T), 0);
    // u (0..15) of INT4 weight (r, j) in the 32-weight block layout of the row form.
    auto u4 = [&](int64_t r, int64_t j) {
        const uint8_t byte = rowForm_.codes[size_t(r * rowBytes_ + j / 32 * 16 + j % 16)];
        return uint8_t(j % 32 < 16 ? byte & 15 : byte >> 4);
    };
    for (int64_t r = 0; r < rows_; ++r) {
        const int64_t t = r / T, l = r % T;
        uint8_t* tile = a8codes_.data() + t * tileBytes;
        if (bits_ == 8) {
            // Symmetric int8 codes + 128 (the u8 side); the kernels use zero point 128.
            const uint8_t flip = asymmetric_ ? 0 : 0x80;
            for (int64_t j = 0; j < cols_; ++j)
                tile[(j / 4) * 64 + l * 4 + j % 4] =
                    uint8_t(rowForm_.codes[size_t(r * cols_ + j)] ^ flip);
        } else {
            for (int64_t j = 0; j < cols_; j += 8)
                for (int i = 0; i < 4; ++i)
                    tile[(j / 8) * 64 + l * 4 + i] =
                        uint8_t(u4(r, j + i) | (u4(r, j + 4 + i) << 4));
        }
        for (int64_t g = 0; g < G; ++g) {
            a8scales_[size_t((t * G + g) * T + l)] = rowForm_.scales[size_t(r * G + g)];
            if (asymmetric_)
                a8zeros_[size_t((t * G + g) * T + l)] = rowForm_.zeros[size_t(r * G + g)];
        }
    }
}

// The inverse of buildA8 for rows [r0, r1): codes in the row form's layout, scales, zero
// points.
void PackedLinear::rowFormFromA8(int64_t r0, int64_t r1, RowForm& out) const {
    constexpr int64_t T = detail::kA8Tile;
    const int64_t pcols = (cols_ + detail::kA8Block - 1) / detail::kA8Block * detail::kA8Block;
    const int64_t tileBytes = T * pcols * bits_ / 8, G = groupsPerRow_, n = r1 - r0;
    out.codes.resize(size_t(n * rowBytes_));
    out.scales.resize(size_t(n * G));
    out.zeros.resize(asymmetric_ ? size_t(n * G) : 0);
    const auto scalesOf = [&](int64_t r) {
        const int64_t t = r / T, l = r % T;
        for (int64_t g = 0; g < G; ++g) {
            out.scales[size_t((r - r0) * G + g)] = a8scales_[size_t((t * G + g) * T + l)];
            if (asymmetric_)
                out.zeros[size_t((r - r0) * G + g)] = a8zeros_[size_t((t * G + g) * T + l)];
        }
    };
    const uint8_t flip = bits_ == 8 && !asymmetric_ ? 0x80 : 0;
    for (int64_t r = r0; r < r1;) {
        const int64_t t = r / T, l = r % T;
        uint8_t* row = out.codes.data() + (r - r0) * rowBytes_;
        // Whole tiles 16 rows at a time where the kernels can (prefill converts every panel).
        if (l == 0 && r + T <= r1 &&
            detail::tileCodesToRows(a8codes_.data() + t * tileBytes, bits_, cols_, flip, row,
                                    rowBytes_)) {
            for (int64_t i = 0; i < T; ++i) scalesOf(r + i);
            r += T;
            continue;
        }
        const uint8_t* lane = a8codes_.data() + t * tileBytes + l * 4;  // 4 bytes per 64
        if (bits_ == 8) {
            // 4 columns per lane word; symmetric codes were stored + 128
            const uint32_t flips = flip * 0x01010101u;
            int64_t j = 0;
            for (; j + 4 <= cols_; j += 4) {
                uint32_t word;
                std::memcpy(&word, lane + (j / 4) * 64, 4);
                word ^= flips;
                std::memcpy(row + j, &word, 4);
            }
            for (; j < cols_; ++j) row[j] = uint8_t(lane[(j / 4) * 64 + j % 4] ^ flip);
        } else {
            // A lane word of 8 columns holds columns 0-3 in its low nibbles and 4-7 in its
            // high ones; as 8 bytes, one column each: spread(). A 32-column block of the row
            // form holds column i in the low nibble of byte i and column 16 + i in its high
            // nibble: words 0 and 2 (columns 0-7, 16-23) make bytes 0-7, words 1 and 3 the rest.
            static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "words read as bytes");
            auto spread = [](uint32_t w) {
                return uint64_t(w & 0x0F0F0F0Fu) | (uint64_t((w >> 4) & 0x0F0F0F0Fu) << 32);
            };
            for (int64_t j = 0; j < cols_; j += 32) {
                uint32_t w[4];
                for (int k = 0; k < 4; ++k) std::memcpy(&w[k], lane + (j / 8 + k) * 64, 4);
                const uint64_t lo = spread(w[0]) | (spread(w[2]) << 4);
                const uint64_t hi = spread(w[1]) | (spread(w[3]) << 4);
                std::memcpy(row + j / 2, &lo, 8);
                std::memcpy(row + j / 2 + 8, &hi, 8);
            }
        }
        scalesOf(r);
        ++r;
    }
}

detail::A8View PackedLinear::a8View() const {
    const int64_t blocks = (cols_ + detail::kA8Block - 1) / detail::kA8Block;
    return {a8codes_.data(),
            a8scales_.data(),
            a8zeros_.empty() ? nullptr : a8zeros_.data(),
            bits_ == 8 ? 128 : int32_t(symZero_),
            blocks,
            bits_ == 8 ? blocks : group_ / detail::kA8Block,
            groupsPerRow_,
            detail::kA8Tile * blocks * detail::kA8Block * bits_ / 8,
            bits_};
}

void PackedLinear::decodeForwardA8(const float* x, int64_t tokens, float* y) const {
    constexpr int64_t T = detail::kA8Tile;
    const int64_t tiles = (rows_ + T - 1) / T;
    const int64_t blocks = (cols_ + detail::kA8Block - 1) / detail::kA8Block;
    const detail::A8View view = a8View();
    const detail::GemvA8Fn gemv = detail::activeGemvA8();
    thread_local std::vector<float> scaled, d;
    thread_local std::vector<int8_t> q;
    thread_local std::vector<int32_t> bsum;
    scaled.resize(size_t(cols_));
    q.resize(size_t(blocks * detail::kA8Block));
    d.resize(size_t(blocks));
    bsum.resize(size_t(blocks));
    // Tiles per thread: the float path's split of the rows, in units of 16-row tiles.
    const std::vector<RowRange> ranges = decodeRowRanges(tiles, cols_ * T, intraOpThreads());
    for (int64_t t = 0; t < tokens; ++t) {
        const float* xt = x + t * cols_;
        if (!divisors_.empty()) {
            // AWQ: x_j * (v_j / d_j) is computed as (x_j / d_j) * v_j, then quantized.
            for (int64_t j = 0; j < cols_; ++j) scaled[size_t(j)] = xt[j] / divisors_[size_t(j)];
            xt = scaled.data();
        }
        detail::quantizeActivationsA8(xt, cols_, q.data(), d.data(), bsum.data());
        const detail::A8Act act{q.data(), d.data(), bsum.data()};
        float* yt = y + t * rows_;
        runOnThreads(int64_t(ranges.size()), [&](int64_t i) {
            gemv(view, act, ranges[size_t(i)].begin, ranges[size_t(i)].end, yt, rows_);
        });
    }
}

namespace detail {
GemvA8Fn activeGemvA8() {
    switch (activeA8Isa()) {
        case A8Isa::Avx512Vnni:
            return gemvA8Avx512Vnni;
        case A8Isa::AvxVnni:
            return gemvA8AvxVnni;
        default:
            return gemvA8Scalar;
    }
}
}  // namespace detail

}  // namespace ql::infer
