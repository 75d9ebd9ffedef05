#include "run/eval_windows.h"

#include "base/error.h"

#include <string>

namespace ql {

std::vector<EvalWindow> buildEvalWindows(const std::vector<int32_t>& tokens, PplProtocol protocol,
                                         int seq, int maxWindows, int32_t bosId) {
    if (seq < 2) throw Error("evaluation window length must be at least 2 tokens");
    // llamacpp: windows are cut from [BOS] + tokens (see perplexity.cpp's windowIds).
    const bool bosStream = protocol == PplProtocol::LlamaCpp;
    const size_t available = (tokens.size() + (bosStream ? 1 : 0)) / size_t(seq);
    if (available == 0)
        throw Error("the evaluation text has " + std::to_string(tokens.size()) +
                    " tokens, fewer than one window of " + std::to_string(seq));
    const size_t count = maxWindows > 0 ? std::min(available, size_t(maxWindows)) : available;
    if (protocol == PplProtocol::LlamaCpp && bosId < 0)
        throw Error("the llamacpp perplexity protocol needs a BOS token, the model has none");
    std::vector<EvalWindow> windows(count);
    for (size_t w = 0; w < count; ++w) {
        if (bosStream) {
            // stream position w*seq+j holds tokens[w*seq+j-1]; position 0 becomes BOS.
            auto begin = tokens.begin() + std::ptrdiff_t(w * size_t(seq));
            windows[w].ids.reserve(size_t(seq));
            windows[w].ids.push_back(bosId);
            windows[w].ids.insert(windows[w].ids.end(), begin, begin + (seq - 1));
            windows[w].firstScored = seq / 2;
        } else {
            auto begin = tokens.begin() + std::ptrdiff_t(w * size_t(seq));
            windows[w].ids.assign(begin, begin + seq);
        }
    }
    return windows;
}

}  // namespace ql
