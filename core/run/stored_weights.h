// The after-weights of a run's "stored" layers (GPTQ, AWQ: codes + grid, see
// quant/compact_weights.h) while the run exists only in memory. They are held in memory,
// or — when the run names a spill folder — written to .qlw files there as each layer is
// quantized and read back when needed, so that a 7B GPTQ run does not keep 3.9 GB of
// codes resident (issue 7). The spill files live in a private folder inside the spill
// folder (named after the process), removed with the last copy of the run, or by the next
// run in that folder when the process was killed; saving the run hard-links (or copies)
// them into the run folder.
#pragma once

#include "quant/compact_weights.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ql {

// Removes the spill folders in `spillFolder` whose process no longer exists (a run that was
// killed leaves its ".quantlens-weights-PID-XXXXXX" behind); put() calls it before making
// its own. Folders of live processes, and names without a process id, are left alone.
void removeStaleSpillFolders(const std::string& spillFolder);

class StoredWeights {
public:
    // `spillFolder` empty: in memory. Else an existing or creatable folder on a disk (not
    // a tmpfs: that would be memory again); nothing is created until the first put().
    explicit StoredWeights(std::string spillFolder = {});
    ~StoredWeights();
    StoredWeights(const StoredWeights&) = delete;
    StoredWeights& operator=(const StoredWeights&) = delete;

    // Adds a layer's weights (spilled at once when spilling). Throws ql::Error naming the
    // file when the spill folder cannot be written.
    void put(const std::string& layer, CompactWeights weights);

    bool contains(const std::string& layer) const;
    size_t size() const { return index_.size(); }
    std::vector<std::string> layers() const;  // sorted
    // The weights as put (read back from the spill file when spilled). Throws ql::Error for
    // an unknown layer or an unreadable file.
    CompactWeights get(const std::string& layer) const;
    // Bytes held in memory (0 when spilling) and bytes of all layers' weights.
    uint64_t residentBytes() const;
    uint64_t totalBytes() const { return totalBytes_; }
    bool spilled() const { return !spillFolder_.empty(); }
    const std::string& spillFolder() const { return privateFolder_; }  // empty until used

    // Writes the layer's .qlw file to `path` (a hard link to the spill file when possible).
    void saveTo(const std::string& layer, const std::string& path) const;

private:
    std::string fileOf(const std::string& layer) const;

    std::string spillFolder_;
    mutable std::mutex mutex_;   // put() runs on the engine's thread; reads may be concurrent
    std::string privateFolder_;  // created by the first put() when spilling
    std::map<std::string, size_t> index_;   // layer -> file number / slot
    std::vector<CompactWeights> inMemory_;  // when not spilling
    uint64_t totalBytes_ = 0;
};

}  // namespace ql
