// Forward-pass throughput (tokens/s) of a model folder, float32, no grad.
// Usage: bench_forward MODEL_DIR [BxT ...] [--threads 1,2] [--reps N]
// Defaults: shapes 1x512 and 4x256, threads 1 and 2, 3 timed repetitions after one warm-up.
#include "base/error.h"
#include "model/model.h"
#include "model/tensor_pool.h"
#include "model/transformer.h"

#include <sys/resource.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Shape {
    int batch = 1;
    int seq = 512;
};

Shape parseShape(const std::string& s) {
    Shape shape;
    if (std::sscanf(s.c_str(), "%dx%d", &shape.batch, &shape.seq) != 2 || shape.batch < 1 ||
        shape.seq < 1)
        throw ql::Error("bad shape '" + s + "' (expected BxT, e.g. 4x256)");
    return shape;
}

std::vector<int> parseList(const std::string& s) {
    std::vector<int> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, ',');) out.push_back(std::atoi(item.c_str()));
    return out;
}

// CPU seconds of this process (all threads): on a shared, loaded machine wall time
// alone says little, so both are printed.
double cpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double secondsSince(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL_DIR [BxT ...] [--threads 1,2] [--reps N]\n", argv[0]);
        return 2;
    }
    ql::installTensorPool();
    try {
        std::vector<Shape> shapes;
        std::vector<int> threads = {1, 2};
        int reps = 3;
        for (int i = 2; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--threads" && i + 1 < argc)
                threads = parseList(argv[++i]);
            else if (a == "--reps" && i + 1 < argc)
                reps = std::max(1, std::atoi(argv[++i]));
            else
                shapes.push_back(parseShape(a));
        }
        if (shapes.empty()) shapes = {{1, 512}, {4, 256}};

        const auto load = std::chrono::steady_clock::now();
        const auto model = ql::Model::load(argv[1]);
        const ql::ModelConfig& c = model->config();
        std::printf("model %s: %s, %lld parameters, hidden %d, %d layers, vocab %d (load %.2f s)\n",
                    argv[1], c.architectureName.c_str(),
                    static_cast<long long>(model->summary().parameters), c.hiddenSize, c.numLayers,
                    c.vocabSize, secondsSince(load));
        std::printf("%-8s %-8s %12s %12s %14s\n", "threads", "BxT", "s/forward", "tokens/s",
                    "cpu-s/forward");

        at::NoGradGuard noGrad;
        for (int t : threads) {
            ql::setComputeThreads(t);
            for (const Shape& s : shapes) {
                const at::Tensor ids = at::randint(0, c.vocabSize, {s.batch, s.seq}, at::kLong);
                model->transformer().forward(ids);  // warm-up
                const auto start = std::chrono::steady_clock::now();
                const double cpuStart = cpuSeconds();
                for (int r = 0; r < reps; ++r) model->transformer().forward(ids);
                const double perForward = secondsSince(start) / reps;
                const double cpuPerForward = (cpuSeconds() - cpuStart) / reps;
                char shape[32];
                std::snprintf(shape, sizeof shape, "%dx%d", s.batch, s.seq);
                std::printf("%-8d %-8s %12.3f %12.0f %14.3f\n", t, shape, perForward,
                            double(s.batch) * s.seq / perForward, cpuPerForward);
                std::fflush(stdout);
            }
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_forward: %s\n", e.what());
        return 1;
    }
}
