#include "base/output_folder.h"

#include "base/atomic_write.h"
#include "base/error.h"

#include <sys/stat.h>

#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

namespace ql {

namespace fs = std::filesystem;

namespace {

const char kMarker[] = ".quantlens-output";

fs::path normalized(const std::string& dir) {
    if (dir.empty()) throw Error("no output folder given");
    std::error_code ec;
    fs::path p = fs::absolute(dir, ec).lexically_normal();
    if (ec) throw Error("output folder '" + dir + "' is not a valid path");
    if (!p.has_filename()) p = p.parent_path();
    return p;
}

// Creating and removing a file is the only reliable writability test (root, read-only
// mounts, ACLs).
void probeWritable(const fs::path& dir, const fs::path& shown) {
    std::string probe = (dir / ".quantlens-probe-XXXXXX").string();
    const int fd = ::mkstemp(probe.data());
    if (fd < 0)
        throw Error("cannot write in '" + shown.string() + "': the folder is not writable (" +
                    describeErrno(errno) + ")");
    ::close(fd);
    ::unlink(probe.c_str());
}

}  // namespace

OutputFolder checkOutputFolder(const std::string& dir) {
    const fs::path p = normalized(dir);
    std::error_code ec;
    const fs::file_type type = fs::symlink_status(p, ec).type();
    if (type == fs::file_type::not_found) {
        const fs::path parent = p.parent_path();
        const fs::file_type parentType = fs::status(parent, ec).type();
        if (parentType == fs::file_type::not_found)
            throw Error("cannot write to '" + p.string() + "': the folder '" + parent.string() +
                        "' does not exist");
        if (parentType != fs::file_type::directory)
            throw Error("cannot write to '" + p.string() + "': '" + parent.string() +
                        "' is not a folder");
        probeWritable(parent, parent);
        return OutputFolder::New;
    }
    if (type == fs::file_type::symlink)
        throw Error("output folder '" + p.string() + "' is a symbolic link; give the real folder");
    if (type != fs::file_type::directory)
        throw Error("output folder '" + p.string() + "' is a file, not a folder; refusing to " +
                    "replace it");
    const bool ours = fs::symlink_status(p / kMarker, ec).type() == fs::file_type::regular;
    const bool empty = fs::is_empty(p, ec);
    if (ec)
        throw Error("cannot read the folder '" + p.string() + "': " + describeErrno(ec.value()));
    if (!ours && !empty)
        throw Error("output folder '" + p.string() + "' is not empty and holds no earlier " +
                    "QuantLens export; choose an empty or new folder");
    probeWritable(p, p);
    return ours ? OutputFolder::Ours : OutputFolder::Empty;
}

void claimOutputFolder(const std::string& dir, const std::string& kind) {
    const fs::path p = normalized(dir);
    if (::mkdir(p.c_str(), 0777) != 0 && errno != EEXIST)
        throw Error("cannot create the folder '" + p.string() + "': " + describeErrno(errno));
    writeFileAtomic((p / kMarker).string(), kind + "\n");
    syncDirectory(p.parent_path().string());
}

}  // namespace ql
