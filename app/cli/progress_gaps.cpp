#include "progress_gaps.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace qlcli {
namespace {

double cpuSeconds() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Gap {
    long calls = 0;
    double wall = 0, cpu = 0;   // the longest gap in wall seconds, and in CPU seconds per thread
    std::string after, before;  // the messages around the longest wall gap
};

class GapRecorder {
public:
    explicit GapRecorder(int threads) : threads_(threads > 0 ? threads : 1) {}
    ~GapRecorder() {
        std::fprintf(stderr,
                     "longest time between progress calls (bounds the cancel latency), "
                     "wall s / CPU s per thread (%d):\n",
                     threads_);
        for (const auto& [phase, g] : gaps_)
            std::fprintf(stderr,
                         "  %-18s %8ld calls  %8.3f s  %8.3f s  between \"%s\" and \"%s\"\n",
                         phase.c_str(), g.calls, g.wall, g.cpu, g.after.c_str(), g.before.c_str());
    }
    void call(const ql::Progress& p) {
        const auto now = std::chrono::steady_clock::now();
        const double cpu = cpuSeconds();
        if (!p.phase.empty()) phase_ = p.phase;
        const std::string where = p.message.empty() ? "(cancel check)" : p.message;
        Gap& g = gaps_[phase_];
        ++g.calls;
        const double wall = std::chrono::duration<double>(now - last_).count();
        if (started_ && wall > g.wall) {
            g.wall = wall;
            g.cpu = (cpu - lastCpu_) / threads_;
            g.after = lastWhere_;
            g.before = where;
        }
        started_ = true;
        last_ = now;
        lastCpu_ = cpu;
        lastWhere_ = where;
    }

private:
    int threads_;
    bool started_ = false;
    std::string phase_ = "(start)", lastWhere_;
    std::chrono::steady_clock::time_point last_;
    double lastCpu_ = 0;
    std::map<std::string, Gap> gaps_;
};

}  // namespace

ql::ProgressCallback recordProgressGaps(ql::ProgressCallback inner, int threads) {
    const char* on = std::getenv("QL_PROGRESS_GAPS");
    if (!on || on[0] != '1') return inner;
    auto recorder = std::make_shared<GapRecorder>(threads);
    return [recorder, inner = std::move(inner)](const ql::Progress& p) {
        recorder->call(p);
        return inner ? inner(p) : true;
    };
}

}  // namespace qlcli
