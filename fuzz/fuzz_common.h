// Shared by the fuzz harnesses: each harness defines LLVMFuzzerTestOneInput; the parsers
// under test read files, so the input is written into a scratch folder private to the
// process (two fuzzers or smoke tests running at once never share a file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace qlfuzz {

// A folder unique to this process, created on first use and removed at exit.
const std::string& scratchDir();

// Writes `size` bytes to scratchDir()/name (replacing it) and returns the path.
std::string writeScratch(const std::string& name, const uint8_t* data, size_t size);

// Removes scratchDir()/name if present.
void removeScratch(const std::string& name);

// Keeps the optimizer from dropping reads whose only purpose is to touch memory.
void sink(uint64_t value);

}  // namespace qlfuzz
