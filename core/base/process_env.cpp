#include "base/process_env.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

namespace ql {
namespace {

// An integer in 1..kMaxThreads, else 0.
int parseThreads(const char* text) {
    if (text == nullptr || *text == '\0') return 0;
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > kMaxThreads) return 0;
    return int(v);
}

// Sets name=value unless it already has that value; true when it changed.
bool setIfDifferent(const char* name, const std::string& value) {
    const char* now = std::getenv(name);
    if (now != nullptr && value == now) return false;
    return setenv(name, value.c_str(), 1) == 0;
}

}  // namespace

int requestedThreads(int argc, char** argv) {
    const char* found = nullptr;
    bool given = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--threads") == 0) {
            given = true;
            found = i + 1 < argc ? argv[i + 1] : nullptr;
        } else if (std::strncmp(argv[i], "--threads=", 10) == 0) {
            given = true;
            found = argv[i] + 10;
        }
    }
    if (given) return parseThreads(found);
    return parseThreads(std::getenv("QUANTLENS_THREADS"));
}

uint64_t residentBytes() {
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long long pages = 0, resident = 0;
    const int n = std::fscanf(f, "%llu %llu", &pages, &resident);
    std::fclose(f);
    return n == 2 ? uint64_t(resident) * uint64_t(sysconf(_SC_PAGESIZE)) : 0;
}

uint64_t peakResidentBytes() {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    bool found = false;
    while (!found && std::fgets(line, sizeof line, f))
        found = std::sscanf(line, "VmHWM: %llu kB", &kb) == 1;
    std::fclose(f);
    return found ? uint64_t(kb) * 1024 : 0;
}

bool resetPeakResident() {
    FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    const bool ok = std::fputs("5", f) >= 0;
    return std::fclose(f) == 0 && ok;
}

void releaseFreeMemory() {
    malloc_trim(0);
}

void keepFreedMemory() {
    // Opt-in (QL_MALLOC_KEEP=1): it cuts system time by 40-60 % but raised the peak RSS of
    // a streamed 1.5B run by 19 % (heap fragmentation), and the peak is what decides whether
    // a model can be analyzed at all (BENCHMARKS.md, "Block-streamed engine").
    const char* keep = std::getenv("QL_MALLOC_KEEP");
    if (!keep || std::string(keep) != "1") return;
    // glibc serves allocations over 32 MB with mmap and returns them with munmap: every
    // large temporary of a forward pass (attention scores, MLP activations, logit chunks)
    // was faulted in page by page again, layer after layer - 20-25 % of an evaluation's CPU
    // time in the kernel. From the heap, and with freed memory kept up to 1 GiB, the same
    // sizes are reused block after block without a page fault.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void prepareProcessEnvironment(char** argv, int threads) {
    keepFreedMemory();
    bool changed = false;
    if (std::getenv("OMP_WAIT_POLICY") == nullptr)
        changed = setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
    // OpenBLAS's idle workers call sched_yield in a loop for 2^28 cycles (~0.1 s) after every
    // matrix product before they sleep: between a run's products (histograms, norms,
    // softmax) that was half of its system time (BENCHMARKS.md, "System time"). 2^4 cycles:
    // they sleep at once and are woken by the next product (a futex call per product).
    if (std::getenv("OPENBLAS_THREAD_TIMEOUT") == nullptr)
        changed = setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1) == 0 || changed;
    if (threads > 0) {
        const std::string n = std::to_string(threads);
        for (const char* name : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"})
            changed = setIfDifferent(name, n) || changed;
    }
    if (!changed) return;
    execv("/proc/self/exe", argv);
    // execv only returns on failure: carry on; setComputeThreads still bounds the pools
    // it can reach at run time.
}

void ensurePassiveOpenMpWait(char** argv) {
    prepareProcessEnvironment(argv, 0);
}

void setBlasThreads(int threads) {
    using SetThreads = void (*)(int);
    static const auto set =
        reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    if (set != nullptr && threads >= 1) set(threads);
}

}  // namespace ql
