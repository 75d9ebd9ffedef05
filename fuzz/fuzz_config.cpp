// Harness: config.json text. A config that parses must also survive the writer's
// round trip (synth writes configs with modelConfigToJson and reads them back).
#include "base/error.h"
#include "fuzz_common.h"
#include "io/model_config.h"

#include <cstdio>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    ql::ModelConfig c;
    try {
        c = ql::parseModelConfig(text, "config.json");
    } catch (const ql::Error&) {
        return 0;
    }
    try {
        const ql::ModelConfig back = ql::parseModelConfig(ql::modelConfigToJson(c), "round trip");
        qlfuzz::sink(uint64_t(back.hiddenSize) + uint64_t(back.numLayers));
    } catch (const ql::Error& e) {
        std::fprintf(stderr, "accepted config does not survive its own writer: %s\n", e.what());
        std::abort();
    }
    return 0;
}
