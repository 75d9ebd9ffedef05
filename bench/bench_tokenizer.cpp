// Tokenizer throughput: load time and MB/s of encoding a text file (default
// wiki.test.raw, 1.29 MB) with each shared tokenizer. Usage:
//   bench_tokenizer [DATA_DIR] [TEXT_FILE] [REPEATS] [NAME_FILTER]
#include "base/error.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string readAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ql::Error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
    const char* env = std::getenv("QUANTLENS_TEST_DATA");
    const std::string data = argc > 1 ? argv[1] : env ? env : QUANTLENS_TEST_DATA_DEFAULT;
    const std::string textPath = argc > 2 ? argv[2] : data + "/data/wikitext-2-raw/wiki.test.raw";
    const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
    const std::string filter = argc > 4 ? argv[4] : "";
    try {
        const std::string text = readAll(textPath);
        const double mb = static_cast<double>(text.size()) / 1e6;
        std::printf("text %s: %.2f MB, %d repeats (first = cold, best of all)\n", textPath.c_str(),
                    mb, repeats);
        for (const char* name :
             {"tokenizers/qwen3", "models/tinystories-656k", "models/stories260k"}) {
            if (std::string(name).find(filter) == std::string::npos) continue;
            auto start = std::chrono::steady_clock::now();
            const auto tokenizer = ql::Tokenizer::load(data + "/" + name);
            const double loadSeconds = secondsSince(start);
            double first = 0, best = 1e30;
            size_t count = 0;
            for (int r = 0; r < repeats; ++r) {
                start = std::chrono::steady_clock::now();
                count = tokenizer->encode(text).size();
                const double s = secondsSince(start);
                if (r == 0) first = s;
                best = std::min(best, s);
            }
            std::printf(
                "%-26s %-18s load %6.3f s  encode first %6.3f s  best %6.3f s  %6.2f MB/s  "
                "%zu tokens\n",
                name, tokenizer->kind().c_str(), loadSeconds, first, best, mb / best, count);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
