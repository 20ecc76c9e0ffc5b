// NumPy .npy files: write and read 1-D/2-D C-order arrays (float32, float64, int32, int64,
// uint8), and map a 2-D file read-only so large embedding sets are searched without a copy.
//
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//   "\x93NUMPY", major, minor, header length (uint16 LE for v1, uint32 LE for v2/v3),
//   an ASCII Python dict {'descr': '<f4', 'fortran_order': False, 'shape': (r, c), }
//   padded with spaces and a final '\n' so the data starts at a multiple of 64, then the data.
#pragma once

#include "../core/error.hpp"
#include "../core/types.hpp"
#include "atomic_file.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace embedkit::io {

/// The .npy dtype string of T: "<f4", "<f8", "<i4", "<i8" or "|u1".
template <class T>
constexpr const char* npy_dtype() noexcept {
    if constexpr (std::is_same_v<T, float>) return "<f4";
    else if constexpr (std::is_same_v<T, double>) return "<f8";
    else if constexpr (std::is_same_v<T, std::int32_t>) return "<i4";
    else if constexpr (std::is_same_v<T, std::int64_t>) return "<i8";
    else if constexpr (std::is_same_v<T, std::uint8_t>) return "|u1";
    else return nullptr;
}

template <class T>
inline constexpr bool is_npy_type_v = npy_dtype<T>() != nullptr;

/// What a .npy header says.
struct NpyHeader {
    std::string dtype;              ///< e.g. "<f4"
    bool fortran_order = false;
    std::vector<std::uint64_t> shape;
    std::size_t data_offset = 0;    ///< bytes before the data
    std::uint64_t count = 0;        ///< number of elements (product of shape)
};

namespace detail {

inline bool host_is_little_endian() noexcept {
    const std::uint16_t one = 1;
    unsigned char b = 0;
    std::memcpy(&b, &one, 1);
    return b == 1;
}

inline std::size_t npy_item_size(const std::string& dtype) noexcept {
    if (dtype == "<f4" || dtype == "<i4") return 4;
    if (dtype == "<f8" || dtype == "<i8") return 8;
    if (dtype == "|u1" || dtype == "<u1") return 1;
    return 0;
}

// A strict parser for the header dict: string keys; values are a quoted string, True/False,
// or a tuple of non-negative integers. Anything else is a FormatError.
class NpyDictParser {
public:
    NpyDictParser(const char* p, std::size_t n, const std::string& path)
        : p_(p), end_(p + n), path_(path) {}

    NpyHeader parse() {
        NpyHeader h;
        bool have_descr = false, have_order = false, have_shape = false;
        const auto once = [this](bool& seen, const std::string& key) {
            if (seen) fail("header repeats the key '" + key + "'");
            seen = true;
        };
        skip_ws();
        expect('{');
        for (;;) {
            skip_ws();
            if (peek() == '}') { ++p_; break; }
            const std::string key = quoted();
            skip_ws();
            expect(':');
            skip_ws();
            if (key == "descr") {
                once(have_descr, key);
                h.dtype = quoted();
            } else if (key == "fortran_order") {
                once(have_order, key);
                h.fortran_order = boolean();
            } else if (key == "shape") {
                once(have_shape, key);
                h.shape = tuple();
            } else {
                fail("unknown header key '" + key + "'");
            }
            skip_ws();
            if (peek() == ',') { ++p_; continue; }
            skip_ws();
            expect('}');
            break;
        }
        if (!have_descr || !have_order || !have_shape)
            fail("header lacks one of 'descr', 'fortran_order', 'shape'");
        skip_ws();
        if (p_ != end_) fail("malformed header: text after the dict");
        return h;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw FormatError("embedkit::io::npy: '" + path_ + "': " + what);
    }
    char peek() const { return p_ < end_ ? *p_ : '\0'; }
    void skip_ws() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n')) ++p_;
    }
    void expect(char c) {
        if (peek() != c) fail(std::string("malformed header: expected '") + c + "'");
        ++p_;
    }
    std::string quoted() {
        const char q = peek();
        if (q != '\'' && q != '"') fail("malformed header: expected a quoted string");
        ++p_;
        std::string s;
        while (p_ < end_ && *p_ != q) s.push_back(*p_++);
        if (p_ >= end_) fail("malformed header: unterminated string");
        ++p_;
        return s;
    }
    bool boolean() {
        if (end_ - p_ >= 4 && std::memcmp(p_, "True", 4) == 0) { p_ += 4; return true; }
        if (end_ - p_ >= 5 && std::memcmp(p_, "False", 5) == 0) { p_ += 5; return false; }
        fail("malformed header: expected True or False");
    }
    std::vector<std::uint64_t> tuple() {
        std::vector<std::uint64_t> dims;
        expect('(');
        for (;;) {
            skip_ws();
            if (peek() == ')') { ++p_; break; }
            if (peek() < '0' || peek() > '9') fail("malformed header: bad shape");
            std::uint64_t v = 0;
            while (peek() >= '0' && peek() <= '9') {
                const std::uint64_t d = static_cast<std::uint64_t>(*p_++ - '0');
                if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
                    fail("shape dimension overflows 64 bits");
                v = v * 10 + d;
            }
            dims.push_back(v);
            if (dims.size() > 32) fail("shape has more than 32 dimensions");
            skip_ws();
            if (peek() == ',') { ++p_; continue; }
            skip_ws();
            expect(')');
            break;
        }
        return dims;
    }

    const char* p_;
    const char* end_;
    const std::string& path_;
};

[[noreturn]] inline void npy_format_error(const std::string& path, const std::string& what) {
    throw FormatError("embedkit::io::npy: '" + path + "': " + what);
}

}  // namespace detail

/// The longest .npy header (the dict after the 10- or 12-byte preamble) that the readers
/// accept: 16 MiB. numpy writes a few hundred bytes for the dtypes embedkit reads, and its own
/// reader refuses more than 10000 without allow_pickle; the limit bounds what a header-length
/// field can make read_npy_header read, and read_npy, read_npy_header, parse_npy and map_npy
/// all apply it through the same check, with the same message.
inline constexpr std::size_t npy_max_header_bytes = std::size_t(1) << 24;

namespace detail {

/// Bytes from the start of a .npy file to the end of its header (preamble + header length),
/// from the first `avail` (at least min(file_size, 12)) bytes of a file of `file_size` bytes:
/// checks the magic, the version, the header limit and that the file holds the header.
inline std::size_t npy_header_end(const unsigned char* bytes, std::size_t avail, std::uint64_t file_size,
                                  const std::string& path) {
    const auto fail = [&path](const std::string& what) { npy_format_error(path, what); };
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (avail < 10) fail("file too short for a .npy header (" + std::to_string(file_size) + " bytes)");
    if (std::memcmp(bytes, magic, 6) != 0) fail("not a .npy file (wrong magic)");
    const unsigned major = bytes[6];
    std::size_t header_len = 0;
    std::size_t prefix = 0;
    if (major == 1) {
        header_len = std::size_t(bytes[8]) | (std::size_t(bytes[9]) << 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {
        if (avail < 12) fail("file too short for a .npy v2 header");
        header_len = std::size_t(bytes[8]) | (std::size_t(bytes[9]) << 8) |
                     (std::size_t(bytes[10]) << 16) | (std::size_t(bytes[11]) << 24);
        prefix = 12;
    } else {
        fail("unsupported .npy format version " + std::to_string(major));
    }
    if (header_len > npy_max_header_bytes)
        fail("header of " + std::to_string(header_len) + " bytes, more than the reader's limit of " +
             std::to_string(npy_max_header_bytes) + " bytes");
    if (prefix + header_len > file_size)
        fail("truncated header (needs " + std::to_string(prefix + header_len) + " bytes, file has " +
             std::to_string(file_size) + ")");
    return prefix + header_len;
}

// The one .npy header parser: every reader (read_npy_header, read_npy, parse_npy, map_npy)
// ends here. Parses the preamble and header at the start of a file of `file_size` bytes, whose
// first `avail` bytes are in `bytes` (at least up to npy_header_end), and checks that the
// data fits the file exactly.
inline NpyHeader parse_npy_header(const unsigned char* bytes, std::size_t avail,
                                  std::uint64_t file_size, const std::string& path) {
    const auto fail = [&path](const std::string& what) { npy_format_error(path, what); };
    const std::size_t end = npy_header_end(bytes, avail, file_size, path);
    if (avail < end)  // a caller's mistake, not the file's
        fail("internal error: the header needs " + std::to_string(end) + " bytes, only " +
             std::to_string(avail) + " were read");
    const std::size_t prefix = bytes[6] == 1 ? 10 : 12;
    const std::size_t header_len = end - prefix;
    NpyHeader h = NpyDictParser(reinterpret_cast<const char*>(bytes) + prefix, header_len, path).parse();
    h.data_offset = prefix + header_len;
    const std::size_t item = npy_item_size(h.dtype);
    if (item == 0) fail("unsupported dtype '" + h.dtype + "' (embedkit reads <f4, <f8, <i4, <i8, |u1)");
    if (h.fortran_order) fail("Fortran-order arrays are not supported (save with np.ascontiguousarray)");
    std::uint64_t count = 1;
    for (std::uint64_t d : h.shape) {
        if (d != 0 && count > std::numeric_limits<std::uint64_t>::max() / d)
            fail("shape overflows 64 bits");
        count *= d;
    }
    if (count > std::numeric_limits<std::uint64_t>::max() / item) fail("shape overflows 64 bits");
    const std::uint64_t need = count * item;
    const std::uint64_t have = file_size - h.data_offset;
    if (have < need)
        fail("truncated data (shape needs " + std::to_string(need) + " bytes, file has " +
             std::to_string(have) + ")");
    if (have > need)
        fail(std::to_string(have - need) + " unexpected bytes after the data");
    h.count = count;
    return h;
}

inline std::string npy_shape_string(const std::vector<std::uint64_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        s += std::to_string(shape[i]);
        if (shape.size() == 1 || i + 1 < shape.size()) s += i + 1 < shape.size() ? ", " : ",";
    }
    return s + ")";
}

template <class T>
inline void check_dtype(const NpyHeader& h, const std::string& path) {
    const std::string want = npy_dtype<T>();
    const bool ok = h.dtype == want || (want == "|u1" && h.dtype == "<u1");
    if (!ok)
        throw FormatError("embedkit::io::npy: '" + path + "': dtype is '" + h.dtype +
                          "' but '" + want + "' was requested");
}

struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

// The rows and columns of the matrix that read_npy<T> / parse_npy<T> return for header `h`:
// checks the dtype, the rank (1 or 2; a 1-D array of n becomes n x 1) and that both fit
// Eigen::Index. `func` names the caller in messages.
template <class T>
inline std::pair<Eigen::Index, Eigen::Index> npy_matrix_shape(const NpyHeader& h, const std::string& path,
                                                              const std::string& func) {
    check_dtype<T>(h, path);
    if (h.shape.size() != 1 && h.shape.size() != 2)
        throw FormatError(func + ": '" + path + "': expected a 1-D or 2-D array, got shape " +
                          npy_shape_string(h.shape));
    const std::uint64_t rows = h.shape[0];
    const std::uint64_t cols = h.shape.size() == 2 ? h.shape[1] : 1;
    if (rows > std::uint64_t(std::numeric_limits<Eigen::Index>::max()) ||
        cols > std::uint64_t(std::numeric_limits<Eigen::Index>::max()))
        throw FormatError(func + ": '" + path + "': shape too large");
    return {static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols)};
}

// What MappedNpy<Scalar> views in a whole file held at bytes[0, size): the header must be
// a 2-D C-order array of dtype Scalar whose dimensions fit Eigen::Index and whose data
// offset is aligned for Scalar. Throws FormatError naming `path`.
struct NpyMapLayout {
    Eigen::Index rows = 0;
    Eigen::Index cols = 0;
    std::size_t data_offset = 0;
};

template <class Scalar>
inline NpyMapLayout npy_map_layout(const unsigned char* bytes, std::size_t size, const std::string& path) {
    if (size == 0) throw FormatError("embedkit::io::npy: '" + path + "': file is empty");
    const NpyHeader h = parse_npy_header(bytes, size, size, path);
    check_dtype<Scalar>(h, path);
    if (h.shape.size() != 2)
        throw FormatError("embedkit::io::map_npy: '" + path + "': expected a 2-D array, got shape " +
                          npy_shape_string(h.shape));
    // A zero-size array may announce any other dimension, up to 2^64 - 1.
    if (h.shape[0] > std::uint64_t(std::numeric_limits<Eigen::Index>::max()) ||
        h.shape[1] > std::uint64_t(std::numeric_limits<Eigen::Index>::max()))
        throw FormatError("embedkit::io::map_npy: '" + path + "': shape " + npy_shape_string(h.shape) +
                          " too large");
    if (h.data_offset % alignof(Scalar) != 0)
        throw FormatError("embedkit::io::map_npy: '" + path + "': data offset " +
                          std::to_string(h.data_offset) + " is not aligned for the dtype");
    return {static_cast<Eigen::Index>(h.shape[0]), static_cast<Eigen::Index>(h.shape[1]), h.data_offset};
}

}  // namespace detail

/// Writes a .npy file piece by piece, for arrays produced in batches (e.g. embeddings of a
/// large data set): the header first, then append() the elements in C order, then commit().
/// The file appears atomically at commit(); if the writer is destroyed before, nothing is
/// left behind. Throws IoError on write failures, ArgumentError if more elements are appended
/// than the shape holds or fewer have been appended at commit().
template <class T>
class NpyWriter {
public:
    NpyWriter(const std::string& path, const std::vector<std::uint64_t>& shape)
        : file_(path), path_(path) {
        static_assert(is_npy_type_v<T>, "embedkit::io::NpyWriter: element type must be float, "
                                        "double, int32_t, int64_t or uint8_t");
        if (!detail::host_is_little_endian())
            throw IoError("embedkit::io::write_npy: big-endian hosts are not supported");
        total_ = 1;
        for (std::uint64_t d : shape) {
            if (d != 0 && total_ > std::numeric_limits<std::uint64_t>::max() / sizeof(T) / d)
                throw ArgumentError("embedkit::io::NpyWriter: '" + path + "': shape " +
                                    detail::npy_shape_string(shape) + " overflows 64 bits");
            total_ *= d;
        }
        std::string dict = std::string("{'descr': '") + npy_dtype<T>() +
                           "', 'fortran_order': False, 'shape': " +
                           detail::npy_shape_string(shape) + ", }";
        // Pad with spaces and a final newline so the data starts at a multiple of 64 bytes.
        std::size_t prefix = 10;
        unsigned char major = 1;
        if (dict.size() + 64 > 65535) {
            prefix = 12;
            major = 2;
        }
        const std::size_t total = prefix + dict.size() + 1;
        const std::size_t padded = (total + 63) / 64 * 64;
        dict.append(padded - total, ' ');
        dict.push_back('\n');
        const std::size_t header_len = dict.size();
        unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0, 0, 0, 0, 0};
        for (std::size_t i = 0; i < prefix - 8; ++i)
            pre[8 + i] = static_cast<unsigned char>((header_len >> (8 * i)) & 0xFF);
        file_.write(pre, prefix);
        file_.write(dict.data(), dict.size());
    }

    /// Appends `count` elements.
    void append(const T* data, std::size_t count) {
        if (count > total_ - written_)
            throw ArgumentError("embedkit::io::NpyWriter: '" + path_ + "': appending " +
                                std::to_string(count) + " elements exceeds the shape (" +
                                std::to_string(total_ - written_) + " left)");
        if (count > 0) file_.write(data, count * sizeof(T));
        written_ += count;
    }

    /// Publishes the file (see AtomicFile::commit).
    void commit() {
        if (written_ != total_)
            throw ArgumentError("embedkit::io::NpyWriter: '" + path_ + "': " +
                                std::to_string(written_) + " of " + std::to_string(total_) +
                                " elements written");
        file_.commit();
    }

private:
    AtomicFile file_;
    std::string path_;
    std::uint64_t total_ = 0;
    std::uint64_t written_ = 0;
};

/// Writes the elements at `data` with shape `shape` (C order) as a .npy file, atomically.
/// Throws IoError if the file cannot be written, ArgumentError if the shape's byte size
/// overflows 64 bits.
template <class T>
void write_npy(const std::string& path, const T* data, const std::vector<std::uint64_t>& shape) {
    NpyWriter<T> w(path, shape);
    std::uint64_t count = 1;
    for (std::uint64_t d : shape) count *= d;
    w.append(data, static_cast<std::size_t>(count));
    w.commit();
}

/// Writes an Eigen matrix or vector as .npy (2-D rows x cols for matrices, 1-D for vectors),
/// in C order whatever its storage order.
template <class Derived>
void write_npy(const std::string& path, const Eigen::DenseBase<Derived>& m) {
    using T = typename Derived::Scalar;
    if constexpr (Derived::IsVectorAtCompileTime) {
        Eigen::Matrix<T, Eigen::Dynamic, 1> v(m.size());
        for (Eigen::Index i = 0; i < m.size(); ++i) v[i] = m.derived().coeff(i);
        write_npy<T>(path, v.data(), {static_cast<std::uint64_t>(v.size())});
    } else {
        // Views row-major contiguous storage in place; copies anything else into C order.
        const Eigen::Ref<const RowMatrix<T>> r(m.derived());
        const std::vector<std::uint64_t> shape = {static_cast<std::uint64_t>(r.rows()),
                                                  static_cast<std::uint64_t>(r.cols())};
        if (r.outerStride() == r.cols() || r.rows() <= 1) {
            write_npy<T>(path, r.data(), shape);
        } else {
            const RowMatrix<T> copy = r;
            write_npy<T>(path, copy.data(), shape);
        }
    }
}

/// Writes a std::vector as a 1-D .npy array.
template <class T>
void write_npy(const std::string& path, const std::vector<T>& v) {
    write_npy<T>(path, v.data(), {static_cast<std::uint64_t>(v.size())});
}

/// Reads the header of a .npy file (and checks the data length against the file size).
/// Throws IoError if the file cannot be read or is a folder, FormatError if it is not a valid
/// .npy file.
inline NpyHeader read_npy_header(const std::string& path) {
    std::unique_ptr<std::FILE, detail::FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw IoError("embedkit::io::npy: cannot open '" + path + "': " + std::strerror(errno));
    // fopen accepts a folder on POSIX; only the read would fail, with a vaguer message.
    struct stat st {};
    if (::fstat(::fileno(f.get()), &st) == 0 && S_ISDIR(st.st_mode))
        throw IoError("embedkit::io::npy: '" + path + "' is a folder, not a file");
    if (std::fseek(f.get(), 0, SEEK_END) != 0)
        throw IoError("embedkit::io::npy: cannot seek in '" + path + "'");
    const long size = std::ftell(f.get());
    if (size < 0) throw IoError("embedkit::io::npy: cannot size '" + path + "'");
    std::rewind(f.get());
    const auto file_size = static_cast<std::uint64_t>(size);
    // The preamble says how long the header is; then exactly the header is read (the limit,
    // npy_max_header_bytes, is checked before).
    std::vector<unsigned char> head;
    const auto read_to = [&](std::size_t n) {
        const std::size_t had = head.size();
        head.resize(n);
        if (n > had && std::fread(head.data() + had, 1, n - had, f.get()) != n - had)
            throw IoError("embedkit::io::npy: cannot read '" + path + "'");
    };
    read_to(static_cast<std::size_t>(std::min<long>(size, 12)));
    if (head.size() >= 10)
        read_to(std::max(head.size(), detail::npy_header_end(head.data(), head.size(), file_size, path)));
    return detail::parse_npy_header(head.data(), head.size(), file_size, path);
}

/// Reads a 1-D or 2-D .npy array of element type T into a row-major matrix (a 1-D array of
/// length n becomes n x 1). Throws FormatError if the dtype is not T's, the array has another
/// rank, or the file is malformed or truncated; IoError if it cannot be read.
template <class T>
RowMatrix<T> read_npy(const std::string& path) {
    static_assert(is_npy_type_v<T>, "embedkit::io::read_npy: element type must be float, "
                                    "double, int32_t, int64_t or uint8_t");
    if (!detail::host_is_little_endian())
        throw IoError("embedkit::io::read_npy: big-endian hosts are not supported");
    const NpyHeader h = read_npy_header(path);
    const auto shape = detail::npy_matrix_shape<T>(h, path, "embedkit::io::read_npy");
    RowMatrix<T> m(shape.first, shape.second);
    std::unique_ptr<std::FILE, detail::FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw IoError("embedkit::io::read_npy: cannot open '" + path + "': " + std::strerror(errno));
    if (std::fseek(f.get(), static_cast<long>(h.data_offset), SEEK_SET) != 0 ||
        (h.count > 0 && std::fread(m.data(), sizeof(T), static_cast<std::size_t>(h.count), f.get()) !=
                            static_cast<std::size_t>(h.count)))
        throw IoError("embedkit::io::read_npy: cannot read the data of '" + path + "'");
    return m;
}

/// Parses a complete .npy file held in memory (`size` bytes at `data`) like read_npy: a 1-D
/// or 2-D array of element type T into a row-major matrix (1-D of length n -> n x 1). `name`
/// (usually the file name) appears in messages. Header, dtype, rank and the exact data length
/// are checked before anything is allocated, so the result is never larger than the input.
/// Throws FormatError as read_npy.
template <class T>
RowMatrix<T> parse_npy(const unsigned char* data, std::size_t size, const std::string& name) {
    static_assert(is_npy_type_v<T>, "embedkit::io::parse_npy: element type must be float, "
                                    "double, int32_t, int64_t or uint8_t");
    if (!detail::host_is_little_endian())
        throw IoError("embedkit::io::parse_npy: big-endian hosts are not supported");
    const NpyHeader h = detail::parse_npy_header(data, size, size, name);
    const auto shape = detail::npy_matrix_shape<T>(h, name, "embedkit::io::parse_npy");
    RowMatrix<T> m(shape.first, shape.second);
    if (h.count > 0) std::memcpy(m.data(), data + h.data_offset, static_cast<std::size_t>(h.count) * sizeof(T));
    return m;
}

/// Reads a 1-D .npy array of element type T. Throws as read_npy, and FormatError if the
/// array is not 1-D.
template <class T>
std::vector<T> read_npy_vector(const std::string& path) {
    const NpyHeader h = read_npy_header(path);
    if (h.shape.size() != 1)
        throw FormatError("embedkit::io::read_npy_vector: '" + path + "': expected a 1-D array, got shape " +
                          detail::npy_shape_string(h.shape));
    const RowMatrix<T> m = read_npy<T>(path);
    return std::vector<T>(m.data(), m.data() + m.size());
}

/// A read-only memory map of a 2-D C-order .npy file of element type Scalar. Owns the
/// mapping; matrix() is valid while the object lives. Move-only.
///
/// The map shows the file's pages, not a copy. If the file is replaced by a rename (write_npy,
/// save_model_file, `mv`) or deleted, the map keeps the old contents. If another program
/// shrinks or rewrites it in place (np.save or `cp` onto the same path, truncate), reading a
/// page past the new end raises SIGBUS, which kills the process; no C++ exception can report
/// it. Map only files that nobody rewrites in place while they are mapped; otherwise use
/// read_npy, which copies the data into memory and is unaffected by later changes.
template <class Scalar>
class MappedNpy {
public:
    using MatrixMap = Eigen::Map<const RowMatrix<Scalar>>;

    /// Maps `path`. Throws IoError if it cannot be opened or mapped, FormatError if it is not
    /// a 2-D C-order .npy of dtype Scalar (the message names both dtypes) or is truncated.
    explicit MappedNpy(const std::string& path) : path_(path) {
        static_assert(is_npy_type_v<Scalar>, "embedkit::io::MappedNpy: unsupported element type");
        if (!detail::host_is_little_endian())
            throw IoError("embedkit::io::map_npy: big-endian hosts are not supported");
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw IoError("embedkit::io::map_npy: cannot open '" + path + "': " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int e = errno;
            ::close(fd);
            throw IoError("embedkit::io::map_npy: cannot stat '" + path + "': " + std::strerror(e));
        }
        if (S_ISDIR(st.st_mode)) {
            ::close(fd);
            throw IoError("embedkit::io::map_npy: '" + path + "' is a folder, not a file");
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ == 0) {
            ::close(fd);
            throw FormatError("embedkit::io::npy: '" + path + "': file is empty");
        }
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
        const int e = errno;
        ::close(fd);  // the mapping keeps the file alive
        if (p == MAP_FAILED) throw IoError("embedkit::io::map_npy: cannot map '" + path + "': " + std::strerror(e));
        base_ = p;
        try {
            const detail::NpyMapLayout l =
                detail::npy_map_layout<Scalar>(static_cast<const unsigned char*>(base_), size_, path);
            rows_ = l.rows;
            cols_ = l.cols;
            data_ = reinterpret_cast<const Scalar*>(static_cast<const unsigned char*>(base_) + l.data_offset);
        } catch (...) {
            ::munmap(base_, size_);
            throw;
        }
    }
    MappedNpy(MappedNpy&& o) noexcept : path_() { swap(o); }
    MappedNpy& operator=(MappedNpy&& o) noexcept {
        MappedNpy tmp(std::move(o));
        swap(tmp);
        return *this;
    }
    MappedNpy(const MappedNpy&) = delete;
    MappedNpy& operator=(const MappedNpy&) = delete;
    ~MappedNpy() {
        if (base_ != nullptr) ::munmap(base_, size_);
    }

    /// The array as a row-major matrix view (rows x cols), no copy.
    MatrixMap matrix() const noexcept { return MatrixMap(data_, rows_, cols_); }
    Eigen::Index rows() const noexcept { return rows_; }
    Eigen::Index cols() const noexcept { return cols_; }
    const Scalar* data() const noexcept { return data_; }
    /// Size of the mapped file in bytes.
    std::size_t file_size() const noexcept { return size_; }
    const std::string& path() const noexcept { return path_; }

private:
    void swap(MappedNpy& o) noexcept {
        std::swap(path_, o.path_);
        std::swap(base_, o.base_);
        std::swap(size_, o.size_);
        std::swap(data_, o.data_);
        std::swap(rows_, o.rows_);
        std::swap(cols_, o.cols_);
    }

    std::string path_;
    void* base_ = nullptr;
    std::size_t size_ = 0;
    const Scalar* data_ = nullptr;
    Eigen::Index rows_ = 0;
    Eigen::Index cols_ = 0;
};

/// Maps a 2-D .npy file of dtype Scalar read-only; see MappedNpy, including when a file
/// rewritten in place kills the process with SIGBUS (read_npy copies instead).
template <class Scalar>
MappedNpy<Scalar> map_npy(const std::string& path) {
    return MappedNpy<Scalar>(path);
}

}  // namespace embedkit::io
