// The activation side of a run (see activation_side.h).
#include "run/activation_side.h"

#include "base/error.h"
#include "methods/activation_quant.h"
#include "methods/smoothquant.h"

#include <algorithm>
#include <cmath>

namespace ql {

ActivationSide::ActivationSide(const Recipe& recipe, const std::vector<std::string>& layers)
    : recipe_(recipe) {
    for (const std::string& name : layers) ranges_[name];
}

LinearObserver ActivationSide::calibrationObserver() {
    return [this](const Linear& layer, const at::Tensor& input, const at::Tensor&) -> at::Tensor {
        const auto it = ranges_.find(layer.info.name);
        if (it == ranges_.end()) return {};
        const at::Tensor v = input.detach();
        const Range r{v.min().item<float>(), v.max().item<float>(), true};
        it->second = it->second.valid ? unionRange(it->second, r) : r;
        return {};
    };
}

void ActivationSide::setSmoothing(const std::string& layer, const std::vector<float>& scales) {
    smooth_[layer] = at::tensor(at::ArrayRef<float>(scales), at::kFloat);
}

at::Tensor ActivationSide::quantize(const std::string& layer, const at::Tensor& x) const {
    const auto smoothed = smooth_.find(layer);
    if (smoothed != smooth_.end())
        return smoothedInput(x, smoothed->second,
                             [&](const at::Tensor& xs) { return quantizeRaw(layer, xs); });
    return quantizeRaw(layer, x);
}

at::Tensor ActivationSide::quantizeRaw(const std::string& layer, const at::Tensor& x) const {
    if (recipe_.outlierThreshold > 0.0) return llmInt8Input(x, recipe_.outlierThreshold);
    if (recipe_.actPerToken) return fakeQuantPerToken(x, recipe_.actBits, recipe_.actSymmetric);
    const Range& r = ranges_.at(layer);
    if (!r.valid) throw Error("internal: no calibrated activation range for layer '" + layer + "'");
    return fakeQuantStatic(x, recipe_.actBits, recipe_.actSymmetric, float(r.lo), float(r.hi));
}

std::pair<double, double> ActivationSide::clipRange(const std::string& layer) const {
    const double nan = std::nan("");
    const auto it = ranges_.find(layer);
    if (!active() || recipe_.actPerToken || recipe_.outlierThreshold > 0.0 || it == ranges_.end() ||
        !it->second.valid || smooth_.count(layer) > 0)
        return {nan, nan};
    const float lo = float(it->second.lo), hi = float(it->second.hi);
    if (recipe_.actSymmetric) {
        const int qmax = (1 << (recipe_.actBits - 1)) - 1;
        float scale = std::max(std::fabs(lo), std::fabs(hi)) / float(qmax);
        if (!(scale > 0.0f)) scale = 1.0f;
        return {double(float(-qmax - 1) * scale), double(float(qmax) * scale)};
    }
    const int levels = (1 << recipe_.actBits) - 1;
    const float lo0 = std::min(lo, 0.0f), hi0 = std::max(hi, 0.0f);
    float scale = (hi0 - lo0) / float(levels);
    if (!(scale > 0.0f)) scale = 1.0f;
    const float zero = std::nearbyint(-lo0 / scale);  // half to even, as at::round
    return {double((0.0f - zero) * scale), double((float(levels) - zero) * scale)};
}

InputQuantizer ActivationSide::quantizer() const {
    if (!active()) return {};
    return [this](const Linear& layer, const at::Tensor& x) -> at::Tensor {
        if (ranges_.count(layer.info.name) == 0) return x;
        return quantize(layer.info.name, x);
    };
}

}  // namespace ql
