// Defensive file reading and JSON pre-checks (see file_util.h).
#include "base/file_util.h"

#include "base/error.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ql {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw Error(path + ": " + what);
}

const char* fileKind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    return "not a regular file";
}

}  // namespace

uint64_t requireRegularFile(const std::string& path, const std::string& what) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        fail(path, std::string(errno == ENOENT ? "no such file" : std::strerror(errno)) +
                       ", expected " + what);
    if (!S_ISREG(st.st_mode))
        fail(path, std::string("is ") + fileKind(st.st_mode) + ", expected " + what);
    return uint64_t(st.st_size);
}

std::string readRegularFile(const std::string& path, const std::string& what, uint64_t maxBytes) {
    const uint64_t size = requireRegularFile(path, what);
    if (size > maxBytes)
        fail(path, "is " + std::to_string(size) + " bytes, more than the " +
                       std::to_string(maxBytes) + " accepted for " + what);
    // O_NONBLOCK: if the file was swapped for a FIFO after the check, open must not hang.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(path, "changed while being opened, expected " + what);
    }
    std::string data(size_t(size), '\0');
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::read(fd, &data[done], data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            fail(path, std::string("read error: ") + std::strerror(err));
        }
        if (n == 0) break;  // shrank meanwhile: keep what was there
        done += size_t(n);
    }
    ::close(fd);
    data.resize(done);
    return data;
}

void checkJsonDepth(std::string_view text, const std::string& file, int limit) {
    int depth = 0;
    bool inString = false, escaped = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                inString = false;
        } else if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit)
                fail(file, "JSON nested deeper than " + std::to_string(limit) +
                               " levels (at byte " + std::to_string(i) +
                               "), expected a flat document");
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
}

std::string jsonErrorReason(const std::exception& e) {
    std::string s = e.what();
    if (s.rfind("[json.exception.", 0) == 0) {
        const size_t close = s.find("] ");
        if (close != std::string::npos) s.erase(0, close + 2);
    }
    // "parse error at line 1, column 5: syntax error while parsing ..." -> where it is.
    if (s.rfind("parse error", 0) == 0) {
        const size_t at = s.find(" at line ");
        const size_t colon = s.find(':');
        if (at != std::string::npos && colon != std::string::npos && colon > at)
            return "syntax error" + s.substr(at, colon - at);
        return "syntax error";
    }
    return s;
}

}  // namespace ql
