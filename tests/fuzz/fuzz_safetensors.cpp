// Fuzz target: the safetensors reader (io::SafetensorsView, whose checks SafetensorsFile runs on
// the mapped file). Input: the whole file (no mode byte). Checked on success: every tensor lies
// inside the data buffer, its shape times its element size is its byte count, no two share a
// byte, find() returns it; the converting reads give as many values as the shape holds, equal to
// the bytes decoded here another way (F16 by its arithmetic definition, BF16 by a shift), and
// the shape-checked reads accept the tensor's own shape.
#include "fuzz_util.hpp"

#include <embedkit/io/safetensors.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace {

constexpr const char* target = "fuzz_safetensors";
namespace io = embedkit::io;

// binary16 by definition: (-1)^s * 2^(e-15) * (1 + f/1024), subnormal 2^-14 * f/1024.
float half_value(unsigned h) {
    const float sign = (h & 0x8000u) != 0 ? -1.0f : 1.0f;
    const int e = static_cast<int>((h >> 10) & 0x1Fu);
    const int f = static_cast<int>(h & 0x3FFu);
    if (e == 31)
        return f == 0 ? sign * std::numeric_limits<float>::infinity()
                      : std::numeric_limits<float>::quiet_NaN();
    if (e == 0) return sign * std::ldexp(static_cast<float>(f), -24);
    return sign * std::ldexp(static_cast<float>(1024 + f), e - 25);
}

bool same_value(float got, float want) {
    if (std::isnan(want)) return std::isnan(got);
    std::uint32_t a, b;
    std::memcpy(&a, &got, 4);
    std::memcpy(&b, &want, 4);
    return a == b;
}

void check(const io::SafetensorsView& v) {
    const io::SafetensorsHeader& h = v.header();
    std::vector<const io::SafetensorsTensor*> used;
    for (const io::SafetensorsTensor& t : v.tensors()) {
        FUZZ_CHECK(target, v.find(t.name) == &t);
        FUZZ_CHECK(target, t.begin <= t.end && t.end <= h.data_size());
        FUZZ_CHECK(target, h.data_offset() + h.data_size() >= h.data_offset());
        const std::uint64_t item = io::safetensors_dtype_size(t.dtype);
        bool zero = false;
        for (const std::uint64_t d : t.shape) zero = zero || d == 0;
        const std::uint64_t count = zero ? 0 : t.element_count();
        FUZZ_CHECK(target, count * item == t.byte_size());
        if (t.byte_size() > 0) used.push_back(&t);
        const unsigned char* p = v.bytes(t);
        const auto n = static_cast<std::size_t>(count);
        if (t.dtype == io::SafetensorsDtype::f32 || t.dtype == io::SafetensorsDtype::f16 ||
            t.dtype == io::SafetensorsDtype::bf16) {
            const std::vector<float> f = v.read_f32(t.name);
            FUZZ_CHECK(target, f.size() == n);
            for (std::size_t i = 0; i < n; ++i) {
                float want;
                if (t.dtype == io::SafetensorsDtype::f32) {
                    std::memcpy(&want, p + 4 * i, 4);
                } else {
                    const unsigned u = p[2 * i] | (unsigned(p[2 * i + 1]) << 8);
                    if (t.dtype == io::SafetensorsDtype::f16) {
                        want = half_value(u);
                    } else {
                        const std::uint32_t bits = std::uint32_t(u) << 16;
                        std::memcpy(&want, &bits, 4);
                    }
                }
                FUZZ_CHECK(target, same_value(f[i], want));
            }
            const auto fits = [](std::uint64_t d) {
                return d <= static_cast<std::uint64_t>(std::numeric_limits<Eigen::Index>::max());
            };
            if (t.shape.size() == 2 && fits(t.shape[0]) && fits(t.shape[1])) {
                const embedkit::RowMatrixF m =
                    v.read_matrix(t.name, static_cast<Eigen::Index>(t.shape[0]),
                                  static_cast<Eigen::Index>(t.shape[1]));
                FUZZ_CHECK(target, static_cast<std::size_t>(m.size()) == n);
            }
            if (t.shape.size() == 1 && fits(t.shape[0])) {
                const Eigen::VectorXf x =
                    v.read_vector(t.name, static_cast<Eigen::Index>(t.shape[0]));
                FUZZ_CHECK(target, static_cast<std::size_t>(x.size()) == n);
            }
        } else if (t.dtype == io::SafetensorsDtype::i64) {
            const std::vector<std::int64_t> x = v.read_i64(t.name);
            FUZZ_CHECK(target, x.size() == n);
            FUZZ_CHECK(target, n == 0 || std::memcmp(x.data(), p, 8 * n) == 0);
        }
    }
    std::sort(used.begin(), used.end(),
              [](const io::SafetensorsTensor* a, const io::SafetensorsTensor* b) {
                  return a->begin < b->begin;
              });
    for (std::size_t i = 1; i < used.size(); ++i)
        FUZZ_CHECK(target, used[i]->begin >= used[i - 1]->end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const io::SafetensorsView v(data, size, "fuzz.safetensors");
        check(v);
    } catch (const embedkit::Error&) {
        // A rejected file: the expected outcome for malformed input.
    }
    return 0;
}
