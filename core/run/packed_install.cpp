// installPackedKernels: the run's integer codes (layerCodesOf) -> PackedLinear -> kernel.
#include "run/packed_install.h"

#include "base/error.h"
#include "infer/packed_linear.h"
#include "model/transformer.h"
#include "run/run_internal.h"

#include <memory>

namespace ql {

namespace {

std::string formatName(const infer::PackedLinear& p) {
    const std::string granularity = p.bits() == 8 ? "channel" : "g" + std::to_string(p.groupSize());
    return "int" + std::to_string(p.bits()) + " " + granularity +
           (p.symmetric() ? " sym" : " asym");
}

// Why `l` keeps float32, or "" when its codes can be packed. SmoothQuant layers whose grid
// was applied to W·diag(s) cannot be rebuilt from the checkpoint weight by the grid alone.
std::string unpackableReason(const LayerResult* l) {
    if (!l) return "not quantized by the run";
    if (l->weightAfterSource != "grid" && l->weightAfterSource != "stored")
        return "no integer codes (weight source '" + l->weightAfterSource + "')";
    if (l->weightAfterSource == "grid" && !l->smoothScales.empty())
        return "SmoothQuant scales on a recomputed grid";
    return "";
}

// A decode step's q/k/v and gate/up each in one call where all members are packed (one
// parallel region instead of three or two; infer::PackedLinear::forwardGroup).
void installGroupKernels(Transformer& net,
                         const std::vector<std::shared_ptr<const infer::PackedLinear>>& byIndex) {
    constexpr size_t kPerBlock = 7;  // q, k, v, o, gate, up, down (Transformer::linears)
    for (size_t b = 0; b * kPerBlock < byIndex.size(); ++b) {
        const auto group = [&](Transformer::ProjGroup g, size_t first, size_t n) {
            std::vector<std::shared_ptr<const infer::PackedLinear>> members;
            for (size_t i = first; i < first + n; ++i)
                if (byIndex[b * kPerBlock + i] &&
                    net.linears()[b * kPerBlock + i].info.kind == ProjKind(i))
                    members.push_back(byIndex[b * kPerBlock + i]);
            if (members.size() != n) return;
            net.setGroupKernel(int(b), g, [members](const float* x, float* const* ys) {
                std::vector<const infer::PackedLinear*> layers;
                for (const auto& m : members) layers.push_back(m.get());
                infer::PackedLinear::forwardGroup(layers, x, ys);
            });
        };
        group(Transformer::ProjGroup::Qkv, 0, 3);
        group(Transformer::ProjGroup::GateUp, 4, 2);
    }
}

}  // namespace

PackedInstallReport installPackedKernels(Transformer& net, const RunResult& run,
                                         bool int8Activations) {
    if (net.residency() != Residency::Resident)
        throw Error("packed kernels need the model loaded resident, not streamed");
    PackedInstallReport report;
    // The packed layers by block and kind, for the group kernels (q/k/v, gate/up).
    std::vector<std::shared_ptr<const infer::PackedLinear>> byIndex(net.linears().size());
    for (size_t index = 0; index < net.linears().size(); ++index) {
        Linear& lin = net.linears()[index];
        PackedLayerInstall item;
        item.name = lin.info.name;
        item.floatBytes = uint64_t(lin.info.outFeatures) * uint64_t(lin.info.inFeatures) * 4;
        const LayerResult* l = run.layer(lin.info.name);
        item.reason = unpackableReason(l);
        if (item.reason.empty() &&
            (l->rows != lin.info.outFeatures || l->cols != lin.info.inFeatures))
            throw Error("run layer '" + l->name + "' is " + std::to_string(l->rows) + " x " +
                        std::to_string(l->cols) + " but the model's is " +
                        std::to_string(lin.info.outFeatures) + " x " +
                        std::to_string(lin.info.inFeatures) +
                        ": the run does not belong to this model");
        if (item.reason.empty()) {
            try {
                const at::Tensor w = (lin.original.defined() ? lin.original : lin.weight)
                                         .detach()
                                         .to(at::kFloat)
                                         .contiguous();
                const CompactWeights codes = layerCodesOf(run, *l, w.data_ptr<float>());
                auto layer = std::make_shared<infer::PackedLinear>(
                    infer::PackedLinear::fromCompact(codes, l->name));
                if (int8Activations) layer->setActivationMode(infer::ActivationMode::Int8);
                std::shared_ptr<const infer::PackedLinear> packed = std::move(layer);
                byIndex[index] = packed;
                item.packed = true;
                item.format = formatName(*packed);
                item.packedBytes = packed->bytes();
                lin.kernel = [packed](const float* x, int64_t tokens, float* y) {
                    packed->forward(x, tokens, y);
                };
                lin.weight = at::Tensor();
                lin.original = at::Tensor();
            } catch (const Error& e) {
                item.reason = e.what();
            }
        }
        // A run layer without packable codes computes as the run simulated it: its float32
        // quantized weight (afterWeightsOf throws naming the layer when that is missing).
        if (!item.packed && l) {
            const at::Tensor w = (lin.original.defined() ? lin.original : lin.weight)
                                     .detach()
                                     .to(at::kFloat)
                                     .contiguous();
            setLinearWeight(net, lin.info.name,
                            afterWeightsOf(run, *l, w.data_ptr<float>(), size_t(w.numel())));
            item.simulated = true;
        }
        if (item.packed) {
            ++report.packedLayers;
            report.packedBytes += item.packedBytes;
            report.floatBytesReleased += item.floatBytes;
        } else {
            report.floatBytesKept += item.floatBytes;
        }
        report.layers.push_back(std::move(item));
    }
    installGroupKernels(net, byIndex);
    return report;
}

std::string describeInstall(const PackedInstallReport& p) {
    std::string format;
    int floatLayers = 0;
    for (const PackedLayerInstall& l : p.layers) {
        if (l.packed && format.empty()) format = l.format;
        if (l.packed && l.format != format) format = "mixed";
        if (!l.packed && l.simulated) ++floatLayers;
    }
    if (p.packedLayers == 0) return "simulated-f32 (no packable layer)";
    if (floatLayers == 0) return "packed (" + format + ")";
    return "packed " + std::to_string(p.packedLayers) + " (" + format + ") + f32 " +
           std::to_string(floatLayers);
}

}  // namespace ql
