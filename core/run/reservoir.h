// core/run private: a uniform random sample of a stream of floats (activation samples
// kept for re-binning) and the per-layer seed that makes it reproducible.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ql {

// Reservoir sampling, Li's Algorithm L: a uniform sample of k values of a stream, with
// O(k (1 + log(N/k))) random draws instead of one per value.
class Reservoir {
public:
    Reservoir(size_t k, uint64_t seed) : k_(k), rng_(seed) {}

    void add(const float* p, size_t n) {
        size_t i = 0;
        while (items_.size() < k_ && i < n) {
            items_.push_back(p[i++]);
            if (items_.size() == k_) start(seen_ + i);
        }
        while (items_.size() == k_ && next_ < seen_ + n) {
            items_[std::uniform_int_distribution<size_t>(0, k_ - 1)(rng_)] = p[next_ - seen_];
            advance();
        }
        seen_ += n;
    }
    std::vector<float> take() { return std::move(items_); }

private:
    double uniform() {
        double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        return u > 0.0 ? u : 1e-300;
    }
    void start(uint64_t filled) {
        w_ = std::exp(std::log(uniform()) / double(k_));
        next_ = filled - 1;
        advance();
    }
    void advance() {
        next_ += uint64_t(std::floor(std::log(uniform()) / std::log1p(-w_))) + 1;
        w_ *= std::exp(std::log(uniform()) / double(k_));
    }

    size_t k_;
    std::mt19937_64 rng_;
    std::vector<float> items_;
    uint64_t seen_ = 0, next_ = 0;
    double w_ = 1.0;
};

inline constexpr size_t kSampleSize = 65536;

inline uint64_t fnv1a(const std::string& s, uint64_t salt) {
    uint64_t h = 1469598103934665603ull ^ salt;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

}  // namespace ql
