#include "base/atomic_write.h"

#include "base/error.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

namespace ql {

namespace {

const char kTempInfix[] = ".tmp-";
constexpr size_t kSuffixLength = 6;

std::string fileName(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string dirName(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string randomSuffix() {
    static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_int_distribution<size_t> pick(0, sizeof kChars - 2);
    std::string s;
    for (size_t i = 0; i < kSuffixLength; ++i) s += kChars[pick(rng)];
    return s;
}

[[noreturn]] void fail(const std::string& path, int err) {
    throw Error("cannot write '" + path + "': " + describeErrno(err));
}

// Writes everything and fsyncs `fd`; returns 0 or the errno of the first failure.
int writeAllAndSync(int fd, const std::string& bytes) {
    int err = 0;
    for (size_t done = 0; done < bytes.size() && !err;) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            err = n < 0 ? errno : EIO;
        else
            done += size_t(n);
    }
    if (!err && ::fsync(fd) != 0) err = errno;
    return err;
}

int writeAllAndClose(int fd, const std::string& bytes) {
    int err = writeAllAndSync(fd, bytes);
    if (::close(fd) != 0 && !err) err = errno;
    return err;
}

bool isTempName(const std::string& name) {
    if (name.size() < 2 + sizeof kTempInfix - 1 + kSuffixLength || name[0] != '.') return false;
    const size_t at = name.size() - kSuffixLength - (sizeof kTempInfix - 1);
    return name.compare(at, sizeof kTempInfix - 1, kTempInfix) == 0;
}

}  // namespace

void crashPoint(const char* step) {
    static const char* const target = std::getenv("QUANTLENS_TEST_CRASH_AT");
    if (target && std::strcmp(target, step) == 0) ::_exit(9);
}

std::string describeErrno(int err) {
    switch (err) {
        case ENOSPC:
            return "the disk is full";
        case EDQUOT:
            return "the disk quota is exceeded";
        case EFBIG:
            return "the file size limit is exceeded";
        case EACCES:
        case EPERM:
            return "permission denied";
        case EROFS:
            return "the file system is read-only";
        case ENOENT:
            return "no such file or folder";
        case ENOTDIR:
            return "a part of the path is not a folder";
        case EISDIR:
            return "it is a folder";
        default:
            return std::strerror(err);
    }
}

void writeFileDurable(const std::string& path, const std::string& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) fail(path, errno);
    if (const int err = writeAllAndClose(fd, bytes)) fail(path, err);
}

void syncDirectory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // nothing to make durable if it cannot even be opened
    // EINVAL: file systems without directory fsync; the entries are as durable as they get.
    const bool failed = ::fsync(fd) != 0 && errno != EINVAL;
    const int err = errno;
    ::close(fd);
    if (failed) fail(dir, err);
}

int createTempFor(const std::string& path, std::string& tempPath) {
    const std::string dir = dirName(path);
    removeStaleTempFiles(dir);
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
        tempPath = dir + "/." + fileName(path) + kTempInfix + randomSuffix();
        fd = ::open(tempPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) fail(path, errno);
    }
    if (fd < 0) fail(path, EEXIST);
    // Locked until renamed: removeStaleTempFiles of another process leaves it alone.
    ::flock(fd, LOCK_EX);
    return fd;
}

void commitTemp(int fd, const std::string& tempPath, const std::string& path) {
    int err = ::fsync(fd) == 0 ? 0 : errno;
    if (!err) {
        crashPoint(("file-written:" + fileName(path)).c_str());
        if (::rename(tempPath.c_str(), path.c_str()) != 0) err = errno;
    }
    if (err) ::unlink(tempPath.c_str());
    if (::close(fd) != 0 && !err) err = errno;
    if (err) fail(path, err);
    crashPoint(("file-renamed:" + fileName(path)).c_str());
    syncDirectory(dirName(path));
}

void writeFileAtomic(const std::string& path, const std::string& bytes) {
    std::string temp;
    const int fd = createTempFor(path, temp);
    if (const int err = writeAllAndSync(fd, bytes)) {
        ::unlink(temp.c_str());
        ::close(fd);
        fail(path, err);
    }
    commitTemp(fd, temp, path);
}

void removeStaleTempFiles(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        struct stat st;
        if (!isTempName(name)) continue;
        const std::string full = dir + "/" + name;
        if (::lstat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        // A writer that is still alive holds its lock: only dead writers' files go.
        const int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) continue;
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(full.c_str());
        ::close(fd);
    }
    ::closedir(d);
}

}  // namespace ql
