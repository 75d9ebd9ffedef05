// Decode-step paths A/B in one process (issue 11, BENCHMARKS.md "Decode step's fixed cost"):
// two decoders of the same packed model (a run's codes, the output head INT8), both fed the
// same prompt, then step by step one token each, the paths alternated per step and their
// order swapped every step, so that other load on the machine falls on both alike.
// Per path: median and mean wall ms per step, tok/s from the median, process CPU ms per step,
// and the fraction of the read-bandwidth limit (weight bytes read per token / probe, the probe
// run before and after).
// Usage: bench_decode_step MODEL RUN [a8] [steps=32] [prompt=128] [paths=aten,loops]
// A path may name the decode workers' spin in µs after a colon: loops:0,loops:200. The path
// "read" is no decoder but a read of the step's weight bytes (base/read_bandwidth.h
// PacedReader), alternated with the steps like a path: each path is then also set against it
// (the bandwidth of the same moment, as bench-infer's "beside"). With QL_DECODE_PROFILE=1 set,
// each path's ms per step by stage (model/stage_profile.h) as well.
#include "base/parallel.h"
#include "base/process_env.h"
#include "base/read_bandwidth.h"
#include "base/spin_team.h"
#include "bench_timing.h"
#include "model/decoder.h"
#include "model/model.h"
#include "model/stage_profile.h"
#include "model/transformer.h"
#include "run/packed_install.h"
#include "run/run.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int32_t argmax(const std::vector<float>& v) {
    return int32_t(std::max_element(v.begin(), v.end()) - v.begin());
}

// "PATH[:SPIN_US]": sets the decode team's spin (spin_team.h) when given, returns the path.
ql::DecodeStepPath parsePath(const std::string& name) {
    const size_t colon = name.find(':');
    if (colon != std::string::npos) ql::setDecodeSpinMicros(std::atoi(name.c_str() + colon + 1));
    const std::string s = name.substr(0, colon);
    if (s == "aten") return ql::DecodeStepPath::Aten;
    if (s == "ungrouped") return ql::DecodeStepPath::LoopsUngrouped;
    return ql::DecodeStepPath::Loops;
}

}  // namespace

int main(int argc, char** argv) {
    ql::ensurePassiveOpenMpWait(argv);  // as quantlens-cli
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL RUN [a8|f32] [steps] [prompt] [paths]\n", argv[0]);
        return 2;
    }
    const bool a8 = argc > 3 && std::string(argv[3]) == "a8";
    const int steps = argc > 4 ? std::atoi(argv[4]) : 32;
    const int promptTokens = argc > 5 ? std::atoi(argv[5]) : 128;
    std::vector<std::string> names;
    {
        std::string list = argc > 6 ? argv[6] : "aten,loops";
        for (size_t b = 0; b <= list.size();) {
            const size_t e = std::min(list.find(',', b), list.size());
            names.push_back(list.substr(b, e - b));
            b = e + 1;
        }
    }
    const int threads = 2;
    at::set_num_threads(threads);
    ql::setComputeThreadsForKernels(threads);
    std::printf("load before %s\n", qlbench::loadavg().c_str());
    const double bw0 = ql::probeReadBandwidth(threads).bytesPerSecond;

    const auto model = ql::Model::load(argv[1]);
    const ql::RunResult run = ql::loadRun(argv[2]);
    const ql::PackedInstallReport packed = ql::installPackedKernels(model->transformer(), run, a8);
    const ql::HeadInstall head =
        ql::installQuantizedHead(model->transformer(), ql::HeadFormat::Int8, a8);
    const ql::ModelConfig& c = model->config();
    // Read per token (as bench-infer counts it): packed codes, float32 layers kept, biases,
    // the packed head, norms and one embedding row.
    uint64_t bytes = packed.packedBytes + packed.floatBytesKept + head.packedBytes;
    for (const ql::LinearLayerInfo& l : model->linears())
        if (l.hasBias) bytes += uint64_t(l.outFeatures) * 4;
    bytes += uint64_t(c.hiddenSize) * uint64_t(2 * c.numLayers + 2) * 4;
    if (c.qkNorm) bytes += uint64_t(2 * c.numLayers) * uint64_t(c.headDim) * 4;

    std::vector<int32_t> prompt;
    for (int t = 0; t < promptTokens; ++t) prompt.push_back(int32_t((t * 37 + 11) % c.vocabSize));
    const size_t n = names.size();
    std::vector<std::unique_ptr<ql::Decoder>> decoders;
    std::vector<int32_t> next(n);
    std::unique_ptr<ql::PacedReader> reader;
    size_t readPath = n;
    for (size_t p = 0; p < n; ++p) {
        decoders.push_back(std::make_unique<ql::Decoder>(*model));
        if (names[p] == "read") {
            reader = std::make_unique<ql::PacedReader>(threads);
            readPath = p;
            continue;
        }
        ql::setDecodeStepPath(parsePath(names[p]));
        next[p] = argmax(decoders[p]->feed(prompt));
    }
    std::vector<std::vector<double>> wall(n), cpu(n);
    // Per path, seconds by stage summed over the steps (QL_DECODE_PROFILE).
    std::vector<std::vector<double>> stages(n, std::vector<double>(int(ql::Stage::Count)));
    if (ql::stageProfiling()) ql::takeStageSeconds();  // not the prompts'
    for (int s = 0; s < steps; ++s)
        for (size_t k = 0; k < n; ++k) {
            const size_t p = (s % 2 == 0) ? k : n - 1 - k;  // order swapped every step
            const double c0 = qlbench::cpuNow(), t0 = now();
            if (p == readPath) {
                reader->secondsToRead(bytes);
            } else {
                ql::setDecodeStepPath(parsePath(names[p]));
                next[p] = argmax(decoders[p]->feed({next[p]}));
            }
            wall[p].push_back(now() - t0);
            cpu[p].push_back(qlbench::cpuNow() - c0);
            if (ql::stageProfiling()) {
                const std::vector<double> sec = ql::takeStageSeconds();
                for (size_t i = 0; i < sec.size(); ++i) stages[p][i] += sec[i];
            }
        }
    const double bw1 = ql::probeReadBandwidth(threads).bytesPerSecond;
    const double bw = std::max(bw0, bw1);
    std::printf(
        "%s, %s activations, int8 head; %.3f GB/token; read bandwidth %.1f / %.1f GB/s "
        "(before / after); %d steps after %d prompt tokens\n",
        argv[2], a8 ? "int8" : "float", double(bytes) / 1e9, bw0 / 1e9, bw1 / 1e9, steps,
        promptTokens);
    for (size_t p = 0; p < n; ++p) {
        std::vector<double> w = wall[p];
        std::sort(w.begin(), w.end());
        double mean = 0, cpuMean = 0;
        for (double x : wall[p]) mean += x / double(steps);
        for (double x : cpu[p]) cpuMean += x / double(steps);
        const double median = w[w.size() / 2];
        std::printf(
            "  %-10s median %6.2f ms (%6.2f tok/s, %3.0f %% of the limit at the better "
            "probe), mean %6.2f ms, CPU %6.2f ms/step\n",
            names[p].c_str(), median * 1e3, 1.0 / median, 100.0 * double(bytes) / median / bw,
            mean * 1e3, cpuMean * 1e3);
        if (readPath < n && p != readPath) {
            // The reads' time over this path's, summed over the steps (bench-infer's "beside").
            double reads = 0, mine = 0;
            for (int s = 0; s < steps; ++s)
                reads += wall[readPath][size_t(s)], mine += wall[p][size_t(s)];
            std::printf("  %-10s %3.0f %% of the reads beside it (%.1f GB/s)\n", "",
                        100.0 * reads / mine, double(bytes) * steps / reads / 1e9);
        }
        if (ql::stageProfiling() && p != readPath) {
            std::printf("  %-10s ms per step:", "");
            for (int i = 0; i < int(ql::Stage::Count); ++i)
                std::printf(" %s %.3f", ql::stageName(ql::Stage(i)),
                            stages[p][size_t(i)] * 1e3 / steps);
            std::printf("\n");
        }
    }
    std::printf("load after %s\n", qlbench::loadavg().c_str());
}
