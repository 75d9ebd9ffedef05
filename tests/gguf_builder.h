// Hand-made GGUF bytes for the reader's tests and the fuzz seeds: a tiny valid file
// (a few metadata values of every kind, two tensors) whose fields can be spoiled one by one.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace qltest {

class GgufBytes {
public:
    std::vector<uint8_t> bytes;

    template <typename T>
    GgufBytes& put(T v) {
        const size_t at = bytes.size();
        bytes.resize(at + sizeof(T));
        std::memcpy(bytes.data() + at, &v, sizeof(T));
        return *this;
    }
    GgufBytes& str(const std::string& s) {
        put<uint64_t>(s.size());
        bytes.insert(bytes.end(), s.begin(), s.end());
        return *this;
    }
    GgufBytes& pad(size_t alignment) {
        while (bytes.size() % alignment) bytes.push_back(0);
        return *this;
    }
};

// What the tiny file holds; each field can be changed before building.
struct TinyGguf {
    char magic[4] = {'G', 'G', 'U', 'F'};
    uint32_t version = 3;
    uint64_t tensorCountDelta = 0;  // added to the real count in the header
    uint64_t kvCountDelta = 0;
    uint32_t alignment = 32;
    bool writeAlignment = false;
    std::string secondKey = "general.name";  // duplicate with "general.architecture" to test
    uint32_t stringType = 8;                 // value type of the second key
    uint64_t arrayCount = 3;                 // declared length of the int32 array
    uint32_t dims0 = 2;                      // dimension count of tensor a
    int64_t ne0 = 32;                        // row length of tensor a
    uint32_t type0 = 8;                      // Q8_0
    uint64_t offset1 = 0;                    // tensor b's offset, 0 = right after a
    std::string name1 = "b";
    size_t truncateBy = 0;  // bytes cut from the end

    std::vector<uint8_t> build() const {
        GgufBytes g;
        g.bytes.insert(g.bytes.end(), magic, magic + 4);
        g.put<uint32_t>(version).put<uint64_t>(2 + tensorCountDelta);
        g.put<uint64_t>((writeAlignment ? 5 : 4) + kvCountDelta);
        g.str("general.architecture").put<uint32_t>(8).str("llama");
        g.str(secondKey).put<uint32_t>(stringType).str("tiny");
        g.str("llama.block_count").put<uint32_t>(4).put<uint32_t>(1);
        g.str("list").put<uint32_t>(9).put<uint32_t>(5).put<uint64_t>(arrayCount);
        for (int i = 0; i < 3; ++i) g.put<int32_t>(i * 7);
        if (writeAlignment) g.str("general.alignment").put<uint32_t>(4).put<uint32_t>(alignment);
        // tensor a: Q8_0 (32, 2) = 2 blocks = 68 bytes; tensor b: F32 (4) = 16 bytes
        g.str("a").put<uint32_t>(dims0).put<int64_t>(ne0);
        for (uint32_t d = 1; d < dims0 && d < 16; ++d) g.put<int64_t>(2);
        g.put<uint32_t>(type0).put<uint64_t>(0);
        const uint64_t align = writeAlignment ? alignment : 32;
        g.str(name1).put<uint32_t>(1).put<int64_t>(4).put<uint32_t>(0);
        g.put<uint64_t>(offset1 ? offset1 : ((68 + align - 1) / align) * align);
        g.pad(align ? align : 32);
        const size_t dataStart = g.bytes.size();
        g.bytes.resize(dataStart + ((68 + align - 1) / align) * align + 16, 0x11);
        std::vector<uint8_t> out = g.bytes;
        out.resize(out.size() - std::min(truncateBy, out.size()));
        return out;
    }
};

}  // namespace qltest
