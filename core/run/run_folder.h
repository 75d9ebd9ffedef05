// Run folders on disk: what counts as a QuantLens run (so that nothing else is ever
// replaced), and the crash-safe replace of one run folder by another.
//
// A folder is a QuantLens run when it holds only the files QuantLens writes there
// (run.json, histograms.bin, weights/<layer>.qlw or, in runs saved before, .f32) and
// run.json's "format" is "quantlens-run". saveRun writes RUN.tmp-XXXXXX (every file and the folder
// fsync'ed), renames RUN -> RUN.old-XXXXXX, RUN.tmp-XXXXXX -> RUN, then removes the old folder; the
// parent is fsync'ed after each rename. A process killed at any point leaves either the
// old or the new run complete: the next save or load in the same parent restores
// RUN.old-* when RUN is missing and removes the leftovers. Writers of one parent are
// serialized by an advisory lock on the parent folder, which dies with its process.
#pragma once

#include <filesystem>
#include <string>

#include "run/run.h"

namespace ql {

namespace runfolder {

// Absolute, normalized destination ("x/.." -> its real parent name, trailing '/' dropped).
std::filesystem::path destination(const std::string& folder);

// Empty when `dir` is a QuantLens run folder, else why it is not (for messages).
std::string whyNotARun(const std::filesystem::path& dir);

// Advisory exclusive lock on a folder (flock on its descriptor), released on destruction
// or when the process dies. wait=false: owns() is false when someone else holds it.
class DirLock {
public:
    DirLock(const std::filesystem::path& dir, bool wait);
    ~DirLock();
    DirLock(const DirLock&) = delete;
    DirLock& operator=(const DirLock&) = delete;
    bool owns() const { return owned_; }

private:
    int fd_ = -1;
    bool owned_ = false;
};

// Finishes or rolls back an interrupted save of `dest` (caller holds the parent lock):
// restores RUN.old-* when RUN is missing, removes RUN.tmp-* and, once RUN exists,
// RUN.old-*. Only folders holding nothing but run files are ever removed. Never throws.
void recover(const std::filesystem::path& dest);

// Refuses (ql::Error) the names saveRun uses for its temporary folders.
void refuseTemporaryName(const std::filesystem::path& dir);

// Called first by loadRun: refuses temporary names, then recover() unless another
// process is saving into the same parent right now.
void beforeLoad(const std::string& folder);

// New empty sibling "<dest><infix>XXXXXX" (mkdtemp); throws ql::Error naming the parent.
std::filesystem::path makeSibling(const std::filesystem::path& dest, const char* infix);

// Where saveRun may write: the parent must be an existing, writable folder and an
// existing `dest` a QuantLens run (else ql::Error naming the path and the reason).
RunDestination inspect(const std::filesystem::path& dest);

// Moves the complete, synced folder `tmp` to `dest`, replacing the run there if any.
void replace(const std::filesystem::path& tmp, const std::filesystem::path& dest);

}  // namespace runfolder

}  // namespace ql
