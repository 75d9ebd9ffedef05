// Harness: a compact weight file (weights/<layer>.qlw of a GPTQ/AWQ run folder), read and
// decoded as rebinWeights does.
#include "base/error.h"
#include "fuzz_common.h"
#include "quant/compact_weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = qlfuzz::writeScratch("w.qlw", data, size);
    try {
        const ql::CompactWeights w = ql::readCompactWeights(path);
        // A valid file decodes whole; its size is bounded by the input's (checked header).
        const std::vector<float> values = w.decode();
        qlfuzz::sink(values.size() + w.bytes());
    } catch (const ql::Error&) {
    }
    return 0;
}
