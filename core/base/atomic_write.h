// Crash-safe file writing. A file QuantLens writes is either the complete new version or
// the previous one, never a truncated mix: data goes to a temporary sibling, is fsync'ed,
// then renamed over the target, and the directory entry is fsync'ed too. Leftovers of a
// process killed mid-write (".<name>.tmp-XXXXXX") are removed by the next write into the
// same folder. Every error is one ql::Error naming the file. Crash steps (see crashPoint):
// "file-written:<name>" (temp complete and synced) and "file-renamed:<name>".
#pragma once

#include <string>

namespace ql {

// Test-only fault hook, compiled in always (one getenv per process): when the environment
// variable QUANTLENS_TEST_CRASH_AT equals `step`, the process ends at once with _exit(9),
// as if killed there. Tests use it to prove every step of a write can be interrupted.
void crashPoint(const char* step);

// Replaces `path` atomically and durably with `bytes` (temp sibling, fsync, rename, fsync
// of the folder). On failure nothing new is left and the old file is untouched.
void writeFileAtomic(const std::string& path, const std::string& bytes);

// For streaming writers (large files): creates the locked temp sibling of `path` (stale
// ones removed first) and returns its descriptor; commitTemp fsyncs it, renames it over
// `path`, closes it and fsyncs the folder. On error both remove the temp and throw.
int createTempFor(const std::string& path, std::string& tempPath);
void commitTemp(int fd, const std::string& tempPath, const std::string& path);

// Writes `bytes` to `path` (created or truncated) and fsyncs it; for files inside a
// temporary folder that is renamed into place as a whole afterwards.
void writeFileDurable(const std::string& path, const std::string& bytes);

// fsync of a directory, so that renames and new entries inside it survive a power loss.
void syncDirectory(const std::string& dir);

// Removes leftovers of interrupted writeFileAtomic calls in `dir` (regular files named
// ".<name>.tmp-XXXXXX" only). Never throws.
void removeStaleTempFiles(const std::string& dir);

// "No space left on device" and friends as a short phrase a user can act on.
std::string describeErrno(int err);

}  // namespace ql
