// Why GPTQ/AWQ may lose to RTN in perplexity on a near-lossless grid: for each shared
// story model and int4 asym grid (g32, per-channel), prints perplexity and mean output
// SQNR of RTN, AWQ and GPTQ at several dampenings; the per-layer output-error ratio
// GPTQ/RTN on the float model's calibration inputs and on held-out (evaluation) inputs;
// and, as a diagnostic only, GPTQ/AWQ calibrated on the evaluation text itself.
// Usage: bench_gptq_vs_rtn <calib.txt> <eval.txt> <model dir>...
#include "base/progress.h"
#include "methods/gptq.h"
#include "methods/method_common.h"
#include "methods/quantize_layers.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Windows = std::vector<std::vector<int32_t>>;
const ql::ProgressReporter kNoProgress{ql::ProgressCallback{}};

std::string readFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

Windows windows(const std::vector<int32_t>& ids, size_t len, size_t maxCount) {
    Windows w;
    for (size_t i = 0; (i + 1) * len <= ids.size() && i < maxCount; ++i)
        w.emplace_back(ids.begin() + i * len, ids.begin() + (i + 1) * len);
    return w;
}

ql::Recipe recipe(ql::QuantMethod m, int group, double damp) {
    ql::Recipe r;
    r.method = m;
    r.bits = 4;
    r.granularity = group > 0 ? ql::Granularity::Group : ql::Granularity::Channel;
    r.groupSize = group;
    r.symmetric = false;
    r.gptqDampening = damp;
    return r;
}

std::vector<std::string> linearNames(const ql::Model& m) {
    std::vector<std::string> n;
    for (const auto& l : m.linears()) n.push_back(l.name);
    return n;
}

double ppl(const ql::Model& m, const std::vector<int32_t>& tokens) {
    ql::PerplexityOptions o;
    o.seq = 256;
    return ql::evaluatePerplexity(m, tokens, o).ppl;
}

// Runs one whole-model quantization; prints perplexity and mean output SQNR.
void runWhole(ql::Model& m, const ql::Recipe& r, const Windows& calib,
              const std::vector<int32_t>& evalTokens, const char* label) {
    m.restoreWeights();
    ql::QuantizeLayersOptions o;
    o.calibration = calib;
    const auto rs = ql::quantizeLayers(m, linearNames(m), r, o, kNoProgress);
    double s = 0.0;
    for (const auto& l : rs) s += l.outputSqnrDb;
    std::printf("  %-5s %-8s damp %.2f %-22s ppl %8.4f  mean output SQNR %6.2f dB\n",
                ql::methodName(r.method).c_str(),
                r.granularity == ql::Granularity::Group ? "g32" : "channel", r.gptqDampening, label,
                ppl(m, evalTokens), s / double(rs.size()));
    m.restoreWeights();
}

// Float-model inputs of every linear over the windows.
std::map<std::string, at::Tensor> captureInputs(ql::Model& m, const Windows& w) {
    const int64_t T = int64_t(w.front().size());
    at::Tensor ids = at::empty({int64_t(w.size()), T}, at::kLong);
    for (size_t i = 0; i < w.size(); ++i)
        for (int64_t t = 0; t < T; ++t) ids[int64_t(i)][t] = w[i][t];
    std::map<std::string, at::Tensor> x;
    m.transformer().forward(
        ids, [&](const ql::Linear& l, const at::Tensor& in, const at::Tensor&) -> at::Tensor {
            x[l.info.name] = in.reshape({-1, in.size(-1)}).to(at::kDouble).clone();
            return {};
        });
    return x;
}

void perLayer(ql::Model& m, int group, const Windows& calib, const Windows& held) {
    const auto xc = captureInputs(m, calib), xh = captureInputs(m, held);
    for (const auto& name : linearNames(m)) {
        const at::Tensor w = m.transformer().linear(name).weight.clone();
        const ql::Recipe r =
            ql::resolveRecipe(recipe(ql::QuantMethod::Gptq, group, 0.01), w.size(1)).recipe;
        const at::Tensor& x = xc.at(name);
        const at::Tensor H = 2.0 * x.t().mm(x).to(at::kFloat) / double(x.size(0));
        const at::Tensor dg = w - ql::gptqQuantize(w, H, r, {}, kNoProgress).dequant;
        const at::Tensor dr = w - ql::rtnQuantize(w, r).dequant;
        auto err = [](const at::Tensor& d, const at::Tensor& in) {
            return d.to(at::kDouble).mm(in.t()).pow(2).sum().item<double>();
        };
        std::printf("  %-8s %-34s GPTQ/RTN output error: calib %.3f  held-out %.3f\n",
                    group > 0 ? "g32" : "channel", name.c_str(), err(dg, x) / err(dr, x),
                    err(dg, xh.at(name)) / err(dr, xh.at(name)));
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s <calib.txt> <eval.txt> <model dir>...\n", argv[0]);
        return 1;
    }
    ql::setComputeThreads(2);
    const std::string calibText = readFile(argv[1]), evalText = readFile(argv[2]);
    for (int a = 3; a < argc; ++a) {
        const std::string dir = argv[a];
        auto m = ql::Model::load(dir);
        const auto tok = ql::Tokenizer::load(dir);
        const auto calibIds = tok->encode(calibText), evalIds = tok->encode(evalText);
        const Windows calib = windows(calibIds, 128, 8), held = windows(evalIds, 128, 16);
        std::printf("%s: calib %zu tokens -> %zu x 128, eval %zu tokens, float ppl %.4f\n",
                    dir.c_str(), calibIds.size(), calib.size(), evalIds.size(), ppl(*m, evalIds));
        for (int group : {32, 0}) {
            runWhole(*m, recipe(ql::QuantMethod::Rtn, group, 0.01), calib, evalIds, "");
            runWhole(*m, recipe(ql::QuantMethod::Awq, group, 0.01), calib, evalIds, "");
            for (double damp : {0.01, 0.03, 0.1, 0.3})
                runWhole(*m, recipe(ql::QuantMethod::Gptq, group, damp), calib, evalIds, "");
            runWhole(*m, recipe(ql::QuantMethod::Awq, group, 0.01), held, evalIds,
                     "(calibrated on eval)");
            runWhole(*m, recipe(ql::QuantMethod::Gptq, group, 0.01), held, evalIds,
                     "(calibrated on eval)");
            perLayer(*m, group, calib, held);
        }
    }
    return 0;
}
