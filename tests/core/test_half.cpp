// core/detail/half.hpp: binary16 -> binary32 for all 65536 bit patterns, against a reference
// that computes each value arithmetically (sign * significand * 2^exponent in double) instead
// of moving bits; NaN payloads and signs checked separately. (tests/io/test_npy.cpp compares
// the same conversion with numpy's, through a file numpy wrote.)
#include <embedkit/core/detail/half.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace {

std::uint32_t float_bits(float f) {
    std::uint32_t b = 0;
    std::memcpy(&b, &f, sizeof b);
    return b;
}

// The value of a binary16 bit pattern by its definition (IEEE 754-2008, 3.4): exponent field
// e, fraction f; e = 0: (-1)^s * f * 2^-24 (zero or subnormal); 0 < e < 31:
// (-1)^s * (1024 + f) * 2^(e - 25); e = 31: infinity (f = 0) or NaN.
double half_reference(std::uint16_t h) {
    const bool negative = (h & 0x8000u) != 0;
    const int e = (h >> 10) & 0x1F;
    const int f = h & 0x3FF;
    double v = 0;
    if (e == 31)
        v = f == 0 ? std::numeric_limits<double>::infinity()
                   : std::numeric_limits<double>::quiet_NaN();
    else if (e == 0)
        v = std::ldexp(double(f), -24);
    else
        v = std::ldexp(double(1024 + f), e - 25);
    return negative ? -v : v;
}

}  // namespace

TEST_CASE("half: every one of the 65536 binary16 patterns converts to the float of its value") {
    int nans = 0, subnormals = 0, infinities = 0;
    for (std::uint32_t i = 0; i <= 0xFFFFu; ++i) {
        const auto h = static_cast<std::uint16_t>(i);
        CAPTURE(i);
        const float got = embedkit::detail::half_bits_to_float(h);
        const double want = half_reference(h);
        const std::uint32_t bits = float_bits(got);
        CHECK((bits >> 31) == ((i >> 15) & 1u));  // the sign, also of -0 and of NaN
        if (std::isnan(want)) {
            ++nans;
            // NaN keeps its payload: the 10 fraction bits become the top 10 of the 23, so a
            // quiet NaN (top bit set) stays quiet and a signalling one stays signalling.
            REQUIRE(std::isnan(got));
            CHECK((bits & 0x7FFFFFu) == ((i & 0x3FFu) << 13));
            continue;
        }
        if (std::isinf(want)) ++infinities;
        if (want != 0 && std::fabs(want) < std::ldexp(1.0, -14)) ++subnormals;
        // Every half is exactly a float, so the float must equal the exact value.
        REQUIRE(static_cast<double>(got) == want);
    }
    CHECK(nans == 2 * 1023);
    CHECK(infinities == 2);
    CHECK(subnormals == 2 * 1023);
}

TEST_CASE("half: landmarks") {
    using embedkit::detail::half_bits_to_float;
    CHECK(half_bits_to_float(0x3C00) == 1.0f);
    CHECK(half_bits_to_float(0xC000) == -2.0f);
    CHECK(half_bits_to_float(0x7BFF) == 65504.0f);                  // largest finite
    CHECK(half_bits_to_float(0x0400) == std::ldexp(1.0f, -14));     // smallest normal
    CHECK(half_bits_to_float(0x0001) == std::ldexp(1.0f, -24));     // smallest subnormal
    CHECK(half_bits_to_float(0x03FF) == std::ldexp(1023.0f, -24));  // largest subnormal
    CHECK(half_bits_to_float(0x3555) == std::ldexp(1365.0f, -12));  // 0.333251953125
    CHECK(float_bits(half_bits_to_float(0x8000)) == 0x80000000u);   // -0
    CHECK(half_bits_to_float(0xFC00) == -std::numeric_limits<float>::infinity());
    CHECK(float_bits(half_bits_to_float(0x7E00)) == 0x7FC00000u);  // numpy's default NaN
}
