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
