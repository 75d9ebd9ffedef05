// Tokenizes a text file and prints the ids (one line, space-separated). test_methods runs
// it as a separate process: libtorch (libprotobuf 3.21) and libsentencepiece (bundled
// protobuf-lite 3.14, exported) cannot be loaded into one process on Debian 12 — the
// static initializers of one bind to the other's protobuf symbols and abort.
#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: methods_tokenize MODEL_DIR TEXT_FILE\n";
        return 2;
    }
    try {
        const auto tok = ql::Tokenizer::load(argv[1]);
        std::ifstream in(argv[2], std::ios::binary);
        if (!in) throw std::runtime_error(std::string("cannot read ") + argv[2]);
        std::stringstream ss;
        ss << in.rdbuf();
        for (int32_t id : tok->encode(ss.str())) std::printf("%d ", id);
        std::printf("\n");
        return 0;
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
}
