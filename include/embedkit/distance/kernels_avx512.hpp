// AVX-512F kernels for the pair metrics (dot, l2_squared, l1, cosine parts), float and double.
#pragma once

#include "../core/config.hpp"

#if EMBEDKIT_ARCH_X86
#include "metric.hpp"

#include <immintrin.h>

#include <cstddef>

// Every function below carries EMBEDKIT_TARGET_AVX512, so this header compiles without -march
// and the dispatcher only calls it on CPUs with AVX-512F. Only AVX-512F intrinsics are used
// (no DQ/BW/VL): that is all the dispatcher checks for. GCC 12 builds the unmasked forms of
// several of them (_mm512_castps512_ps256, the extracts, shuffles, permutes and integer
// and/andnot) from an "undefined" vector that -Wall reports as uninitialised once inlined
// (GCC bug 105593), so their zero-masked forms with an all-ones mask are used instead: the
// same instruction, no warning. For the same reason full-width loads are zero-masked loads
// with an all-ones mask: GCC 12 models _mm512_loadu_ps/_pd as a dereference of a 64-byte
// object and, after inlining a call on a short fixed-size Eigen vector into -march=native code,
// reports -Warray-bounds for main-loop loads its range analysis failed to prove dead (they never
// run: the loop needs i + width <= n). The masked builtin is not modelled that way, and GCC
// emits the same plain vmovups for it (checked with objdump), so users building with AVX-512
// and -Werror see no false positive either.

namespace embedkit::detail {

// ---- Per-scalar building blocks: the same kernel templates below serve float and double.

template <class Scalar>
struct Avx512Ops;

template <>
struct Avx512Ops<float> {
    using Vec = __m512;
    using Mask = __mmask16;
    static constexpr std::size_t width = 16;

    EMBEDKIT_TARGET_AVX512 static Vec zero() noexcept { return _mm512_setzero_ps(); }
    EMBEDKIT_TARGET_AVX512 static Vec load(const float* p) noexcept {
        return _mm512_maskz_loadu_ps(0xFFFF, p);
    }
    /// Lanes [0, r) set, r <= width; the hardware suppresses faults on masked-off lanes.
    EMBEDKIT_TARGET_AVX512 static Mask first(std::size_t r) noexcept {
        return static_cast<Mask>((1u << r) - 1u);
    }
    EMBEDKIT_TARGET_AVX512 static Vec load(const float* p, Mask m) noexcept {
        return _mm512_maskz_loadu_ps(m, p);
    }
    EMBEDKIT_TARGET_AVX512 static Vec add(Vec x, Vec y) noexcept { return _mm512_add_ps(x, y); }
    EMBEDKIT_TARGET_AVX512 static Vec sub(Vec x, Vec y) noexcept { return _mm512_sub_ps(x, y); }
    EMBEDKIT_TARGET_AVX512 static Vec mul(Vec x, Vec y) noexcept { return _mm512_mul_ps(x, y); }
    EMBEDKIT_TARGET_AVX512 static Vec fmadd(Vec x, Vec y, Vec acc) noexcept {
        return _mm512_fmadd_ps(x, y, acc);
    }
    /// |x| by clearing the sign bit (andnot with -0.0): exact, and NaN stays NaN.
    EMBEDKIT_TARGET_AVX512 static Vec abs(Vec x) noexcept {
        const __m512i sign = _mm512_castps_si512(_mm512_set1_ps(-0.0f));
        const __m512i bits = _mm512_castps_si512(x);
        return _mm512_castsi512_ps(_mm512_maskz_andnot_epi32(0xFFFF, sign, bits));
    }
    /// Sum of the 16 lanes as a pairwise tree (512 -> 256 -> 128 -> 64 -> 32 bits).
    EMBEDKIT_TARGET_AVX512 static float sum(Vec x) noexcept {
        const __m512d xd = _mm512_castps_pd(x);
        const __m256 lo = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, xd, 0));
        const __m256 hi = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, xd, 1));
        const __m256 s8 = _mm256_add_ps(lo, hi);
        __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
        s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
        return _mm_cvtss_f32(s4);
    }
    /// The lane sums of three vectors at once (cosine's a.b, a.a, b.b): the same pairwise
    /// tree, but the three are packed into one register as they shrink, which takes about
    /// half the instructions of three separate sums.
    EMBEDKIT_TARGET_AVX512 static CosineParts<float> sum3(Vec ab, Vec aa, Vec bb) noexcept {
        // 512 -> 256 bits each: x = [ab: 8 | aa: 8], y = [bb: 8 | bb: 8].
        const Vec x = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(0xFFFF, ab, aa, 0x44),
                                    _mm512_maskz_shuffle_f32x4(0xFFFF, ab, aa, 0xEE));
        const Vec y = _mm512_add_ps(bb, _mm512_maskz_shuffle_f32x4(0xFFFF, bb, bb, 0x4E));
        // 256 -> 128 bits: z = [ab: 4 | aa: 4 | bb: 4 | bb: 4].
        Vec z = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(0xFFFF, x, y, 0x88),
                              _mm512_maskz_shuffle_f32x4(0xFFFF, x, y, 0xDD));
        // 128 -> 32 bits inside each 128-bit lane.
        z = _mm512_add_ps(z, _mm512_maskz_permute_ps(0xFFFF, z, 0x4E));
        z = _mm512_add_ps(z, _mm512_maskz_permute_ps(0xFFFF, z, 0xB1));
        return {_mm512_cvtss_f32(z), _mm_cvtss_f32(_mm512_maskz_extractf32x4_ps(0xF, z, 1)),
                _mm_cvtss_f32(_mm512_maskz_extractf32x4_ps(0xF, z, 2))};
    }
};

template <>
struct Avx512Ops<double> {
    using Vec = __m512d;
    using Mask = __mmask8;
    static constexpr std::size_t width = 8;

    EMBEDKIT_TARGET_AVX512 static Vec zero() noexcept { return _mm512_setzero_pd(); }
    EMBEDKIT_TARGET_AVX512 static Vec load(const double* p) noexcept {
        return _mm512_maskz_loadu_pd(0xFF, p);
    }
    /// Lanes [0, r) set, r <= width; the hardware suppresses faults on masked-off lanes.
    EMBEDKIT_TARGET_AVX512 static Mask first(std::size_t r) noexcept {
        return static_cast<Mask>((1u << r) - 1u);
    }
    EMBEDKIT_TARGET_AVX512 static Vec load(const double* p, Mask m) noexcept {
        return _mm512_maskz_loadu_pd(m, p);
    }
    EMBEDKIT_TARGET_AVX512 static Vec add(Vec x, Vec y) noexcept { return _mm512_add_pd(x, y); }
    EMBEDKIT_TARGET_AVX512 static Vec sub(Vec x, Vec y) noexcept { return _mm512_sub_pd(x, y); }
    EMBEDKIT_TARGET_AVX512 static Vec mul(Vec x, Vec y) noexcept { return _mm512_mul_pd(x, y); }
    EMBEDKIT_TARGET_AVX512 static Vec fmadd(Vec x, Vec y, Vec acc) noexcept {
        return _mm512_fmadd_pd(x, y, acc);
    }
    /// |x| by clearing the sign bit (andnot with -0.0): exact, and NaN stays NaN.
    EMBEDKIT_TARGET_AVX512 static Vec abs(Vec x) noexcept {
        const __m512i sign = _mm512_castpd_si512(_mm512_set1_pd(-0.0));
        const __m512i bits = _mm512_castpd_si512(x);
        return _mm512_castsi512_pd(_mm512_maskz_andnot_epi64(0xFF, sign, bits));
    }
    /// Sum of the 8 lanes as a pairwise tree (512 -> 256 -> 128 -> 64 bits).
    EMBEDKIT_TARGET_AVX512 static double sum(Vec x) noexcept {
        const __m256d lo = _mm512_maskz_extractf64x4_pd(0xFF, x, 0);
        const __m256d hi = _mm512_maskz_extractf64x4_pd(0xFF, x, 1);
        const __m256d s4 = _mm256_add_pd(lo, hi);
        __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
        s2 = _mm_add_sd(s2, _mm_unpackhi_pd(s2, s2));
        return _mm_cvtsd_f64(s2);
    }
    /// The lane sums of three vectors at once, packed as they shrink (see the float version).
    EMBEDKIT_TARGET_AVX512 static CosineParts<double> sum3(Vec ab, Vec aa, Vec bb) noexcept {
        // 512 -> 256 bits each: x = [ab: 4 | aa: 4], y = [bb: 4 | bb: 4].
        const Vec x = _mm512_add_pd(_mm512_maskz_shuffle_f64x2(0xFF, ab, aa, 0x44),
                                    _mm512_maskz_shuffle_f64x2(0xFF, ab, aa, 0xEE));
        const Vec y = _mm512_add_pd(bb, _mm512_maskz_shuffle_f64x2(0xFF, bb, bb, 0x4E));
        // 256 -> 128 bits: z = [ab: 2 | aa: 2 | bb: 2 | bb: 2].
        Vec z = _mm512_add_pd(_mm512_maskz_shuffle_f64x2(0xFF, x, y, 0x88),
                              _mm512_maskz_shuffle_f64x2(0xFF, x, y, 0xDD));
        // 128 -> 64 bits inside each 128-bit lane.
        z = _mm512_add_pd(z, _mm512_maskz_permute_pd(0xFF, z, 0x55));
        const __m512 zf = _mm512_castpd_ps(z);
        return {_mm512_cvtsd_f64(z),
                _mm_cvtsd_f64(_mm_castps_pd(_mm512_maskz_extractf32x4_ps(0xF, zf, 1))),
                _mm_cvtsd_f64(_mm_castps_pd(_mm512_maskz_extractf32x4_ps(0xF, zf, 2)))};
    }
};

// ---- What one pair of vectors adds to a running sum, per metric. term() starts a sum (the
// single-vector path), accumulate() extends one.

template <class Scalar>
struct DotAvx512 {
    using Ops = Avx512Ops<Scalar>;
    using Vec = typename Ops::Vec;
    EMBEDKIT_TARGET_AVX512 static Vec term(Vec x, Vec y) noexcept { return Ops::mul(x, y); }
    EMBEDKIT_TARGET_AVX512 static Vec accumulate(Vec acc, Vec x, Vec y) noexcept {
        return Ops::fmadd(x, y, acc);
    }
};

template <class Scalar>
struct L2SquaredAvx512 {
    using Ops = Avx512Ops<Scalar>;
    using Vec = typename Ops::Vec;
    EMBEDKIT_TARGET_AVX512 static Vec term(Vec x, Vec y) noexcept {
        const Vec d = Ops::sub(x, y);
        return Ops::mul(d, d);
    }
    EMBEDKIT_TARGET_AVX512 static Vec accumulate(Vec acc, Vec x, Vec y) noexcept {
        const Vec d = Ops::sub(x, y);
        return Ops::fmadd(d, d, acc);
    }
};

template <class Scalar>
struct L1Avx512 {
    using Ops = Avx512Ops<Scalar>;
    using Vec = typename Ops::Vec;
    EMBEDKIT_TARGET_AVX512 static Vec term(Vec x, Vec y) noexcept {
        return Ops::abs(Ops::sub(x, y));
    }
    EMBEDKIT_TARGET_AVX512 static Vec accumulate(Vec acc, Vec x, Vec y) noexcept {
        return Ops::add(acc, Ops::abs(Ops::sub(x, y)));
    }
};

// Inputs of at least this many vectors take the four-accumulator kernels (see below).
inline constexpr std::size_t avx512_long_vectors = 32;

// ---- Loop shape (dot, l2_squared and l1 share it through the Step policy above).
//  * n <= width: one masked load per input and straight to the reduction. Short vectors (dim
//    16 is one float vector) pay no loop set-up and no accumulator combining. The branch is
//    marked likely so that compilers lay this path out as the fall-through: it is only
//    ~20 instructions, and a taken branch into it measured ~25% slower at dim 16 (the
//    longer paths do not notice one more taken branch). A separate unmasked path for
//    n == width measured no faster.
//  * Long inputs (>= 32 vectors, pair_sum_long_avx512): four independent accumulators, 4
//    vectors per step. A zmm FMA has a latency of 4 cycles and two loads feed each one; at
//    two 512-bit loads per cycle one accumulator can be updated per cycle, so four chains
//    keep the loads busy. Two chains leave dot and l2_squared latency-bound: up to 1.25x
//    slower at dim 1536 (AMD Zen 5), about where Eigen's two-accumulator loop is.
//  * Shorter inputs (pair_sum_avx512): two accumulators, 2 vectors per step. Below a few
//    hundred elements the call costs more than the FMA chains, and this smaller loop with one
//    combining add measured 5-10% faster at dim 128 than the four-accumulator one.
//  * Then up to one whole vector per accumulator and a masked load for the last n % width
//    elements. Masked-off lanes read as 0 (they add nothing, and a NaN accumulator stays
//    NaN) and are never touched in memory, so nothing past n is read and there is no scalar
//    tail. Embedding sizes are nearly always multiples of 32 or 64, so this remainder is
//    marked unlikely: off the straight path, where it would cost taken branches.
//  * Accumulators are added pairwise, then reduced by a pairwise tree.

template <template <class> class Step, class Scalar>
EMBEDKIT_TARGET_AVX512 inline Scalar pair_sum_long_avx512(const Scalar* a, const Scalar* b,
                                                          std::size_t n) noexcept {
    using Ops = Avx512Ops<Scalar>;
    using Vec = typename Ops::Vec;
    using S = Step<Scalar>;
    constexpr std::size_t w = Ops::width;
    Vec s0 = Ops::zero();
    Vec s1 = Ops::zero();
    Vec s2 = Ops::zero();
    Vec s3 = Ops::zero();
    std::size_t i = 0;
    for (; i + 4 * w <= n; i += 4 * w) {
        s0 = S::accumulate(s0, Ops::load(a + i), Ops::load(b + i));
        s1 = S::accumulate(s1, Ops::load(a + i + w), Ops::load(b + i + w));
        s2 = S::accumulate(s2, Ops::load(a + i + 2 * w), Ops::load(b + i + 2 * w));
        s3 = S::accumulate(s3, Ops::load(a + i + 3 * w), Ops::load(b + i + 3 * w));
    }
    if (__builtin_expect(i < n, 0)) {
        if (i + 2 * w <= n) {
            s0 = S::accumulate(s0, Ops::load(a + i), Ops::load(b + i));
            s1 = S::accumulate(s1, Ops::load(a + i + w), Ops::load(b + i + w));
            i += 2 * w;
        }
        if (i + w <= n) {
            s2 = S::accumulate(s2, Ops::load(a + i), Ops::load(b + i));
            i += w;
        }
        if (i < n) {
            const typename Ops::Mask m = Ops::first(n - i);
            s3 = S::accumulate(s3, Ops::load(a + i, m), Ops::load(b + i, m));
        }
    }
    return Ops::sum(Ops::add(Ops::add(s0, s1), Ops::add(s2, s3)));
}

template <template <class> class Step, class Scalar>
[[gnu::always_inline]] EMBEDKIT_TARGET_AVX512 inline Scalar pair_sum_avx512(
    const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    using Ops = Avx512Ops<Scalar>;
    using Vec = typename Ops::Vec;
    using S = Step<Scalar>;
    constexpr std::size_t w = Ops::width;
    if (__builtin_expect(n <= w, 1)) {
        const typename Ops::Mask m = Ops::first(n);
        return Ops::sum(S::term(Ops::load(a, m), Ops::load(b, m)));
    }
    if (n >= avx512_long_vectors * w) return pair_sum_long_avx512<Step>(a, b, n);
    Vec s0 = Ops::zero();
    Vec s1 = Ops::zero();
    std::size_t i = 0;
    for (; i + 2 * w <= n; i += 2 * w) {
        s0 = S::accumulate(s0, Ops::load(a + i), Ops::load(b + i));
        s1 = S::accumulate(s1, Ops::load(a + i + w), Ops::load(b + i + w));
    }
    if (__builtin_expect(i < n, 0)) {
        if (i + w <= n) {
            s0 = S::accumulate(s0, Ops::load(a + i), Ops::load(b + i));
            i += w;
        }
        if (i < n) {
            const typename Ops::Mask m = Ops::first(n - i);
            s1 = S::accumulate(s1, Ops::load(a + i, m), Ops::load(b + i, m));
        }
    }
    return Ops::sum(Ops::add(s0, s1));
}

// Cosine: a.b, a.a and b.b in one pass over the data (each element is loaded once), with the
// same shape: 12 accumulators (4 sets of 3) for long inputs, 6 otherwise. Three FMAs per
// vector pair fill both FMA pipes, so each chain needs about four steps of slack at length.

template <class Scalar>
struct CosineSumsAvx512 {
    using Ops = Avx512Ops<Scalar>;
    using Vec = typename Ops::Vec;
    Vec ab;
    Vec aa;
    Vec bb;

    EMBEDKIT_TARGET_AVX512 static CosineSumsAvx512 zero() noexcept {
        return {Ops::zero(), Ops::zero(), Ops::zero()};
    }
    EMBEDKIT_TARGET_AVX512 void accumulate(Vec x, Vec y) noexcept {
        ab = Ops::fmadd(x, y, ab);
        aa = Ops::fmadd(x, x, aa);
        bb = Ops::fmadd(y, y, bb);
    }
    EMBEDKIT_TARGET_AVX512 void add(const CosineSumsAvx512& o) noexcept {
        ab = Ops::add(ab, o.ab);
        aa = Ops::add(aa, o.aa);
        bb = Ops::add(bb, o.bb);
    }
    EMBEDKIT_TARGET_AVX512 CosineParts<Scalar> reduce() const noexcept {
        return Ops::sum3(ab, aa, bb);
    }
};

template <class Scalar>
EMBEDKIT_TARGET_AVX512 inline CosineParts<Scalar> cosine_long_avx512(const Scalar* a,
                                                                     const Scalar* b,
                                                                     std::size_t n) noexcept {
    using Ops = Avx512Ops<Scalar>;
    using Sums = CosineSumsAvx512<Scalar>;
    constexpr std::size_t w = Ops::width;
    Sums s0 = Sums::zero();
    Sums s1 = Sums::zero();
    Sums s2 = Sums::zero();
    Sums s3 = Sums::zero();
    std::size_t i = 0;
    for (; i + 4 * w <= n; i += 4 * w) {
        s0.accumulate(Ops::load(a + i), Ops::load(b + i));
        s1.accumulate(Ops::load(a + i + w), Ops::load(b + i + w));
        s2.accumulate(Ops::load(a + i + 2 * w), Ops::load(b + i + 2 * w));
        s3.accumulate(Ops::load(a + i + 3 * w), Ops::load(b + i + 3 * w));
    }
    if (__builtin_expect(i < n, 0)) {
        if (i + 2 * w <= n) {
            s0.accumulate(Ops::load(a + i), Ops::load(b + i));
            s1.accumulate(Ops::load(a + i + w), Ops::load(b + i + w));
            i += 2 * w;
        }
        if (i + w <= n) {
            s2.accumulate(Ops::load(a + i), Ops::load(b + i));
            i += w;
        }
        if (i < n) {
            const typename Ops::Mask m = Ops::first(n - i);
            s3.accumulate(Ops::load(a + i, m), Ops::load(b + i, m));
        }
    }
    s0.add(s1);
    s2.add(s3);
    s0.add(s2);
    return s0.reduce();
}

template <class Scalar>
[[gnu::always_inline]] EMBEDKIT_TARGET_AVX512 inline CosineParts<Scalar> cosine_avx512_impl(
    const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    using Ops = Avx512Ops<Scalar>;
    using Vec = typename Ops::Vec;
    using Sums = CosineSumsAvx512<Scalar>;
    constexpr std::size_t w = Ops::width;
    if (__builtin_expect(n <= w, 1)) {
        const typename Ops::Mask m = Ops::first(n);
        const Vec x = Ops::load(a, m);
        const Vec y = Ops::load(b, m);
        return Ops::sum3(Ops::mul(x, y), Ops::mul(x, x), Ops::mul(y, y));
    }
    if (n >= avx512_long_vectors * w) return cosine_long_avx512(a, b, n);
    Sums s0 = Sums::zero();
    Sums s1 = Sums::zero();
    std::size_t i = 0;
    for (; i + 2 * w <= n; i += 2 * w) {
        s0.accumulate(Ops::load(a + i), Ops::load(b + i));
        s1.accumulate(Ops::load(a + i + w), Ops::load(b + i + w));
    }
    if (__builtin_expect(i < n, 0)) {
        if (i + w <= n) {
            s0.accumulate(Ops::load(a + i), Ops::load(b + i));
            i += w;
        }
        if (i < n) {
            const typename Ops::Mask m = Ops::first(n - i);
            s1.accumulate(Ops::load(a + i, m), Ops::load(b + i, m));
        }
    }
    s0.add(s1);
    return s0.reduce();
}

// ---- Entry points with the signature every level shares (plain function pointers in the
// kernel table). Attributed too; the templates above are always inlined into them. Each
// starts on a 64-byte boundary: they are entered through a pointer once per pair, and where
// the short path fell relative to the fetch blocks moved the dim-16 time by up to 15% from
// one build to the next.

[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX512 inline float dot_avx512(const float* a, const float* b,
                                                                    std::size_t n) noexcept {
    return pair_sum_avx512<DotAvx512>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX512 inline double dot_avx512(const double* a,
                                                                     const double* b,
                                                                     std::size_t n) noexcept {
    return pair_sum_avx512<DotAvx512>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX512 inline float l2_squared_avx512(const float* a,
                                                                           const float* b,
                                                                           std::size_t n) noexcept {
    return pair_sum_avx512<L2SquaredAvx512>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX512 inline double l2_squared_avx512(
    const double* a, const double* b, std::size_t n) noexcept {
    return pair_sum_avx512<L2SquaredAvx512>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX512 inline float l1_avx512(const float* a, const float* b,
                                                                   std::size_t n) noexcept {
    return pair_sum_avx512<L1Avx512>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX512 inline double l1_avx512(const double* a,
                                                                    const double* b,
                                                                    std::size_t n) noexcept {
    return pair_sum_avx512<L1Avx512>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX512 inline CosineParts<float> cosine_avx512(
    const float* a, const float* b, std::size_t n) noexcept {
    return cosine_avx512_impl(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX512 inline CosineParts<double> cosine_avx512(
    const double* a, const double* b, std::size_t n) noexcept {
    return cosine_avx512_impl(a, b, n);
}

}  // namespace embedkit::detail

#endif  // EMBEDKIT_ARCH_X86
