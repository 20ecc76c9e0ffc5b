// Downloading the four MNIST files with curl (or wget) and checking their official MD5 sums;
// MD5 of buffers and files.
//
// The downloader runs the curl or wget executable found on PATH (posix_spawnp with an
// argument vector, no shell), writes into a temporary file in the target folder, verifies
// the MD5 and only then renames the file into place, so a final name never holds a partial
// or unverified download.
#pragma once

#include "md5.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/io/atomic_file.hpp>
#include <embedkit/io/detail/path.hpp>
#include <embedkit/io/detail/unique_file.hpp>
#include <embedkit/io/mnist.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
extern char** environ;  // the environment handed to curl (proxy settings, certificates)
}

namespace example {

/// MD5 (RFC 1321) of data[0, n) as 32 lowercase hexadecimal digits, as md5sum prints it.
inline std::string md5_hex(const unsigned char* data, std::size_t n) {
    detail::Md5 md5;
    md5.update(data, n);
    return md5.hex_digest();
}

/// MD5 of the file at `path` as 32 lowercase hexadecimal digits. Throws IoError if the file
/// cannot be opened or read, or is a folder.
inline std::string md5_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw embedkit::IoError("example::md5_file: cannot open '" + path +
                                "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw embedkit::IoError("example::md5_file: '" + path + "' is a folder, not a file");
    }
    detail::Md5 md5;
    std::vector<unsigned char> buf(1u << 20);
    for (;;) {
        const ssize_t got = ::read(fd, buf.data(), buf.size());
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            const int e = errno;
            ::close(fd);
            throw embedkit::IoError("example::md5_file: cannot read '" + path +
                                    "': " + std::strerror(e));
        }
        if (got == 0) break;
        md5.update(buf.data(), static_cast<std::size_t>(got));
    }
    ::close(fd);
    return md5.hex_digest();
}

/// A file to download and the MD5 (lowercase hex) it must have.
struct MnistFile {
    const char* name;
    const char* md5;
};

/// The four official MNIST files and their published MD5 sums.
inline constexpr std::array<MnistFile, 4> mnist_files = {{
    {"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
    {"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"},
    {"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"},
    {"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"},
}};

/// Options of download_mnist.
struct DownloadOptions {
    /// Base URLs tried in order for each file (the file name is appended; a missing final
    /// '/' is added). The defaults are the mirrors torchvision uses.
    std::vector<std::string> mirrors = {
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    };
    /// The files to fetch and their expected MD5 sums (the official MNIST files by default;
    /// tests and other IDX data sets substitute their own).
    std::vector<MnistFile> files{mnist_files.begin(), mnist_files.end()};
    /// No progress lines on stderr.
    bool quiet = false;
};

}  // namespace example

namespace example::detail {

using embedkit::detail::create_unique_file;
using embedkit::detail::join_path;
using embedkit::detail::path_exists;

/// The full path of executable `name` on $PATH (or the default /usr/local/bin:/usr/bin:/bin),
/// or "" if there is none.
inline std::string find_on_path(const std::string& name) {
    const char* env = std::getenv("PATH");
    const std::string path = env != nullptr ? env : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = path.find(':', start);
        std::string dir =
            path.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (dir.empty()) dir = ".";  // an empty PATH entry means the current folder
        const std::string candidate = dir + "/" + name;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0)
            return candidate;
        if (end == std::string::npos) return "";
        start = end + 1;
    }
}

struct ProcessResult {
    bool exited = false;  // false: killed by a signal
    int code = 0;         // exit status, or the signal number
    std::string output;   // stdout and stderr, the last 4 KB
};

/// Runs argv[0] (a path, or a name searched on PATH) with the given arguments and the
/// current environment, stdin from /dev/null, stdout and stderr captured; waits for it.
/// Throws IoError if it cannot be started.
inline ProcessResult run_process(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw embedkit::IoError("example::download_mnist: cannot create a pipe: " +
                                std::string(std::strerror(errno)));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);  // dup2 clears close-on-exec
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        throw embedkit::IoError("example::download_mnist: cannot run '" + args[0] +
                                "': " + std::strerror(rc));
    }
    ProcessResult result;
    char buf[4096];
    for (;;) {
        const ssize_t got = ::read(fds[0], buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        result.output.append(buf, static_cast<std::size_t>(got));
        if (result.output.size() > 8192) result.output.erase(0, result.output.size() - 4096);
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            throw embedkit::IoError("example::download_mnist: cannot wait for '" + args[0] +
                                    "': " + std::strerror(errno));
    }
    if (result.output.size() > 4096) result.output.erase(0, result.output.size() - 4096);
    result.exited = WIFEXITED(status);
    result.code = result.exited ? WEXITSTATUS(status) : WTERMSIG(status);
    return result;
}

/// The command line that fetches `url` into `out` with curl or wget (`tool` is its path).
inline std::vector<std::string> fetch_command(const std::string& tool, bool is_curl,
                                              const std::string& url, const std::string& out) {
    if (is_curl)
        // --fail: an HTTP error is an exit status, not an HTML page saved as the file.
        // --speed-limit/--speed-time: give up on a transfer stalled below 1 kB/s for a minute.
        return {tool,
                "--fail",
                "--location",
                "--silent",
                "--show-error",
                "--connect-timeout",
                "30",
                "--retry",
                "2",
                "--speed-limit",
                "1000",
                "--speed-time",
                "60",
                "--output",
                out,
                url};
    return {tool, "--no-verbose", "--tries=2", "--timeout=60", "--output-document=" + out, url};
}

/// The last non-empty line of a tool's output, trimmed to 300 characters.
inline std::string last_line(const std::string& text) {
    std::size_t end = text.find_last_not_of(" \r\n\t");
    if (end == std::string::npos) return "";
    const std::size_t start = text.find_last_of('\n', end);
    std::string line = text.substr(start == std::string::npos ? 0 : start + 1,
                                   end + 1 - (start == std::string::npos ? 0 : start + 1));
    if (line.size() > 300) line = line.substr(0, 300) + "...";
    return line;
}

/// Removes a file at scope exit unless released.
struct UnlinkGuard {
    std::string path;
    ~UnlinkGuard() {
        if (!path.empty()) ::unlink(path.c_str());
    }
};

inline void fsync_path(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);  // best effort: some file systems refuse fsync on folders
        ::close(fd);
    }
}

}  // namespace example::detail

namespace example {

/// Downloads the files of `options.files` (by default the four official MNIST .gz files)
/// into the folder `dir`, creating it if needed. A file already present with the expected
/// MD5 is kept; any other is fetched with curl (or wget when there is no curl) from each
/// mirror in turn until one gives the expected MD5, into a temporary file in `dir` that is
/// renamed into place only after the check. Throws IoError if neither curl nor wget is on
/// PATH or `dir` cannot be created or written; FormatError if every attempt for a file
/// failed and at least one delivered content with the wrong MD5 (the message names the
/// file, expected and got); IoError if every mirror failed otherwise (the message lists each
/// URL tried and why). Files fetched before a failure stay in place (each verified).
inline void download_mnist(const std::string& dir, const DownloadOptions& options = {}) {
    namespace d = example::detail;
    const std::string func = "example::download_mnist";
    bool is_curl = true;
    std::string tool = d::find_on_path("curl");
    if (tool.empty()) {
        tool = d::find_on_path("wget");
        is_curl = false;
    }
    if (tool.empty())
        throw embedkit::IoError(func +
                                ": neither curl nor wget was found on PATH; install curl "
                                "(Debian: apt-get install curl) or download the files by hand");
    if (options.mirrors.empty()) throw embedkit::ArgumentError(func + ": no mirrors given");
    const std::string folder = dir.empty() ? "." : dir;
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec)
        throw embedkit::IoError(func + ": cannot create the folder '" + folder +
                                "': " + ec.message());

    for (const MnistFile& file : options.files) {
        const std::string name = file.name;
        const std::string want = file.md5;
        const std::string target = d::join_path(folder, name);
        struct stat st {};
        if (::stat(target.c_str(), &st) == 0) {
            const std::string have = md5_file(target);
            if (have == want) {
                if (!options.quiet)
                    std::fprintf(stderr, "embedkit: %s is present (MD5 ok)\n", target.c_str());
                continue;
            }
            if (!options.quiet)
                std::fprintf(
                    stderr,
                    "embedkit: %s is present but its MD5 is %s, not %s; downloading it again\n",
                    target.c_str(), have.c_str(), want.c_str());
        }
        std::vector<std::string> failures;
        std::string md5_failure;
        bool done = false;
        for (std::string mirror : options.mirrors) {
            if (!mirror.empty() && mirror.back() != '/') mirror += '/';
            const std::string url = mirror + name;
            // Created 0666 minus the umask, which is never touched (other threads share it).
            std::string tmp;
            const int fd = d::create_unique_file(target + ".part.", tmp);
            if (fd < 0)
                throw embedkit::IoError(func + ": cannot create a temporary file in '" + folder +
                                        "': " + std::strerror(errno));
            ::close(fd);
            d::UnlinkGuard guard{tmp};
            if (!options.quiet) std::fprintf(stderr, "embedkit: downloading %s\n", url.c_str());
            const d::ProcessResult r = d::run_process(d::fetch_command(tool, is_curl, url, tmp));
            if (!r.exited || r.code != 0) {
                std::string why = std::string(is_curl ? "curl" : "wget") +
                                  (r.exited ? " exited with status " : " was killed by signal ") +
                                  std::to_string(r.code);
                const std::string line = d::last_line(r.output);
                if (!line.empty()) why += " (" + line + ")";
                failures.push_back(url + ": " + why);
                if (!options.quiet) std::fprintf(stderr, "embedkit:   failed: %s\n", why.c_str());
                continue;
            }
            const std::string got = md5_file(tmp);
            if (got != want) {
                const std::string why =
                    "MD5 mismatch for '" + name + "': expected " + want + ", got " + got;
                failures.push_back(url + ": " + why);
                if (md5_failure.empty()) md5_failure = why + " (downloaded from " + url + ")";
                if (!options.quiet)
                    std::fprintf(stderr, "embedkit:   %s; discarded\n", why.c_str());
                continue;
            }
            d::fsync_path(tmp, O_RDONLY);
            if (::rename(tmp.c_str(), target.c_str()) != 0)
                throw embedkit::IoError(func + ": cannot rename '" + tmp + "' to '" + target +
                                        "': " + std::strerror(errno));
            guard.path.clear();
            d::fsync_path(folder, O_RDONLY | O_DIRECTORY);
            if (!options.quiet)
                std::fprintf(stderr, "embedkit:   saved %s (MD5 ok)\n", target.c_str());
            done = true;
            break;
        }
        if (done) continue;
        std::string tried;
        for (const std::string& f : failures) tried += (tried.empty() ? "" : "; ") + f;
        if (!md5_failure.empty())
            throw embedkit::FormatError(func + ": " + md5_failure + "; nothing was saved as '" +
                                        target + "'. Attempts: " + tried);
        throw embedkit::IoError(func + ": could not download '" + name + "' into '" + folder +
                                "' from any mirror: " + tried);
    }
}

}  // namespace example
