// Test helper for test_model: prints the token ids of a text file, one per line.
// It runs in its own process, without libtorch: libsentencepiece.so (tokenizer.model)
// bundles protobuf-lite 3.14 and clashes with libtorch's libprotobuf 3.21 when both are
// loaded in one process, whatever the link order.
#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL_DIR TEXT_FILE\n", argv[0]);
        return 2;
    }
    try {
        std::ifstream in(argv[2], std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        for (int32_t id : ql::Tokenizer::load(argv[1])->encode(text.str())) std::printf("%d\n", id);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
