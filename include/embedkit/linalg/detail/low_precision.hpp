// The bf16 and int8 forms of linalg::PackedLinear: how weights and activations are rounded or
// quantised, how the weights are packed, and the AVX-512 BF16 and AVX-512 VNNI micro-kernels.
// Levels without those instructions decode both operands to float and run the float kernels
// (packed_linear.hpp), so every level computes the same rounded product, within a float sum's
// rounding (and, for bf16, subnormal inputs: see below).
//
// bf16: weights and activations are rounded to bfloat16 (to nearest, ties to even); products
// are exact in float and summed in float. The AVX-512 BF16 instructions treat subnormal inputs
// as zero (VCVTNE2PS2BF16, VDPBF16PS); the decoded path keeps them: the two differ by at most
// the products of subnormals (below 2^-126 each). Packed weights: the N outputs in panels of 16
// (N padded to whole pairs of panels), panel p holds for j = 0 .. ceil(K/2) - 1 the 16 32-bit
// words (bf16(W[16p + o][2j]) | bf16(W[16p + o][2j + 1]) << 16), o = 0 .. 15 (zero past K
// and N): the operand layout of VDPBF16PS.
//
// int8: K is cut into groups of 64 (int8_group; the last is padded with zeros). A weight
// group is symmetric: the codes q = round(w / s_w) in [-127, 127] with s_w = max |w| / 127, one
// scale per output and group. An activation group is asymmetric, one per row and group: the
// codes u = round(x / s_x) + z in [0, 255] with s_x = (max(x, 0) - min(x, 0)) / 255 and the zero
// point z = round(-min(x, 0) / s_x). So a value stands for (u - z) s_x and a weight for q s_w,
// and y = b + sum over groups of s_x s_w (sum of u q - z sum of q). Groups of 64 keep one large
// value (BERT's hidden states have a few) from coarsening the codes of a whole row: over
// all-MiniLM-L6-v2's 2,084 test texts, per-row and per-output scales give a worst cosine to the
// float embedding of 0.992, groups of 64 0.998 (docs/BENCHMARKS.md). Packed weights: panels of
// 16 outputs as for bf16, panel p holding for j = 0 .. Kp/4 - 1 the 16 32-bit words of the
// codes W[16p + o][4j .. 4j + 3] (VPDPBUSD's layout), and per panel and group 16 scales s_w and
// 16 code sums (as floats).
#pragma once

#include "../../core/config.hpp"
#include "../../core/detail/half.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#if EMBEDKIT_ARCH_X86
#include <immintrin.h>
#define EMBEDKIT_TARGET_AVX512_LINALG_BF16 __attribute__((target("avx512f,avx512bf16,avx2,fma")))
#define EMBEDKIT_TARGET_AVX512_LINALG_VNNI __attribute__((target("avx512f,avx512vnni,avx2,fma")))
#endif

namespace embedkit::linalg::detail {

using Index = Eigen::Index;

inline constexpr Index q_panel = 16;     // outputs per panel
inline constexpr Index q_pair = 32;      // outputs per pair of panels (N is padded to these)
inline constexpr Index int8_group = 64;  // values of k per int8 scale

inline Index padded_outputs(Index n) noexcept { return (n + q_pair - 1) / q_pair * q_pair; }
inline Index bf16_words(Index k) noexcept { return (k + 1) / 2; }
inline Index int8_groups(Index k) noexcept { return (k + int8_group - 1) / int8_group; }

// ---- bf16 ------------------------------------------------------------------------------------

inline std::uint32_t bf16_pair(float lo, float hi) noexcept {
    using embedkit::detail::float_to_bf16_bits;
    return static_cast<std::uint32_t>(float_to_bf16_bits(lo)) |
           (static_cast<std::uint32_t>(float_to_bf16_bits(hi)) << 16);
}

// Packs w ([n, k] row-major, row stride ld) into padded_outputs(n) / 16 panels of
// bf16_words(k) x 16 words.
inline void pack_bf16(const float* w, Index n, Index k, Index ld, std::uint32_t* dst) noexcept {
    const Index words = bf16_words(k);
    std::fill(dst, dst + padded_outputs(n) * words, 0u);
    for (Index o = 0; o < n; ++o) {
        std::uint32_t* d = dst + (o / q_panel) * q_panel * words + o % q_panel;
        const float* src = w + o * ld;
        for (Index j = 0; j < words; ++j)
            d[j * q_panel] = bf16_pair(src[2 * j], 2 * j + 1 < k ? src[2 * j + 1] : 0.0f);
    }
}

inline float bits_float(std::uint32_t bits) noexcept {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// Panel p's weights as floats in the float kernels' layout ([k][16]): a bf16 value is the top
// half of its float, so the loops are shifts and masks the compiler vectorises.
inline void bf16_panel_to_float(const std::uint32_t* panel, Index k, float* dst) noexcept {
    for (Index j = 0; j < k / 2; ++j)
        for (Index o = 0; o < q_panel; ++o) {
            const std::uint32_t word = panel[j * q_panel + o];
            dst[2 * j * q_panel + o] = bits_float(word << 16);
            dst[(2 * j + 1) * q_panel + o] = bits_float(word & 0xFFFF0000u);
        }
    if (k % 2 != 0)
        for (Index o = 0; o < q_panel; ++o)
            dst[(k - 1) * q_panel + o] = bits_float(panel[(k / 2) * q_panel + o] << 16);
}

// ---- int8 ------------------------------------------------------------------------------------

// The codes of weight rows, one scale per output and group of 64: packed as described above.
// scales and sums hold padded_outputs(n) / 16 panels x groups x 16 floats.
inline void pack_int8(const float* w, Index n, Index k, Index ld, std::int8_t* codes, float* scales,
                      float* sums) noexcept {
    const Index groups = int8_groups(k);
    const Index kp = groups * int8_group;
    const Index np = padded_outputs(n);
    std::fill(codes, codes + np * kp, std::int8_t{0});
    std::fill(scales, scales + np * groups, 0.0f);
    std::fill(sums, sums + np * groups, 0.0f);
    for (Index o = 0; o < n; ++o) {
        const Index p = o / q_panel, lane = o % q_panel;
        const float* src = w + o * ld;
        for (Index g = 0; g < groups; ++g) {
            const Index k0 = g * int8_group, k1 = std::min(k, k0 + int8_group);
            float m = 0.0f;
            for (Index i = k0; i < k1; ++i) m = std::max(m, std::fabs(src[i]));
            const float s = m / 127.0f;
            long sum = 0;
            for (Index i = k0; i < k1; ++i) {
                const float q = s > 0.0f ? std::nearbyint(src[i] / s) : 0.0f;
                const auto c = static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f));
                codes[p * q_panel * kp + (i / 4) * 4 * q_panel + lane * 4 + i % 4] = c;
                sum += c;
            }
            scales[(p * groups + g) * q_panel + lane] = s;
            sums[(p * groups + g) * q_panel + lane] = static_cast<float>(sum);
        }
    }
}

// A group whose range (max - min) / 255 is below this is quantised as zeros (scale 1, zero
// point 0): 1 / scale would overflow for subnormal ranges, and such values are noise.
inline constexpr float int8_tiny_scale = 0x1p-100f;

// Quantises rows of x: codes (row stride ldu >= groups x 64, padded with each group's zero
// point), and per row and group the scale and zero point (row stride `groups`). Returns false
// if a row holds NaN or infinity (its codes are then meaningless: the caller writes NaN).
inline bool quantize_row_int8(const float* x, Index k, std::uint8_t* u, float* scale,
                              float* zero) noexcept {
    const Index groups = int8_groups(k);
    bool finite = true;
    for (Index g = 0; g < groups; ++g) {
        const Index k0 = g * int8_group, k1 = std::min(k, k0 + int8_group);
        float lo = 0.0f, hi = 0.0f;
        for (Index i = k0; i < k1; ++i) {
            lo = std::min(lo, x[i]);
            hi = std::max(hi, x[i]);
            finite = finite && std::isfinite(x[i]);
        }
        float s = (hi - lo) / 255.0f;
        finite = finite && std::isfinite(s);  // a range past the float range: no codes fit
        if (!(s >= int8_tiny_scale) || !std::isfinite(s)) s = 1.0f;  // (near) zero: codes z = 0
        const float inv = 1.0f / s;
        const float z = std::clamp(std::nearbyint(-lo * inv), 0.0f, 255.0f);
        for (Index i = k0; i < k0 + int8_group; ++i) {
            const float q = i < k1 ? std::nearbyint(x[i] * inv) + z : z;
            // NaN (from a NaN or infinite x) becomes 0: the row is reported, never cast.
            u[i] = static_cast<std::uint8_t>(q >= 0.0f ? std::min(q, 255.0f) : 0.0f);
        }
        scale[g] = s;
        zero[g] = z;
    }
    return finite;
}

// The float values an int8 row stands for: (u - z) s.
inline void int8_row_to_float(const std::uint8_t* u, const float* scale, const float* zero, Index k,
                              float* dst) noexcept {
    for (Index i = 0; i < k; ++i) {
        const Index g = i / int8_group;
        dst[i] = (static_cast<float>(u[i]) - zero[g]) * scale[g];
    }
}

// Panel p's weights as floats (q s_w) in the float kernels' layout ([k][16]).
inline void int8_panel_to_float(const std::int8_t* panel, const float* scales, Index k,
                                float* dst) noexcept {
    for (Index j = 0; j < (k + 3) / 4; ++j) {
        const float* s = scales + (4 * j / int8_group) * q_panel;
        const std::int8_t* c = panel + j * 4 * q_panel;
        for (Index t = 0; t < 4 && 4 * j + t < k; ++t) {
            float* d = dst + (4 * j + t) * q_panel;
            for (Index o = 0; o < q_panel; ++o) d[o] = static_cast<float>(c[o * 4 + t]) * s[o];
        }
    }
}

#if EMBEDKIT_ARCH_X86
// quantize_row_int8 with AVX-512: the same codes, scales and zero points (the products
// x / s rounded to nearest even, as nearbyint does in the default rounding mode).
// Horizontal minimum and maximum of 16 floats (shuffles; maskz forms: GCC bug 105593).
EMBEDKIT_TARGET_AVX512 inline void min_max512(__m512 lo, __m512 hi, float& l, float& h) noexcept {
    lo = _mm512_maskz_min_ps(0xFFFF, lo, _mm512_maskz_shuffle_f32x4(0xFFFF, lo, lo, 0x4E));
    hi = _mm512_maskz_max_ps(0xFFFF, hi, _mm512_maskz_shuffle_f32x4(0xFFFF, hi, hi, 0x4E));
    lo = _mm512_maskz_min_ps(0xFFFF, lo, _mm512_maskz_shuffle_f32x4(0xFFFF, lo, lo, 0xB1));
    hi = _mm512_maskz_max_ps(0xFFFF, hi, _mm512_maskz_shuffle_f32x4(0xFFFF, hi, hi, 0xB1));
    lo = _mm512_maskz_min_ps(0xFFFF, lo, _mm512_maskz_shuffle_ps(0xFFFF, lo, lo, 0x4E));
    hi = _mm512_maskz_max_ps(0xFFFF, hi, _mm512_maskz_shuffle_ps(0xFFFF, hi, hi, 0x4E));
    lo = _mm512_maskz_min_ps(0xFFFF, lo, _mm512_maskz_shuffle_ps(0xFFFF, lo, lo, 0xB1));
    hi = _mm512_maskz_max_ps(0xFFFF, hi, _mm512_maskz_shuffle_ps(0xFFFF, hi, hi, 0xB1));
    l = _mm512_cvtss_f32(lo);
    h = _mm512_cvtss_f32(hi);
}

EMBEDKIT_TARGET_AVX512 inline bool quantize_row_int8_avx512(const float* x, Index k,
                                                            std::uint8_t* u, float* scale,
                                                            float* zero) noexcept {
    const Index groups = int8_groups(k);
    const __m512 zf = _mm512_setzero_ps();
    __m512 nan = zf;  // sum of x - x: 0 while every x is finite, NaN after NaN or infinity
    for (Index g = 0; g < groups; ++g) {
        const Index k0 = g * int8_group;
        const Index left = std::min(int8_group, k - k0);
        __m512 v[4];
        __m512 lo = zf, hi = zf;
        for (int i = 0; i < 4; ++i) {
            const Index m = std::clamp<Index>(left - 16 * i, 0, 16);
            const auto mask = static_cast<__mmask16>(m == 16 ? 0xFFFFu : (1u << m) - 1u);
            // No pointer past the row is formed.
            v[i] = m > 0 ? _mm512_maskz_loadu_ps(mask, x + k0 + 16 * i) : zf;
            lo = _mm512_maskz_min_ps(0xFFFF, lo, v[i]);  // maskz forms: GCC bug 105593
            hi = _mm512_maskz_max_ps(0xFFFF, hi, v[i]);
            nan = _mm512_add_ps(nan, _mm512_sub_ps(v[i], v[i]));
        }
        float l, h;
        min_max512(lo, hi, l, h);
        float s = (h - l) / 255.0f;
        if (!std::isfinite(s)) nan = _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN());
        if (!(s >= int8_tiny_scale) || !std::isfinite(s)) s = 1.0f;
        const float inv = 1.0f / s;
        const float z = std::clamp(std::nearbyint(-l * inv), 0.0f, 255.0f);
        const __m512 vinv = _mm512_set1_ps(inv);
        const __m512i vz = _mm512_set1_epi32(static_cast<int>(z));
        const __m512i bottom = _mm512_setzero_si512();
        for (int i = 0; i < 4; ++i) {
            const __m512i q =
                _mm512_add_epi32(_mm512_maskz_cvtps_epi32(0xFFFF, _mm512_mul_ps(v[i], vinv)), vz);
            // Clamped to [0, 255]: below by max, above by the unsigned saturating narrowing.
            _mm_storeu_si128(
                reinterpret_cast<__m128i*>(u + k0 + 16 * i),
                _mm512_maskz_cvtusepi32_epi8(0xFFFF, _mm512_maskz_max_epi32(0xFFFF, q, bottom)));
        }
        scale[g] = s;
        zero[g] = z;
    }
    return _mm512_cmp_ps_mask(nan, zf, _CMP_EQ_OQ) == 0xFFFF;
}

// Rows of x rounded to bf16, two per 32-bit word (the last word of an odd k padded with 0),
// with AVX-512 BF16 (VCVTNE2PS2BF16: to nearest even; it also flushes subnormal
// inputs to zero, which the scalar rounding keeps).
EMBEDKIT_TARGET_AVX512_LINALG_BF16 inline void rows_to_bf16_avx512(const float* x, Index rows,
                                                                   Index k, Index ldx,
                                                                   std::uint32_t* dst,
                                                                   Index ldd) noexcept {
    for (Index r = 0; r < rows; ++r) {
        const float* src = x + r * ldx;
        std::uint32_t* d = dst + r * ldd;
        for (Index i = 0; i < k; i += 32) {
            const Index m = std::min<Index>(32, k - i);
            const Index m0 = std::min<Index>(16, m), m1 = m - m0;
            const auto k0 = static_cast<__mmask16>(m0 == 16 ? 0xFFFFu : (1u << m0) - 1u);
            const auto k1 = static_cast<__mmask16>(m1 == 16 ? 0xFFFFu : (1u << m1) - 1u);
            const __m512 a = _mm512_maskz_loadu_ps(k0, src + i);
            const __m512 b = m1 > 0 ? _mm512_maskz_loadu_ps(k1, src + i + 16) : _mm512_setzero_ps();
            const __m512i bf = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a));
            const auto words =
                static_cast<__mmask16>((m + 1) / 2 == 16 ? 0xFFFFu : (1u << ((m + 1) / 2)) - 1u);
            _mm512_mask_storeu_epi32(d + i / 2, words, bf);
        }
    }
}

// ---- AVX-512 micro-kernels: R rows of x against a pair of panels (32 outputs) ----------------

// Writes n (<= 32) outputs of one row: acc + bias.
EMBEDKIT_TARGET_AVX512 inline void store_pair512(float* row, __m512 lo, __m512 hi,
                                                 const float* bias, Index n) noexcept {
    lo = _mm512_add_ps(lo, _mm512_loadu_ps(bias));
    hi = _mm512_add_ps(hi, _mm512_loadu_ps(bias + 16));
    if (n >= 32) {
        _mm512_storeu_ps(row, lo);
        _mm512_storeu_ps(row + 16, hi);
    } else {
        const auto m0 = static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1u);
        const auto m1 = static_cast<__mmask16>(n <= 16 ? 0u : (1u << (n - 16)) - 1u);
        _mm512_mask_storeu_ps(row, m0, lo);
        if (n > 16) _mm512_mask_storeu_ps(row + 16, m1, hi);
    }
}

// bf16: x rows of `words` 32-bit words (row stride ldx words), panels p0 and p1 (each words x
// 16 words). Accumulators as a fully unrolled array: every index is a constant, so they live in
// registers (checked in the assembly: no stack traffic in the loop).
template <int R>
EMBEDKIT_TARGET_AVX512_LINALG_BF16 void bf16_tile512(const std::uint32_t* x, Index ldx,
                                                     const std::uint32_t* p0,
                                                     const std::uint32_t* p1, Index words,
                                                     const float* bias, Index n, float* y,
                                                     Index ldy) noexcept {
    static_assert(R >= 1 && R <= 12, "1 to 12 rows");
    __m512 c[static_cast<std::size_t>(R)][2];
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) c[r][0] = c[r][1] = _mm512_setzero_ps();
    for (Index j = 0; j < words; ++j) {
        const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(p0 + j * q_panel));
        const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(p1 + j * q_panel));
#pragma GCC unroll 12
        for (int r = 0; r < R; ++r) {
            std::int32_t word;
            std::memcpy(&word, x + r * ldx + j, sizeof word);
            const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(word));
            c[r][0] = _mm512_dpbf16_ps(c[r][0], a, b0);
            c[r][1] = _mm512_dpbf16_ps(c[r][1], a, b1);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) store_pair512(y + r * ldy, c[r][0], c[r][1], bias, n);
}

// int8: x rows as codes u (row stride ldu bytes, groups x 64 each) with per-row scales and zero
// points (row stride `groups`); panels p0 and p1 (groups x 64 x 16 codes each) with their 16
// scales and code sums per group (w0, w1 / s0, s1: groups x 16 floats). Per group and row, the
// 32-bit sums of u q are exact (|sum| < 255 x 127 x 64 < 2^24), as is sum - z x (sum of q) in
// float; that is scaled by s_x s_w and added to a float accumulator.
template <int R>
EMBEDKIT_TARGET_AVX512_LINALG_VNNI void int8_tile512(
    const std::uint8_t* u, Index ldu, const float* xscale, const float* xzero, Index groups,
    const std::int8_t* p0, const std::int8_t* p1, const float* w0, const float* w1, const float* s0,
    const float* s1, const float* bias, Index n, float* y, Index ldy) noexcept {
    static_assert(R >= 1 && R <= 6, "1 to 6 rows");
    __m512 f[static_cast<std::size_t>(R)][2];
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) f[r][0] = f[r][1] = _mm512_setzero_ps();
    for (Index g = 0; g < groups; ++g) {
        __m512i c[static_cast<std::size_t>(R)][2];
#pragma GCC unroll 6
        for (int r = 0; r < R; ++r) c[r][0] = c[r][1] = _mm512_setzero_si512();
        const std::int8_t* b0p = p0 + g * int8_group * q_panel;
        const std::int8_t* b1p = p1 + g * int8_group * q_panel;
#pragma GCC unroll 4
        for (Index j = 0; j < int8_group / 4; ++j) {
            const __m512i b0 = _mm512_loadu_si512(b0p + j * 4 * q_panel);
            const __m512i b1 = _mm512_loadu_si512(b1p + j * 4 * q_panel);
#pragma GCC unroll 6
            for (int r = 0; r < R; ++r) {
                std::int32_t word;
                std::memcpy(&word, u + r * ldu + g * int8_group + 4 * j, sizeof word);
                const __m512i a = _mm512_set1_epi32(word);
                c[r][0] = _mm512_dpbusd_epi32(c[r][0], a, b0);
                c[r][1] = _mm512_dpbusd_epi32(c[r][1], a, b1);
            }
        }
        const __m512 ws0 = _mm512_loadu_ps(w0 + g * q_panel),
                     ws1 = _mm512_loadu_ps(w1 + g * q_panel);
        const __m512 cs0 = _mm512_loadu_ps(s0 + g * q_panel),
                     cs1 = _mm512_loadu_ps(s1 + g * q_panel);
#pragma GCC unroll 6
        for (int r = 0; r < R; ++r) {
            const __m512 sx = _mm512_set1_ps(xscale[r * groups + g]);
            const __m512 zx = _mm512_set1_ps(xzero[r * groups + g]);
            const __m512 t0 = _mm512_fnmadd_ps(zx, cs0, _mm512_maskz_cvtepi32_ps(0xFFFF, c[r][0]));
            const __m512 t1 = _mm512_fnmadd_ps(zx, cs1, _mm512_maskz_cvtepi32_ps(0xFFFF, c[r][1]));
            f[r][0] = _mm512_fmadd_ps(t0, _mm512_mul_ps(sx, ws0), f[r][0]);
            f[r][1] = _mm512_fmadd_ps(t1, _mm512_mul_ps(sx, ws1), f[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) store_pair512(y + r * ldy, f[r][0], f[r][1], bias, n);
}
#endif

}  // namespace embedkit::linalg::detail
