// The activation side of a run (see activation_side.h).
#include "run/activation_side.h"

#include "base/error.h"
#include "methods/activation_quant.h"
#include "methods/smoothquant.h"

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

InputQuantizer ActivationSide::quantizer() const {
    if (!active()) return {};
    return [this](const Linear& layer, const at::Tensor& x) -> at::Tensor {
        if (ranges_.count(layer.info.name) == 0) return x;
        return quantize(layer.info.name, x);
    };
}

}  // namespace ql
