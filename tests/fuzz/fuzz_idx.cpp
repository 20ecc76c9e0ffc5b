// Fuzz target: the IDX (MNIST) reader, raw and gzip-compressed.
// Input: byte 0 chooses the path (bit 0: images or labels, bit 1: raw or .gz), the rest is the
// file. Raw files go through io::parse_idx_images / parse_idx_labels; .gz files through the
// decompressor the file readers use (detail::idx_inflate_buffer, bounded by the header) and
// then the same parser. Checked on success: the result holds exactly the payload bytes.
#include "fuzz_util.hpp"

#include <embedkit/io/mnist.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr const char* target = "fuzz_idx";

void check_images(const embedkit::RowMatrixF& m, const unsigned char* file, std::size_t size) {
    FUZZ_CHECK(target, size >= 16);
    FUZZ_CHECK(target, static_cast<std::size_t>(m.size()) == size - 16);
    FUZZ_CHECK(target,
               static_cast<std::uint64_t>(m.rows()) == embedkit::detail::read_be32(file + 4));
    for (Eigen::Index i = 0; i < m.size(); ++i)
        FUZZ_CHECK(target, m.data()[i] == static_cast<float>(file[16 + i]) / 255.0f);
}

void check_labels(const std::vector<std::uint8_t>& v, const unsigned char* file, std::size_t size) {
    FUZZ_CHECK(target, size >= 8);
    FUZZ_CHECK(target, v.size() == size - 8);
    FUZZ_CHECK(target, v.size() == embedkit::detail::read_be32(file + 4));
    FUZZ_CHECK(target, v.empty() || std::memcmp(v.data(), file + 8, v.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool images = (data[0] & 1) == 0;
    const bool gz = (data[0] & 2) != 0;
    const unsigned char* file = data + 1;
    const std::size_t n = size - 1;
    const std::string name = "fuzz.idx";
    try {
        if (!gz) {
            if (images)
                check_images(embedkit::io::parse_idx_images(file, n, name), file, n);
            else
                check_labels(embedkit::io::parse_idx_labels(file, n, name), file, n);
            return 0;
        }
#if EMBEDKIT_HAS_ZLIB
        using embedkit::detail::IdxKind;
        const std::string func = "fuzz_idx";
        const std::vector<unsigned char> raw = embedkit::detail::idx_inflate_buffer(
            file, n, images ? IdxKind::images : IdxKind::labels, func, name);
        if (images)
            check_images(embedkit::detail::idx_images_from(raw.data(), raw.size(), func, name,
                                                           "decompressed bytes"),
                         raw.data(), raw.size());
        else
            check_labels(embedkit::detail::idx_labels_from(raw.data(), raw.size(), func, name,
                                                           "decompressed bytes"),
                         raw.data(), raw.size());
#endif
    } catch (const embedkit::Error&) {
        // A rejected file: the expected outcome for malformed input.
    }
    return 0;
}
