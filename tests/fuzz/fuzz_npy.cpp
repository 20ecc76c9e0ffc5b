// Fuzz target: the .npy reader.
// Input: byte 0 chooses the element type asked for (float, double, int32, int64, uint8) and
// whether to read it as a matrix (io::parse_npy, the code read_npy runs on a file's bytes) or
// to validate it as map_npy does (detail::npy_map_layout, the checks MappedNpy runs on the
// mapped bytes; mapping a temporary file per input would only add system calls). The rest
// is the file. Checked on success: the matrix holds exactly the file's data bytes, the map
// layout lies inside the file.
#include "fuzz_util.hpp"

#include <embedkit/io/npy.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

constexpr const char* target = "fuzz_npy";

template <class T>
void read_matrix(const unsigned char* file, std::size_t n, const std::string& name) {
    const embedkit::RowMatrix<T> m = embedkit::io::parse_npy<T>(file, n, name);
    const embedkit::io::NpyHeader h = embedkit::io::detail::parse_npy_header(file, n, n, name);
    FUZZ_CHECK(target, static_cast<std::uint64_t>(m.size()) == h.count);
    FUZZ_CHECK(target, h.data_offset + h.count * sizeof(T) == n);
    FUZZ_CHECK(target, m.size() == 0 || std::memcmp(m.data(), file + h.data_offset, n - h.data_offset) == 0);
}

template <class T>
void map_layout(const unsigned char* file, std::size_t n, const std::string& name) {
    const embedkit::io::detail::NpyMapLayout l = embedkit::io::detail::npy_map_layout<T>(file, n, name);
    FUZZ_CHECK(target, l.rows >= 0 && l.cols >= 0);
    FUZZ_CHECK(target, l.data_offset % alignof(T) == 0);
    // rows * cols elements of T fill the file after the header exactly (no overflow: a
    // non-empty array's element count is bounded by the file size).
    if (l.rows != 0 && l.cols != 0) {
        FUZZ_CHECK(target, static_cast<std::uint64_t>(l.rows) <= n && static_cast<std::uint64_t>(l.cols) <= n);
        FUZZ_CHECK(target, l.data_offset + static_cast<std::uint64_t>(l.rows) * static_cast<std::uint64_t>(l.cols) *
                                               sizeof(T) == n);
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
        switch (mode % 7) {
            case 0: read_matrix<float>(file, n, name); break;
            case 1: read_matrix<double>(file, n, name); break;
            case 2: read_matrix<std::int32_t>(file, n, name); break;
            case 3: read_matrix<std::int64_t>(file, n, name); break;
            case 4: read_matrix<std::uint8_t>(file, n, name); break;
            case 5: map_layout<float>(file, n, name); break;
            default: map_layout<double>(file, n, name); break;
        }
    } catch (const embedkit::Error&) {
        // A rejected file: the expected outcome for malformed input.
    }
    return 0;
}
