// Crash-safe file replacement: write a temporary file, fsync it, rename it over the target,
// fsync the folder. A reader sees the old file or the new one, never a half-written one.
#pragma once

#include "../core/error.hpp"
#include "detail/unique_file.hpp"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace embedkit::io {

/// Writes a file atomically. Usage:
///   AtomicFile f(path);  f.write(data, n); ...;  f.commit();
/// The temporary file is `.ek-tmp-` plus 16 hex digits in the folder of `path`, so any name
/// the file system accepts (up to NAME_MAX, 255 bytes) can be written. It is created with
/// mode 0666 and the kernel applies the umask, so the result gets the usual permissions; the
/// umask is never read or changed, so threads may save (different paths) at the same time.
/// If commit() is not reached (exception, early return) the temporary file is removed and the
/// target is untouched. Durability: after commit() returns, the new contents and the rename
/// have been fsync'ed, so they survive a power loss on file systems that honour fsync.
/// Throws IoError naming the path.
class AtomicFile {
public:
    explicit AtomicFile(std::string path) : path_(std::move(path)) {
        const std::string::size_type slash = path_.find_last_of('/');
        const std::string folder = slash == std::string::npos ? "" : path_.substr(0, slash + 1);
        fd_ = embedkit::detail::create_unique_file(folder + ".ek-tmp-", tmp_);
        if (fd_ < 0) fail("cannot create a temporary file beside");
    }
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    ~AtomicFile() {
        if (fd_ >= 0) {
            ::close(fd_);
            ::unlink(tmp_.c_str());
        }
    }

    /// Appends n bytes; throws IoError on failure.
    void write(const void* data, std::size_t n) {
        const char* p = static_cast<const char*>(data);
        while (n > 0) {
            const ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                fail("cannot write temporary file for");
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    }

    /// Flushes, syncs and renames the temporary file over the target, then syncs the folder.
    void commit() {
        if (::fsync(fd_) != 0) fail("cannot fsync temporary file for");
        if (::close(fd_) != 0) {
            const int e = errno;
            fd_ = -1;
            ::unlink(tmp_.c_str());
            errno = e;
            fail("cannot close temporary file for");
        }
        fd_ = -1;
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
            const int e = errno;
            ::unlink(tmp_.c_str());
            errno = e;
            fail("cannot rename temporary file onto");
        }
        const std::string::size_type slash = path_.find_last_of('/');
        const std::string dir =
            slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
        const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            ::fsync(dfd);  // best effort: some file systems refuse fsync on folders
            ::close(dfd);
        }
    }

private:
    [[noreturn]] void fail(const char* what) const {
        throw IoError("embedkit::io: " + std::string(what) + " '" + path_ +
                      "': " + std::strerror(errno));
    }

    std::string path_;
    std::string tmp_;
    int fd_ = -1;
};

}  // namespace embedkit::io
