// The default tokenizer of runs: ql::Tokenizer in this process, cached per model folder
// (loading Qwen's tokenizer.json takes ~0.5 s; a GUI session runs many times).
#include "tokenizer/tokenizer.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ql {
namespace {

std::vector<int32_t> encodeCached(const std::string& modelDir, const std::string& text) {
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<const Tokenizer>> cache;
    std::shared_ptr<const Tokenizer> t;
    {
        std::lock_guard<std::mutex> lock(mutex);
        auto& slot = cache[modelDir];
        if (!slot) slot = Tokenizer::load(modelDir);
        t = slot;
    }
    return t->encode(text);
}

}  // namespace

std::vector<int32_t> defaultRunTokenize(const std::string& modelDir, const std::string& text) {
    return encodeCached(modelDir, text);
}

}  // namespace ql
