// Fuzz target: the compact-set reader (io/compact_npy.hpp), over the three files it reads.
// Input: byte 0 is the mode (bit 0: read_compact or map_compact; bits 1-2: no binary
// dimension, or 12, 16 or 20 as the binary dimension; bit 3: a scales file; bit 4: a norms
// file); bytes 1-2 (little-endian) the length of the rows file, then the rows file, then the
// scales file and the norms file split at the half of what is left. The files are written to a
// folder of this process. Checked on success: the set has the shape and dtype the header
// says, its scales are finite and >= 0, and every decoded value and norm is what the
// independent decoding here gives.
#include "fuzz_util.hpp"

#include <embedkit/core/compact.hpp>
#include <embedkit/io/compact_npy.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace {

constexpr const char* target = "fuzz_compact";

void write_file(const std::string& path, const unsigned char* p, std::size_t n) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return;
    if (n > 0) std::fwrite(p, 1, n, f);
    std::fclose(f);
}

const std::filesystem::path& folder() {
    static const std::filesystem::path dir = [] {
        const std::filesystem::path d = std::filesystem::temp_directory_path() /
                                        ("embedkit_fuzz_compact_" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

// Decoded element (r, i), independently of CompactSet::value.
double decoded(const embedkit::CompactSet& s, Eigen::Index r, Eigen::Index i) {
    const unsigned char* row = s.data() + std::size_t(r) * s.row_bytes();
    const auto k = std::size_t(i);
    switch (s.storage()) {
        case embedkit::Storage::f16: {
            const unsigned h = row[2 * k] | (unsigned(row[2 * k + 1]) << 8);
            const unsigned e = (h >> 10) & 0x1F, f = h & 0x3FF;
            const double sign = (h & 0x8000) ? -1.0 : 1.0;
            if (e == 0x1F) return f == 0 ? sign * HUGE_VAL : NAN;
            return sign * (e == 0 ? std::ldexp(double(f), -24)
                                  : std::ldexp(1.0 + double(f) / 1024.0, int(e) - 15));
        }
        case embedkit::Storage::bf16: {
            const std::uint32_t b =
                (std::uint32_t(row[2 * k]) | (std::uint32_t(row[2 * k + 1]) << 8)) << 16;
            float f;
            std::memcpy(&f, &b, 4);
            return f;
        }
        case embedkit::Storage::int8: {
            const double sc = s.int8_scale() == embedkit::Int8Scale::per_row
                                  ? s.scales()[std::size_t(r)]
                                  : s.scales()[k];
            return double(float(sc) * float(static_cast<signed char>(row[k])));
        }
        case embedkit::Storage::binary:
            return (row[k / 8] >> (7 - k % 8)) & 1u;
    }
    return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const unsigned mode = data[0];
    const std::size_t len = std::min<std::size_t>(size - 3, data[1] | (std::size_t(data[2]) << 8));
    const unsigned char* rows = data + 3;
    const unsigned char* rest = rows + len;
    const std::size_t rest_n = size - 3 - len;
    const std::string path = (folder() / "set.npy").string();
    const std::string scales = (folder() / "set.scales.npy").string();
    const std::string norms = (folder() / "set.norms.npy").string();
    write_file(path, rows, len);
    std::remove(scales.c_str());
    std::remove(norms.c_str());
    if (mode & 8u) write_file(scales, rest, rest_n / 2);
    if (mode & 16u) write_file(norms, rest + rest_n / 2, rest_n - rest_n / 2);
    const Eigen::Index dims[] = {-1, 12, 16, 20};
    const Eigen::Index binary_dim = dims[(mode >> 1) & 3u];
    try {
        const embedkit::CompactSet s = (mode & 1u) ? embedkit::io::map_compact(path, binary_dim)
                                                   : embedkit::io::read_compact(path, binary_dim);
        const embedkit::io::NpyHeader h = embedkit::io::read_npy_header(path);
        FUZZ_CHECK(target, h.shape.size() == 2 && h.shape[0] == std::uint64_t(s.rows()));
        FUZZ_CHECK(target,
                   s.data_bytes() == h.count * (s.storage() == embedkit::Storage::f16 ||
                                                        s.storage() == embedkit::Storage::bf16
                                                    ? 2u
                                                    : 1u));
        for (float sc : s.scales()) FUZZ_CHECK(target, std::isfinite(sc) && sc >= 0.0f);
        for (Eigen::Index r = 0; r < s.rows(); ++r) {
            double sum = 0;
            for (Eigen::Index i = 0; i < s.dim(); ++i) {
                const double want = decoded(s, r, i);
                const double got = s.value(r, i);
                FUZZ_CHECK(target, (std::isnan(want) && std::isnan(got)) || want == got);
                sum += want * want;
            }
            if (s.storage() != embedkit::Storage::binary) {
                const float n = s.norms()[std::size_t(r)];
                const float w = static_cast<float>(std::sqrt(sum));
                FUZZ_CHECK(target, (std::isnan(n) && std::isnan(w)) || n == w ||
                                       std::fabs(n - w) <= 1e-6f * w);
            }
        }
    } catch (const embedkit::Error&) {
        // FormatError, IoError or ArgumentError: the expected way to refuse bad input.
    }
    return 0;
}
