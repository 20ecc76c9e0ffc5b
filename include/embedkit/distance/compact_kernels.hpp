// Kernels over compact rows (core/compact.hpp), per level: a float query against stored rows
// (asymmetric), two stored rows (symmetric), and bit counts for binary rows.
//
// Exactness: every kernel computes on the decoded values with float arithmetic (f16, bf16 and
// int8 products in float with FMA; int8 x int8 in exact integers; bit counts exact), so its
// only error is float rounding of the sums, bounded as the float kernels' are
// (docs/API.md "Compact storage").
#pragma once

#include "../core/config.hpp"
#include "../core/detail/half.hpp"
#include "dispatch.hpp"

#if EMBEDKIT_ARCH_X86
#include <immintrin.h>
#endif
#if EMBEDKIT_ARCH_NEON
#include <arm_neon.h>
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if EMBEDKIT_ARCH_X86
#define EMBEDKIT_TARGET_AVX2_COMPACT __attribute__((target("avx2,fma,f16c,popcnt")))
#define EMBEDKIT_TARGET_AVX512_COMPACT __attribute__((target("avx512f,avx2,fma,f16c,popcnt")))
#define EMBEDKIT_TARGET_AVX512_VPOPCNT \
    __attribute__((target("avx512f,avx512vpopcntdq,avx2,fma,f16c,popcnt")))
#define EMBEDKIT_TARGET_AVX512_VNNI \
    __attribute__((target("avx512f,avx512vnni,avx2,fma,f16c,popcnt")))
#define EMBEDKIT_TARGET_AVX512_BF16 \
    __attribute__((target("avx512f,avx512bf16,avx2,fma,f16c,popcnt")))
#else
#define EMBEDKIT_TARGET_AVX2_COMPACT
#define EMBEDKIT_TARGET_AVX512_COMPACT
#define EMBEDKIT_TARGET_AVX512_VPOPCNT
#define EMBEDKIT_TARGET_AVX512_VNNI
#define EMBEDKIT_TARGET_AVX512_BF16
#endif

namespace embedkit::detail {

/// The exact integer sums of two int8 code rows: a.b, a.a and b.b.
struct Int8Sums {
    std::int64_t ab;
    std::int64_t aa;
    std::int64_t bb;
};

/// Bit counts of two binary rows: |a xor b|, |a and b|, |a or b|.
struct BitCounts {
    std::uint64_t differ;
    std::uint64_t both;
    std::uint64_t either;
};

/// out[r] for `nrows` rows at `rows` (contiguous, storage_row_bytes apart):
///  dot:        sum q_i d_i, where d is the decoded row; int8: row_scale[r] * sum q_i c_i
///              (row_scale null: 1; a per-dimension scale is folded into q by the caller)
///  l2_squared: sum (q_i - d_i)^2; int8: d_i = row_scale[r] * c_i or dim_scale[i] * c_i.
using CompactManyFn = void (*)(const float* q, const unsigned char* rows, std::size_t nrows,
                               std::size_t dim, const float* row_scale, const float* dim_scale,
                               float* out) noexcept;
/// One pair of stored rows of the same storage: dot or l2_squared of the decoded values.
using CompactPairFn = float (*)(const unsigned char* a, const unsigned char* b,
                                std::size_t dim) noexcept;
using Int8SumsFn = Int8Sums (*)(const unsigned char* a, const unsigned char* b,
                                std::size_t dim) noexcept;
/// The exact integer a.b of two int8 code rows.
using Int8DotFn = std::int64_t (*)(const unsigned char* a, const unsigned char* b,
                                   std::size_t dim) noexcept;
using BitCountsFn = BitCounts (*)(const unsigned char* a, const unsigned char* b,
                                  std::size_t bytes) noexcept;
/// The Jaccard distance 1 - |a and b| / |a or b| (0 when both rows are empty).
using JaccardFn = float (*)(const unsigned char* a, const unsigned char* b,
                            std::size_t bytes) noexcept;
/// |a xor b|: the Hamming distance of two rows of `bytes` bytes.
using HammingFn = std::uint64_t (*)(const unsigned char* a, const unsigned char* b,
                                    std::size_t bytes) noexcept;
/// out[r] = |q xor row r| for `nrows` rows of `bytes` bytes.
using HammingManyFn = void (*)(const unsigned char* q, const unsigned char* rows, std::size_t nrows,
                               std::size_t bytes, float* out) noexcept;

struct CompactTable {
    const char* name;  ///< "scalar", "avx2+f16c+popcnt", "avx512", "avx512+vpopcntdq+vnni", ...
    CompactManyFn f16_dot, f16_l2_squared, bf16_dot, bf16_l2_squared, int8_dot, int8_l2_squared;
    CompactPairFn f16_pair_dot, f16_pair_l2_squared, bf16_pair_dot, bf16_pair_l2_squared;
    /// bf16_pair_dot for two rows without small values (bf16_is_small): bf16_pair_dot itself
    /// where the CPU has no faster kernel exact on them.
    CompactPairFn bf16_pair_dot_normal;
    Int8DotFn int8_dot_codes;
    Int8SumsFn int8_sums;
    BitCountsFn bit_counts;
    JaccardFn jaccard;
    HammingFn hamming;
    HammingManyFn hamming_many;
};

// ---- Decoding one element (scalar code and tails).

inline std::uint16_t compact_u16(const unsigned char* p, std::size_t i) noexcept {
    std::uint16_t v;
    std::memcpy(&v, p + 2 * i, 2);
    return v;
}
struct F16Elem {
    static float get(const unsigned char* p, std::size_t i) noexcept {
        return half_bits_to_float(compact_u16(p, i));
    }
};
struct Bf16Elem {
    static float get(const unsigned char* p, std::size_t i) noexcept {
        return bf16_bits_to_float(compact_u16(p, i));
    }
};
struct Int8Elem {
    static float get(const unsigned char* p, std::size_t i) noexcept {
        return static_cast<float>(static_cast<signed char>(p[i]));
    }
};

inline std::uint64_t load_u64(const unsigned char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// ---- Scalar level: the definitions.

template <class E>
inline float compact_dot_scalar(const float* q, const unsigned char* p, std::size_t n) noexcept {
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) s += q[i] * E::get(p, i);
    return s;
}

template <class E>
inline void compact_dot_many_scalar(const float* q, const unsigned char* rows, std::size_t nrows,
                                    std::size_t dim, const float* row_scale, const float*,
                                    float* out) noexcept {
    const std::size_t rb = std::is_same_v<E, Int8Elem> ? dim : 2 * dim;
    for (std::size_t r = 0; r < nrows; ++r) {
        const float s = compact_dot_scalar<E>(q, rows + r * rb, dim);
        out[r] = row_scale != nullptr ? row_scale[r] * s : s;
    }
}

template <class E>
inline void compact_l2_many_scalar(const float* q, const unsigned char* rows, std::size_t nrows,
                                   std::size_t dim, const float* row_scale, const float* dim_scale,
                                   float* out) noexcept {
    const std::size_t rb = std::is_same_v<E, Int8Elem> ? dim : 2 * dim;
    for (std::size_t r = 0; r < nrows; ++r) {
        const unsigned char* p = rows + r * rb;
        float s = 0.0f;
        for (std::size_t i = 0; i < dim; ++i) {
            float d = E::get(p, i);
            if (row_scale != nullptr) d *= row_scale[r];
            if (dim_scale != nullptr) d *= dim_scale[i];
            const float t = q[i] - d;
            s += t * t;
        }
        out[r] = s;
    }
}

template <class E>
inline float compact_pair_dot_scalar(const unsigned char* a, const unsigned char* b,
                                     std::size_t n) noexcept {
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) s += E::get(a, i) * E::get(b, i);
    return s;
}

template <class E>
inline float compact_pair_l2_scalar(const unsigned char* a, const unsigned char* b,
                                    std::size_t n) noexcept {
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        const float t = E::get(a, i) - E::get(b, i);
        s += t * t;
    }
    return s;
}

inline Int8Sums int8_sums_scalar(const unsigned char* a, const unsigned char* b,
                                 std::size_t n) noexcept {
    Int8Sums s{0, 0, 0};
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t x = static_cast<signed char>(a[i]);
        const std::int64_t y = static_cast<signed char>(b[i]);
        s.ab += x * y;
        s.aa += x * x;
        s.bb += y * y;
    }
    return s;
}

inline std::int64_t int8_dot_codes_scalar(const unsigned char* a, const unsigned char* b,
                                          std::size_t n) noexcept {
    std::int64_t s = 0;
    for (std::size_t i = 0; i < n; ++i)
        s += std::int64_t(static_cast<signed char>(a[i])) * static_cast<signed char>(b[i]);
    return s;
}

inline unsigned popcount8_portable(unsigned v) noexcept {
    unsigned c = 0;
    for (; v != 0; v &= v - 1) ++c;
    return c;
}

template <bool HardwarePopcount>
inline std::uint64_t popcount64(std::uint64_t v) noexcept {
    if constexpr (HardwarePopcount) {
        return static_cast<std::uint64_t>(__builtin_popcountll(v));
    } else {
        // The classic SWAR count (no POPCNT instruction assumed).
        v = v - ((v >> 1) & 0x5555555555555555ull);
        v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
        v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0Full;
        return (v * 0x0101010101010101ull) >> 56;
    }
}

template <bool Hw>
inline BitCounts bit_counts_impl(const unsigned char* a, const unsigned char* b,
                                 std::size_t bytes) noexcept {
    BitCounts c{0, 0, 0};
    std::size_t i = 0;
    // Four words per step, two sums each: the loop's own instructions cost more than the
    // counts otherwise.
    std::uint64_t b0 = 0, b1 = 0, e0 = 0, e1 = 0;
    for (; i + 32 <= bytes; i += 32) {
        const std::uint64_t x0 = load_u64(a + i), y0 = load_u64(b + i);
        const std::uint64_t x1 = load_u64(a + i + 8), y1 = load_u64(b + i + 8);
        const std::uint64_t x2 = load_u64(a + i + 16), y2 = load_u64(b + i + 16);
        const std::uint64_t x3 = load_u64(a + i + 24), y3 = load_u64(b + i + 24);
        b0 += popcount64<Hw>(x0 & y0) + popcount64<Hw>(x1 & y1);
        b1 += popcount64<Hw>(x2 & y2) + popcount64<Hw>(x3 & y3);
        e0 += popcount64<Hw>(x0 | y0) + popcount64<Hw>(x1 | y1);
        e1 += popcount64<Hw>(x2 | y2) + popcount64<Hw>(x3 | y3);
    }
    c.both = b0 + b1;
    c.either = e0 + e1;
    for (; i + 8 <= bytes; i += 8) {
        const std::uint64_t x = load_u64(a + i);
        const std::uint64_t y = load_u64(b + i);
        c.both += popcount64<Hw>(x & y);
        c.either += popcount64<Hw>(x | y);
    }
    for (; i < bytes; ++i) {
        c.both += popcount8_portable(unsigned(a[i] & b[i]));
        c.either += popcount8_portable(unsigned(a[i] | b[i]));
    }
    c.differ = c.either - c.both;  // a xor b = (a or b) minus (a and b)
    return c;
}

template <bool Hw>
inline std::uint64_t hamming_impl(const unsigned char* q, const unsigned char* p,
                                  std::size_t bytes) noexcept {
    std::uint64_t d0 = 0, d1 = 0;
    std::size_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
        d0 += popcount64<Hw>(load_u64(q + i) ^ load_u64(p + i)) +
              popcount64<Hw>(load_u64(q + i + 8) ^ load_u64(p + i + 8));
        d1 += popcount64<Hw>(load_u64(q + i + 16) ^ load_u64(p + i + 16)) +
              popcount64<Hw>(load_u64(q + i + 24) ^ load_u64(p + i + 24));
    }
    std::uint64_t d = d0 + d1;
    for (; i + 8 <= bytes; i += 8) d += popcount64<Hw>(load_u64(q + i) ^ load_u64(p + i));
    for (; i < bytes; ++i) d += popcount8_portable(unsigned(q[i] ^ p[i]));
    return d;
}

template <bool Hw>
inline void hamming_many_impl(const unsigned char* q, const unsigned char* rows, std::size_t nrows,
                              std::size_t bytes, float* out) noexcept {
    for (std::size_t r = 0; r < nrows; ++r)
        out[r] = static_cast<float>(hamming_impl<Hw>(q, rows + r * bytes, bytes));
}

// 1 - both / either. Counts below 2^24 are exact floats, so the float division is the
// correctly rounded quotient; larger ones go through double.
inline float jaccard_of(std::uint64_t both, std::uint64_t either) noexcept {
    if (either == 0) return 0.0f;
    if (either < (std::uint64_t(1) << 24))
        return 1.0f - static_cast<float>(both) / static_cast<float>(either);
    return static_cast<float>(1.0 - static_cast<double>(both) / static_cast<double>(either));
}

inline float jaccard_from(const BitCounts& c) noexcept { return jaccard_of(c.both, c.either); }

inline float jaccard_scalar(const unsigned char* a, const unsigned char* b,
                            std::size_t bytes) noexcept {
    return jaccard_from(bit_counts_impl<false>(a, b, bytes));
}

inline BitCounts bit_counts_scalar(const unsigned char* a, const unsigned char* b,
                                   std::size_t bytes) noexcept {
    return bit_counts_impl<false>(a, b, bytes);
}
inline std::uint64_t hamming_scalar(const unsigned char* a, const unsigned char* b,
                                    std::size_t bytes) noexcept {
    return hamming_impl<false>(a, b, bytes);
}
inline void hamming_many_scalar(const unsigned char* q, const unsigned char* rows,
                                std::size_t nrows, std::size_t bytes, float* out) noexcept {
    hamming_many_impl<false>(q, rows, nrows, bytes, out);
}

// Scans over many rows ask for the row 16 KiB ahead, one request per 64-byte line (a row of
// 64 bytes or less: one, at its start; consecutive rows then cover every line). The hardware
// prefetchers alone leave a 1,000,000-row scan at 0.75-0.85 of a plain read of its bytes on an
// AMD Zen 5; this brings the int8 scan to about 0.95 (4 KiB ahead: 0.84; docs/BENCHMARKS.md).
// The AVX2 kernels, slower per byte, ask 4 KiB ahead: 16 KiB made the int8 scan at level avx2
// 1.2x slower on the same core (its lines left the caches before use).
inline constexpr std::size_t scan_prefetch_distance = std::size_t(16) << 10;
inline constexpr std::size_t scan_prefetch_distance_avx2 = std::size_t(4) << 10;

inline void prefetch_row(const unsigned char* p, std::size_t bytes,
                         std::size_t distance = scan_prefetch_distance) noexcept {
    for (std::size_t l = 0; l < bytes; l += 64) __builtin_prefetch(p + distance + l);
}

#if EMBEDKIT_ARCH_X86
// ---- AVX2 + FMA + F16C + POPCNT.

struct F16Avx2 {
    using E = F16Elem;
    static constexpr std::size_t bytes = 2;
    EMBEDKIT_TARGET_AVX2_COMPACT static __m256 load8(const unsigned char* p) noexcept {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
};
struct Bf16Avx2 {
    using E = Bf16Elem;
    static constexpr std::size_t bytes = 2;
    EMBEDKIT_TARGET_AVX2_COMPACT static __m256 load8(const unsigned char* p) noexcept {
        const __m256i w =
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
};
struct Int8Avx2 {
    using E = Int8Elem;
    static constexpr std::size_t bytes = 1;
    EMBEDKIT_TARGET_AVX2_COMPACT static __m256 load8(const unsigned char* p) noexcept {
        return _mm256_cvtepi32_ps(
            _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
    }
};

EMBEDKIT_TARGET_AVX2_COMPACT inline float compact_hsum_avx2(__m256 x) noexcept {
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    return _mm_cvtss_f32(s4);
}

// sum q_i d_i over one row: four accumulators over 32 elements, then 8 at a time, then a
// scalar tail.
template <class L>
EMBEDKIT_TARGET_AVX2_COMPACT inline float compact_dot_avx2(const float* q, const unsigned char* p,
                                                           std::size_t n) noexcept {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), L::load8(p + L::bytes * i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), L::load8(p + L::bytes * (i + 8)), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 16), L::load8(p + L::bytes * (i + 16)), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 24), L::load8(p + L::bytes * (i + 24)), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), L::load8(p + L::bytes * i), a0);
    float s = compact_hsum_avx2(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; ++i) s += q[i] * L::E::get(p, i);
    return s;
}

// q_i - m_i d_i for 8 elements from i (m_i: see below).
template <class L, int Scale>
EMBEDKIT_TARGET_AVX2_COMPACT inline __m256 compact_l2_term(const float* q, const unsigned char* p,
                                                           std::size_t i, __m256 rsv,
                                                           const float* ds) noexcept {
    const __m256 d = L::load8(p + L::bytes * i);
    const __m256 x = _mm256_loadu_ps(q + i);
    if constexpr (Scale == 1) return _mm256_sub_ps(x, _mm256_mul_ps(rsv, d));
    if constexpr (Scale == 2) return _mm256_sub_ps(x, _mm256_mul_ps(_mm256_loadu_ps(ds + i), d));
    return _mm256_sub_ps(x, d);
}

// sum (q_i - m_i d_i)^2, m_i = the row's scale (Scale 1), the dimension's (Scale 2) or 1.
template <class L, int Scale>
EMBEDKIT_TARGET_AVX2_COMPACT inline float compact_l2_avx2(const float* q, const unsigned char* p,
                                                          std::size_t n, float rs,
                                                          const float* ds) noexcept {
    const __m256 rsv = _mm256_set1_ps(rs);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256 t0 = compact_l2_term<L, Scale>(q, p, i, rsv, ds);
        const __m256 t1 = compact_l2_term<L, Scale>(q, p, i + 8, rsv, ds);
        const __m256 t2 = compact_l2_term<L, Scale>(q, p, i + 16, rsv, ds);
        const __m256 t3 = compact_l2_term<L, Scale>(q, p, i + 24, rsv, ds);
        a0 = _mm256_fmadd_ps(t0, t0, a0);
        a1 = _mm256_fmadd_ps(t1, t1, a1);
        a2 = _mm256_fmadd_ps(t2, t2, a2);
        a3 = _mm256_fmadd_ps(t3, t3, a3);
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 t = compact_l2_term<L, Scale>(q, p, i, rsv, ds);
        a0 = _mm256_fmadd_ps(t, t, a0);
    }
    float s = compact_hsum_avx2(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; ++i) {
        float d = L::E::get(p, i);
        if constexpr (Scale == 1) d *= rs;
        if constexpr (Scale == 2) d *= ds[i];
        const float t = q[i] - d;
        s += t * t;
    }
    return s;
}

template <class L>
EMBEDKIT_TARGET_AVX2_COMPACT inline void compact_dot_many_avx2(const float* q,
                                                               const unsigned char* rows,
                                                               std::size_t nrows, std::size_t dim,
                                                               const float* row_scale, const float*,
                                                               float* out) noexcept {
    const std::size_t rb = L::bytes * dim;
    for (std::size_t r = 0; r < nrows; ++r) {
        prefetch_row(rows + r * rb, rb, scan_prefetch_distance_avx2);
        const float s = compact_dot_avx2<L>(q, rows + r * rb, dim);
        out[r] = row_scale != nullptr ? row_scale[r] * s : s;
    }
}

template <class L>
EMBEDKIT_TARGET_AVX2_COMPACT inline void compact_l2_many_avx2(
    const float* q, const unsigned char* rows, std::size_t nrows, std::size_t dim,
    const float* row_scale, const float* dim_scale, float* out) noexcept {
    const std::size_t rb = L::bytes * dim;
    for (std::size_t r = 0; r < nrows; ++r) {
        const unsigned char* p = rows + r * rb;
        prefetch_row(p, rb, scan_prefetch_distance_avx2);
        if (row_scale != nullptr)
            out[r] = compact_l2_avx2<L, 1>(q, p, dim, row_scale[r], nullptr);
        else if (dim_scale != nullptr)
            out[r] = compact_l2_avx2<L, 2>(q, p, dim, 1.0f, dim_scale);
        else
            out[r] = compact_l2_avx2<L, 0>(q, p, dim, 1.0f, nullptr);
    }
}

template <class L>
EMBEDKIT_TARGET_AVX2_COMPACT inline float compact_pair_dot_avx2(const unsigned char* a,
                                                                const unsigned char* b,
                                                                std::size_t n) noexcept {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(L::load8(a + 2 * i), L::load8(b + 2 * i), a0);
        a1 = _mm256_fmadd_ps(L::load8(a + 2 * (i + 8)), L::load8(b + 2 * (i + 8)), a1);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(L::load8(a + 2 * i), L::load8(b + 2 * i), a0);
    float s = compact_hsum_avx2(_mm256_add_ps(a0, a1));
    for (; i < n; ++i) s += L::E::get(a, i) * L::E::get(b, i);
    return s;
}

template <class L>
EMBEDKIT_TARGET_AVX2_COMPACT inline float compact_pair_l2_avx2(const unsigned char* a,
                                                               const unsigned char* b,
                                                               std::size_t n) noexcept {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 t0 = _mm256_sub_ps(L::load8(a + 2 * i), L::load8(b + 2 * i));
        const __m256 t1 = _mm256_sub_ps(L::load8(a + 2 * (i + 8)), L::load8(b + 2 * (i + 8)));
        a0 = _mm256_fmadd_ps(t0, t0, a0);
        a1 = _mm256_fmadd_ps(t1, t1, a1);
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 t = _mm256_sub_ps(L::load8(a + 2 * i), L::load8(b + 2 * i));
        a0 = _mm256_fmadd_ps(t, t, a0);
    }
    float s = compact_hsum_avx2(_mm256_add_ps(a0, a1));
    for (; i < n; ++i) {
        const float t = L::E::get(a, i) - L::E::get(b, i);
        s += t * t;
    }
    return s;
}

EMBEDKIT_TARGET_AVX2_COMPACT inline std::int64_t int32_lanes_sum_avx2(__m256i v) noexcept {
    alignas(32) std::int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
    std::int64_t t = 0;
    for (std::int32_t x : lanes) t += x;
    return t;
}

// a.b, a.a, b.b of int8 codes: 16 codes widened to int16, pairwise products summed into
// int32 lanes (madd), flushed into int64 every 2^15 steps (each step adds at most 2 * 2^14
// per lane, so a lane stays below 2^30 before a flush).
EMBEDKIT_TARGET_AVX2_COMPACT inline Int8Sums int8_sums_avx2(const unsigned char* a,
                                                            const unsigned char* b,
                                                            std::size_t n) noexcept {
    Int8Sums s{0, 0, 0};
    std::size_t i = 0;
    while (i + 16 <= n) {
        __m256i ab = _mm256_setzero_si256(), aa = _mm256_setzero_si256(),
                bb = _mm256_setzero_si256();
        const std::size_t end = i + (std::size_t(1) << 19) < n ? i + (std::size_t(1) << 19) : n;
        for (; i + 16 <= end; i += 16) {
            const __m256i x =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
            const __m256i y =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
            ab = _mm256_add_epi32(ab, _mm256_madd_epi16(x, y));
            aa = _mm256_add_epi32(aa, _mm256_madd_epi16(x, x));
            bb = _mm256_add_epi32(bb, _mm256_madd_epi16(y, y));
        }
        s.ab += int32_lanes_sum_avx2(ab);
        s.aa += int32_lanes_sum_avx2(aa);
        s.bb += int32_lanes_sum_avx2(bb);
    }
    const Int8Sums t = int8_sums_scalar(a + i, b + i, n - i);
    s.ab += t.ab;
    s.aa += t.aa;
    s.bb += t.bb;
    return s;
}

// a.b of int8 codes as int8_sums_avx2 computes it, alone.
EMBEDKIT_TARGET_AVX2_COMPACT inline std::int64_t int8_dot_codes_avx2(const unsigned char* a,
                                                                     const unsigned char* b,
                                                                     std::size_t n) noexcept {
    std::int64_t s = 0;
    std::size_t i = 0;
    while (i + 32 <= n) {
        __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
        const std::size_t end = i + (std::size_t(1) << 19) < n ? i + (std::size_t(1) << 19) : n;
        for (; i + 32 <= end; i += 32) {
            const __m256i x0 =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
            const __m256i y0 =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
            const __m256i x1 =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 16)));
            const __m256i y1 =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 16)));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, y0));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x1, y1));
        }
        s += int32_lanes_sum_avx2(acc0) + int32_lanes_sum_avx2(acc1);
    }
    return s + int8_dot_codes_scalar(a + i, b + i, n - i);
}

// Bits set per byte of v, by two 16-entry look-ups (one per nibble), summed per 8 bytes
// into four 64-bit lanes (psadbw against zero).
EMBEDKIT_TARGET_AVX2_COMPACT inline __m256i popcount_lanes_avx2(__m256i v) noexcept {
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                           0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0F);
    const __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low));
    const __m256i hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
    return _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256());
}

EMBEDKIT_TARGET_AVX2_COMPACT inline std::uint64_t u64_lanes_sum_avx2(__m256i v) noexcept {
    const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return static_cast<std::uint64_t>(_mm_cvtsi128_si64(s)) +
           static_cast<std::uint64_t>(_mm_extract_epi64(s, 1));
}

// 32 bytes at a time through the look-up counts, the rest as bit_counts_impl does.
EMBEDKIT_TARGET_AVX2_COMPACT inline BitCounts bit_counts_avx2(const unsigned char* a,
                                                              const unsigned char* b,
                                                              std::size_t bytes) noexcept {
    if (bytes < 128) {
        // Short rows: one word at a time has the shortest path (a 384-bit row is 6 words).
        std::uint64_t nb = 0, ne = 0;
        std::size_t j = 0;
        for (; j + 8 <= bytes; j += 8) {
            const std::uint64_t x = load_u64(a + j), y = load_u64(b + j);
            nb += static_cast<std::uint64_t>(__builtin_popcountll(x & y));
            ne += static_cast<std::uint64_t>(__builtin_popcountll(x | y));
        }
        for (; j < bytes; ++j) {
            nb += popcount8_portable(unsigned(a[j] & b[j]));
            ne += popcount8_portable(unsigned(a[j] | b[j]));
        }
        return {ne - nb, nb, ne};
    }
    __m256i both = _mm256_setzero_si256(), either = _mm256_setzero_si256();
    std::size_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
        both = _mm256_add_epi64(both, popcount_lanes_avx2(_mm256_and_si256(x, y)));
        either = _mm256_add_epi64(either, popcount_lanes_avx2(_mm256_or_si256(x, y)));
    }
    BitCounts c = bit_counts_impl<true>(a + i, b + i, bytes - i);
    c.both += u64_lanes_sum_avx2(both);
    c.either += u64_lanes_sum_avx2(either);
    c.differ = c.either - c.both;
    return c;
}
EMBEDKIT_TARGET_AVX2_COMPACT inline float jaccard_avx2(const unsigned char* a,
                                                       const unsigned char* b,
                                                       std::size_t bytes) noexcept {
    if (bytes >= 128) return jaccard_from(bit_counts_avx2(a, b, bytes));
    std::uint64_t nb = 0, ne = 0;
    std::size_t j = 0;
    for (; j + 8 <= bytes; j += 8) {
        const std::uint64_t x = load_u64(a + j), y = load_u64(b + j);
        nb += static_cast<std::uint64_t>(__builtin_popcountll(x & y));
        ne += static_cast<std::uint64_t>(__builtin_popcountll(x | y));
    }
    if (j < bytes) {
        const BitCounts t = bit_counts_impl<true>(a + j, b + j, bytes - j);
        nb += t.both;
        ne += t.either;
    }
    return jaccard_of(nb, ne);
}
// Rows of exactly W 64-bit words: the query's words stay in registers and each row is W
// loads, xors and counts with no loop of its own.
template <std::size_t W>
EMBEDKIT_TARGET_AVX2_COMPACT inline void hamming_words_avx2(const unsigned char* q,
                                                            const unsigned char* rows,
                                                            std::size_t nrows,
                                                            float* out) noexcept {
    std::uint64_t qw[W];
    for (std::size_t w = 0; w < W; ++w) qw[w] = load_u64(q + 8 * w);
    for (std::size_t r = 0; r < nrows; ++r) {
        const unsigned char* p = rows + r * 8 * W;
        prefetch_row(p, 8 * W, scan_prefetch_distance_avx2);
        std::uint64_t d = 0;
        for (std::size_t w = 0; w < W; ++w)
            d += static_cast<std::uint64_t>(__builtin_popcountll(qw[w] ^ load_u64(p + 8 * w)));
        out[r] = static_cast<float>(d);
    }
}

EMBEDKIT_TARGET_AVX2_COMPACT inline std::uint64_t hamming_avx2(const unsigned char* a,
                                                               const unsigned char* b,
                                                               std::size_t bytes) noexcept {
    return hamming_impl<true>(a, b, bytes);
}

EMBEDKIT_TARGET_AVX2_COMPACT inline void hamming_many_avx2(const unsigned char* q,
                                                           const unsigned char* rows,
                                                           std::size_t nrows, std::size_t bytes,
                                                           float* out) noexcept {
    // The row sizes of common embeddings (128 to 1536 dimensions) get a loop of their own
    // (worth it over a few rows: it first loads the query's words).
    if (nrows < 4) return hamming_many_impl<true>(q, rows, nrows, bytes, out);
    switch (bytes) {
        case 16:
            return hamming_words_avx2<2>(q, rows, nrows, out);
        case 32:
            return hamming_words_avx2<4>(q, rows, nrows, out);
        case 48:
            return hamming_words_avx2<6>(q, rows, nrows, out);
        case 64:
            return hamming_words_avx2<8>(q, rows, nrows, out);
        case 96:
            return hamming_words_avx2<12>(q, rows, nrows, out);
        case 128:
            return hamming_words_avx2<16>(q, rows, nrows, out);
        case 192:
            return hamming_words_avx2<24>(q, rows, nrows, out);
        default:
            return hamming_many_impl<true>(q, rows, nrows, bytes, out);
    }
}

// ---- AVX-512F (+ F16C and POPCNT, which every AVX-512 CPU has): 16 lanes per vector. Bit
// counts take VPOPCNTDQ where the CPU has it (the AVX2 ones otherwise). As in
// kernels_avx512.hpp, GCC 12 reports the undefined pass-through operand of the unmasked forms
// of conversions, extracts and reductions as uninitialised (GCC bug 105593): their
// zero-masked forms with every lane selected are the same instructions; loads are zero-masked
// too, for the -Warray-bounds reason given there.

inline constexpr __mmask16 compact_all16 = 0xFFFF;

EMBEDKIT_TARGET_AVX512_COMPACT inline __m512 compact_load512(const float* p) noexcept {
    return _mm512_maskz_loadu_ps(compact_all16, p);
}
EMBEDKIT_TARGET_AVX512_COMPACT inline __m512i compact_load512i(const unsigned char* p) noexcept {
    return _mm512_maskz_loadu_epi64(0xFF, p);
}
// The 16 lanes' sum: halves added down to one lane.
EMBEDKIT_TARGET_AVX512_COMPACT inline float compact_hsum512(__m512 x) noexcept {
    const __m512d xd = _mm512_castps_pd(x);
    const __m256 lo = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, xd, 0));
    const __m256 hi = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, xd, 1));
    return compact_hsum_avx2(_mm256_add_ps(lo, hi));
}
// The 8 64-bit lanes' sum.
EMBEDKIT_TARGET_AVX512_COMPACT inline std::uint64_t compact_u64_sum512(__m512i x) noexcept {
    const __m256i lo = _mm512_maskz_extracti64x4_epi64(0xFF, x, 0);
    const __m256i hi = _mm512_maskz_extracti64x4_epi64(0xFF, x, 1);
    return u64_lanes_sum_avx2(_mm256_add_epi64(lo, hi));
}

struct F16Avx512 {
    using E = F16Elem;
    static constexpr std::size_t bytes = 2;
    EMBEDKIT_TARGET_AVX512_COMPACT static __m512 load16(const unsigned char* p) noexcept {
        return _mm512_maskz_cvtph_ps(compact_all16,
                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
};
struct Bf16Avx512 {
    using E = Bf16Elem;
    static constexpr std::size_t bytes = 2;
    EMBEDKIT_TARGET_AVX512_COMPACT static __m512 load16(const unsigned char* p) noexcept {
        const __m512i w = _mm512_maskz_cvtepu16_epi32(
            compact_all16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(compact_all16, w, 16));
    }
};
struct Int8Avx512 {
    using E = Int8Elem;
    static constexpr std::size_t bytes = 1;
    EMBEDKIT_TARGET_AVX512_COMPACT static __m512 load16(const unsigned char* p) noexcept {
        const __m512i w = _mm512_maskz_cvtepi8_epi32(
            compact_all16, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm512_maskz_cvtepi32_ps(compact_all16, w);
    }
};

// sum q_i d_i over one row: four accumulators over 64 elements, then 16 at a time, then a
// scalar tail.
template <class L>
EMBEDKIT_TARGET_AVX512_COMPACT inline float compact_dot_avx512(const float* q,
                                                               const unsigned char* p,
                                                               std::size_t n) noexcept {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(compact_load512(q + i), L::load16(p + L::bytes * i), a0);
        a1 = _mm512_fmadd_ps(compact_load512(q + i + 16), L::load16(p + L::bytes * (i + 16)), a1);
        a2 = _mm512_fmadd_ps(compact_load512(q + i + 32), L::load16(p + L::bytes * (i + 32)), a2);
        a3 = _mm512_fmadd_ps(compact_load512(q + i + 48), L::load16(p + L::bytes * (i + 48)), a3);
    }
    for (; i + 16 <= n; i += 16)
        a0 = _mm512_fmadd_ps(compact_load512(q + i), L::load16(p + L::bytes * i), a0);
    float s = compact_hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; ++i) s += q[i] * L::E::get(p, i);
    return s;
}

// q_i - m_i d_i for 16 elements from i (m_i as in compact_l2_term).
template <class L, int Scale>
EMBEDKIT_TARGET_AVX512_COMPACT inline __m512 compact_l2_term512(const float* q,
                                                                const unsigned char* p,
                                                                std::size_t i, __m512 rsv,
                                                                const float* ds) noexcept {
    const __m512 d = L::load16(p + L::bytes * i);
    const __m512 x = compact_load512(q + i);
    if constexpr (Scale == 1) return _mm512_sub_ps(x, _mm512_mul_ps(rsv, d));
    if constexpr (Scale == 2) return _mm512_sub_ps(x, _mm512_mul_ps(compact_load512(ds + i), d));
    return _mm512_sub_ps(x, d);
}

template <class L, int Scale>
EMBEDKIT_TARGET_AVX512_COMPACT inline float compact_l2_avx512(const float* q,
                                                              const unsigned char* p, std::size_t n,
                                                              float rs, const float* ds) noexcept {
    const __m512 rsv = _mm512_set1_ps(rs);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const __m512 t0 = compact_l2_term512<L, Scale>(q, p, i, rsv, ds);
        const __m512 t1 = compact_l2_term512<L, Scale>(q, p, i + 16, rsv, ds);
        const __m512 t2 = compact_l2_term512<L, Scale>(q, p, i + 32, rsv, ds);
        const __m512 t3 = compact_l2_term512<L, Scale>(q, p, i + 48, rsv, ds);
        a0 = _mm512_fmadd_ps(t0, t0, a0);
        a1 = _mm512_fmadd_ps(t1, t1, a1);
        a2 = _mm512_fmadd_ps(t2, t2, a2);
        a3 = _mm512_fmadd_ps(t3, t3, a3);
    }
    for (; i + 16 <= n; i += 16) {
        const __m512 t = compact_l2_term512<L, Scale>(q, p, i, rsv, ds);
        a0 = _mm512_fmadd_ps(t, t, a0);
    }
    float s = compact_hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; ++i) {
        float d = L::E::get(p, i);
        if constexpr (Scale == 1) d *= rs;
        if constexpr (Scale == 2) d *= ds[i];
        const float t = q[i] - d;
        s += t * t;
    }
    return s;
}

template <class L>
EMBEDKIT_TARGET_AVX512_COMPACT inline void compact_dot_many_avx512(
    const float* q, const unsigned char* rows, std::size_t nrows, std::size_t dim,
    const float* row_scale, const float*, float* out) noexcept {
    const std::size_t rb = L::bytes * dim;
    for (std::size_t r = 0; r < nrows; ++r) {
        prefetch_row(rows + r * rb, rb);
        const float s = compact_dot_avx512<L>(q, rows + r * rb, dim);
        out[r] = row_scale != nullptr ? row_scale[r] * s : s;
    }
}

template <class L>
EMBEDKIT_TARGET_AVX512_COMPACT inline void compact_l2_many_avx512(
    const float* q, const unsigned char* rows, std::size_t nrows, std::size_t dim,
    const float* row_scale, const float* dim_scale, float* out) noexcept {
    const std::size_t rb = L::bytes * dim;
    for (std::size_t r = 0; r < nrows; ++r) {
        const unsigned char* p = rows + r * rb;
        prefetch_row(p, rb);
        if (row_scale != nullptr)
            out[r] = compact_l2_avx512<L, 1>(q, p, dim, row_scale[r], nullptr);
        else if (dim_scale != nullptr)
            out[r] = compact_l2_avx512<L, 2>(q, p, dim, 1.0f, dim_scale);
        else
            out[r] = compact_l2_avx512<L, 0>(q, p, dim, 1.0f, nullptr);
    }
}

// Two stored rows: sum a_i b_i and sum (a_i - b_i)^2 of the decoded values.
template <class L>
EMBEDKIT_TARGET_AVX512_COMPACT inline float compact_pair_dot_avx512(const unsigned char* a,
                                                                    const unsigned char* b,
                                                                    std::size_t n) noexcept {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(L::load16(a + L::bytes * i), L::load16(b + L::bytes * i), a0);
        a1 = _mm512_fmadd_ps(L::load16(a + L::bytes * (i + 16)), L::load16(b + L::bytes * (i + 16)),
                             a1);
    }
    for (; i + 16 <= n; i += 16)
        a0 = _mm512_fmadd_ps(L::load16(a + L::bytes * i), L::load16(b + L::bytes * i), a0);
    float s = compact_hsum512(_mm512_add_ps(a0, a1));
    for (; i < n; ++i) s += L::E::get(a, i) * L::E::get(b, i);
    return s;
}

template <class L>
EMBEDKIT_TARGET_AVX512_COMPACT inline float compact_pair_l2_avx512(const unsigned char* a,
                                                                   const unsigned char* b,
                                                                   std::size_t n) noexcept {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 t0 = _mm512_sub_ps(L::load16(a + L::bytes * i), L::load16(b + L::bytes * i));
        const __m512 t1 =
            _mm512_sub_ps(L::load16(a + L::bytes * (i + 16)), L::load16(b + L::bytes * (i + 16)));
        a0 = _mm512_fmadd_ps(t0, t0, a0);
        a1 = _mm512_fmadd_ps(t1, t1, a1);
    }
    for (; i + 16 <= n; i += 16) {
        const __m512 t = _mm512_sub_ps(L::load16(a + L::bytes * i), L::load16(b + L::bytes * i));
        a0 = _mm512_fmadd_ps(t, t, a0);
    }
    float s = compact_hsum512(_mm512_add_ps(a0, a1));
    for (; i < n; ++i) {
        const float t = L::E::get(a, i) - L::E::get(b, i);
        s += t * t;
    }
    return s;
}

// Two bf16 rows: a 32-bit lane holding elements 2j (low half) and 2j + 1 (high half) gives
// element 2j + 1 as a float by clearing its low half and element 2j by shifting it up, so 32
// elements take two integer operations per row instead of four conversions. The products are
// the same as compact_pair_*_avx512's, summed in another order.
EMBEDKIT_TARGET_AVX512_COMPACT inline void bf16_halves512(const unsigned char* p, __m512& even,
                                                          __m512& odd) noexcept {
    const __m512i w = compact_load512i(p);
    even = _mm512_castsi512_ps(_mm512_maskz_slli_epi32(compact_all16, w, 16));
    odd = _mm512_castsi512_ps(
        _mm512_maskz_and_epi32(compact_all16, w, _mm512_set1_epi32(int(0xFFFF0000u))));
}

EMBEDKIT_TARGET_AVX512_COMPACT inline float bf16_pair_dot_avx512(const unsigned char* a,
                                                                 const unsigned char* b,
                                                                 std::size_t n) noexcept {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {  // four accumulators: the FMA latency, not the loads
        __m512 xe, xo, ye, yo, ue, uo, ve, vo;
        bf16_halves512(a + 2 * i, xe, xo);
        bf16_halves512(b + 2 * i, ye, yo);
        bf16_halves512(a + 2 * i + 64, ue, uo);
        bf16_halves512(b + 2 * i + 64, ve, vo);
        a0 = _mm512_fmadd_ps(xe, ye, a0);
        a1 = _mm512_fmadd_ps(xo, yo, a1);
        a2 = _mm512_fmadd_ps(ue, ve, a2);
        a3 = _mm512_fmadd_ps(uo, vo, a3);
    }
    for (; i + 32 <= n; i += 32) {
        __m512 xe, xo, ye, yo;
        bf16_halves512(a + 2 * i, xe, xo);
        bf16_halves512(b + 2 * i, ye, yo);
        a0 = _mm512_fmadd_ps(xe, ye, a0);
        a1 = _mm512_fmadd_ps(xo, yo, a1);
    }
    float s = compact_hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; ++i) s += Bf16Elem::get(a, i) * Bf16Elem::get(b, i);
    return s;
}

EMBEDKIT_TARGET_AVX512_COMPACT inline float bf16_pair_l2_avx512(const unsigned char* a,
                                                                const unsigned char* b,
                                                                std::size_t n) noexcept {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 xe, xo, ye, yo, ue, uo, ve, vo;
        bf16_halves512(a + 2 * i, xe, xo);
        bf16_halves512(b + 2 * i, ye, yo);
        bf16_halves512(a + 2 * i + 64, ue, uo);
        bf16_halves512(b + 2 * i + 64, ve, vo);
        const __m512 te = _mm512_sub_ps(xe, ye), to = _mm512_sub_ps(xo, yo);
        const __m512 se = _mm512_sub_ps(ue, ve), so = _mm512_sub_ps(uo, vo);
        a0 = _mm512_fmadd_ps(te, te, a0);
        a1 = _mm512_fmadd_ps(to, to, a1);
        a2 = _mm512_fmadd_ps(se, se, a2);
        a3 = _mm512_fmadd_ps(so, so, a3);
    }
    for (; i + 32 <= n; i += 32) {
        __m512 xe, xo, ye, yo;
        bf16_halves512(a + 2 * i, xe, xo);
        bf16_halves512(b + 2 * i, ye, yo);
        const __m512 te = _mm512_sub_ps(xe, ye), to = _mm512_sub_ps(xo, yo);
        a0 = _mm512_fmadd_ps(te, te, a0);
        a1 = _mm512_fmadd_ps(to, to, a1);
    }
    float s = compact_hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; ++i) {
        const float t = Bf16Elem::get(a, i) - Bf16Elem::get(b, i);
        s += t * t;
    }
    return s;
}

// ---- AVX-512 BF16: VDPBF16PS adds the two products of each 32-bit lane's bf16 pair into a
// float lane, 32 products an instruction. It may treat subnormal inputs and results as zero
// whatever MXCSR says, so it serves only rows without small values (bf16_is_small), where no
// input or partial sum is subnormal: there it is within the float kernels' error bound
// (tested against long double). Four accumulators: its latency.
EMBEDKIT_TARGET_AVX512_BF16 inline __m512bh bf16_load512(const unsigned char* p) noexcept {
    return reinterpret_cast<__m512bh>(compact_load512i(p));
}

EMBEDKIT_TARGET_AVX512_BF16 inline float bf16_pair_dot_dp512(const unsigned char* a,
                                                             const unsigned char* b,
                                                             std::size_t n) noexcept {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    std::size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        a0 = _mm512_dpbf16_ps(a0, bf16_load512(a + 2 * i), bf16_load512(b + 2 * i));
        a1 = _mm512_dpbf16_ps(a1, bf16_load512(a + 2 * i + 64), bf16_load512(b + 2 * i + 64));
        a2 = _mm512_dpbf16_ps(a2, bf16_load512(a + 2 * i + 128), bf16_load512(b + 2 * i + 128));
        a3 = _mm512_dpbf16_ps(a3, bf16_load512(a + 2 * i + 192), bf16_load512(b + 2 * i + 192));
    }
    for (; i + 32 <= n; i += 32)
        a0 = _mm512_dpbf16_ps(a0, bf16_load512(a + 2 * i), bf16_load512(b + 2 * i));
    float s = compact_hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < n; ++i) s += Bf16Elem::get(a, i) * Bf16Elem::get(b, i);
    return s;
}

// ---- VPOPCNTDQ bit counts. The words of a row past its last whole 64 bytes come in through a
// zero-masked 64-bit-lane load (nothing past the row is read), the bytes past its last whole
// word as bit_counts_impl counts them.

// The first `words` (at most 8) 64-bit words at p, zero in the other lanes.
EMBEDKIT_TARGET_AVX512_VPOPCNT inline __m512i load_words512(const unsigned char* p,
                                                            std::size_t words) noexcept {
    const auto mask = static_cast<__mmask8>((1u << words) - 1u);
    return _mm512_maskz_loadu_epi64(mask, p);
}

// The lane sums of two count vectors whose totals stay below 2^32, in one reduction: each lane
// holds both + 2^32 either. Only `both` and `either` of the result are set.
EMBEDKIT_TARGET_AVX512_VPOPCNT inline __m512i pack_counts512(__m512i both,
                                                             __m512i either) noexcept {
    return _mm512_add_epi64(both, _mm512_maskz_slli_epi64(0xFF, either, 32));
}
EMBEDKIT_TARGET_AVX512_VPOPCNT inline BitCounts packed_counts512(__m512i both,
                                                                 __m512i either) noexcept {
    const std::uint64_t packed = compact_u64_sum512(pack_counts512(both, either));
    return {0, packed & 0xFFFFFFFFu, packed >> 32};
}

// |a and b| and |a or b| in 64-bit lanes over the first `whole` bytes (a multiple of 8) of two
// rows: the last block (1-8 words) first, through a masked load unless it is whole, then the
// blocks before it: straight code up to 2048 bits, else two at a time into a second pair of
// sums.
EMBEDKIT_TARGET_AVX512_VPOPCNT inline void and_or_counts512(const __m512i x, const __m512i y,
                                                            __m512i& both,
                                                            __m512i& either) noexcept {
    both = _mm512_add_epi64(both, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
    either = _mm512_add_epi64(either, _mm512_popcnt_epi64(_mm512_or_si512(x, y)));
}
EMBEDKIT_TARGET_AVX512_VPOPCNT inline void word_counts512(const unsigned char* a,
                                                          const unsigned char* b, std::size_t whole,
                                                          __m512i& both, __m512i& either) noexcept {
    both = _mm512_setzero_si512();
    either = _mm512_setzero_si512();
    if (whole == 0) return;
    const std::size_t last = (whole - 1) / 64 * 64;
    if (whole - last == 64)  // a whole last block: no mask to compute first
        and_or_counts512(compact_load512i(a + last), compact_load512i(b + last), both, either);
    else
        and_or_counts512(load_words512(a + last, (whole - last) / 8),
                         load_words512(b + last, (whole - last) / 8), both, either);
    __m512i both2 = _mm512_setzero_si512(), either2 = both2;
    if (last <= 192) {  // up to 2048 bits: straight code, no loop (as SimSIMD's kernels)
        if (last >= 64) and_or_counts512(compact_load512i(a), compact_load512i(b), both2, either2);
        if (last >= 128)
            and_or_counts512(compact_load512i(a + 64), compact_load512i(b + 64), both, either);
        if (last >= 192)
            and_or_counts512(compact_load512i(a + 128), compact_load512i(b + 128), both2, either2);
        both = _mm512_add_epi64(both, both2);
        either = _mm512_add_epi64(either, either2);
        return;
    }
    std::size_t i = 0;
    for (; i + 128 <= last; i += 128) {
        and_or_counts512(compact_load512i(a + i), compact_load512i(b + i), both, either);
        and_or_counts512(compact_load512i(a + i + 64), compact_load512i(b + i + 64), both2,
                         either2);
    }
    if (i < last)
        and_or_counts512(compact_load512i(a + i), compact_load512i(b + i), both2, either2);
    both = _mm512_add_epi64(both, both2);
    either = _mm512_add_epi64(either, either2);
}

// Both counts come out of one reduction: each lane holds |a and b| + 2^32 |a or b| (a row of
// fewer than 2^28 bytes keeps either sum below 2^32; longer rows reduce them apart).
EMBEDKIT_TARGET_AVX512_VPOPCNT inline BitCounts bit_counts_avx512(const unsigned char* a,
                                                                  const unsigned char* b,
                                                                  std::size_t bytes) noexcept {
    __m512i both, either;
    const std::size_t i = bytes / 8 * 8;
    word_counts512(a, b, i, both, either);
    BitCounts c = bit_counts_impl<true>(a + i, b + i, bytes - i);
    if (bytes < (std::size_t(1) << 28)) {
        const BitCounts t = packed_counts512(both, either);
        c.both += t.both;
        c.either += t.either;
    } else {
        c.both += compact_u64_sum512(both);
        c.either += compact_u64_sum512(either);
    }
    c.differ = c.either - c.both;
    return c;
}

// The pair kernels below keep their common case (rows of whole 64-bit words: every dimension a
// multiple of 64) free of calls and of the byte-tail loops: either anywhere in them made every
// call save and restore registers and realign the stack (a 384-bit Hamming pair: 2.6 ns, not
// 1.3). Rows with a byte tail go out of line.
EMBEDKIT_TARGET_AVX512_VPOPCNT __attribute__((noinline)) inline float jaccard_odd_avx512(
    const unsigned char* a, const unsigned char* b, std::size_t bytes) noexcept {
    return jaccard_from(bit_counts_avx512(a, b, bytes));
}

// Rows of whole words below 2^21 bytes: counts below 2^24 are exact floats, so the quotient
// is jaccard_of's without its branches (a 384-bit pair: 2.5 ns with them, 2.2 without); rows
// of at most 64 bytes are one masked block.
EMBEDKIT_TARGET_AVX512_VPOPCNT inline float jaccard_avx512(const unsigned char* a,
                                                           const unsigned char* b,
                                                           std::size_t bytes) noexcept {
    if (bytes % 8 != 0 || bytes >= (std::size_t(1) << 21)) return jaccard_odd_avx512(a, b, bytes);
    __m512i both, either;
    if (bytes <= 64) {
        const __m512i x = load_words512(a, bytes / 8), y = load_words512(b, bytes / 8);
        both = _mm512_popcnt_epi64(_mm512_and_si512(x, y));
        either = _mm512_popcnt_epi64(_mm512_or_si512(x, y));
    } else {
        word_counts512(a, b, bytes, both, either);
    }
    // Both sums in one 64-bit lane (|a and b| low, |a or b| high), converted together.
    const __m512i packed = pack_counts512(both, either);
    const __m256i h = _mm256_add_epi64(_mm512_maskz_extracti64x4_epi64(0xFF, packed, 0),
                                       _mm512_maskz_extracti64x4_epi64(0xFF, packed, 1));
    const __m128i q = _mm_add_epi64(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    const __m128 f = _mm_cvtepi32_ps(_mm_add_epi64(q, _mm_unpackhi_epi64(q, q)));
    const float nb = _mm_cvtss_f32(f), ne = _mm_cvtss_f32(_mm_movehdup_ps(f));
    return ne == 0.0f ? 0.0f : 1.0f - nb / ne;
}

// The bit counts of a xor b over one 64-byte block, per 64-bit lane.
EMBEDKIT_TARGET_AVX512_VPOPCNT inline __m512i xor_count_block512(const unsigned char* a,
                                                                 const unsigned char* b) noexcept {
    return _mm512_popcnt_epi64(_mm512_xor_si512(compact_load512i(a), compact_load512i(b)));
}

// |a xor b| over the first `whole` bytes (a multiple of 8), in word_counts512's order.
EMBEDKIT_TARGET_AVX512_VPOPCNT inline std::uint64_t hamming_words512(const unsigned char* a,
                                                                     const unsigned char* b,
                                                                     std::size_t whole) noexcept {
    if (whole == 0) return 0;
    const std::size_t last = (whole - 1) / 64 * 64;
    // The last block whole (1024, 1536, 2048 bits) needs no mask to be computed first.
    __m512i d =
        whole - last == 64
            ? xor_count_block512(a + last, b + last)
            : _mm512_popcnt_epi64(_mm512_xor_si512(load_words512(a + last, (whole - last) / 8),
                                                   load_words512(b + last, (whole - last) / 8)));
    __m512i e = _mm512_setzero_si512();
    if (last <= 192) {  // up to 2048 bits: straight code, as word_counts512
        if (last >= 64) e = xor_count_block512(a, b);
        if (last >= 128) d = _mm512_add_epi64(d, xor_count_block512(a + 64, b + 64));
        if (last >= 192) e = _mm512_add_epi64(e, xor_count_block512(a + 128, b + 128));
        return compact_u64_sum512(_mm512_add_epi64(d, e));
    }
    std::size_t i = 0;
    for (; i + 128 <= last; i += 128) {
        d = _mm512_add_epi64(d, xor_count_block512(a + i, b + i));
        e = _mm512_add_epi64(e, xor_count_block512(a + i + 64, b + i + 64));
    }
    if (i < last) e = _mm512_add_epi64(e, xor_count_block512(a + i, b + i));
    return compact_u64_sum512(_mm512_add_epi64(d, e));
}

EMBEDKIT_TARGET_AVX512_VPOPCNT __attribute__((noinline)) inline std::uint64_t hamming_odd_avx512(
    const unsigned char* a, const unsigned char* b, std::size_t bytes) noexcept {
    const std::size_t whole = bytes / 8 * 8;
    return hamming_words512(a, b, whole) + hamming_impl<true>(a + whole, b + whole, bytes - whole);
}

EMBEDKIT_TARGET_AVX512_VPOPCNT inline std::uint64_t hamming_avx512(const unsigned char* a,
                                                                   const unsigned char* b,
                                                                   std::size_t bytes) noexcept {
    if (bytes % 8 != 0) return hamming_odd_avx512(a, b, bytes);
    if (bytes <= 64)  // one block: no block arithmetic on the way to the loads
        return compact_u64_sum512(_mm512_popcnt_epi64(
            _mm512_xor_si512(load_words512(a, bytes / 8), load_words512(b, bytes / 8))));
    return hamming_words512(a, b, bytes);
}

// The bit counts of q xor the first `words` (at most 8) words at p, per 64-bit lane.
EMBEDKIT_TARGET_AVX512_VPOPCNT inline __m512i xor_count512(__m512i q, const unsigned char* p,
                                                           std::size_t words) noexcept {
    return _mm512_popcnt_epi64(_mm512_xor_si512(q, load_words512(p, words)));
}

// [x0 + x1, x2 + x3, y0 + y1, y2 + y3] of the 128-bit blocks of x and y.
EMBEDKIT_TARGET_AVX512_VPOPCNT inline __m512i fold_blocks512(__m512i x, __m512i y) noexcept {
    return _mm512_add_epi64(_mm512_maskz_shuffle_i64x2(0xFF, x, y, 0x88),
                            _mm512_maskz_shuffle_i64x2(0xFF, x, y, 0xDD));
}
// Block k: (x_2k + x_2k+1, y_2k + y_2k+1).
EMBEDKIT_TARGET_AVX512_VPOPCNT inline __m512i pair_lanes512(__m512i x, __m512i y) noexcept {
    return _mm512_add_epi64(_mm512_maskz_unpacklo_epi64(0xFF, x, y),
                            _mm512_maskz_unpackhi_epi64(0xFF, x, y));
}

// Rows of whole 64-bit words: up to 64 bytes the query stays in one register and each row is
// one masked load, xor and count; eight rows at a time, their eight lane sums come out as the
// lanes of one vector (21 operations instead of eight reductions of eight). With the prefetch
// (alone it measured slower: the hardware prefetchers fell behind) a 1,000,000 x 384 scan went
// from 1.42 to 1.05 ms on Zen 5 (docs/BENCHMARKS.md).
// Longer rows as the pair kernel walks them (hamming_words512).
EMBEDKIT_TARGET_AVX512_VPOPCNT inline void hamming_many_avx512(const unsigned char* q,
                                                               const unsigned char* rows,
                                                               std::size_t nrows, std::size_t bytes,
                                                               float* out) noexcept {
    if (bytes % 8 != 0) return hamming_many_impl<true>(q, rows, nrows, bytes, out);
    const std::size_t words = bytes / 8;
    if (words <= 8) {
        const __m512i qv = load_words512(q, words);
        std::size_t r = 0;
        for (; r + 8 <= nrows; r += 8) {
            const unsigned char* p = rows + r * bytes;
            prefetch_row(p, 8 * bytes);
            const __m512i s01 =
                pair_lanes512(xor_count512(qv, p, words), xor_count512(qv, p + bytes, words));
            const __m512i s23 = pair_lanes512(xor_count512(qv, p + 2 * bytes, words),
                                              xor_count512(qv, p + 3 * bytes, words));
            const __m512i s45 = pair_lanes512(xor_count512(qv, p + 4 * bytes, words),
                                              xor_count512(qv, p + 5 * bytes, words));
            const __m512i s67 = pair_lanes512(xor_count512(qv, p + 6 * bytes, words),
                                              xor_count512(qv, p + 7 * bytes, words));
            const __m512i sums = fold_blocks512(fold_blocks512(s01, s23), fold_blocks512(s45, s67));
            _mm256_storeu_ps(out + r, _mm256_cvtepi32_ps(_mm512_maskz_cvtepi64_epi32(0xFF, sums)));
        }
        for (; r < nrows; ++r)
            out[r] =
                static_cast<float>(compact_u64_sum512(xor_count512(qv, rows + r * bytes, words)));
        return;
    }
    for (std::size_t r = 0; r < nrows; ++r) {
        const unsigned char* p = rows + r * bytes;
        if (nrows > 1) prefetch_row(p, bytes);
        out[r] = static_cast<float>(hamming_words512(q, p, bytes));
    }
}

// ---- VNNI: exact int8 code sums with VPDPBUSD (unsigned x signed bytes, four products into
// each 32-bit lane). a.b = sum (a_i + 128) b_i - 128 sum b_i: a_i + 128 is a's byte with its
// top bit flipped, read as unsigned, and sum b_i is VPDPBUSD against bytes of 1. A step adds
// at most 4 * 255 * 128 < 2^17 to a lane, so lanes are flushed into int64 every 2^13 steps;
// the last bytes (fewer than 64) go through the AVX2 kernels.

// The int32 lane sums of x, y and z as lanes 0-2, when each total and partial sum fits an int32
// lane: halves added down to four lanes, then two horizontal adds.
EMBEDKIT_TARGET_AVX512_VNNI inline __m128i lanes_to128_i32(__m512i v) noexcept {
    const __m256i h = _mm256_add_epi32(_mm512_maskz_extracti64x4_epi64(0xFF, v, 0),
                                       _mm512_maskz_extracti64x4_epi64(0xFF, v, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
EMBEDKIT_TARGET_AVX512_VNNI inline __m128i lane_sums3_i32(__m512i x, __m512i y,
                                                          __m512i z) noexcept {
    const __m128i xy = _mm_hadd_epi32(lanes_to128_i32(x), lanes_to128_i32(y));
    return _mm_hadd_epi32(xy, _mm_hadd_epi32(lanes_to128_i32(z), _mm_setzero_si128()));
}
// v - 128 sum, lane by lane (the VPDPBUSD offset form's correction).
EMBEDKIT_TARGET_AVX512_VNNI inline __m512i minus128_i32(__m512i v, __m512i sum) noexcept {
    return _mm512_sub_epi32(v, _mm512_maskz_slli_epi32(compact_all16, sum, 7));
}

// sum_lanes(x) - 128 sum_lanes(s) of two int32 accumulators of one flush block (each lane of
// x below 2^30 and of 128 s below 2^29 in magnitude, so x - 128 s fits an int32 lane), widened
// to int64 before the lanes are added.
EMBEDKIT_TARGET_AVX512_VNNI inline std::int64_t vnni_block_sum(__m512i x, __m512i s) noexcept {
    const __m512i d = minus128_i32(x, s);
    const __m512i lo =
        _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xFF, d, 0));
    const __m512i hi =
        _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xFF, d, 1));
    return static_cast<std::int64_t>(compact_u64_sum512(_mm512_add_epi64(lo, hi)));
}

inline constexpr std::size_t vnni_flush_bytes = std::size_t(64) << 13;

// Two accumulators of each kind over 128 bytes a step (VPDPBUSD's latency), 64 for the rest.
EMBEDKIT_TARGET_AVX512_VNNI inline std::int64_t int8_dot_codes_vnni(const unsigned char* a,
                                                                    const unsigned char* b,
                                                                    std::size_t n) noexcept {
    const __m512i flip = _mm512_set1_epi32(int(0x80808080u));
    const __m512i ones = _mm512_set1_epi32(0x01010101);
    std::int64_t s = 0;
    std::size_t i = 0;
    while (i + 64 <= n) {
        __m512i ab0 = _mm512_setzero_si512(), ab1 = ab0, sb0 = ab0, sb1 = ab0;
        const std::size_t end = i + vnni_flush_bytes < n ? i + vnni_flush_bytes : n;
        for (; i + 128 <= end; i += 128) {
            const __m512i y0 = compact_load512i(b + i), y1 = compact_load512i(b + i + 64);
            ab0 = _mm512_dpbusd_epi32(ab0, _mm512_xor_si512(compact_load512i(a + i), flip), y0);
            ab1 =
                _mm512_dpbusd_epi32(ab1, _mm512_xor_si512(compact_load512i(a + i + 64), flip), y1);
            sb0 = _mm512_dpbusd_epi32(sb0, ones, y0);
            sb1 = _mm512_dpbusd_epi32(sb1, ones, y1);
        }
        for (; i + 64 <= end; i += 64) {
            const __m512i y = compact_load512i(b + i);
            ab0 = _mm512_dpbusd_epi32(ab0, _mm512_xor_si512(compact_load512i(a + i), flip), y);
            sb0 = _mm512_dpbusd_epi32(sb0, ones, y);
        }
        s += vnni_block_sum(ab0, sb0) + vnni_block_sum(ab1, sb1);
    }
    return i < n ? s + int8_dot_codes_avx2(a + i, b + i, n - i) : s;
}

// The five int32 accumulators of int8_sums_vnni over bytes [i, end) (whole 64-byte steps):
// (a + 128).b, (a + 128).a, (b + 128).b, sum a, sum b.
struct VnniSums {
    __m512i ab, aa, bb, sa, sb;
};
EMBEDKIT_TARGET_AVX512_VNNI inline VnniSums vnni_sums(const unsigned char* a,
                                                      const unsigned char* b, std::size_t i,
                                                      std::size_t end) noexcept {
    const __m512i flip = _mm512_set1_epi32(int(0x80808080u));
    const __m512i ones = _mm512_set1_epi32(0x01010101);
    VnniSums v{_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
               _mm512_setzero_si512(), _mm512_setzero_si512()};
    for (; i + 64 <= end; i += 64) {
        const __m512i x = compact_load512i(a + i), y = compact_load512i(b + i);
        const __m512i xu = _mm512_xor_si512(x, flip), yu = _mm512_xor_si512(y, flip);
        v.ab = _mm512_dpbusd_epi32(v.ab, xu, y);
        v.aa = _mm512_dpbusd_epi32(v.aa, xu, x);
        v.bb = _mm512_dpbusd_epi32(v.bb, yu, y);
        v.sa = _mm512_dpbusd_epi32(v.sa, ones, x);
        v.sb = _mm512_dpbusd_epi32(v.sb, ones, y);
    }
    return v;
}

// Rows of whole 64-byte steps shorter than 2^16 bytes: every sum stays below 2^30 in magnitude
// (at most 2^16 products of at most 2^14), so one block of int32 lanes and one three-way
// reduction, without the int64 widening of vnni_block_sum (a 384-byte cosine: 14.1 ns
// before, 11.4 after, on Zen 5). Longer rows flush every vnni_flush_bytes.
EMBEDKIT_TARGET_AVX512_VNNI inline Int8Sums int8_sums_vnni(const unsigned char* a,
                                                           const unsigned char* b,
                                                           std::size_t n) noexcept {
    if (n < (std::size_t(1) << 16) && n % 64 == 0) {
        const VnniSums v = vnni_sums(a, b, 0, n);
        alignas(16) std::int32_t t[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(t),
                        lane_sums3_i32(minus128_i32(v.ab, v.sb), minus128_i32(v.aa, v.sa),
                                       minus128_i32(v.bb, v.sb)));
        return {t[0], t[1], t[2]};
    }
    Int8Sums s{0, 0, 0};
    std::size_t i = 0;
    while (i + 64 <= n) {
        const std::size_t end = (i + vnni_flush_bytes < n ? i + vnni_flush_bytes : n) / 64 * 64;
        const VnniSums v = vnni_sums(a, b, i, end);
        s.ab += vnni_block_sum(v.ab, v.sb);
        s.aa += vnni_block_sum(v.aa, v.sa);
        s.bb += vnni_block_sum(v.bb, v.sb);
        i = end;
    }
    if (i < n) {
        const Int8Sums t = int8_sums_avx2(a + i, b + i, n - i);
        s.ab += t.ab;
        s.aa += t.aa;
        s.bb += t.bb;
    }
    return s;
}
#endif

#if EMBEDKIT_ARCH_NEON
// ---- NEON (AArch64 Advanced SIMD, baseline): 8 values per step as two 4-float vectors. f16
// through the baseline half conversions, bf16 by widening shifts, int8 by widening moves and
// a conversion; int8 code sums with widening multiplies (exact 16-bit products) added
// pairwise into 32-bit lanes; bit counts with the byte count instruction.

struct F16Neon {
    using E = F16Elem;
    static constexpr std::size_t bytes = 2;
    static void load8(const unsigned char* p, float32x4_t& lo, float32x4_t& hi) noexcept {
        const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(p));
        lo = vcvt_f32_f16(vget_low_f16(h));
        hi = vcvt_high_f32_f16(h);
    }
};
struct Bf16Neon {
    using E = Bf16Elem;
    static constexpr std::size_t bytes = 2;
    static void load8(const unsigned char* p, float32x4_t& lo, float32x4_t& hi) noexcept {
        const uint16x8_t w = vreinterpretq_u16_u8(vld1q_u8(p));
        lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(w), 16));
        hi = vreinterpretq_f32_u32(vshll_high_n_u16(w, 16));
    }
};
struct Int8Neon {
    using E = Int8Elem;
    static constexpr std::size_t bytes = 1;
    static void load8(const unsigned char* p, float32x4_t& lo, float32x4_t& hi) noexcept {
        const int16x8_t w = vmovl_s8(vreinterpret_s8_u8(vld1_u8(p)));
        lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(w)));
        hi = vcvtq_f32_s32(vmovl_high_s16(w));
    }
};

// sum q_i d_i over one row: four accumulators over 16 values, then 8 at a time, then a tail.
template <class L>
inline float compact_dot_neon(const float* q, const unsigned char* p, std::size_t n) noexcept {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t d0, d1, d2, d3;
        L::load8(p + L::bytes * i, d0, d1);
        L::load8(p + L::bytes * (i + 8), d2, d3);
        a0 = vfmaq_f32(a0, vld1q_f32(q + i), d0);
        a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), d1);
        a2 = vfmaq_f32(a2, vld1q_f32(q + i + 8), d2);
        a3 = vfmaq_f32(a3, vld1q_f32(q + i + 12), d3);
    }
    for (; i + 8 <= n; i += 8) {
        float32x4_t d0, d1;
        L::load8(p + L::bytes * i, d0, d1);
        a0 = vfmaq_f32(a0, vld1q_f32(q + i), d0);
        a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), d1);
    }
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; ++i) s += q[i] * L::E::get(p, i);
    return s;
}

// sum (q_i - m_i d_i)^2, m_i = the row's scale (Scale 1), the dimension's (Scale 2) or 1.
template <class L, int Scale>
inline float compact_l2_neon(const float* q, const unsigned char* p, std::size_t n, float rs,
                             const float* ds) noexcept {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    const float32x4_t rsv = vdupq_n_f32(rs);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t d0, d1;
        L::load8(p + L::bytes * i, d0, d1);
        if constexpr (Scale == 1) {
            d0 = vmulq_f32(rsv, d0);
            d1 = vmulq_f32(rsv, d1);
        }
        if constexpr (Scale == 2) {
            d0 = vmulq_f32(vld1q_f32(ds + i), d0);
            d1 = vmulq_f32(vld1q_f32(ds + i + 4), d1);
        }
        const float32x4_t t0 = vsubq_f32(vld1q_f32(q + i), d0);
        const float32x4_t t1 = vsubq_f32(vld1q_f32(q + i + 4), d1);
        a0 = vfmaq_f32(a0, t0, t0);
        a1 = vfmaq_f32(a1, t1, t1);
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; ++i) {
        float d = L::E::get(p, i);
        if constexpr (Scale == 1) d *= rs;
        if constexpr (Scale == 2) d *= ds[i];
        const float t = q[i] - d;
        s += t * t;
    }
    return s;
}

template <class L>
inline void compact_dot_many_neon(const float* q, const unsigned char* rows, std::size_t nrows,
                                  std::size_t dim, const float* row_scale, const float*,
                                  float* out) noexcept {
    const std::size_t rb = L::bytes * dim;
    for (std::size_t r = 0; r < nrows; ++r) {
        const float s = compact_dot_neon<L>(q, rows + r * rb, dim);
        out[r] = row_scale != nullptr ? row_scale[r] * s : s;
    }
}

template <class L>
inline void compact_l2_many_neon(const float* q, const unsigned char* rows, std::size_t nrows,
                                 std::size_t dim, const float* row_scale, const float* dim_scale,
                                 float* out) noexcept {
    const std::size_t rb = L::bytes * dim;
    for (std::size_t r = 0; r < nrows; ++r) {
        const unsigned char* p = rows + r * rb;
        if (row_scale != nullptr)
            out[r] = compact_l2_neon<L, 1>(q, p, dim, row_scale[r], nullptr);
        else if (dim_scale != nullptr)
            out[r] = compact_l2_neon<L, 2>(q, p, dim, 1.0f, dim_scale);
        else
            out[r] = compact_l2_neon<L, 0>(q, p, dim, 1.0f, nullptr);
    }
}

template <class L>
inline float compact_pair_dot_neon(const unsigned char* a, const unsigned char* b,
                                   std::size_t n) noexcept {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t x0, x1, y0, y1;
        L::load8(a + L::bytes * i, x0, x1);
        L::load8(b + L::bytes * i, y0, y1);
        a0 = vfmaq_f32(a0, x0, y0);
        a1 = vfmaq_f32(a1, x1, y1);
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; ++i) s += L::E::get(a, i) * L::E::get(b, i);
    return s;
}

template <class L>
inline float compact_pair_l2_neon(const unsigned char* a, const unsigned char* b,
                                  std::size_t n) noexcept {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t x0, x1, y0, y1;
        L::load8(a + L::bytes * i, x0, x1);
        L::load8(b + L::bytes * i, y0, y1);
        const float32x4_t t0 = vsubq_f32(x0, y0), t1 = vsubq_f32(x1, y1);
        a0 = vfmaq_f32(a0, t0, t0);
        a1 = vfmaq_f32(a1, t1, t1);
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; ++i) {
        const float t = L::E::get(a, i) - L::E::get(b, i);
        s += t * t;
    }
    return s;
}

// a.b, a.a, b.b of int8 codes: 16 codes a step, products exact in 16 bits (vmull_s8), added
// pairwise into 32-bit lanes (vpadalq_s16: at most 2^15 per lane per call, two calls a step),
// flushed into int64 every 2^14 steps (a lane stays below 2^31).
inline constexpr std::size_t neon_int8_flush_bytes = std::size_t(16) << 14;

inline Int8Sums int8_sums_neon(const unsigned char* a, const unsigned char* b,
                               std::size_t n) noexcept {
    Int8Sums s{0, 0, 0};
    std::size_t i = 0;
    while (i + 16 <= n) {
        int32x4_t ab = vdupq_n_s32(0), aa = ab, bb = ab;
        const std::size_t end = i + neon_int8_flush_bytes < n ? i + neon_int8_flush_bytes : n;
        for (; i + 16 <= end; i += 16) {
            const int8x16_t x = vreinterpretq_s8_u8(vld1q_u8(a + i));
            const int8x16_t y = vreinterpretq_s8_u8(vld1q_u8(b + i));
            ab = vpadalq_s16(ab, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
            ab = vpadalq_s16(ab, vmull_high_s8(x, y));
            aa = vpadalq_s16(aa, vmull_s8(vget_low_s8(x), vget_low_s8(x)));
            aa = vpadalq_s16(aa, vmull_high_s8(x, x));
            bb = vpadalq_s16(bb, vmull_s8(vget_low_s8(y), vget_low_s8(y)));
            bb = vpadalq_s16(bb, vmull_high_s8(y, y));
        }
        s.ab += vaddlvq_s32(ab);
        s.aa += vaddlvq_s32(aa);
        s.bb += vaddlvq_s32(bb);
    }
    const Int8Sums t = int8_sums_scalar(a + i, b + i, n - i);
    s.ab += t.ab;
    s.aa += t.aa;
    s.bb += t.bb;
    return s;
}

inline std::int64_t int8_dot_codes_neon(const unsigned char* a, const unsigned char* b,
                                        std::size_t n) noexcept {
    std::int64_t s = 0;
    std::size_t i = 0;
    while (i + 16 <= n) {
        int32x4_t ab = vdupq_n_s32(0);
        const std::size_t end = i + neon_int8_flush_bytes < n ? i + neon_int8_flush_bytes : n;
        for (; i + 16 <= end; i += 16) {
            const int8x16_t x = vreinterpretq_s8_u8(vld1q_u8(a + i));
            const int8x16_t y = vreinterpretq_s8_u8(vld1q_u8(b + i));
            ab = vpadalq_s16(ab, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
            ab = vpadalq_s16(ab, vmull_high_s8(x, y));
        }
        s += vaddlvq_s32(ab);
    }
    return s + int8_dot_codes_scalar(a + i, b + i, n - i);
}

// Bits set in 16 bytes, as one number (at most 128).
inline std::uint64_t popcount16_neon(uint8x16_t v) noexcept { return vaddlvq_u8(vcntq_u8(v)); }

inline BitCounts bit_counts_neon(const unsigned char* a, const unsigned char* b,
                                 std::size_t bytes) noexcept {
    BitCounts c{0, 0, 0};
    std::size_t i = 0;
    for (; i + 16 <= bytes; i += 16) {
        const uint8x16_t x = vld1q_u8(a + i), y = vld1q_u8(b + i);
        c.both += popcount16_neon(vandq_u8(x, y));
        c.either += popcount16_neon(vorrq_u8(x, y));
    }
    const BitCounts t = bit_counts_impl<false>(a + i, b + i, bytes - i);
    c.both += t.both;
    c.either += t.either;
    c.differ = c.either - c.both;
    return c;
}

inline float jaccard_neon(const unsigned char* a, const unsigned char* b,
                          std::size_t bytes) noexcept {
    return jaccard_from(bit_counts_neon(a, b, bytes));
}

inline std::uint64_t hamming_neon(const unsigned char* q, const unsigned char* p,
                                  std::size_t bytes) noexcept {
    std::uint64_t d = 0;
    std::size_t i = 0;
    for (; i + 16 <= bytes; i += 16)
        d += popcount16_neon(veorq_u8(vld1q_u8(q + i), vld1q_u8(p + i)));
    for (; i < bytes; ++i) d += popcount8_portable(unsigned(q[i] ^ p[i]));
    return d;
}

inline void hamming_many_neon(const unsigned char* q, const unsigned char* rows, std::size_t nrows,
                              std::size_t bytes, float* out) noexcept {
    for (std::size_t r = 0; r < nrows; ++r) {
        const unsigned char* p = rows + r * bytes;
        prefetch_row(p, bytes);
        out[r] = static_cast<float>(hamming_neon(q, p, bytes));
    }
}
#endif

/// The compact kernels of a level on a CPU with features `f` (tests pass fewer features than
/// the CPU has, to run every table it could choose). AVX2 needs F16C and POPCNT as well (every
/// AVX2 CPU known has both; one without runs the scalar kernels). AVX-512 has 16-lane kernels
/// for f16, bf16 and int8 rows, its bit counts where VPOPCNTDQ is there (AVX2's otherwise), and
/// its exact int8 code sums with VNNI where the CPU has it (AVX2's otherwise), and its bf16
/// pair dot for rows without small values with AVX-512 BF16 (the exact one otherwise). NEON
/// has kernels of its own (baseline Advanced SIMD).
inline const CompactTable& compact_table(simd::Level level,
                                         const CpuFeatures& f = cpu_features()) noexcept {
    static const CompactTable scalar = {"scalar",
                                        &compact_dot_many_scalar<F16Elem>,
                                        &compact_l2_many_scalar<F16Elem>,
                                        &compact_dot_many_scalar<Bf16Elem>,
                                        &compact_l2_many_scalar<Bf16Elem>,
                                        &compact_dot_many_scalar<Int8Elem>,
                                        &compact_l2_many_scalar<Int8Elem>,
                                        &compact_pair_dot_scalar<F16Elem>,
                                        &compact_pair_l2_scalar<F16Elem>,
                                        &compact_pair_dot_scalar<Bf16Elem>,
                                        &compact_pair_l2_scalar<Bf16Elem>,
                                        &compact_pair_dot_scalar<Bf16Elem>,
                                        &int8_dot_codes_scalar,
                                        &int8_sums_scalar,
                                        &bit_counts_scalar,
                                        &jaccard_scalar,
                                        &hamming_scalar,
                                        &hamming_many_scalar};
#if EMBEDKIT_ARCH_X86
    static const CompactTable avx2 = {"avx2+f16c+popcnt",
                                      &compact_dot_many_avx2<F16Avx2>,
                                      &compact_l2_many_avx2<F16Avx2>,
                                      &compact_dot_many_avx2<Bf16Avx2>,
                                      &compact_l2_many_avx2<Bf16Avx2>,
                                      &compact_dot_many_avx2<Int8Avx2>,
                                      &compact_l2_many_avx2<Int8Avx2>,
                                      &compact_pair_dot_avx2<F16Avx2>,
                                      &compact_pair_l2_avx2<F16Avx2>,
                                      &compact_pair_dot_avx2<Bf16Avx2>,
                                      &compact_pair_l2_avx2<Bf16Avx2>,
                                      &compact_pair_dot_avx2<Bf16Avx2>,
                                      &int8_dot_codes_avx2,
                                      &int8_sums_avx2,
                                      &bit_counts_avx2,
                                      &jaccard_avx2,
                                      &hamming_avx2,
                                      &hamming_many_avx2};
    static const CompactTable avx512 = {"avx512",
                                        &compact_dot_many_avx512<F16Avx512>,
                                        &compact_l2_many_avx512<F16Avx512>,
                                        &compact_dot_many_avx512<Bf16Avx512>,
                                        &compact_l2_many_avx512<Bf16Avx512>,
                                        &compact_dot_many_avx512<Int8Avx512>,
                                        &compact_l2_many_avx512<Int8Avx512>,
                                        &compact_pair_dot_avx512<F16Avx512>,
                                        &compact_pair_l2_avx512<F16Avx512>,
                                        &bf16_pair_dot_avx512,
                                        &bf16_pair_l2_avx512,
                                        &bf16_pair_dot_avx512,
                                        &int8_dot_codes_avx2,
                                        &int8_sums_avx2,
                                        &bit_counts_avx2,
                                        &jaccard_avx2,
                                        &hamming_avx2,
                                        &hamming_many_avx2};
    // The AVX-512 tables by sub-feature: index VPOPCNTDQ + 2 VNNI + 4 BF16.
    static const auto avx512_sub = [] {
        static const char* const names[8] = {"avx512",           "avx512+vpopcntdq",
                                             "avx512+vnni",      "avx512+vpopcntdq+vnni",
                                             "avx512+bf16",      "avx512+vpopcntdq+bf16",
                                             "avx512+vnni+bf16", "avx512+vpopcntdq+vnni+bf16"};
        std::array<CompactTable, 8> out{};
        for (std::size_t k = 0; k < 8; ++k) {
            CompactTable t = avx512;
            t.name = names[k];
            if (k & 1u) {
                t.bit_counts = &bit_counts_avx512;
                t.jaccard = &jaccard_avx512;
                t.hamming = &hamming_avx512;
                t.hamming_many = &hamming_many_avx512;
            }
            if (k & 2u) {
                t.int8_dot_codes = &int8_dot_codes_vnni;
                t.int8_sums = &int8_sums_vnni;
            }
            if (k & 4u) t.bf16_pair_dot_normal = &bf16_pair_dot_dp512;
            out[k] = t;
        }
        return out;
    }();
    if (level == simd::Level::avx512 && f.avx512f && f.f16c && f.popcnt)
        return avx512_sub[(f.avx512vpopcntdq ? 1u : 0u) + (f.avx512vnni ? 2u : 0u) +
                          (f.avx512bf16 ? 4u : 0u)];
    if ((level == simd::Level::avx2 || level == simd::Level::avx512) && f.f16c && f.popcnt)
        return avx2;
#elif EMBEDKIT_ARCH_NEON
    static const CompactTable neon = {"neon",
                                      &compact_dot_many_neon<F16Neon>,
                                      &compact_l2_many_neon<F16Neon>,
                                      &compact_dot_many_neon<Bf16Neon>,
                                      &compact_l2_many_neon<Bf16Neon>,
                                      &compact_dot_many_neon<Int8Neon>,
                                      &compact_l2_many_neon<Int8Neon>,
                                      &compact_pair_dot_neon<F16Neon>,
                                      &compact_pair_l2_neon<F16Neon>,
                                      &compact_pair_dot_neon<Bf16Neon>,
                                      &compact_pair_l2_neon<Bf16Neon>,
                                      &compact_pair_dot_neon<Bf16Neon>,
                                      &int8_dot_codes_neon,
                                      &int8_sums_neon,
                                      &bit_counts_neon,
                                      &jaccard_neon,
                                      &hamming_neon,
                                      &hamming_many_neon};
    if (level == simd::Level::neon && f.neon) return neon;
#else
    (void)level;
    (void)f;
#endif
    return scalar;
}

/// The compact kernels in force (those of simd::active()).
inline const CompactTable& active_compact_table() noexcept { return compact_table(simd::active()); }

}  // namespace embedkit::detail
