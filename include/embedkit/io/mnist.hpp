// MNIST in the IDX format: image and label files, raw or gzip-compressed, checked before
// anything is allocated, images returned as one row of floats in [0, 1] per image.
//
// IDX (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): all integers big-endian.
//   magic  4 bytes: 0x00, 0x00, element type (0x08 = unsigned byte), number of dimensions
//   sizes  one 32-bit count per dimension: images [count, rows, cols], labels [count]
//   data   count * rows * cols bytes, row-major (images), or count bytes (labels)
// so an image file starts with 0x00000803 and a label file with 0x00000801.
#pragma once

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/types.hpp"
#include "detail/gzip.hpp"
#include "detail/path.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace embedkit::io {

/// Which half of MNIST: the 60,000 training or the 10,000 test images.
enum class MnistSplit { train, test };

/// One MNIST split: images is count x (rows * cols) (60000 x 784 for train), one image per
/// row in row-major pixel order, each byte b stored as b / 255.0f; labels[i] is the digit of
/// row i.
struct MnistData {
    RowMatrixF images;
    std::vector<std::uint8_t> labels;
};

}  // namespace embedkit::io

namespace embedkit::detail {

enum class IdxKind { images, labels };

inline constexpr std::uint32_t idx_images_magic = 0x00000803u;  // unsigned bytes, 3 dimensions
inline constexpr std::uint32_t idx_labels_magic = 0x00000801u;  // unsigned bytes, 1 dimension
/// Largest payload the reader accepts (2 GiB of pixels, 8 GiB as floats): ample for MNIST
/// (47 MB), EMNIST (0.7 GB) and friends, and a bound on what a hostile header can request.
inline constexpr std::uint64_t idx_max_payload = std::uint64_t(1) << 31;
/// Largest image (rows * cols) the reader accepts.
inline constexpr std::uint64_t idx_max_image_pixels = std::uint64_t(1) << 24;

/// What an IDX header announces.
struct IdxLayout {
    IdxKind kind = IdxKind::images;
    std::uint64_t count = 0;
    std::uint64_t rows = 1;  // 1 for labels
    std::uint64_t cols = 1;
    std::size_t header_bytes = 0;
    std::uint64_t payload_bytes = 0;
    std::uint64_t total_bytes() const noexcept { return header_bytes + payload_bytes; }
};

inline std::size_t idx_header_bytes(IdxKind kind) noexcept {
    return kind == IdxKind::images ? 16 : 8;
}

inline std::uint32_t read_be32(const unsigned char* p) noexcept {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
           std::uint32_t(p[3]);
}

[[noreturn]] inline void idx_fail(const std::string& func, const std::string& name,
                                  const std::string& what) {
    throw FormatError(func + ": '" + name + "': " + what);
}

inline std::string idx_describe(const IdxLayout& l) {
    if (l.kind == IdxKind::labels) return std::to_string(l.count) + " labels";
    return std::to_string(l.count) + " images of " + std::to_string(l.rows) + " x " +
           std::to_string(l.cols) + " pixels";
}

/// Validates the header at the start of `data` (of which `avail` bytes are present): magic,
/// non-zero dimensions, the size limits. Throws FormatError naming `name`; does not look at
/// the total length (see idx_check_length).
inline IdxLayout idx_layout(const unsigned char* data, std::size_t avail, IdxKind kind,
                            const std::string& func, const std::string& name) {
    const bool images = kind == IdxKind::images;
    const char* what = images ? "IDX image file" : "IDX label file";
    const std::size_t header = idx_header_bytes(kind);
    if (avail == 0) idx_fail(func, name, std::string("empty, expected an ") + what);
    if (avail < 4)
        idx_fail(func, name,
                 "truncated: " + std::to_string(avail) +
                     " bytes, too short for the 4-byte IDX magic number");
    const std::uint32_t magic = read_be32(data);
    const std::uint32_t want = images ? idx_images_magic : idx_labels_magic;
    if (magic != want) {
        char found[16];
        std::snprintf(found, sizeof found, "0x%08X", static_cast<unsigned>(magic));
        std::string hint;
        if (is_gzip(data, avail))
            hint = " (this is gzip-compressed data; decompress it first)";
        else if (magic == (images ? idx_labels_magic : idx_images_magic))
            hint = images ? " (this is an IDX label file)" : " (this is an IDX image file)";
        else if (data[0] == 0 && data[1] == 0)
            hint = " (an IDX file of another element type or number of dimensions)";
        idx_fail(func, name,
                 std::string("not an ") + what + ": magic number is " + found + ", expected " +
                     (images ? "0x00000803" : "0x00000801") + " (unsigned bytes, " +
                     (images ? "3 dimensions" : "1 dimension") + ")" + hint);
    }
    if (avail < header)
        idx_fail(func, name,
                 "truncated: " + std::to_string(avail) + " bytes, the IDX header needs " +
                     std::to_string(header));
    IdxLayout l;
    l.kind = kind;
    l.header_bytes = header;
    l.count = read_be32(data + 4);
    if (images) {
        l.rows = read_be32(data + 8);
        l.cols = read_be32(data + 12);
    }
    if (l.count == 0)
        idx_fail(func, name,
                 std::string("the header announces 0 ") + (images ? "images" : "labels"));
    if (l.rows == 0 || l.cols == 0)
        idx_fail(func, name,
                 "the header announces images of " + std::to_string(l.rows) + " x " +
                     std::to_string(l.cols) + " pixels");
    if (l.rows * l.cols > idx_max_image_pixels)
        idx_fail(func, name,
                 "the header announces images of " + std::to_string(l.rows) + " x " +
                     std::to_string(l.cols) + " pixels, more than the reader's limit of " +
                     std::to_string(idx_max_image_pixels) + " pixels per image");
    // No overflow: count < 2^32 and rows * cols <= 2^24.
    l.payload_bytes = l.count * l.rows * l.cols;
    if (l.payload_bytes > idx_max_payload)
        idx_fail(func, name,
                 "the header announces " + idx_describe(l) + " (" +
                     std::to_string(l.payload_bytes) + " bytes), more than the reader's limit of " +
                     std::to_string(idx_max_payload) + " bytes");
    return l;
}

/// Checks that the data is exactly as long as the header says. `unit` words the length in
/// the message ("bytes", or "decompressed bytes" for .gz input).
inline void idx_check_length(const IdxLayout& l, std::uint64_t have, const std::string& func,
                             const std::string& name, const char* unit = "bytes") {
    const std::uint64_t need = l.total_bytes();
    if (have < need)
        idx_fail(func, name,
                 "truncated: the header announces " + idx_describe(l) + " (" +
                     std::to_string(need) + " bytes with the " + std::to_string(l.header_bytes) +
                     "-byte header), but there are only " + std::to_string(have) + " " + unit);
    if (have > need)
        idx_fail(func, name,
                 std::to_string(have - need) + " unexpected " + unit + " after the " +
                     std::to_string(need) + " the header announces (" + idx_describe(l) + ")");
}

inline RowMatrixF idx_images_from(const unsigned char* data, std::size_t size,
                                  const std::string& func, const std::string& name,
                                  const char* unit = "bytes") {
    const IdxLayout l = idx_layout(data, size, IdxKind::images, func, name);
    idx_check_length(l, size, func, name, unit);
    RowMatrixF m(static_cast<Eigen::Index>(l.count), static_cast<Eigen::Index>(l.rows * l.cols));
    const unsigned char* in = data + l.header_bytes;
    float* out = m.data();
    const std::size_t n = static_cast<std::size_t>(l.payload_bytes);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) / 255.0f;
    return m;
}

inline std::vector<std::uint8_t> idx_labels_from(const unsigned char* data, std::size_t size,
                                                 const std::string& func, const std::string& name,
                                                 const char* unit = "bytes") {
    const IdxLayout l = idx_layout(data, size, IdxKind::labels, func, name);
    idx_check_length(l, size, func, name, unit);
    return std::vector<std::uint8_t>(data + l.header_bytes,
                                     data + l.header_bytes + l.payload_bytes);
}

#if EMBEDKIT_HAS_ZLIB
/// Decompresses an IDX file of `kind` in two passes, so that memory is spent only on data
/// that is there. `open()` returns a new GzipReader (std::unique_ptr) at the start of the
/// compressed bytes. Pass 1 validates the header as soon as it is out, then decompresses into
/// a 64 KiB scratch buffer, counting, to the end of the stream (zlib checks every member's
/// CRC-32) or one byte past what the header announces (a gzip bomb stops there), and checks
/// the exact length. Only then pass 2 allocates the announced size, once, and decompresses
/// into it. So a few-MB file whose header announces gigabytes and whose data is short, long or
/// corrupt is a FormatError after constant memory; a valid file costs what a raw file of the
/// same header would (both are bounded by idx_max_payload), plus a second decompression.
/// Throws FormatError for a wrong header, length or stream; IoError if the input changes
/// between the passes.
template <class Open>
std::vector<unsigned char> idx_inflate(Open&& open, IdxKind kind, const std::string& func,
                                       const std::string& name) {
    const std::size_t header = idx_header_bytes(kind);
    std::vector<unsigned char> head(header);
    IdxLayout l;
    {
        const auto gz = open();
        std::uint64_t have = gz->read(head.data(), header);
        l = idx_layout(head.data(), static_cast<std::size_t>(have), kind, func, name);
        const std::uint64_t total = l.total_bytes();
        std::vector<unsigned char> scratch(std::size_t(1) << 16);
        for (;;) {
            const std::size_t want =
                static_cast<std::size_t>(std::min<std::uint64_t>(scratch.size(), total + 1 - have));
            if (want == 0) break;
            const std::size_t got = gz->read(scratch.data(), want);
            have += got;
            if (got < want) break;  // end of the gzip stream
        }
        if (have > total)
            idx_fail(func, name,
                     "decompresses to more than the " + std::to_string(total) +
                         " bytes its header announces (" + idx_describe(l) + ")");
        idx_check_length(l, have, func, name, "decompressed bytes");
    }
    const std::size_t total = static_cast<std::size_t>(l.total_bytes());
    std::vector<unsigned char> out(total);
    const auto gz = open();
    unsigned char extra = 0;
    if (gz->read(out.data(), total) != total || gz->read(&extra, 1) != 0 ||
        !std::equal(head.begin(), head.end(), out.begin()))
        throw IoError(func + ": '" + name + "' changed while being read");
    return out;
}

/// Decompresses a whole in-memory .gz IDX file (the .gz counterpart of parse_idx_*, for
/// fuzzing); see idx_inflate.
inline std::vector<unsigned char> idx_inflate_buffer(const unsigned char* data, std::size_t size,
                                                     IdxKind kind, const std::string& func,
                                                     const std::string& name) {
    return idx_inflate([&] { return std::make_unique<GzipReader>(data, size, func, name); }, kind,
                       func, name);
}
#endif

struct FdCloser {
    int fd;
    ~FdCloser() {
        if (fd >= 0) ::close(fd);
    }
};

// Reads up to n bytes; fewer only at end of file.
inline std::size_t read_fully(int fd, unsigned char* out, std::size_t n, const std::string& func,
                              const std::string& path) {
    std::size_t done = 0;
    while (done < n) {
        const ssize_t got = ::read(fd, out + done, n - done);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) throw IoError(func + ": cannot read '" + path + "': " + std::strerror(errno));
        if (got == 0) break;
        done += static_cast<std::size_t>(got);
    }
    return done;
}

// Reads an IDX file of `kind` (raw or gzip, told apart by its first bytes) and hands the
// decompressed bytes to `parse(data, size, unit)`.
template <class Parse>
auto read_idx_file(const std::string& path, IdxKind kind, const std::string& func, Parse&& parse) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError(func + ": cannot open '" + path + "': " + std::strerror(errno));
    const FdCloser closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw IoError(func + ": cannot stat '" + path + "': " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw IoError(func + ": '" + path + "' is a folder, not a file");
    std::vector<unsigned char> head(idx_header_bytes(kind));
    head.resize(read_fully(fd, head.data(), head.size(), func, path));
    if (is_gzip(head.data(), head.size())) {
#if EMBEDKIT_HAS_ZLIB
        // Each pass reads the file from its start (idx_inflate), so it must be seekable.
        const auto open = [&] {
            if (::lseek(fd, 0, SEEK_SET) != 0)
                throw IoError(func + ": cannot seek in '" + path +
                              "' (a .gz IDX file is read twice: " +
                              "to check it, then to keep it): " + std::strerror(errno));
            return std::make_unique<GzipReader>(fd, std::vector<unsigned char>(), func, path);
        };
        const std::vector<unsigned char> raw = idx_inflate(open, kind, func, path);
        return parse(raw.data(), raw.size(), "decompressed bytes");
#else
        gzip_unavailable(func, path);
#endif
    }
    // Raw: header and length are checked against the file size before the payload is read.
    const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    const IdxLayout l = idx_layout(head.data(), head.size(), kind, func, path);
    idx_check_length(l, size, func, path);
    std::vector<unsigned char> all(static_cast<std::size_t>(size));
    std::copy(head.begin(), head.end(), all.begin());
    const std::size_t rest = all.size() - head.size();
    if (read_fully(fd, all.data() + head.size(), rest, func, path) != rest)
        throw IoError(func + ": '" + path + "' became shorter while being read");
    return parse(all.data(), all.size(), "bytes");
}

}  // namespace embedkit::detail

namespace embedkit::io {

/// Parses a complete, uncompressed IDX image file held in data[0, size) into a
/// count x (rows * cols) matrix of floats b / 255 (one image per row). `name` is used in
/// messages. Throws FormatError naming `name` and the problem if the magic number is not
/// 0x00000803, a dimension is 0 or beyond the reader's limits, or the size differs from
/// header + payload; nothing is allocated before these checks pass.
inline RowMatrixF parse_idx_images(const unsigned char* data, std::size_t size,
                                   const std::string& name) {
    return embedkit::detail::idx_images_from(data, size, "embedkit::io::parse_idx_images", name);
}

/// Parses a complete, uncompressed IDX label file (magic 0x00000801) held in data[0, size).
/// Throws FormatError as parse_idx_images.
inline std::vector<std::uint8_t> parse_idx_labels(const unsigned char* data, std::size_t size,
                                                  const std::string& name) {
    return embedkit::detail::idx_labels_from(data, size, "embedkit::io::parse_idx_labels", name);
}

/// Reads an IDX image file, raw or gzip-compressed (recognised by its content, whatever its
/// name), into a count x (rows * cols) matrix of floats in [0, 1], one image per row.
/// Throws IoError if the file cannot be opened or read, or is gzip data in a build without
/// zlib; FormatError (naming the file) if it is not a valid IDX image file, is truncated or
/// too long, or its gzip stream is corrupt.
inline RowMatrixF read_idx_images(const std::string& path) {
    const std::string func = "embedkit::io::read_idx_images";
    return embedkit::detail::read_idx_file(
        path, embedkit::detail::IdxKind::images, func,
        [&](const unsigned char* d, std::size_t n, const char* unit) {
            return embedkit::detail::idx_images_from(d, n, func, path, unit);
        });
}

/// Reads an IDX label file, raw or gzip-compressed, one byte per label. Throws as
/// read_idx_images.
inline std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
    const std::string func = "embedkit::io::read_idx_labels";
    return embedkit::detail::read_idx_file(
        path, embedkit::detail::IdxKind::labels, func,
        [&](const unsigned char* d, std::size_t n, const char* unit) {
            return embedkit::detail::idx_labels_from(d, n, func, path, unit);
        });
}

/// The file names of a split without extension: {images, labels}, e.g.
/// {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}.
inline std::pair<std::string, std::string> mnist_file_names(MnistSplit split) {
    const std::string prefix = split == MnistSplit::train ? "train" : "t10k";
    return {prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte"};
}

/// Loads one MNIST split from the folder `dir`, which holds `<prefix>-images-idx3-ubyte` and
/// `<prefix>-labels-idx1-ubyte` (prefix `train` or `t10k`), each raw or with `.gz` (the raw
/// file is used when both exist). Returns images as count x (rows * cols) floats in [0, 1]
/// and one label per image. Throws IoError if a file is missing (the message names the
/// folder, the names looked for and how to get them) or unreadable; FormatError if a file
/// is malformed or the image and label counts differ.
inline MnistData load_mnist(const std::string& dir, MnistSplit split) {
    using embedkit::detail::join_path;
    using embedkit::detail::path_exists;
    const auto names = mnist_file_names(split);
    std::string missing;
    const auto locate = [&](const std::string& name) {
        const std::string raw = join_path(dir, name);
        if (path_exists(raw)) return raw;
        if (path_exists(raw + ".gz")) return raw + ".gz";
        missing +=
            std::string(missing.empty() ? "" : " and ") + "'" + name + "' or '" + name + ".gz'";
        return std::string();
    };
    const std::string images_path = locate(names.first);
    const std::string labels_path = locate(names.second);
    if (!missing.empty()) {
        const std::string folder = dir.empty() ? "." : dir;
        throw IoError("embedkit::io::load_mnist: MNIST " +
                      std::string(split == MnistSplit::train ? "training" : "test") +
                      " files not found in '" + folder + "'" +
                      (path_exists(folder) ? "" : " (the folder does not exist)") +
                      ": looked for " + missing +
                      ". To get them, run the example with --download (or call "
                      "embedkit::io::download_mnist), or set EMBEDKIT_MNIST_DIR to a folder that "
                      "holds the four MNIST files");
    }
    MnistData data;
    data.images = read_idx_images(images_path);
    data.labels = read_idx_labels(labels_path);
    if (static_cast<std::size_t>(data.images.rows()) != data.labels.size())
        throw FormatError("embedkit::io::load_mnist: '" + images_path + "' holds " +
                          std::to_string(data.images.rows()) + " images but '" + labels_path +
                          "' holds " + std::to_string(data.labels.size()) + " labels");
    return data;
}

}  // namespace embedkit::io
