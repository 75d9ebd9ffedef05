// Benches' packed layers: RTN codes of given weights (INT8 per-channel symmetric, or INT4
// g128 asymmetric), as quantlens-cli quantize --recipe rtn:int8:channel:sym|rtn:int4:g128:asym
// would pack them.
#pragma once

#include "infer/packed_linear.h"
#include "quant/compact_weights.h"
#include "quant/quantize.h"

#include <cstdint>
#include <vector>

namespace qlbench {

inline ql::infer::PackedLinear packedRtnLayer(const std::vector<float>& w, int64_t rows,
                                              int64_t cols, int bits) {
    ql::Recipe r;
    r.method = ql::QuantMethod::Rtn;
    r.bits = bits;
    r.granularity = bits == 8 ? ql::Granularity::Channel : ql::Granularity::Group;
    r.groupSize = bits == 8 ? 0 : 128;
    r.symmetric = bits == 8;
    const ql::QuantGrid g = ql::computeGrid(w.data(), rows, cols, r);
    std::vector<int32_t> q(w.size());
    ql::quantizeWithGrid(w.data(), g, q.data(), nullptr);
    return ql::infer::PackedLinear::fromCompact(ql::compactFromCodes(g, q));
}

}  // namespace qlbench
