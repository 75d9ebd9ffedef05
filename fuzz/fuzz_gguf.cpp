// Harness: a whole .gguf file (header, metadata, tensor infos, data). Opens it, walks every
// metadata value, touches every tensor's first and last byte, and dequantizes (the first
// 64 Ki values of) every tensor of a type QuantLens decodes.
#include "base/error.h"
#include "fuzz_common.h"
#include "io/gguf.h"
#include "quant/ggml_quants.h"

#include <algorithm>

namespace {

void walk(const ql::GgufValue& v) {
    qlfuzz::sink(v.u + uint64_t(v.i) + v.s.size() + uint64_t(v.f != v.f));
    for (const ql::GgufValue& e : v.elements) walk(e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = qlfuzz::writeScratch("model.gguf", data, size);
    try {
        const ql::GgufFile g(path);
        for (const std::string& key : g.keys()) walk(*g.find(key));
        for (const ql::GgufTensor& t : g.tensors()) {
            const unsigned char* bytes = g.data(t);
            if (t.bytes) qlfuzz::sink(bytes[0] + bytes[t.bytes - 1] + uint64_t(t.numel()));
            if (!ql::ggmlQuantizable(t.type) || t.numel() == 0) continue;
            const auto traits = ql::ggmlTypeTraits(uint32_t(t.type));
            const int64_t block = int64_t(traits->blockValues);
            const int64_t n = std::min<int64_t>(t.numel(), 65536) / block * block;
            for (float v : ql::ggmlDequantize(t.type, bytes, n)) qlfuzz::sink(uint64_t(v != v));
        }
    } catch (const ql::Error&) {
    }
    return 0;
}
