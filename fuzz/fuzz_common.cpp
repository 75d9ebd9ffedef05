#include "fuzz_common.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <unistd.h>

namespace qlfuzz {

namespace fs = std::filesystem;

namespace {

struct Scratch {
    std::string dir;
    Scratch() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/quantlens-fuzz-XXXXXX";
        if (!mkdtemp(tmpl.data())) {
            std::fprintf(stderr, "cannot create a scratch folder: %s\n", std::strerror(errno));
            std::abort();
        }
        dir = tmpl;
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

volatile uint64_t gSink = 0;

}  // namespace

const std::string& scratchDir() {
    static const Scratch scratch;
    return scratch.dir;
}

std::string writeScratch(const std::string& name, const uint8_t* data, size_t size) {
    const std::string path = scratchDir() + "/" + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    // A scratch file that cannot be written is a broken machine, not a finding.
    if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
        std::fprintf(stderr, "cannot write '%s': %s\n", path.c_str(), std::strerror(errno));
        std::abort();
    }
    return path;
}

void removeScratch(const std::string& name) {
    std::remove((scratchDir() + "/" + name).c_str());
}

void sink(uint64_t value) {
    gSink = gSink + value;
}

}  // namespace qlfuzz
