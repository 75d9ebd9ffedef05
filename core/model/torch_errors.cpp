#include "model/torch_errors.h"

#include "base/error.h"

namespace ql {

void throwOutOfMemory(const std::string& what) {
    throw Error("out of memory while " + what +
                ": use shorter windows, a smaller batch or fewer layers");
}

void throwTorchError(const c10::Error& e, const std::string& what) {
    std::string text = e.what_without_backtrace();
    if (text.find("can't allocate memory") != std::string::npos ||
        text.find("bad_alloc") != std::string::npos)
        throwOutOfMemory(what);
    const size_t eol = text.find('\n');
    if (eol != std::string::npos) text.resize(eol);
    // "[enforce fail at file.cpp:75] ..." -> the part after the location.
    if (!text.empty() && text.front() == '[') {
        const size_t close = text.find("] ");
        if (close != std::string::npos) text.erase(0, close + 2);
    }
    throw Error("libtorch failed while " + what + ": " + text);
}

}  // namespace ql
