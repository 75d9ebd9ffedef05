#include "methods/method_common.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

namespace ql {

ResolvedRecipe resolveRecipe(const Recipe& recipe, int64_t cols) {
    ResolvedRecipe r{recipe, false, {}};
    if (recipe.isCast() || recipe.granularity != Granularity::Group) return r;
    if (recipe.groupSize <= 0 || cols % recipe.groupSize != 0) {
        r.recipe = channelRecipe(recipe);
        r.fallback = true;
        r.reason = "group size " + std::to_string(recipe.groupSize) + " does not divide the " +
                   std::to_string(cols) + " columns; per-channel at " +
                   std::to_string(recipe.bits) + " bits instead";
    }
    return r;
}

Recipe channelRecipe(const Recipe& recipe) {
    Recipe r = recipe;
    r.granularity = Granularity::Channel;
    r.groupSize = 0;
    return r;
}

namespace {
std::mutex& codesMutex() {
    static std::mutex m;
    return m;
}
std::vector<int32_t>& keptCodes() {
    static std::vector<int32_t> kept;
    return kept;
}
}  // namespace

std::vector<int32_t> codesBuffer(size_t n) {
    std::vector<int32_t> out;
    {
        std::lock_guard<std::mutex> lock(codesMutex());
        if (keptCodes().capacity() >= n) out.swap(keptCodes());
    }
    out.resize(n);
    return out;
}

void recycleCodes(std::vector<int32_t>&& codes) {
    std::lock_guard<std::mutex> lock(codesMutex());
    if (codes.capacity() > keptCodes().capacity()) keptCodes().swap(codes);
    codes = std::vector<int32_t>();
}

void dropRecycledCodes() {
    std::lock_guard<std::mutex> lock(codesMutex());
    keptCodes() = std::vector<int32_t>();
}

GridQuant rtnQuantize(const at::Tensor& weight, const Recipe& recipe) {
    const at::Tensor w = weight.to(at::kFloat).contiguous();
    const int64_t rows = w.size(0), cols = w.size(1);
    GridQuant out;
    out.grid = computeGrid(w.data_ptr<float>(), rows, cols, recipe);
    out.codes = codesBuffer(static_cast<size_t>(rows * cols));  // every code is written below
    out.dequant = at::empty({rows, cols}, at::kFloat);
    quantizeWithGrid(w.data_ptr<float>(), out.grid, out.codes.data(),
                     out.dequant.data_ptr<float>());
    return out;
}

void addGram(at::Tensor& gram, const at::Tensor& x, const ProgressReporter* progress) {
    const int64_t in = x.size(1);
    for (int64_t j0 = 0; j0 < in; j0 += kGramPanel) {
        if (progress) progress->checkCancelled();
        const int64_t j1 = std::min(in, j0 + kGramPanel);
        // Rows 0..j1 of the panel's columns: the part on and above the diagonal.
        gram.slice(0, 0, j1).slice(1, j0, j1).addmm_(x.slice(1, 0, j1).t(), x.slice(1, j0, j1));
        // The lower triangle mirrors the upper, the diagonal block's too (a GEMM's XᵀX is
        // symmetric only to rounding).
        at::Tensor diagonal = gram.slice(0, j0, j1).slice(1, j0, j1);
        diagonal.copy_(diagonal.triu() + diagonal.triu(1).t());
        if (j0 > 0)
            gram.slice(0, j0, j1).slice(1, 0, j0).copy_(gram.slice(0, 0, j0).slice(1, j0, j1).t());
    }
}

void InputStats::add(const at::Tensor& input, int64_t sampleStride,
                     const ProgressReporter* progress) {
    const int64_t in = input.size(-1);
    const at::Tensor x = input.detach().to(at::kFloat).reshape({-1, in});
    const int64_t n = x.size(0);
    if (!gram.defined()) {
        gram = at::zeros({in, in}, at::kFloat);
        absSum = at::zeros({in}, at::kFloat);
        absMax = at::zeros({in}, at::kFloat);
    }
    addGram(gram, x, progress);
    const at::Tensor ax = x.abs();
    absSum.add_(ax.sum(0));
    absMax = at::maximum(absMax, std::get<0>(ax.max(0)));
    // rows r with (rows + r) % stride == 0: a deterministic, evenly spread subsample
    const int64_t stride = std::max<int64_t>(1, sampleStride);
    const int64_t first = (stride - rows % stride) % stride;
    if (first < n) {
        const at::Tensor picked = x.index_select(0, at::arange(first, n, stride, at::kLong));
        sample = sample.defined() ? at::cat({sample, picked}, 0) : picked.clone();
    }
    rows += n;
}

double outputErrorEnergy(const at::Tensor& delta, const InputStats& stats) {
    const int64_t in = delta.size(1);
    const at::Tensor d = delta.to(at::kFloat);
    if (stats.sample.defined() && stats.sample.size(0) < in)
        return d.mm(stats.sample.t()).pow(2).sum().item<double>();
    return d.mm(stats.gram).mul_(d).sum().item<double>();
}

double outputSqnrDb(const at::Tensor& weight, const at::Tensor& dequant, const InputStats& stats) {
    if (stats.empty()) return std::numeric_limits<double>::quiet_NaN();
    const double signal = outputErrorEnergy(weight, stats);
    const double noise = outputErrorEnergy(weight - dequant, stats);
    if (noise <= 0.0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal / noise);
}

std::vector<float> toVector(const at::Tensor& t) {
    const at::Tensor c = t.to(at::kFloat).contiguous();
    const float* p = c.data_ptr<float>();
    return std::vector<float>(p, p + c.numel());
}

}  // namespace ql
