// Streaming gzip decompression (RFC 1952) through zlib, from memory or from a file
// descriptor, pulled a requested number of bytes at a time so callers decide how much output
// they accept. Without zlib (EMBEDKIT_HAS_ZLIB 0) only gzip_unavailable() is defined.
#pragma once

#include "../../core/config.hpp"
#include "../../core/error.hpp"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#if EMBEDKIT_HAS_ZLIB
#include <zlib.h>
#endif

namespace embedkit::detail {

/// True if the bytes start with the gzip magic number 0x1f 0x8b (RFC 1952 §2.3.1).
inline bool is_gzip(const unsigned char* data, std::size_t size) noexcept {
    return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

/// Throws the IoError for a .gz input in a build without zlib.
[[noreturn]] inline void gzip_unavailable(const std::string& func, const std::string& name) {
    throw IoError(func + ": '" + name +
                  "' is gzip-compressed but embedkit was built without zlib: install zlib "
                  "(Debian: apt-get install zlib1g-dev) and reconfigure with CMake (or define "
                  "EMBEDKIT_HAS_ZLIB=1 and link -lz), or decompress the file with gunzip");
}

#if EMBEDKIT_HAS_ZLIB

/// Decompresses a gzip stream (one or more concatenated members, as gunzip accepts) from a
/// memory buffer or a file descriptor. read() pulls output on demand, so a caller that knows
/// how much output is legitimate stops a decompression bomb after that many bytes. Corrupt
/// or truncated streams throw FormatError, read failures IoError; messages start with
/// `func` and name `name`.
class GzipReader {
public:
    /// Reads the compressed bytes data[0, size); the buffer must outlive the reader.
    GzipReader(const unsigned char* data, std::size_t size, std::string func, std::string name)
        : func_(std::move(func)), name_(std::move(name)), mem_(data), mem_left_(size) {
        init();
    }
    /// Reads compressed bytes from `fd` (not owned, not closed), after first consuming the
    /// `prefix` bytes already read from it.
    GzipReader(int fd, std::vector<unsigned char> prefix, std::string func, std::string name)
        : func_(std::move(func)), name_(std::move(name)), fd_(fd), chunk_(std::move(prefix)) {
        init();
        z_.next_in = chunk_.data();
        z_.avail_in = static_cast<uInt>(chunk_.size());
    }
    GzipReader(const GzipReader&) = delete;
    GzipReader& operator=(const GzipReader&) = delete;
    ~GzipReader() { inflateEnd(&z_); }

    /// Decompresses up to n bytes into out; returns fewer only at the end of the stream.
    std::size_t read(unsigned char* out, std::size_t n) {
        std::size_t done = 0;
        while (done < n && !finished_) {
            if (z_.avail_in == 0 && !input_ended_) refill();
            if (member_ended_) {
                // A gzip file may hold several members back to back; anything else after a
                // member is an error (inflate reports a bad header).
                if (z_.avail_in == 0) {
                    if (input_ended_) finished_ = true;
                    continue;
                }
                if (inflateReset(&z_) != Z_OK) fail("cannot restart the gzip decoder");
                member_ended_ = false;
            }
            const std::size_t room = n - done;
            const uInt ask = room > max_uint_ ? max_uint_ : static_cast<uInt>(room);
            z_.next_out = out + done;
            z_.avail_out = ask;
            const int rc = inflate(&z_, Z_NO_FLUSH);
            done += ask - z_.avail_out;
            if (rc == Z_STREAM_END) {
                member_ended_ = true;
            } else if (rc == Z_BUF_ERROR) {
                // No progress was possible: zlib wants input we do not have.
                if (input_ended_ && z_.avail_in == 0)
                    fail("truncated gzip stream (the compressed data ends before the stream does)");
            } else if (rc == Z_MEM_ERROR) {
                throw IoError(func_ + ": '" + name_ + "': out of memory in zlib");
            } else if (rc != Z_OK) {
                fail(std::string("corrupt gzip stream (zlib: ") +
                     (z_.msg ? z_.msg : "error " + std::to_string(rc)) + ")");
            }
        }
        return done;
    }

private:
    static constexpr std::size_t max_uint_ = 1u << 30;  // per-call chunk, fits zlib's uInt

    void init() {
        // 15 window bits + 16: accept the gzip wrapper only (not raw zlib or deflate data).
        if (inflateInit2(&z_, 15 + 16) != Z_OK) throw IoError(func_ + ": cannot initialise zlib");
    }

    void refill() {
        if (fd_ < 0) {
            if (mem_left_ == 0) {
                input_ended_ = true;
                return;
            }
            const std::size_t take = mem_left_ > max_uint_ ? max_uint_ : mem_left_;
            z_.next_in = const_cast<unsigned char*>(mem_);  // zlib's API is not const-correct
            z_.avail_in = static_cast<uInt>(take);
            mem_ += take;
            mem_left_ -= take;
            return;
        }
        chunk_.resize(1u << 16);
        for (;;) {
            const ssize_t got = ::read(fd_, chunk_.data(), chunk_.size());
            if (got < 0 && errno == EINTR) continue;
            if (got < 0)
                throw IoError(func_ + ": cannot read '" + name_ + "': " + std::strerror(errno));
            if (got == 0) input_ended_ = true;
            z_.next_in = chunk_.data();
            z_.avail_in = static_cast<uInt>(got);
            return;
        }
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw FormatError(func_ + ": '" + name_ + "': " + what);
    }

    std::string func_;
    std::string name_;
    z_stream z_{};
    const unsigned char* mem_ = nullptr;
    std::size_t mem_left_ = 0;
    int fd_ = -1;
    std::vector<unsigned char> chunk_;
    bool input_ended_ = false;
    bool member_ended_ = false;
    bool finished_ = false;
};

#endif  // EMBEDKIT_HAS_ZLIB

}  // namespace embedkit::detail
