// IEEE 754 binary16 ("half", numpy's float16) to binary32 by bit manipulation, exact for all
// 65536 bit patterns.
//
// binary16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
// binary32: 1 sign bit, 8 exponent bits (bias 127), 23 fraction bits.
// Every half is exactly a float (fewer fraction bits, narrower exponent range), so the
// conversion never rounds: normals move the exponent from bias 15 to bias 127 and shift the
// fraction up by 13; half subnormals (exponent 0, value f * 2^-24) are normal floats, found by
// shifting the fraction until its leading one reaches the implicit-bit position; inf keeps
// its sign and NaN its sign and payload (so a quiet NaN stays quiet: the quiet bit is the top
// fraction bit in both formats).
#pragma once

#include <cstdint>
#include <cstring>

namespace embedkit::detail {

/// The float whose value is the binary16 number with bits `h` (exact; NaN payloads kept).
inline float half_bits_to_float(std::uint16_t h) noexcept {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1Fu;
    std::uint32_t fraction = h & 0x3FFu;
    std::uint32_t bits = 0;
    if (exponent == 0x1Fu) {
        bits = sign | 0x7F800000u | (fraction << 13);  // inf (fraction 0) or NaN
    } else if (exponent != 0) {
        bits = sign | ((exponent + (127 - 15)) << 23) | (fraction << 13);
    } else if (fraction == 0) {
        bits = sign;  // +-0
    } else {
        // Subnormal: value = fraction * 2^-24 = 1.m * 2^(e - 15) once normalised. Starting from
        // e = 1 (the subnormals' exponent), each shift that moves the leading one towards bit
        // 10 (the implicit bit) lowers e by one.
        std::int32_t e = 1;
        while ((fraction & 0x400u) == 0) {
            fraction <<= 1;
            --e;
        }
        fraction &= 0x3FFu;
        bits = sign | (std::uint32_t(e + (127 - 15)) << 23) | (fraction << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

}  // namespace embedkit::detail

namespace embedkit::detail {

/// The binary16 bits of `f` rounded to nearest, ties to even (as numpy's astype(float16) and
/// F16C's vcvtps2ph do): values of magnitude 65520 and above become +-inf, values below half
/// the smallest subnormal (2^-25) become +-0, NaN stays NaN (quiet, top payload bits kept).
inline std::uint16_t float_to_half_bits(float f) noexcept {
    std::uint32_t x;
    std::memcpy(&x, &f, sizeof x);
    const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    x &= 0x7FFFFFFFu;
    if (x >= 0x7F800000u)  // inf, or NaN made quiet with the top of its payload
        return static_cast<std::uint16_t>(sign | 0x7C00u |
                                          (x > 0x7F800000u ? 0x200u | ((x >> 13) & 0x3FFu) : 0u));
    if (x >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520
    if (x < 0x38800000u) {
        // Below 2^-14, the half subnormals: multiples of 2^-24. Adding 0.5f, whose ulp is
        // 2^-24, rounds the value to that grid (ties to even) in the float addition itself;
        // the fraction bits of the sum are then the half's.
        float v;
        std::memcpy(&v, &x, sizeof v);
        const float sum = v + 0.5f;
        std::uint32_t s;
        std::memcpy(&s, &sum, sizeof s);
        return static_cast<std::uint16_t>(sign | (s - 0x3F000000u));
    }
    // Normal: rebias the exponent (127 -> 15, i.e. subtract 112 << 23) and round the 13 bits
    // that go, ties to even (0xFFF plus the lowest kept bit); a carry moves into the exponent,
    // which is right (65504 < x < 65520 stays at most 65504: checked above).
    const std::uint32_t odd = (x >> 13) & 1u;
    x += 0xC8000FFFu + odd;
    return static_cast<std::uint16_t>(sign | (x >> 13));
}

/// bfloat16 (the top 16 bits of a float) to float: exact.
inline float bf16_bits_to_float(std::uint16_t b) noexcept {
    const std::uint32_t x = std::uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &x, sizeof f);
    return f;
}

/// A bf16 value is small when it is nonzero and of magnitude below 2^-40 (exponent field
/// below 87; subnormals included). Rows without small values have every value zero or a
/// multiple of 2^-47, so every product of two values is 0 or a multiple of 2^-94, and so is
/// every partial sum of such products, in any order and with any float rounding: none is
/// subnormal. Instructions that flush subnormal inputs and results to zero (AVX-512 BF16's
/// VDPBF16PS) then compute what float arithmetic does; CompactSet::has_small_values tells
/// the sets they may serve.
inline constexpr unsigned bf16_small_limit = 87u << 7;
inline bool bf16_is_small(std::uint16_t bits) noexcept {
    const unsigned m = bits & 0x7FFFu;
    return m != 0 && m < bf16_small_limit;
}

/// The bfloat16 bits of `f`, rounded to nearest, ties to even; values beyond bfloat16's
/// largest finite number by half an ulp become +-inf; NaN stays NaN (made quiet).
inline std::uint16_t float_to_bf16_bits(float f) noexcept {
    std::uint32_t x;
    std::memcpy(&x, &f, sizeof x);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
    x += 0x7FFFu + ((x >> 16) & 1u);
    return static_cast<std::uint16_t>(x >> 16);
}

}  // namespace embedkit::detail
