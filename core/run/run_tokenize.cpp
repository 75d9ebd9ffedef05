// The default tokenizer of runs: ql::Tokenizer in this process, cached per model folder.
// Kept in its own object file so that binaries which do not call
// installDefaultRunTokenizer() (test_run) do not pull in core/tokenizer and with it
// libsentencepiece, whose bundled protobuf clashes with libtorch's libprotobuf.
#include "run/run.h"
#include "tokenizer/tokenizer.h"

#include <map>
#include <memory>
#include <mutex>

namespace ql {

void installDefaultRunTokenizer() {
    auto cache = std::make_shared<std::map<std::string, std::shared_ptr<Tokenizer>>>();
    auto mutex = std::make_shared<std::mutex>();
    setRunTokenizer([cache, mutex](const std::string& modelDir, const std::string& text) {
        std::shared_ptr<Tokenizer> t;
        {
            std::lock_guard<std::mutex> lock(*mutex);
            auto& slot = (*cache)[modelDir];
            if (!slot) slot = Tokenizer::load(modelDir);
            t = slot;
        }
        return t->encode(text);
    });
}

}  // namespace ql
