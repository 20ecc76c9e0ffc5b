// NumPy .npy files: write and read 1-D/2-D C-order arrays (float32, float64, integers of 1 to 8
// bytes; float16 and other dtypes converted on request), stream one to disk (NpyWriter), and
// map a 2-D file read-only so large embedding sets are searched without a copy.
//
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//   "\x93NUMPY", major, minor, header length (uint16 LE for v1, uint32 LE for v2/v3),
//   an ASCII Python dict {'descr': '<f4', 'fortran_order': False, 'shape': (r, c), }
//   padded with spaces and a final '\n' so the data starts at a multiple of 64, then the data.
#pragma once

#include "../core/detail/half.hpp"
#include "../core/error.hpp"
#include "../core/types.hpp"
#include "atomic_file.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

namespace detail {

// The character types are integers to C++ but text to a reader; char's signedness even
// depends on the platform. They have no .npy dtype.
template <class T>
inline constexpr bool npy_is_char_v = std::is_same_v<T, char> || std::is_same_v<T, wchar_t> ||
                                      std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>
#if defined(__cpp_char8_t)
                                      || std::is_same_v<T, char8_t>
#endif
    ;

}  // namespace detail

/// The .npy dtype string of T: "<f4" for float, "<f8" for double, and for an integer type the
/// dtype of its size and signedness, whatever the type is called on the platform: "|i1",
/// "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8". So std::int64_t, long long, and (where
/// they are 8 bytes, as on every 64-bit platform) long, std::ptrdiff_t and Eigen::Index all
/// give "<i8", and a top_k index matrix writes the same file on Linux, macOS and Windows.
/// nullptr for anything else (bool, the character types, long double).
template <class T>
constexpr const char* npy_dtype() noexcept {
    if constexpr (std::is_same_v<T, float>)
        return "<f4";
    else if constexpr (std::is_same_v<T, double>)
        return "<f8";
    else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                       !detail::npy_is_char_v<T>) {
        constexpr bool s = std::is_signed_v<T>;
        if constexpr (sizeof(T) == 1)
            return s ? "|i1" : "|u1";
        else if constexpr (sizeof(T) == 2)
            return s ? "<i2" : "<u2";
        else if constexpr (sizeof(T) == 4)
            return s ? "<i4" : "<u4";
        else if constexpr (sizeof(T) == 8)
            return s ? "<i8" : "<u8";
        else
            return nullptr;
    } else {
        return nullptr;
    }
}

template <class T>
inline constexpr bool is_npy_type_v = npy_dtype<T>() != nullptr;

/// What read_npy, read_npy_vector and parse_npy do with a file whose dtype is not T's.
///
/// `none` (the default): nothing is converted; another dtype is a FormatError naming both.
///
/// `allow`: a floating-point file is converted to a floating-point T and an integer file to an
/// integer T, value by value, and only where the value survives:
///  - '<f2' (float16) to float or double, '<f4' to double, and any integer to a wider one (or
///    one of the other signedness that holds it) are exact;
///  - '<f8' to float rounds each value to the nearest float (ties to even), as a cast does;
///    NaN stays NaN and +-inf stays +-inf, a value too small for float becomes a float
///    subnormal or +-0 (as a cast does), but a *finite* value beyond float's range (|x| >
///    FLT_MAX, about 3.4e38) is a FormatError naming its row and column (or index), never a
///    silent inf;
///  - an integer that does not fit T (300 as uint8_t, -1 as any unsigned type, 2^40 as int32_t)
///    is a FormatError naming its row and column (or index).
/// Floating point to integer or back is never converted (a FormatError naming both dtypes).
/// map_npy never converts: a map shows the file's own bytes.
enum class NpyConvert {
    none,
    allow,
};

/// What a .npy header says.
struct NpyHeader {
    std::string dtype;  ///< e.g. "<f4"
    bool fortran_order = false;
    std::vector<std::uint64_t> shape;
    std::size_t data_offset = 0;  ///< bytes before the data
    std::uint64_t count = 0;      ///< number of elements (product of shape)
};

namespace detail {

inline bool host_is_little_endian() noexcept {
    const std::uint16_t one = 1;
    unsigned char b = 0;
    std::memcpy(&b, &one, 1);
    return b == 1;
}

// A dtype the readers know: kind 'f' (IEEE binary16/32/64), 'i' or 'u' (two's complement or
// unsigned integer) and its size in bytes; size 0 for a dtype they do not read.
struct NpyDtype {
    char kind = 0;
    std::size_t size = 0;
};

// Parses a descr string: little-endian '<' (numpy writes it on every little-endian host), or
// '|' ("not applicable", what numpy writes for 1-byte types) for the 1-byte integers.
inline NpyDtype npy_parse_dtype(const std::string& d) noexcept {
    if (d.size() != 3 || d[2] < '1' || d[2] > '8') return {};
    const char kind = d[1];
    const std::size_t size = static_cast<std::size_t>(d[2] - '0');
    const bool known = kind == 'f' ? (size == 2 || size == 4 || size == 8)
                                   : (kind == 'i' || kind == 'u') &&
                                         (size == 1 || size == 2 || size == 4 || size == 8);
    if (!known || !(d[0] == '<' || (d[0] == '|' && size == 1))) return {};
    return {kind, size};
}

inline std::size_t npy_item_size(const std::string& dtype) noexcept {
    return npy_parse_dtype(dtype).size;
}

inline constexpr const char* npy_readable_dtypes =
    "<f2, <f4, <f8, |i1, <i2, <i4, <i8, |u1, <u2, <u4, <u8";

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
            if (peek() == '}') {
                ++p_;
                break;
            }
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
            if (peek() == ',') {
                ++p_;
                continue;
            }
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
        if (end_ - p_ >= 4 && std::memcmp(p_, "True", 4) == 0) {
            p_ += 4;
            return true;
        }
        if (end_ - p_ >= 5 && std::memcmp(p_, "False", 5) == 0) {
            p_ += 5;
            return false;
        }
        fail("malformed header: expected True or False");
    }
    std::vector<std::uint64_t> tuple() {
        std::vector<std::uint64_t> dims;
        expect('(');
        for (;;) {
            skip_ws();
            if (peek() == ')') {
                ++p_;
                break;
            }
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
            if (peek() == ',') {
                ++p_;
                continue;
            }
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
inline std::size_t npy_header_end(const unsigned char* bytes, std::size_t avail,
                                  std::uint64_t file_size, const std::string& path) {
    const auto fail = [&path](const std::string& what) { npy_format_error(path, what); };
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (avail < 10)
        fail("file too short for a .npy header (" + std::to_string(file_size) + " bytes)");
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
        fail("header of " + std::to_string(header_len) +
             " bytes, more than the reader's limit of " + std::to_string(npy_max_header_bytes) +
             " bytes");
    if (prefix + header_len > file_size)
        fail("truncated header (needs " + std::to_string(prefix + header_len) +
             " bytes, file has " + std::to_string(file_size) + ")");
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
    NpyHeader h =
        NpyDictParser(reinterpret_cast<const char*>(bytes) + prefix, header_len, path).parse();
    h.data_offset = prefix + header_len;
    const std::size_t item = npy_item_size(h.dtype);
    if (item == 0)
        fail("unsupported dtype '" + h.dtype + "' (embedkit reads " + npy_readable_dtypes + ")");
    if (h.fortran_order)
        fail("Fortran-order arrays are not supported (save with np.ascontiguousarray)");
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
    if (have > need) fail(std::to_string(have - need) + " unexpected bytes after the data");
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

// Whether the readers hand the file's bytes over as they are (true) or convert them (false)
// when a file of dtype h.dtype is read as T; throws FormatError naming both dtypes when neither
// is allowed. `can_convert` is false for map_npy, which only views the file.
template <class T>
inline bool check_dtype(const NpyHeader& h, const std::string& path, NpyConvert convert,
                        bool can_convert) {
    const NpyDtype have = npy_parse_dtype(h.dtype);
    const NpyDtype want = npy_parse_dtype(npy_dtype<T>());
    if (have.kind == want.kind && have.size == want.size) return true;  // '<u1' is '|u1'
    const std::string head = "embedkit::io::npy: '" + path + "': dtype is '" + h.dtype + "' but '" +
                             npy_dtype<T>() + "' was requested";
    if (!can_convert)
        throw FormatError(head +
                          " (a map shows the file's bytes as they are; read_npy with "
                          "NpyConvert::allow copies and converts them)");
    if (convert == NpyConvert::none)
        throw FormatError(head + " (pass NpyConvert::allow to convert it, see read_npy)");
    const bool both_float = have.kind == 'f' && want.kind == 'f';
    const bool both_int = have.kind != 'f' && want.kind != 'f';
    if (!both_float && !both_int)
        throw FormatError(head +
                          "; NpyConvert::allow converts between floating-point dtypes or "
                          "between integer dtypes, not from one to the other");
    return false;
}

// ---- Conversion (NpyConvert::allow) ---------------------------------------------------------

// A float16 element as stored: its bits, decoded by half_bits_to_float.
struct NpyHalf {
    std::uint16_t bits;
};
inline float npy_value(NpyHalf h) noexcept { return embedkit::detail::half_bits_to_float(h.bits); }
template <class V>
V npy_value(V v) noexcept {
    return v;
}

template <class T>
constexpr const char* npy_type_name() noexcept {
    if constexpr (std::is_same_v<T, float>)
        return "float";
    else if constexpr (std::is_same_v<T, double>)
        return "double";
    else if constexpr (std::is_signed_v<T>)
        return sizeof(T) == 1   ? "int8_t"
               : sizeof(T) == 2 ? "int16_t"
               : sizeof(T) == 4 ? "int32_t"
                                : "int64_t";
    else
        return sizeof(T) == 1   ? "uint8_t"
               : sizeof(T) == 2 ? "uint16_t"
               : sizeof(T) == 4 ? "uint32_t"
                                : "uint64_t";
}

// Whether the value v (already decoded) survives conversion to T (see NpyConvert::allow).
template <class T, class V>
bool npy_value_fits(V v) noexcept {
    if constexpr (std::is_floating_point_v<T>) {
        if constexpr (sizeof(V) > sizeof(T))
            return !std::isfinite(v) ||
                   std::fabs(v) <= static_cast<V>(std::numeric_limits<T>::max());
        else
            return true;
    } else {
        if constexpr (std::is_signed_v<V>) {
            if (v < 0) {
                if constexpr (std::is_unsigned_v<T>)
                    return false;
                else
                    return static_cast<std::intmax_t>(v) >=
                           static_cast<std::intmax_t>(std::numeric_limits<T>::min());
            }
        }
        return static_cast<std::uintmax_t>(v) <=
               static_cast<std::uintmax_t>(std::numeric_limits<T>::max());
    }
}

template <class V>
std::string npy_value_string(V v) {
    if constexpr (std::is_floating_point_v<V>) {
        // The shortest form that reads back as v (1e+39, not 9.9999999999999994e+38).
        char buf[40];
        for (int digits = 6; digits <= 17; ++digits) {
            std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(v));
            const bool same = std::is_same_v<V, float>
                                  ? std::strtof(buf, nullptr) == static_cast<float>(v)
                                  : std::strtod(buf, nullptr) == static_cast<double>(v);
            if (same) break;
        }
        return buf;
    } else if constexpr (std::is_signed_v<V>) {
        return std::to_string(static_cast<std::intmax_t>(v));
    } else {
        return std::to_string(static_cast<std::uintmax_t>(v));
    }
}

// "row r, col c" of element i (flat, C order) of an array of shape `shape`; "index i" for 1-D.
inline std::string npy_position(const std::vector<std::uint64_t>& shape, std::uint64_t i) {
    if (shape.size() == 2 && shape[1] != 0)
        return "row " + std::to_string(i / shape[1]) + ", col " + std::to_string(i % shape[1]);
    return "index " + std::to_string(i);
}

// Converts the n elements of source type S at `in` (the file's bytes, any alignment) into
// out[0, n); `first` is the flat index of in[0] in the array. Throws FormatError naming `func`,
// `path` and the element's position for a value that does not survive.
template <class T, class S>
void npy_convert_as(const unsigned char* in, std::size_t n, T* out, std::uint64_t first,
                    const NpyHeader& h, const std::string& path, const std::string& func) {
    for (std::size_t k = 0; k < n; ++k) {
        S s;
        std::memcpy(&s, in + k * sizeof(S), sizeof(S));
        const auto v = npy_value(s);
        if (!npy_value_fits<T>(v)) {
            const char* range = std::is_floating_point_v<T> ? " (largest finite " : " (";
            std::string limits = std::is_floating_point_v<T>
                                     ? npy_value_string(std::numeric_limits<T>::max())
                                     : npy_value_string(std::numeric_limits<T>::min()) + " to " +
                                           npy_value_string(std::numeric_limits<T>::max());
            throw FormatError(func + ": '" + path + "': value " + npy_value_string(v) + " at " +
                              npy_position(h.shape, first + k) + " does not fit " +
                              npy_type_name<T>() + range + limits + "); the file's dtype is '" +
                              h.dtype + "'");
        }
        out[k] = static_cast<T>(v);
    }
}

// npy_convert_as for the file's dtype (already checked by check_dtype to be of T's kind).
template <class T>
void npy_convert(const NpyDtype& src, const unsigned char* in, std::size_t n, T* out,
                 std::uint64_t first, const NpyHeader& h, const std::string& path,
                 const std::string& func) {
    static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559,
                  "embedkit::io::npy: float and double must be IEEE 754 binary32 and binary64");
    if constexpr (std::is_floating_point_v<T>) {
        if (src.size == 2)
            npy_convert_as<T, NpyHalf>(in, n, out, first, h, path, func);
        else if (src.size == 4)
            npy_convert_as<T, float>(in, n, out, first, h, path, func);
        else
            npy_convert_as<T, double>(in, n, out, first, h, path, func);
    } else if (src.kind == 'i') {
        if (src.size == 1)
            npy_convert_as<T, std::int8_t>(in, n, out, first, h, path, func);
        else if (src.size == 2)
            npy_convert_as<T, std::int16_t>(in, n, out, first, h, path, func);
        else if (src.size == 4)
            npy_convert_as<T, std::int32_t>(in, n, out, first, h, path, func);
        else
            npy_convert_as<T, std::int64_t>(in, n, out, first, h, path, func);
    } else {
        if (src.size == 1)
            npy_convert_as<T, std::uint8_t>(in, n, out, first, h, path, func);
        else if (src.size == 2)
            npy_convert_as<T, std::uint16_t>(in, n, out, first, h, path, func);
        else if (src.size == 4)
            npy_convert_as<T, std::uint32_t>(in, n, out, first, h, path, func);
        else
            npy_convert_as<T, std::uint64_t>(in, n, out, first, h, path, func);
    }
}

struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

// The rows and columns of the matrix that read_npy<T> / parse_npy<T> return for header `h`:
// checks the dtype (see check_dtype), the rank (1 or 2; a 1-D array of n becomes n x 1) and
// that both fit Eigen::Index. `func` names the caller in messages.
template <class T>
inline std::pair<Eigen::Index, Eigen::Index> npy_matrix_shape(const NpyHeader& h,
                                                              const std::string& path,
                                                              const std::string& func,
                                                              NpyConvert convert) {
    check_dtype<T>(h, path, convert, true);
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
inline NpyMapLayout npy_map_layout(const unsigned char* bytes, std::size_t size,
                                   const std::string& path) {
    if (size == 0) throw FormatError("embedkit::io::npy: '" + path + "': file is empty");
    const NpyHeader h = parse_npy_header(bytes, size, size, path);
    check_dtype<Scalar>(h, path, NpyConvert::none, false);
    if (h.shape.size() != 2)
        throw FormatError("embedkit::io::map_npy: '" + path +
                          "': expected a 2-D array, got shape " + npy_shape_string(h.shape));
    // A zero-size array may announce any other dimension, up to 2^64 - 1.
    if (h.shape[0] > std::uint64_t(std::numeric_limits<Eigen::Index>::max()) ||
        h.shape[1] > std::uint64_t(std::numeric_limits<Eigen::Index>::max()))
        throw FormatError("embedkit::io::map_npy: '" + path + "': shape " +
                          npy_shape_string(h.shape) + " too large");
    if (h.data_offset % alignof(Scalar) != 0)
        throw FormatError("embedkit::io::map_npy: '" + path + "': data offset " +
                          std::to_string(h.data_offset) + " is not aligned for the dtype");
    return {static_cast<Eigen::Index>(h.shape[0]), static_cast<Eigen::Index>(h.shape[1]),
            h.data_offset};
}

}  // namespace detail

/// Writes a .npy file piece by piece, for arrays produced in batches (e.g. embeddings of a
/// large data set): the constructor writes the header for `shape`, append() adds elements in C
/// order (any number per call), commit() publishes the file. Memory use is constant.
///
/// All or nothing: the elements go to a temporary file beside `path` (AtomicFile), which
/// commit() renames onto `path` only when exactly the shape's element count has been appended.
/// Until then `path` is untouched (an older file there stays as it was); a writer destroyed
/// without a successful commit (an exception unwinding past it, an early return) deletes the
/// temporary file, so no partial .npy ever appears. A write that failed (IoError: disk full,
/// file size limit) leaves the temporary file with an unknown number of bytes, so the writer
/// is then dead: later append() or commit() calls throw ArgumentError instead of publishing a
/// corrupt file, and the temporary file goes when the writer does.
///
/// Throws IoError if the temporary file cannot be created, written or renamed;
/// ArgumentError if the shape's byte size overflows 64 bits, if more elements are appended than
/// the shape holds, if fewer have been appended at commit(), or on any call after an earlier
/// write failed or after commit().
template <class T>
class NpyWriter {
public:
    /// `descr` (optional) writes that dtype string instead of T's, for elements of the same
    /// size held in T (e.g. "<f2", float16 bits held in std::uint16_t).
    NpyWriter(const std::string& path, const std::vector<std::uint64_t>& shape,
              const char* descr = nullptr)
        : file_(path), path_(path) {
        static_assert(is_npy_type_v<T>,
                      "embedkit::io::NpyWriter: element type must be float, double "
                      "or an integer type (not bool or a character type)");
        if (descr != nullptr && detail::npy_item_size(descr) != sizeof(T))
            throw ArgumentError("embedkit::io::NpyWriter: dtype '" + std::string(descr) +
                                "' does not have the element type's size");
        if (!detail::host_is_little_endian())
            throw IoError("embedkit::io::write_npy: big-endian hosts are not supported");
        total_ = 1;
        for (std::uint64_t d : shape) {
            if (d != 0 && total_ > std::numeric_limits<std::uint64_t>::max() / sizeof(T) / d)
                throw ArgumentError("embedkit::io::NpyWriter: '" + path + "': shape " +
                                    detail::npy_shape_string(shape) + " overflows 64 bits");
            total_ *= d;
        }
        std::string dict =
            std::string("{'descr': '") + (descr != nullptr ? descr : npy_dtype<T>()) +
            "', 'fortran_order': False, 'shape': " + detail::npy_shape_string(shape) + ", }";
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

    /// Appends the `count` elements at `data` (C order).
    void append(const T* data, std::size_t count) {
        check_usable();
        if (count > total_ - written_)
            throw ArgumentError("embedkit::io::NpyWriter: '" + path_ + "': appending " +
                                std::to_string(count) + " elements exceeds the shape (" +
                                std::to_string(total_ - written_) + " left)");
        if (count > 0) {
            state_ = State::failed;  // until the write returns: it may leave part of the bytes
            file_.write(data, count * sizeof(T));
            state_ = State::open;
        }
        written_ += count;
    }

    /// Publishes the file at `path` (see AtomicFile::commit).
    void commit() {
        check_usable();
        if (written_ != total_)
            throw ArgumentError("embedkit::io::NpyWriter: '" + path_ +
                                "': " + std::to_string(written_) + " of " + std::to_string(total_) +
                                " elements written");
        state_ = State::failed;  // a failed commit removes the temporary file
        file_.commit();
        state_ = State::committed;
    }

private:
    enum class State { open, failed, committed };

    void check_usable() const {
        if (state_ == State::failed)
            throw ArgumentError(
                "embedkit::io::NpyWriter: '" + path_ +
                "': an earlier write failed, so the "
                "file was abandoned (nothing was published); start a new NpyWriter");
        if (state_ == State::committed)
            throw ArgumentError("embedkit::io::NpyWriter: '" + path_ + "': already committed");
    }

    AtomicFile file_;
    std::string path_;
    std::uint64_t total_ = 0;
    std::uint64_t written_ = 0;
    State state_ = State::open;
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
    // The size bounds everything the header may announce, so it is needed before anything
    // is read; a pipe or FIFO has none.
    if (std::fseek(f.get(), 0, SEEK_END) != 0)
        throw IoError("embedkit::io::npy: cannot seek in '" + path +
                      "' (the reader needs the file's size "
                      "before it reads; a pipe has none): " +
                      std::strerror(errno));
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
        read_to(std::max(head.size(),
                         detail::npy_header_end(head.data(), head.size(), file_size, path)));
    return detail::parse_npy_header(head.data(), head.size(), file_size, path);
}

namespace detail {

// Reads the h.count elements of an open .npy file, positioned at its data, into out: as they
// are when `raw`, else converted from h.dtype to T in chunks of 8192 elements.
template <class T>
void npy_read_data(std::FILE* f, const NpyHeader& h, bool raw, T* out, const std::string& path,
                   const std::string& func) {
    const auto fail = [&] { throw IoError(func + ": cannot read the data of '" + path + "'"); };
    const auto count = static_cast<std::size_t>(h.count);
    if (raw) {
        if (count > 0 && std::fread(out, sizeof(T), count, f) != count) fail();
        return;
    }
    const NpyDtype src = npy_parse_dtype(h.dtype);
    const std::size_t chunk = std::min<std::size_t>(count, 8192);
    std::vector<unsigned char> buf(chunk * src.size);
    for (std::size_t done = 0; done < count;) {
        const std::size_t n = std::min(chunk, count - done);
        if (std::fread(buf.data(), src.size, n, f) != n) fail();
        npy_convert<T>(src, buf.data(), n, out + done, done, h, path, func);
        done += n;
    }
}

template <class T>
void npy_check_element_type() {
    static_assert(is_npy_type_v<T>,
                  "embedkit::io: the element type of a .npy array must be float, double "
                  "or an integer type (not bool or a character type)");
}

}  // namespace detail

/// Reads a 1-D or 2-D .npy array into a row-major matrix of element type T (a 1-D array of
/// length n becomes n x 1; read_npy_vector gives it as a std::vector).
/// With `convert` = NpyConvert::none (the default) the file's dtype must be T's; with
/// NpyConvert::allow a file of another floating-point dtype ('<f2', '<f4', '<f8') is read into
/// float or double, and one of another integer dtype into an integer T, value by value, exactly
/// where the value survives and otherwise refused (see NpyConvert): e.g.
/// `read_npy<float>("x.npy", NpyConvert::allow)` reads numpy's default float64 and float16.
/// Throws FormatError if the dtype is not T's (naming both) and no conversion was allowed or
/// possible, if a converted value does not fit T (naming its row and column), if the array has
/// another rank, or the file is malformed or truncated; IoError if it cannot be read (a pipe
/// cannot: the reader checks the file's size first).
template <class T>
RowMatrix<T> read_npy(const std::string& path, NpyConvert convert = NpyConvert::none) {
    detail::npy_check_element_type<T>();
    if (!detail::host_is_little_endian())
        throw IoError("embedkit::io::read_npy: big-endian hosts are not supported");
    const NpyHeader h = read_npy_header(path);
    const std::string func = "embedkit::io::read_npy";
    const auto shape = detail::npy_matrix_shape<T>(h, path, func, convert);
    const bool raw = detail::check_dtype<T>(h, path, convert, true);
    RowMatrix<T> m(shape.first, shape.second);
    std::unique_ptr<std::FILE, detail::FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw IoError(func + ": cannot open '" + path + "': " + std::strerror(errno));
    if (std::fseek(f.get(), static_cast<long>(h.data_offset), SEEK_SET) != 0)
        throw IoError(func + ": cannot read the data of '" + path + "'");
    detail::npy_read_data(f.get(), h, raw, m.data(), path, func);
    return m;
}

/// Parses a complete .npy file held in memory (`size` bytes at `data`) like read_npy: a 1-D
/// or 2-D array into a row-major matrix of element type T (1-D of length n -> n x 1),
/// converting as read_npy does when `convert` is NpyConvert::allow. `name` (usually the file
/// name) appears in messages. Header, dtype, rank and the exact data length are checked before
/// anything is allocated, so the result is never larger than the input (times
/// sizeof(T) / the file's item size). Throws FormatError as read_npy.
template <class T>
RowMatrix<T> parse_npy(const unsigned char* data, std::size_t size, const std::string& name,
                       NpyConvert convert = NpyConvert::none) {
    detail::npy_check_element_type<T>();
    if (!detail::host_is_little_endian())
        throw IoError("embedkit::io::parse_npy: big-endian hosts are not supported");
    const NpyHeader h = detail::parse_npy_header(data, size, size, name);
    const std::string func = "embedkit::io::parse_npy";
    const auto shape = detail::npy_matrix_shape<T>(h, name, func, convert);
    const bool raw = detail::check_dtype<T>(h, name, convert, true);
    RowMatrix<T> m(shape.first, shape.second);
    const auto count = static_cast<std::size_t>(h.count);
    if (raw) {
        if (count > 0) std::memcpy(m.data(), data + h.data_offset, count * sizeof(T));
    } else {
        detail::npy_convert<T>(detail::npy_parse_dtype(h.dtype), data + h.data_offset, count,
                               m.data(), 0, h, name, func);
    }
    return m;
}

/// Reads a 1-D .npy array of element type T, converting as read_npy does when `convert` is
/// NpyConvert::allow. Throws as read_npy, and FormatError if the array is not 1-D (a 2-D
/// array of n x 1 is not: read it with read_npy).
template <class T>
std::vector<T> read_npy_vector(const std::string& path, NpyConvert convert = NpyConvert::none) {
    detail::npy_check_element_type<T>();
    const NpyHeader h = read_npy_header(path);
    if (h.shape.size() != 1)
        throw FormatError("embedkit::io::read_npy_vector: '" + path +
                          "': expected a 1-D array, got shape " +
                          detail::npy_shape_string(h.shape));
    const RowMatrix<T> m = read_npy<T>(path, convert);
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
        detail::npy_check_element_type<Scalar>();
        if (!detail::host_is_little_endian())
            throw IoError("embedkit::io::map_npy: big-endian hosts are not supported");
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            throw IoError("embedkit::io::map_npy: cannot open '" + path +
                          "': " + std::strerror(errno));
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
        if (p == MAP_FAILED)
            throw IoError("embedkit::io::map_npy: cannot map '" + path + "': " + std::strerror(e));
        base_ = p;
        try {
            const detail::NpyMapLayout l = detail::npy_map_layout<Scalar>(
                static_cast<const unsigned char*>(base_), size_, path);
            rows_ = l.rows;
            cols_ = l.cols;
            data_ = reinterpret_cast<const Scalar*>(static_cast<const unsigned char*>(base_) +
                                                    l.data_offset);
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
