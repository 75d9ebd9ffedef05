// Fast fixed-bin histograms with 64-bit counts; NaN/Inf counted separately.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ql {

struct HistogramStats {
    uint64_t count = 0;      // finite values
    uint64_t nanCount = 0;
    uint64_t posInfCount = 0;
    uint64_t negInfCount = 0;
    double min = 0.0, max = 0.0, mean = 0.0, std = 0.0;
    double kurtosis = 0.0;   // excess kurtosis (normal = 0)
    uint64_t outliers = 0;   // |x - mean| > 6 std
    uint64_t belowRange = 0, aboveRange = 0;  // finite values outside [lo, hi]
};

struct Histogram {
    double lo = 0.0, hi = 0.0;     // bin i covers [lo + i*w, lo + (i+1)*w), the last includes hi
    std::vector<uint64_t> counts;
    HistogramStats stats;

    int bins() const { return int(counts.size()); }
    double binWidth() const { return counts.empty() ? 0.0 : (hi - lo) / double(counts.size()); }
    bool empty() const { return counts.empty(); }
};

// Single pass, multi-threaded (threads <= 0: computeThreads()). lo < hi finite, bins > 0,
// else ql::Error. Bin of a finite x in [lo, hi]: t = (x - lo) * float(bins / (hi - lo)) in
// float32, truncated and clamped to [0, bins-1] (so x == hi is in the last bin); x < lo and
// x > hi are counted in belowRange/aboveRange only. Stats are over finite values; outliers
// (|x - mean| > 6 std, evaluated in float32) are exact.
Histogram computeHistogram(const float* data, size_t n, double lo, double hi, int bins,
                           int threads = 0);

// Min/max of finite values over several arrays (a range covering before and after).
struct Range { double lo = 0.0, hi = 0.0; bool valid = false; };
Range finiteRange(const float* data, size_t n, int threads = 0);
Range unionRange(Range a, Range b);
// Widens a degenerate range (lo == hi) so that it can be binned.
Range binnableRange(Range r);

// Count, mean and central moment sums (m2 = sum (x-mean)^2, ...) of finite values,
// mergeable without loss of accuracy (Chan/Pebay pairwise formulas).
struct RunningMoments {
    double n = 0, mean = 0, m2 = 0, m3 = 0, m4 = 0, min = 0, max = 0;
    void merge(const RunningMoments& other);
    void add(double x);
};

// Streaming accumulation for data that arrives in pieces (activations): fixed range.
// Counts and stats are exact for the concatenation; outliers are counted per piece against
// the mean/std seen so far (approximate when the distribution drifts).
class HistogramAccumulator {
public:
    HistogramAccumulator(double lo, double hi, int bins);
    void add(const float* data, size_t n);
    Histogram result() const;

private:
    Histogram h_;
    RunningMoments moments_;
};

} // namespace ql
