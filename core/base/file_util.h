// Reading files named by users or by other files, defensively: only regular files
// (a FIFO would block forever, a directory or device gives library text instead of a
// message), with a size bound, and JSON nesting checked before any recursive parser
// sees it. Every error is a ql::Error naming the file.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

namespace ql {

// Deepest JSON nesting accepted anywhere (real configs/tokenizers/headers use < 10).
constexpr int kMaxJsonDepth = 256;

// Throws ql::Error("<path>: ...") unless `path` is a regular file (after symlinks);
// `what` says what was expected, e.g. "a config.json file". Returns its size.
uint64_t requireRegularFile(const std::string& path, const std::string& what);

// The whole file, after requireRegularFile; refuses files larger than maxBytes.
std::string readRegularFile(const std::string& path, const std::string& what,
                            uint64_t maxBytes = uint64_t(1) << 30);

// Throws ql::Error("<file>: JSON nested deeper than 256 levels ...") when brackets
// outside strings nest deeper than `limit`. Cheap linear scan, no validation.
void checkJsonDepth(std::string_view text, const std::string& file, int limit = kMaxJsonDepth);

// A JSON library exception as a short phrase without the library's "[json.exception...]"
// prefix, e.g. "syntax error at line 1, column 5" or "type must be string, but is number".
std::string jsonErrorReason(const std::exception& e);

}  // namespace ql
