// Output SQNR on windows the quantizer did not fit to. GPTQ and AWQ minimise the output
// error on their calibration windows, so SQNR measured there flatters them; here the
// quantized model runs windows it never saw and every selected layer compares its actual
// output with the float weight applied to the same input.
#include "run/run_torch.h"

#include <cmath>
#include <limits>
#include <map>

namespace ql {

void measureOutputSqnr(Transformer& net, ModelStates& states, const Windows& windows,
                       std::vector<LayerResult>& layers, const ProgressReporter& rep) {
    struct Energy {
        double signal = 0.0, noise = 0.0;
    };
    std::map<std::string, Energy> energy;
    for (const auto& l : layers) energy[l.name];
    // Inputs as the quantized model sees them; W the float weight (Linear::original),
    // the layer's output computed with the quantized weight (bias included on both sides).
    const LinearObserver observer = [&](const Linear& layer, const at::Tensor& input,
                                        const at::Tensor& output) -> at::Tensor {
        const auto it = energy.find(layer.info.name);
        if (it == energy.end()) return {};
        at::Tensor reference = at::matmul(input.detach(), layer.original.detach().t());
        it->second.signal += reference.pow(2).sum(at::kDouble).item<double>();
        if (layer.bias.defined()) reference = reference + layer.bias.detach();
        it->second.noise += (reference - output.detach()).pow(2).sum(at::kDouble).item<double>();
        return {};
    };
    at::NoGradGuard noGrad;
    states.use(true);
    const size_t batch = batchWindows(int64_t(windows.front().size()), 1);
    for (size_t w0 = 0; w0 < windows.size(); w0 += batch) {
        rep.checkCancelled();
        const size_t n = std::min(batch, windows.size() - w0);
        at::Tensor hidden = net.embed(idsTensor(windows, w0, n));
        for (int b = 0; b < net.config().numLayers; ++b) hidden = net.block(b, hidden, observer);
        rep.report("output SQNR", double(w0 + n) / double(windows.size()));
    }
    for (auto& l : layers) {
        const Energy& e = energy[l.name];
        l.outputSqnrDb = e.noise > 0.0 ? 10.0 * std::log10(e.signal / e.noise)
                                       : std::numeric_limits<double>::infinity();
    }
}

}  // namespace ql
