// Fuzz target: the .npy reader.
// Input: byte 0 chooses the element type asked for (float, double, int32, int64, uint8) and
// whether to read it as a matrix (io::parse_npy, the code read_npy runs on a file's bytes), to
// read it with NpyConvert::allow (float, double, int32, uint8: float16/32/64 and every integer
// dtype converted), or to validate it as map_npy does (detail::npy_map_layout, the checks
// MappedNpy runs on the mapped bytes; mapping a temporary file per input would only add
// system calls). The rest is the file. Checked on success: the matrix holds exactly the
// file's data bytes; a converted matrix holds each element's value, decoded here another way
// (float16 by its arithmetic definition), rounded as a cast would; the map layout lies inside
// the file.
#include "fuzz_util.hpp"

#include <embedkit/io/npy.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

namespace {

constexpr const char* target = "fuzz_npy";

template <class T>
void read_matrix(const unsigned char* file, std::size_t n, const std::string& name) {
    const embedkit::RowMatrix<T> m = embedkit::io::parse_npy<T>(file, n, name);
    const embedkit::io::NpyHeader h = embedkit::io::detail::parse_npy_header(file, n, n, name);
    FUZZ_CHECK(target, static_cast<std::uint64_t>(m.size()) == h.count);
    FUZZ_CHECK(target, h.data_offset + h.count * sizeof(T) == n);
    FUZZ_CHECK(target, m.size() == 0 ||
                           std::memcmp(m.data(), file + h.data_offset, n - h.data_offset) == 0);
}

// Element k of the file's data as long double (exact for binary16/32/64 and for integers of up
// to 64 bits: long double has a significand of at least 64 bits where this runs, x86-64 and
// aarch64), decoded independently of the reader.
long double element_value(const unsigned char* data, const std::string& dtype, std::size_t k) {
    const char kind = dtype[1];
    const std::size_t size = static_cast<std::size_t>(dtype[2] - '0');
    const unsigned char* p = data + k * size;
    std::uint64_t u = 0;
    for (std::size_t b = 0; b < size; ++b) u |= std::uint64_t(p[b]) << (8 * b);  // little-endian
    if (kind == 'u') return static_cast<long double>(u);
    if (kind == 'i') {
        const unsigned bits = unsigned(8 * size);
        const bool negative = ((u >> (bits - 1)) & 1u) != 0;
        if (!negative) return static_cast<long double>(u);
        const std::uint64_t magnitude =
            (bits == 64 ? ~u : (~u & ((std::uint64_t(1) << bits) - 1))) + 1;
        return -static_cast<long double>(magnitude);  // two's complement
    }
    if (size == 4) {
        float f;
        std::memcpy(&f, p, 4);
        return f;
    }
    if (size == 8) {
        double d;
        std::memcpy(&d, p, 8);
        return d;
    }
    // binary16 by definition: (-1)^s * 2^(e-15) * (1 + f/1024), subnormal 2^-14 * f/1024.
    const long double sign = (u & 0x8000u) != 0 ? -1.0L : 1.0L;
    const int e = static_cast<int>((u >> 10) & 0x1Fu);
    const int f = static_cast<int>(u & 0x3FFu);
    if (e == 31)
        return f == 0 ? sign * std::numeric_limits<long double>::infinity()
                      : std::numeric_limits<long double>::quiet_NaN();
    if (e == 0) return sign * std::ldexp(static_cast<long double>(f), -24);
    return sign * std::ldexp(static_cast<long double>(1024 + f), e - 25);
}

template <class T>
void read_converted(const unsigned char* file, std::size_t n, const std::string& name) {
    const embedkit::RowMatrix<T> m =
        embedkit::io::parse_npy<T>(file, n, name, embedkit::io::NpyConvert::allow);
    const embedkit::io::NpyHeader h = embedkit::io::detail::parse_npy_header(file, n, n, name);
    FUZZ_CHECK(target, static_cast<std::uint64_t>(m.size()) == h.count);
    // Conversion stays within a kind: floating point from floating point, integers from integers.
    FUZZ_CHECK(target, (h.dtype[1] == 'f') == std::is_floating_point_v<T>);
    for (std::size_t k = 0; k < static_cast<std::size_t>(h.count); ++k) {
        const long double want = element_value(file + h.data_offset, h.dtype, k);
        const T got = m.data()[k];
        if (std::isnan(want)) {
            FUZZ_CHECK(target, std::isnan(static_cast<long double>(got)));
        } else if constexpr (std::is_floating_point_v<T>) {
            // Accepted only if it does not overflow: finite stays finite, rounded once.
            FUZZ_CHECK(target,
                       std::isinf(want) || std::fabs(want) <= std::numeric_limits<T>::max());
            FUZZ_CHECK(target, got == static_cast<T>(want));
        } else {
            FUZZ_CHECK(target, static_cast<long double>(got) == want);  // exact, so it was in range
        }
    }
}

template <class T>
void map_layout(const unsigned char* file, std::size_t n, const std::string& name) {
    const embedkit::io::detail::NpyMapLayout l =
        embedkit::io::detail::npy_map_layout<T>(file, n, name);
    FUZZ_CHECK(target, l.rows >= 0 && l.cols >= 0);
    FUZZ_CHECK(target, l.data_offset % alignof(T) == 0);
    // rows * cols elements of T fill the file after the header exactly (no overflow: a
    // non-empty array's element count is bounded by the file size).
    if (l.rows != 0 && l.cols != 0) {
        FUZZ_CHECK(target, static_cast<std::uint64_t>(l.rows) <= n &&
                               static_cast<std::uint64_t>(l.cols) <= n);
        FUZZ_CHECK(target, l.data_offset + static_cast<std::uint64_t>(l.rows) *
                                               static_cast<std::uint64_t>(l.cols) * sizeof(T) ==
                               n);
    } else {
        FUZZ_CHECK(target, l.data_offset == n);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned mode = data[0];
    const unsigned char* file = data + 1;
    const std::size_t n = size - 1;
    const std::string name = "fuzz.npy";
    try {
        switch (mode % 11) {
            case 0:
                read_matrix<float>(file, n, name);
                break;
            case 1:
                read_matrix<double>(file, n, name);
                break;
            case 2:
                read_matrix<std::int32_t>(file, n, name);
                break;
            case 3:
                read_matrix<std::int64_t>(file, n, name);
                break;
            case 4:
                read_matrix<std::uint8_t>(file, n, name);
                break;
            case 5:
                map_layout<float>(file, n, name);
                break;
            case 6:
                map_layout<double>(file, n, name);
                break;
            case 7:
                read_converted<float>(file, n, name);
                break;
            case 8:
                read_converted<double>(file, n, name);
                break;
            case 9:
                read_converted<std::int32_t>(file, n, name);
                break;
            default:
                read_converted<std::uint8_t>(file, n, name);
                break;
        }
    } catch (const embedkit::Error&) {
        // A rejected file: the expected outcome for malformed input.
    }
    return 0;
}
