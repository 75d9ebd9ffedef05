#include "run/stored_weights.h"

#include "base/error.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

#include <unistd.h>

namespace ql {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = ".quantlens-weights-";

// The process that made a spill folder ".quantlens-weights-PID-XXXXXX", 0 when the name
// carries none (folders of older versions: their owner is unknown, they are left alone).
pid_t ownerOf(const std::string& name) {
    if (name.compare(0, kPrefix.size(), kPrefix) != 0) return 0;
    const size_t begin = kPrefix.size(), end = name.find('-', begin);
    if (end == std::string::npos || end == begin || end - begin > 9) return 0;
    pid_t pid = 0;
    for (size_t i = begin; i < end; ++i) {
        if (name[i] < '0' || name[i] > '9') return 0;
        pid = pid * 10 + (name[i] - '0');
    }
    return pid;
}

}  // namespace

void removeStaleSpillFolders(const std::string& spillFolder) {
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(spillFolder, ec)) {
        const pid_t pid = ownerOf(e.path().filename().string());
        // a run killed before its destructor ran: its process is gone (ESRCH)
        if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) {
            std::error_code rm;
            fs::remove_all(e.path(), rm);  // best effort, as the destructor
        }
    }
}

StoredWeights::StoredWeights(std::string spillFolder) : spillFolder_(std::move(spillFolder)) {}

StoredWeights::~StoredWeights() {
    if (privateFolder_.empty()) return;
    std::error_code ec;
    fs::remove_all(privateFolder_, ec);  // best effort: nothing to report from a destructor
}

std::string StoredWeights::fileOf(const std::string& layer) const {
    return (fs::path(privateFolder_) / (std::to_string(index_.at(layer)) + ".qlw")).string();
}

void StoredWeights::put(const std::string& layer, CompactWeights weights) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (index_.count(layer)) throw Error("internal: stored weights of '" + layer + "' put twice");
    totalBytes_ += weights.bytes();
    if (spillFolder_.empty()) {
        index_[layer] = inMemory_.size();
        inMemory_.push_back(std::move(weights));
        return;
    }
    if (privateFolder_.empty()) {
        std::error_code ec;
        fs::create_directories(spillFolder_, ec);
        removeStaleSpillFolders(spillFolder_);
        std::string pattern =
            (fs::path(spillFolder_) / (std::string(kPrefix) + std::to_string(getpid()) + "-XXXXXX"))
                .string();
        if (ec || !mkdtemp(pattern.data()))
            throw Error("cannot create a folder for quantized weights in '" + spillFolder_ +
                        "': " + std::strerror(errno));
        privateFolder_ = pattern;
    }
    index_[layer] = index_.size();
    writeCompactWeights(fileOf(layer), weights);
}

bool StoredWeights::contains(const std::string& layer) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return index_.count(layer) != 0;
}

std::vector<std::string> StoredWeights::layers() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> names;
    for (const auto& [name, slot] : index_) names.push_back(name);
    return names;
}

CompactWeights StoredWeights::get(const std::string& layer) const {
    std::string file;
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        const auto it = index_.find(layer);
        if (it == index_.end())
            throw Error("internal: no stored weights for layer '" + layer + "'");
        if (spillFolder_.empty()) return inMemory_[it->second];
        file = fileOf(layer);
    }
    return readCompactWeights(file);
}

uint64_t StoredWeights::residentBytes() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    uint64_t bytes = 0;
    for (const CompactWeights& w : inMemory_) bytes += w.bytes();
    return bytes;
}

void StoredWeights::saveTo(const std::string& layer, const std::string& path) const {
    if (!spilled()) {
        writeCompactWeights(path, get(layer));
        return;
    }
    std::string file;
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (!index_.count(layer)) throw Error("internal: no stored weights for '" + layer + "'");
        file = fileOf(layer);
    }
    // The spill file is complete and fsync'ed (writeCompactWeights) and never changes: a
    // hard link is as durable as a copy. Another filesystem: copy it.
    std::error_code ec;
    fs::create_hard_link(file, path, ec);
    if (ec) writeCompactWeights(path, readCompactWeights(file));
}

}  // namespace ql
