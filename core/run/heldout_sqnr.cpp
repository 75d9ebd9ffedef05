// Output SQNR on windows the quantizer did not fit to. GPTQ and AWQ minimise the output
// error on their calibration windows, so SQNR measured there flatters them; here the
// quantized model runs windows it never saw and every selected layer compares its actual
// output with the float weight applied to the same input.
#include "run/run_torch.h"
#include "run/stream_engine.h"

#include <algorithm>

namespace ql {

void measureOutputSqnr(Transformer& net, ModelStates& states, const Windows& windows,
                       std::vector<LayerResult>& layers, double outlierThreshold,
                       const ProgressReporter& rep) {
    // The same measurement as the block-streamed engine's (SqnrStats, stream_stats.cpp).
    SqnrStats sqnr(layers);
    const LinearObserver observer = sqnr.observer();
    at::NoGradGuard noGrad;
    states.use(true);
    // The activation side's error is summed too (SqnrStats::measuring); the wrapper refers
    // to `sqnr`, so the plain quantizer is put back on every way out.
    net.setInputQuantizer(sqnr.measuring(states.inputQuantizer(), outlierThreshold));
    try {
        const size_t batch = batchWindows(int64_t(windows.front().size()), 1);
        for (size_t w0 = 0; w0 < windows.size(); w0 += batch) {
            rep.checkCancelled();
            const size_t n = std::min(batch, windows.size() - w0);
            at::Tensor hidden = net.embed(idsTensor(windows, w0, n));
            for (int b = 0; b < net.config().numLayers; ++b)
                hidden = net.block(b, hidden, observer);
            rep.report("output SQNR", double(w0 + n) / double(windows.size()));
        }
    } catch (...) {
        states.use(true);
        throw;
    }
    states.use(true);
    sqnr.finish(layers);
}

}  // namespace ql
