// Harness: a whole .safetensors file (8-byte header length, JSON header, data). Opens it
// the way `info` and runs do, then reads every tensor the header declares.
#include "base/error.h"
#include "fuzz_common.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = qlfuzz::writeScratch("model.safetensors", data, size);
    try {
        const auto store = ql::TensorStore::open(path);
        for (const std::string& name : store->names()) {
            const ql::TensorInfo& t = store->get(name);
            const unsigned char* bytes = store->data(t);
            if (t.byteSize) qlfuzz::sink(bytes[0] + bytes[t.byteSize - 1] + uint64_t(t.numel()));
            try {
                for (float v : store->readFloat(name)) qlfuzz::sink(uint64_t(v != v));
            } catch (const ql::Error&) {  // integer dtypes cannot be read as float
            }
        }
    } catch (const ql::Error&) {
    }
    return 0;
}
