// core-private: libtorch errors turned into ql::Error at the core boundary, so that no
// c10 backtrace or C++ source location ever reaches a user.
#pragma once

#include <c10/util/Exception.h>

#include <string>

namespace ql {

// Throws ql::Error with one line: `what` ("evaluating perplexity") and the reason —
// "out of memory" for allocation failures, else the first line of c10's message
// without its backtrace.
[[noreturn]] void throwTorchError(const c10::Error& e, const std::string& what);
[[noreturn]] void throwOutOfMemory(const std::string& what);

}  // namespace ql
