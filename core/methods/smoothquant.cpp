#include "methods/smoothquant.h"

#include "base/error.h"

namespace ql {

at::Tensor smoothScales(const at::Tensor& inputAbsMax, const std::vector<at::Tensor>& weights,
                        double alpha) {
    at::NoGradGuard noGrad;
    if (weights.empty()) throw Error("SmoothQuant: no weights to smooth");
    at::Tensor wMax = std::get<0>(weights.front().abs().max(0));
    for (size_t i = 1; i < weights.size(); ++i)
        wMax = at::maximum(wMax, std::get<0>(weights[i].abs().max(0)));
    const at::Tensor xMax = inputAbsMax.to(at::kFloat);
    if (xMax.numel() != wMax.numel())
        throw Error("SmoothQuant: the input has " + std::to_string(xMax.numel()) +
                    " channels, the weights " + std::to_string(wMax.numel()) + " columns");
    // pow in double: float's pow of tiny maxima underflows before the division.
    const at::Tensor x = xMax.to(at::kDouble), w = wMax.to(at::kDouble);
    at::Tensor s = (x.pow(alpha) / w.pow(1.0 - alpha)).clamp(1e-5, 1e5);
    const at::Tensor inactive = (x == 0) | (w == 0) | at::isnan(s);
    s = at::where(inactive, at::ones_like(s), s);
    return s.to(at::kFloat);
}

GridQuant smoothQuantize(const at::Tensor& weight, const at::Tensor& s, const Recipe& recipe) {
    GridQuant q = rtnQuantize(weight.to(at::kFloat) * s.unsqueeze(0), recipe);
    q.dequant = q.dequant / s.unsqueeze(0);
    return q;
}

at::Tensor smoothedHessian(const at::Tensor& hessian, const at::Tensor& s) {
    const at::Tensor inv = s.to(at::kFloat).reciprocal();
    return hessian * inv.unsqueeze(0) * inv.unsqueeze(1);
}

void foldSmoothing(Transformer& net, int block, const std::vector<at::Tensor>& scales) {
    at::NoGradGuard noGrad;
    if (scales.size() != 4) throw Error("SmoothQuant: four stage scales expected");
    for (Linear& l : net.linears()) {
        if (l.info.block != block) continue;
        int stage = 0;
        switch (l.info.kind) {
            case ProjKind::Q:
            case ProjKind::K:
            case ProjKind::V:
                stage = 0;
                break;
            case ProjKind::O:
                stage = 1;
                break;
            case ProjKind::Gate:
            case ProjKind::Up:
                stage = 2;
                break;
            case ProjKind::Down:
                stage = 3;
                break;
        }
        const at::Tensor& s = scales[size_t(stage)];
        if (s.defined()) l.weight = (l.weight * s.unsqueeze(0)).contiguous();
    }
    if (scales[0].defined()) net.inputNorm(block) = net.inputNorm(block) / scales[0];
    if (scales[2].defined())
        net.postAttentionNorm(block) = net.postAttentionNorm(block) / scales[2];
}

}  // namespace ql
