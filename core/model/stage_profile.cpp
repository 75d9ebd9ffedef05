#include "model/stage_profile.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iterator>

namespace ql {

namespace {
thread_local double gStageSeconds[int(Stage::Count)] = {};
double stageNow() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

bool stageProfiling() {
    static const bool on = std::getenv("QL_DECODE_PROFILE") != nullptr;
    return on;
}

const char* stageName(Stage s) {
    static const char* const names[] = {"embed",        "norms",     "q/k/v proj", "qk-norm+rope",
                                        "attention+kv", "o_proj",    "mlp proj",   "silu*up",
                                        "head",         "logits out"};
    return names[int(s)];
}

std::vector<double> takeStageSeconds() {
    std::vector<double> out(gStageSeconds, gStageSeconds + int(Stage::Count));
    std::fill(std::begin(gStageSeconds), std::end(gStageSeconds), 0.0);
    return out;
}

StageClock::StageClock() : on_(stageProfiling()), last_(on_ ? stageNow() : 0.0) {}

void StageClock::mark(Stage s) {
    if (!on_) return;
    const double t = stageNow();
    gStageSeconds[int(s)] += t - last_;
    last_ = t;
}

}  // namespace ql
