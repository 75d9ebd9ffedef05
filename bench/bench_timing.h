// Timing helpers shared by the benchmark programs: best wall time of repeated runs with
// the CPU seconds of that run, and the load average to print next to them.
#pragma once

#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>

namespace qlbench {

inline double gCpu = 0;  // CPU seconds (all threads) of the best timed run

inline double cpuNow() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Best wall seconds of `repeats` runs of fn; gCpu holds that run's CPU seconds.
inline double best(const std::function<void()>& fn, int repeats) {
    double b = 1e30;
    for (int r = 0; r < repeats; ++r) {
        const double c0 = cpuNow();
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        const double w =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (w < b) b = w, gCpu = cpuNow() - c0;
    }
    return b;
}

inline std::string loadavg() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

}  // namespace qlbench
