// Replay driver for the gcc/CTest build (fuzz_smoke_<name>): runs the harness over every
// seed file and a fixed set of mutations of each (truncations, single bit flips, 4- and
// 8-byte overwrites with boundary values, numbers in text replaced by extreme ones).
// Deterministic, a few thousand inputs, so it can run in the default suite and under
// the sanitizers. Usage:
//   fuzz_smoke_<name> [--per-seed N] [--require DIR]... PATH...
// PATH: seed files or folders of them. --require: a folder generated from ../shared;
// when it is missing or empty the run says "shared test data missing" (CTest: Skipped).
#include "fuzz_common.h"

#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

// Sanitizer runtimes call this back before they exit on a finding (absent otherwise).
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

namespace {

// Names the input being run when the process dies, so a failure is reproducible.
char gCurrent[512] = "(none)";

void reportCurrent() {
    const char prefix[] = "\nfuzz smoke: failing input: ";
    [[maybe_unused]] auto a = write(2, prefix, sizeof prefix - 1);
    [[maybe_unused]] auto b = write(2, gCurrent, std::strlen(gCurrent));
    [[maybe_unused]] auto c = write(2, "\n", 1);
}

void onSignal(int sig) {
    reportCurrent();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

uint64_t splitmix(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::string readAll(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class Replayer {
public:
    explicit Replayer(size_t perSeed) : perSeed_(perSeed) {}

    void seed(const std::string& label, const std::string& bytes) {
        ++seeds_;
        budget_ = perSeed_;
        run(label, bytes);
        truncations(label, bytes);
        overwrites(label, bytes);
        numbers(label, bytes);
        bitFlips(label, bytes);  // fills what is left of the budget
    }
    size_t inputs() const { return inputs_; }
    size_t seeds() const { return seeds_; }

private:
    void run(const std::string& what, const std::string& bytes) {
        if (budget_ == 0) return;
        --budget_;
        ++inputs_;
        std::snprintf(gCurrent, sizeof gCurrent, "%s", what.c_str());
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    }

    void truncations(const std::string& label, const std::string& s) {
        const size_t n = s.size();
        std::vector<size_t> cuts = {0, 1, 3, 4, 7, 8, 9, 12, 16, n / 4, n / 2, 3 * n / 4, n - 1};
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
        for (size_t c : cuts)
            if (c < n) run(label + " truncated to " + std::to_string(c), s.substr(0, c));
    }

    // Length and count fields sit near the start of binary formats: overwrite every
    // 4th offset of the first 64 bytes and a few spread further with boundary values.
    void overwrites(const std::string& label, const std::string& s) {
        static const uint64_t kValues[] = {0,          1,          0x7F,       0xFF,
                                           0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000007ull,
                                           1ull << 62, 1ull << 63, ~0ull};
        std::vector<size_t> offsets;
        for (size_t o = 0; o < 64 && o < s.size(); o += 4) offsets.push_back(o);
        uint64_t state = s.size();
        for (int i = 0; i < 8 && !s.empty(); ++i) offsets.push_back(splitmix(state) % s.size());
        for (size_t o : offsets)
            for (uint64_t v : kValues)
                for (size_t width : {size_t(4), size_t(8)}) {
                    if (o + width > s.size()) continue;
                    std::string m = s;
                    std::memcpy(&m[o], &v, width);
                    run(label + " u" + std::to_string(width * 8) + " at " + std::to_string(o) +
                            " = " + std::to_string(v),
                        m);
                }
    }

    // JSON and text formats: replace numbers with values that break int casts and sizes.
    void numbers(const std::string& label, const std::string& s) {
        static const char* const kNumbers[] = {"-1",         "0",          "1e300",
                                               "4294967303", "2147483648", "-9223372036854775809",
                                               "1.5",        "1e-320"};
        size_t found = 0;
        for (size_t i = 0; i < s.size() && found < 24; ++i) {
            if (!std::isdigit(static_cast<unsigned char>(s[i]))) continue;
            if (i > 0 && (std::isalnum(static_cast<unsigned char>(s[i - 1])) || s[i - 1] == '.'))
                continue;
            size_t end = i;
            while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
            ++found;
            for (const char* v : kNumbers)
                run(label + " number at " + std::to_string(i) + " = " + v,
                    s.substr(0, i) + v + s.substr(end));
            i = end;
        }
    }

    void bitFlips(const std::string& label, const std::string& s) {
        if (s.empty()) return;
        uint64_t state = 0x51ED + s.size();
        while (budget_ > 0) {
            const uint64_t r = splitmix(state);
            // Half the flips in the first 256 bytes (headers), half anywhere.
            const size_t span = (r & 1) ? s.size() : std::min<size_t>(s.size(), 256);
            const size_t pos = (r >> 8) % span;
            std::string m = s;
            m[pos] = char(m[pos] ^ (1 << ((r >> 4) & 7)));
            run(label + " bit " + std::to_string((r >> 4) & 7) + " of byte " + std::to_string(pos),
                m);
        }
    }

    size_t perSeed_;
    size_t budget_ = 0;
    size_t inputs_ = 0;
    size_t seeds_ = 0;
};

std::vector<fs::path> seedFiles(const fs::path& p) {
    std::vector<fs::path> out;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) out.push_back(p);
    if (fs::is_directory(p, ec))
        for (const auto& e : fs::directory_iterator(p, ec))
            if (e.is_regular_file(ec) && e.path().filename().string()[0] != '.')
                out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    // An exception other than ql::Error escaped the harness: say which, then abort (the
    // SIGABRT handler names the input).
    std::set_terminate([] {
        try {
            if (std::current_exception()) std::rethrow_exception(std::current_exception());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fuzz smoke: uncaught exception: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "fuzz smoke: uncaught exception of unknown type\n");
        }
        std::abort();
    });
    if (__sanitizer_set_death_callback) {
        // Keep the sanitizer's own SIGSEGV report; it calls us back before exiting.
        __sanitizer_set_death_callback(reportCurrent);
        std::signal(SIGABRT, onSignal);
    } else {
        for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, onSignal);
    }

    size_t perSeed = 400;
    std::vector<std::string> paths, required;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--per-seed" && i + 1 < argc) {
            perSeed = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--require" && i + 1 < argc) {
            required.push_back(argv[++i]);
            paths.push_back(argv[i]);
        } else {
            paths.push_back(a);
        }
    }
    const auto t0 = std::chrono::steady_clock::now();
    Replayer replayer(perSeed);
    for (const std::string& p : paths)
        for (const fs::path& f : seedFiles(p)) replayer.seed(f.string(), readAll(f));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("fuzz smoke: %zu inputs from %zu seeds in %.2f s, no crash\n", replayer.inputs(),
                replayer.seeds(), seconds);
    bool missing = false;
    for (const std::string& r : required)
        if (seedFiles(r).empty()) {
            std::printf("shared test data missing: no seeds in %s\n", r.c_str());
            missing = true;
        }
    // Nothing replayed is never a pass: skipped (77) without the shared data, else failed.
    if (replayer.seeds() == 0) return missing ? 77 : 1;
    return 0;
}
