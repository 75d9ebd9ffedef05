// core/run private, torch-facing: the activation side of a run's recipe (quant/recipe.h,
// "+aB[:token|tensor][:sym|asym]") as the input quantizer of the quantized model, for the
// selected layers only (the layers whose weights are quantized; others keep float inputs).
// Per-tensor static ranges are calibrated on the float model's inputs over the fit
// calibration windows (not the held-out ones), the same windows in both engines.
#pragma once

#include "model/transformer.h"
#include "quant/histogram.h"
#include "quant/recipe.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ql {

class ActivationSide {
public:
    ActivationSide(const Recipe& recipe, const std::vector<std::string>& layers);
    bool active() const { return recipe_.quantizesActivations(); }
    bool needsCalibration() const { return active() && !recipe_.actPerToken; }
    // Records the range of each selected layer's input (run it on the float model).
    LinearObserver calibrationObserver();
    // The input quantizer of the quantized model; empty when the recipe has no activation side.
    // Throws ql::Error for a static layer that was never calibrated.
    InputQuantizer quantizer() const;
    // x_hat of one selected layer's input.
    at::Tensor quantize(const std::string& layer, const at::Tensor& x) const;
    // SmoothQuant: from now on the layer's input is quantized as Q(x·diag(1/s))·diag(s)
    // (methods/smoothquant.h); set by the engines as each layer is quantized.
    void setSmoothing(const std::string& layer, const std::vector<float>& scales);
    // LayerResult::activationClipLo/Hi of a calibrated static, unsmoothed layer (NaN, NaN
    // otherwise): where fakeQuantStatic clamps, computed as it computes its grid (float32).
    std::pair<double, double> clipRange(const std::string& layer) const;

private:
    at::Tensor quantizeRaw(const std::string& layer, const at::Tensor& x) const;
    Recipe recipe_;
    std::map<std::string, Range> ranges_;       // per selected layer (static: calibrated)
    std::map<std::string, at::Tensor> smooth_;  // SmoothQuant's s per smoothed layer
};

}  // namespace ql
