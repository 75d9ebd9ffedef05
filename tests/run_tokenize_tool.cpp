// Tokenizes a text file for test_run in a separate process: libsentencepiece and libtorch
// cannot be loaded into one process (protobuf symbol clash). Usage:
//   run_tokenize_tool MODEL_DIR TEXT_FILE OUT_FILE   -> OUT_FILE = int32 ids, little endian
#include "base/error.h"
#include "tokenizer/tokenizer.h"

#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: run_tokenize_tool MODEL_DIR TEXT_FILE OUT_FILE\n";
        return 2;
    }
    try {
        std::ifstream in(argv[2], std::ios::binary);
        if (!in) throw ql::Error(std::string("cannot read '") + argv[2] + "'");
        std::ostringstream ss;
        ss << in.rdbuf();
        const auto ids = ql::Tokenizer::load(argv[1])->encode(ss.str());
        std::ofstream out(argv[3], std::ios::binary);
        out.write(reinterpret_cast<const char*>(ids.data()), std::streamsize(ids.size() * 4));
        if (!out.flush()) throw ql::Error(std::string("cannot write '") + argv[3] + "'");
        return 0;
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
}
