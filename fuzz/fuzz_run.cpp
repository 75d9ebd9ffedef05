// Harness: a run folder. Input: u32 little-endian length N, then N bytes of run.json,
// then the bytes of histograms.bin. When N exceeds what follows, everything after the
// length is run.json and histograms.bin is absent.
#include "base/error.h"
#include "fuzz_common.h"
#include "run/run.h"

#include <cstring>
#include <filesystem>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const bool made = std::filesystem::create_directories(qlfuzz::scratchDir() + "/run");
    (void)made;
    uint32_t jsonSize = 0;
    if (size >= 4) std::memcpy(&jsonSize, data, 4);
    const uint8_t* rest = data + (size >= 4 ? 4 : size);
    const size_t restSize = size - size_t(rest - data);
    const bool hasBin = jsonSize <= restSize;
    const size_t n = hasBin ? jsonSize : restSize;
    qlfuzz::writeScratch("run/run.json", rest, n);
    if (hasBin)
        qlfuzz::writeScratch("run/histograms.bin", rest + n, restSize - n);
    else
        qlfuzz::removeScratch("run/histograms.bin");
    try {
        const ql::RunResult run = ql::loadRun(qlfuzz::scratchDir() + "/run");
        for (const ql::LayerResult& l : run.layers)
            qlfuzz::sink(l.weightBefore.counts.size() + l.scales.size() + uint64_t(l.rows));
    } catch (const ql::Error&) {
    }
    return 0;
}
