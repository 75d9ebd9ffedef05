#include "run/run_folder.h"

#include "base/atomic_write.h"
#include "base/error.h"
#include "run/run.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

namespace ql {

namespace fs = std::filesystem;

namespace runfolder {

namespace {

constexpr size_t kSuffixLength = 6;  // random [A-Za-z0-9] suffix of temporary siblings
constexpr size_t kMaxRunJsonBytes = size_t(1) << 30;

bool isFile(const fs::path& p) {
    std::error_code ec;
    return fs::symlink_status(p, ec).type() == fs::file_type::regular;
}

bool isDir(const fs::path& p) {
    std::error_code ec;
    return fs::symlink_status(p, ec).type() == fs::file_type::directory;
}

bool existsNoFollow(const fs::path& p) {
    std::error_code ec;
    return fs::symlink_status(p, ec).type() != fs::file_type::not_found && !ec;
}

// weights/<layer>.qlw (compact, written today) or .f32 (float32, runs saved before).
bool isStoredWeightName(const fs::path& p) {
    return p.extension() == ".qlw" || p.extension() == ".f32";
}

// Why `dir` holds something saveRun never writes; empty when it holds only run files
// (possibly a partial set, as in an interrupted save).
std::string foreignEntry(const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        const std::string name = p.filename().string();
        if ((name == "run.json" || name == "histograms.bin") && isFile(p)) continue;
        if (name == "weights" && isDir(p)) {
            for (fs::directory_iterator w(p, ec); !ec && w != end; w.increment(ec))
                if (!isStoredWeightName(w->path()) || !isFile(w->path()))
                    return "it holds 'weights/" + w->path().filename().string() +
                           "', which QuantLens did not write";
            continue;
        }
        return "it holds '" + name + "', which QuantLens did not write";
    }
    if (ec) return "its contents cannot be listed (" + describeErrno(ec.value()) + ")";
    return {};
}

bool holdsOnlyRunFiles(const fs::path& dir) {
    return isDir(dir) && foreignEntry(dir).empty();
}

// run.json's "format" field; nesting is capped so that a hostile file cannot overflow
// the stack while we only look for one top-level string.
bool hasRunFormat(const fs::path& jsonPath) {
    std::error_code ec;
    const auto size = fs::file_size(jsonPath, ec);
    if (ec || size > kMaxRunJsonBytes) return false;
    std::ifstream in(jsonPath, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    using nlohmann::json;
    const json::parser_callback_t shallow = [](int depth, json::parse_event_t, json&) {
        if (depth > 64) throw Error("run.json nests too deeply");
        return depth <= 1;
    };
    try {
        const json j = json::parse(ss.str(), shallow);
        return j.is_object() && j.contains("format") && j["format"] == "quantlens-run";
    } catch (const std::exception&) {
        return false;
    }
}

// Siblings "<base><infix>XXXXXX" of `dest`, newest first.
std::vector<fs::path> siblings(const fs::path& dest, const std::string& infix) {
    const std::string prefix = dest.filename().string() + infix;
    std::vector<std::pair<fs::file_time_type, fs::path>> found;
    std::error_code ec, timeError;
    for (fs::directory_iterator it(dest.parent_path(), ec), end; !ec && it != end;
         it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() == prefix.size() + kSuffixLength && name.rfind(prefix, 0) == 0)
            found.push_back({fs::last_write_time(it->path(), timeError), it->path()});
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a > b; });
    std::vector<fs::path> out;
    for (const auto& f : found) out.push_back(f.second);
    return out;
}

bool isTemporaryName(const fs::path& dir) {
    const std::string name = dir.filename().string();
    for (const char* infix : {".tmp-", ".old-"}) {
        const size_t at = name.size() >= kSuffixLength + 5 ? name.size() - kSuffixLength - 5 : 0;
        if (at > 0 && name.compare(at, 5, infix) == 0) return true;
    }
    return false;
}

}  // namespace

fs::path destination(const std::string& folder) {
    if (folder.empty()) throw Error("no run folder given");
    std::error_code ec;
    fs::path dest = fs::absolute(folder, ec).lexically_normal();
    if (ec) throw Error("run folder '" + folder + "' is not a valid path");
    if (!dest.has_filename()) dest = dest.parent_path();
    if (dest == dest.root_path() || dest.filename() == "..")
        throw Error("run folder '" + folder + "' cannot be a file system root");
    return dest;
}

std::string whyNotARun(const fs::path& dir) {
    std::error_code ec;
    const fs::file_type type = fs::symlink_status(dir, ec).type();
    if (type == fs::file_type::symlink) return "it is a symbolic link";
    if (type != fs::file_type::directory) return "it is a file, not a folder";
    const std::string foreign = foreignEntry(dir);
    if (!foreign.empty()) return foreign;
    if (!isFile(dir / "run.json")) return "it has no run.json";
    if (!hasRunFormat(dir / "run.json")) return "its run.json is not a QuantLens run file";
    return {};
}

DirLock::DirLock(const fs::path& dir, bool wait) {
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return;
    int rc;
    do rc = ::flock(fd_, LOCK_EX | (wait ? 0 : LOCK_NB));
    while (rc != 0 && errno == EINTR);
    // A file system without flock: no serialization, but saving still works.
    owned_ = rc == 0 || errno == ENOLCK || errno == EOPNOTSUPP;
}

DirLock::~DirLock() {
    if (fd_ >= 0) ::close(fd_);
}

void recover(const fs::path& dest) {
    std::error_code ec;
    bool changed = false;
    if (!existsNoFollow(dest)) {
        for (const fs::path& old : siblings(dest, ".old-")) {
            if (!whyNotARun(old).empty()) continue;
            fs::rename(old, dest, ec);
            changed = !ec;
            if (!ec) break;
        }
    }
    std::vector<fs::path> leftovers = siblings(dest, ".tmp-");
    if (existsNoFollow(dest))
        for (const fs::path& old : siblings(dest, ".old-")) leftovers.push_back(old);
    for (const fs::path& p : leftovers) {
        if (!holdsOnlyRunFiles(p)) continue;
        fs::remove_all(p, ec);
        changed = true;
    }
    if (changed) {
        try {
            syncDirectory(dest.parent_path().string());
        } catch (const Error&) {
            // Best effort: the folder is consistent, only its durability is unknown.
        }
    }
}

void refuseTemporaryName(const fs::path& dir) {
    if (!isTemporaryName(dir) || !holdsOnlyRunFiles(dir)) return;
    const std::string name = dir.filename().string();
    throw Error("'" + dir.string() + "' is a temporary folder of an interrupted save, not a run; " +
                "open '" + name.substr(0, name.size() - kSuffixLength - 5) + "' instead");
}

fs::path makeSibling(const fs::path& dest, const char* infix) {
    // mkdir, not mkdtemp: the run folder gets the user's usual permissions (umask), not 0700.
    static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    thread_local std::mt19937 rng{std::random_device{}()};
    int err = EEXIST;
    for (int attempt = 0; attempt < 100 && err == EEXIST; ++attempt) {
        std::string name = dest.string() + infix;
        for (size_t i = 0; i < kSuffixLength; ++i) name += kChars[rng() % (sizeof kChars - 1)];
        if (::mkdir(name.c_str(), 0777) == 0) return name;
        err = errno;
    }
    throw Error("cannot write in the folder '" + dest.parent_path().string() +
                "': " + describeErrno(err));
}

void replace(const fs::path& tmp, const fs::path& dest) {
    const std::string parent = dest.parent_path().string();
    std::error_code ec;
    fs::path old;
    auto syncParent = [&] {
        try {
            syncDirectory(parent);
        } catch (const Error&) {
            // The renames are done; recover() repairs whatever a power loss could leave.
        }
    };
    if (existsNoFollow(dest)) {
        old = makeSibling(dest, ".old-");
        if (std::rename(dest.c_str(), old.c_str()) != 0) {
            const int err = errno;
            fs::remove(old, ec);
            fs::remove_all(tmp, ec);
            throw Error("cannot replace the run '" + dest.string() + "': " + describeErrno(err));
        }
        syncParent();
        crashPoint("run-old-moved");
    }
    if (std::rename(tmp.c_str(), dest.c_str()) != 0) {
        const int err = errno;
        if (!old.empty()) std::rename(old.c_str(), dest.c_str());
        fs::remove_all(tmp, ec);
        throw Error("cannot create the run folder '" + dest.string() + "': " + describeErrno(err));
    }
    syncParent();
    crashPoint("run-new-moved");
    if (!old.empty()) fs::remove_all(old, ec);
}

void beforeLoad(const std::string& folder) {
    if (folder.empty()) return;
    std::error_code ec;
    fs::path dir = fs::absolute(folder, ec).lexically_normal();
    if (ec) return;
    if (!dir.has_filename()) dir = dir.parent_path();
    refuseTemporaryName(dir);
    // Never waits: a save in progress elsewhere is left alone.
    const DirLock lock(dir.parent_path(), false);
    if (lock.owns()) recover(dir);
}

RunDestination inspect(const fs::path& dest) {
    const fs::path parent = dest.parent_path();
    std::error_code ec;
    const fs::file_type parentType = fs::status(parent, ec).type();
    if (parentType == fs::file_type::not_found)
        throw Error("cannot save the run to '" + dest.string() + "': the folder '" +
                    parent.string() + "' does not exist");
    if (parentType != fs::file_type::directory)
        throw Error("cannot save the run to '" + dest.string() + "': '" + parent.string() +
                    "' is not a folder");
    // Probe: the only reliable writability test (root, read-only mounts, ACLs).
    std::string probe = dest.string() + ".tmp-XXXXXX";
    if (!::mkdtemp(probe.data()))
        throw Error("cannot save the run to '" + dest.string() + "': the folder '" +
                    parent.string() + "' is not writable (" + describeErrno(errno) + ")");
    fs::remove(probe, ec);
    if (!existsNoFollow(dest)) return RunDestination::New;
    const std::string why = whyNotARun(dest);
    if (!why.empty())
        throw Error("'" + dest.string() + "' is not a QuantLens run folder (" + why +
                    "); refusing to replace it, choose a new folder");
    return RunDestination::ExistingRun;
}

}  // namespace runfolder

RunDestination checkRunDestination(const std::string& folder) {
    const fs::path dest = runfolder::destination(folder);
    const runfolder::DirLock lock(dest.parent_path(), true);
    runfolder::recover(dest);
    return runfolder::inspect(dest);
}

}  // namespace ql
