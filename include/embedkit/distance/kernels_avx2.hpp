// AVX2+FMA kernels for the pair metrics (dot, l2_squared, l1, cosine parts), float and double.
#pragma once

#include "../core/config.hpp"

#if EMBEDKIT_ARCH_X86
#include "metric.hpp"

#include <immintrin.h>

#include <cstddef>

// Every function below carries EMBEDKIT_TARGET_AVX2 (avx2 + fma), so this header compiles
// without -march and the dispatcher only calls it on CPUs with AVX2 and FMA.

namespace embedkit::detail {

// ---- Per-scalar building blocks: the same kernel templates below serve float and double.

template <class Scalar>
struct Avx2Ops;

template <>
struct Avx2Ops<float> {
    using Vec = __m256;
    static constexpr std::size_t width = 8;

    EMBEDKIT_TARGET_AVX2 static Vec zero() noexcept { return _mm256_setzero_ps(); }
    EMBEDKIT_TARGET_AVX2 static Vec load(const float* p) noexcept { return _mm256_loadu_ps(p); }
    EMBEDKIT_TARGET_AVX2 static Vec add(Vec x, Vec y) noexcept { return _mm256_add_ps(x, y); }
    EMBEDKIT_TARGET_AVX2 static Vec sub(Vec x, Vec y) noexcept { return _mm256_sub_ps(x, y); }
    EMBEDKIT_TARGET_AVX2 static Vec fmadd(Vec x, Vec y, Vec acc) noexcept {
        return _mm256_fmadd_ps(x, y, acc);
    }
    /// |x| by clearing the sign bit (andnot with -0.0): exact, and NaN stays NaN.
    EMBEDKIT_TARGET_AVX2 static Vec abs(Vec x) noexcept {
        return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    }
    EMBEDKIT_TARGET_AVX2 static float abs(float x) noexcept {
        return _mm_cvtss_f32(_mm_andnot_ps(_mm_set_ss(-0.0f), _mm_set_ss(x)));
    }
    /// Sum of the 8 lanes as a pairwise tree (256 -> 128 -> 64 -> 32 bits).
    EMBEDKIT_TARGET_AVX2 static float sum(Vec x) noexcept {
        __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
        s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
        return _mm_cvtss_f32(s4);
    }
};

template <>
struct Avx2Ops<double> {
    using Vec = __m256d;
    static constexpr std::size_t width = 4;

    EMBEDKIT_TARGET_AVX2 static Vec zero() noexcept { return _mm256_setzero_pd(); }
    EMBEDKIT_TARGET_AVX2 static Vec load(const double* p) noexcept { return _mm256_loadu_pd(p); }
    EMBEDKIT_TARGET_AVX2 static Vec add(Vec x, Vec y) noexcept { return _mm256_add_pd(x, y); }
    EMBEDKIT_TARGET_AVX2 static Vec sub(Vec x, Vec y) noexcept { return _mm256_sub_pd(x, y); }
    EMBEDKIT_TARGET_AVX2 static Vec fmadd(Vec x, Vec y, Vec acc) noexcept {
        return _mm256_fmadd_pd(x, y, acc);
    }
    /// |x| by clearing the sign bit (andnot with -0.0): exact, and NaN stays NaN.
    EMBEDKIT_TARGET_AVX2 static Vec abs(Vec x) noexcept {
        return _mm256_andnot_pd(_mm256_set1_pd(-0.0), x);
    }
    EMBEDKIT_TARGET_AVX2 static double abs(double x) noexcept {
        return _mm_cvtsd_f64(_mm_andnot_pd(_mm_set_sd(-0.0), _mm_set_sd(x)));
    }
    /// Sum of the 4 lanes as a pairwise tree (256 -> 128 -> 64 bits).
    EMBEDKIT_TARGET_AVX2 static double sum(Vec x) noexcept {
        __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd(x, 1));
        s2 = _mm_add_sd(s2, _mm_unpackhi_pd(s2, s2));
        return _mm_cvtsd_f64(s2);
    }
};

// ---- What one pair of vectors (or, in the scalar tail, of elements) adds to a running sum.

template <class Scalar>
struct DotAvx2 {
    using Ops = Avx2Ops<Scalar>;
    using Vec = typename Ops::Vec;
    EMBEDKIT_TARGET_AVX2 static Vec accumulate(Vec acc, Vec x, Vec y) noexcept {
        return Ops::fmadd(x, y, acc);
    }
    EMBEDKIT_TARGET_AVX2 static Scalar accumulate(Scalar acc, Scalar x, Scalar y) noexcept {
        return acc + x * y;
    }
};

template <class Scalar>
struct L2SquaredAvx2 {
    using Ops = Avx2Ops<Scalar>;
    using Vec = typename Ops::Vec;
    EMBEDKIT_TARGET_AVX2 static Vec accumulate(Vec acc, Vec x, Vec y) noexcept {
        const Vec d = Ops::sub(x, y);
        return Ops::fmadd(d, d, acc);
    }
    EMBEDKIT_TARGET_AVX2 static Scalar accumulate(Scalar acc, Scalar x, Scalar y) noexcept {
        const Scalar d = x - y;
        return acc + d * d;
    }
};

template <class Scalar>
struct L1Avx2 {
    using Ops = Avx2Ops<Scalar>;
    using Vec = typename Ops::Vec;
    EMBEDKIT_TARGET_AVX2 static Vec accumulate(Vec acc, Vec x, Vec y) noexcept {
        return Ops::add(acc, Ops::abs(Ops::sub(x, y)));
    }
    EMBEDKIT_TARGET_AVX2 static Scalar accumulate(Scalar acc, Scalar x, Scalar y) noexcept {
        return acc + Ops::abs(x - y);
    }
};

// ---- Loop shape (dot, l2_squared and l1 share it through the Step policy above).
//  * Four independent accumulators. An FMA has a latency of ~4 cycles and the core starts
//    one or two per cycle, so a single running sum would leave the units waiting on its own
//    result; four chains cover the latency at the rate the loads arrive (two chains ran dot
//    and l2_squared 1.2-1.4x slower at dim 768-1536, and l1 ~1.15x slower).
//  * 8 vectors per step, two per accumulator: with 256-bit vectors the loop-control uops
//    and the issue width, not the loads, limit l1; the longer step measured 10-15% faster for
//    l1 than 4 vectors per step and ~2% for dot and l2_squared (AMD Zen 5).
//  * Remainder: 4, 2 and 1 whole vectors, each into separate accumulators (no long dependent
//    chain), then the last n % width elements in a scalar tail: a full-width load there
//    would read past n.
//  * Accumulators are combined pairwise and reduced by a pairwise tree; the scalar tail (at
//    most width - 1 terms) is added last.
//  * Fewer than 4 vectors (e.g. dim 16): no loop, two accumulators, then the tail; this cut
//    the dim-16 time by 15-20% against entering the four-accumulator path. The branch is
//    marked likely only so that compilers lay this short path out as the fall-through (a
//    taken branch is a noticeable part of a call this small; the long paths do not notice
//    it). Below one vector width only the tail runs.

// The scalar tail: the first `left` (< width) elements of a and b, summed in order, in
// blocks of 4, 2 and 1. Not a loop, so the compiler does not vectorise it (a vectorised loop
// of at most 7 iterations brought a stack frame and register saves to every call), and not a
// switch, whose jump table cost an indirect jump even when there is no tail.
template <template <class> class Step, class Scalar>
EMBEDKIT_TARGET_AVX2 inline Scalar pair_tail_avx2(const Scalar* a, const Scalar* b,
                                                  std::size_t left) noexcept {
    using S = Step<Scalar>;
    static_assert(Avx2Ops<Scalar>::width <= 8, "the tail handles at most 7 elements");
    Scalar t = 0;
    if (left >= 4) {
        t = S::accumulate(t, a[0], b[0]);
        t = S::accumulate(t, a[1], b[1]);
        t = S::accumulate(t, a[2], b[2]);
        t = S::accumulate(t, a[3], b[3]);
        a += 4, b += 4, left -= 4;
    }
    if (left >= 2) {
        t = S::accumulate(t, a[0], b[0]);
        t = S::accumulate(t, a[1], b[1]);
        a += 2, b += 2, left -= 2;
    }
    if (left != 0) t = S::accumulate(t, a[0], b[0]);
    return t;
}

// The pointers advance with the data (constant offsets inside each block), which keeps the
// remainder code within the free registers: indexing by i made GCC save four callee-saved
// registers on every call.
template <template <class> class Step, class Scalar>
[[gnu::always_inline]] EMBEDKIT_TARGET_AVX2 inline Scalar pair_sum_avx2(const Scalar* a,
                                                                        const Scalar* b,
                                                                        std::size_t n) noexcept {
    using Ops = Avx2Ops<Scalar>;
    using Vec = typename Ops::Vec;
    using S = Step<Scalar>;
    constexpr std::size_t w = Ops::width;
    Scalar total = 0;
    std::size_t left = n;
    if (__builtin_expect(n < 4 * w, 1)) {
        // One to three vectors: no loop, and two sums are all there is to keep apart.
        if (__builtin_expect(n >= w, 1)) {
            Vec s0 = S::accumulate(Ops::zero(), Ops::load(a), Ops::load(b));
            Vec s1 = Ops::zero();
            a += w, b += w, left -= w;
            if (left >= w) {
                s1 = S::accumulate(s1, Ops::load(a), Ops::load(b));
                a += w, b += w, left -= w;
            }
            if (left >= w) {
                s0 = S::accumulate(s0, Ops::load(a), Ops::load(b));
                a += w, b += w, left -= w;
            }
            total = Ops::sum(Ops::add(s0, s1));
        }
    } else {
        Vec s0 = Ops::zero();
        Vec s1 = Ops::zero();
        Vec s2 = Ops::zero();
        Vec s3 = Ops::zero();
        for (; left >= 8 * w; left -= 8 * w, a += 8 * w, b += 8 * w) {
            s0 = S::accumulate(s0, Ops::load(a), Ops::load(b));
            s1 = S::accumulate(s1, Ops::load(a + w), Ops::load(b + w));
            s2 = S::accumulate(s2, Ops::load(a + 2 * w), Ops::load(b + 2 * w));
            s3 = S::accumulate(s3, Ops::load(a + 3 * w), Ops::load(b + 3 * w));
            s0 = S::accumulate(s0, Ops::load(a + 4 * w), Ops::load(b + 4 * w));
            s1 = S::accumulate(s1, Ops::load(a + 5 * w), Ops::load(b + 5 * w));
            s2 = S::accumulate(s2, Ops::load(a + 6 * w), Ops::load(b + 6 * w));
            s3 = S::accumulate(s3, Ops::load(a + 7 * w), Ops::load(b + 7 * w));
        }
        if (left >= 4 * w) {
            s0 = S::accumulate(s0, Ops::load(a), Ops::load(b));
            s1 = S::accumulate(s1, Ops::load(a + w), Ops::load(b + w));
            s2 = S::accumulate(s2, Ops::load(a + 2 * w), Ops::load(b + 2 * w));
            s3 = S::accumulate(s3, Ops::load(a + 3 * w), Ops::load(b + 3 * w));
            a += 4 * w, b += 4 * w, left -= 4 * w;
        }
        if (left >= 2 * w) {
            s0 = S::accumulate(s0, Ops::load(a), Ops::load(b));
            s1 = S::accumulate(s1, Ops::load(a + w), Ops::load(b + w));
            a += 2 * w, b += 2 * w, left -= 2 * w;
        }
        if (left >= w) {
            s2 = S::accumulate(s2, Ops::load(a), Ops::load(b));
            a += w, b += w, left -= w;
        }
        total = Ops::sum(Ops::add(Ops::add(s0, s1), Ops::add(s2, s3)));
    }
    // Embedding sizes are nearly always multiples of 8: keep the tail off the straight path.
    if (__builtin_expect(left != 0, 0)) total += pair_tail_avx2<Step>(a, b, left);
    return total;
}

// Cosine: a.b, a.a and b.b in one pass (each element loaded once). Three FMAs per vector pair
// keep both FMA pipes busy, so each chain needs about four steps of slack: 4 sets of 3 = 12
// accumulators, which with the loaded values just fits the 16 ymm registers without spills
// (measured 7-11% faster than 6 accumulators at dim 768-1536).

template <class Scalar>
struct CosineSumsAvx2 {
    using Ops = Avx2Ops<Scalar>;
    using Vec = typename Ops::Vec;
    Vec ab;
    Vec aa;
    Vec bb;

    EMBEDKIT_TARGET_AVX2 static CosineSumsAvx2 zero() noexcept {
        return {Ops::zero(), Ops::zero(), Ops::zero()};
    }
    EMBEDKIT_TARGET_AVX2 void accumulate(Vec x, Vec y) noexcept {
        ab = Ops::fmadd(x, y, ab);
        aa = Ops::fmadd(x, x, aa);
        bb = Ops::fmadd(y, y, bb);
    }
    EMBEDKIT_TARGET_AVX2 void add(const CosineSumsAvx2& o) noexcept {
        ab = Ops::add(ab, o.ab);
        aa = Ops::add(aa, o.aa);
        bb = Ops::add(bb, o.bb);
    }
};

// Cosine's scalar tail, the first `left` (< width) elements in order, in blocks of 4, 2 and 1
// for the reasons given at pair_tail_avx2.
template <class Scalar>
EMBEDKIT_TARGET_AVX2 inline void cosine_tail_step_avx2(CosineParts<Scalar>& t, Scalar x,
                                                       Scalar y) noexcept {
    t.ab += x * y;
    t.aa += x * x;
    t.bb += y * y;
}

template <class Scalar>
EMBEDKIT_TARGET_AVX2 inline CosineParts<Scalar> cosine_tail_avx2(const Scalar* a, const Scalar* b,
                                                                 std::size_t left) noexcept {
    static_assert(Avx2Ops<Scalar>::width <= 8, "the tail handles at most 7 elements");
    CosineParts<Scalar> t{0, 0, 0};
    if (left >= 4) {
        cosine_tail_step_avx2(t, a[0], b[0]);
        cosine_tail_step_avx2(t, a[1], b[1]);
        cosine_tail_step_avx2(t, a[2], b[2]);
        cosine_tail_step_avx2(t, a[3], b[3]);
        a += 4, b += 4, left -= 4;
    }
    if (left >= 2) {
        cosine_tail_step_avx2(t, a[0], b[0]);
        cosine_tail_step_avx2(t, a[1], b[1]);
        a += 2, b += 2, left -= 2;
    }
    if (left != 0) cosine_tail_step_avx2(t, a[0], b[0]);
    return t;
}

template <class Scalar>
[[gnu::always_inline]] EMBEDKIT_TARGET_AVX2 inline CosineParts<Scalar> cosine_avx2_impl(
    const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    using Ops = Avx2Ops<Scalar>;
    using Sums = CosineSumsAvx2<Scalar>;
    constexpr std::size_t w = Ops::width;
    CosineParts<Scalar> total{0, 0, 0};
    std::size_t left = n;
    if (__builtin_expect(n < 4 * w, 1)) {
        // One to three vectors: no loop, and two sets of sums are all there is to keep apart.
        if (__builtin_expect(n >= w, 1)) {
            Sums s0 = Sums::zero();
            Sums s1 = Sums::zero();
            s0.accumulate(Ops::load(a), Ops::load(b));
            a += w, b += w, left -= w;
            if (left >= w) {
                s1.accumulate(Ops::load(a), Ops::load(b));
                a += w, b += w, left -= w;
            }
            if (left >= w) {
                s0.accumulate(Ops::load(a), Ops::load(b));
                a += w, b += w, left -= w;
            }
            s0.add(s1);
            total = {Ops::sum(s0.ab), Ops::sum(s0.aa), Ops::sum(s0.bb)};
        }
    } else {
        Sums s0 = Sums::zero();
        Sums s1 = Sums::zero();
        Sums s2 = Sums::zero();
        Sums s3 = Sums::zero();
        for (; left >= 4 * w; left -= 4 * w, a += 4 * w, b += 4 * w) {
            s0.accumulate(Ops::load(a), Ops::load(b));
            s1.accumulate(Ops::load(a + w), Ops::load(b + w));
            s2.accumulate(Ops::load(a + 2 * w), Ops::load(b + 2 * w));
            s3.accumulate(Ops::load(a + 3 * w), Ops::load(b + 3 * w));
        }
        if (left >= 2 * w) {
            s0.accumulate(Ops::load(a), Ops::load(b));
            s1.accumulate(Ops::load(a + w), Ops::load(b + w));
            a += 2 * w, b += 2 * w, left -= 2 * w;
        }
        if (left >= w) {
            s2.accumulate(Ops::load(a), Ops::load(b));
            a += w, b += w, left -= w;
        }
        s0.add(s1);
        s2.add(s3);
        s0.add(s2);
        total = {Ops::sum(s0.ab), Ops::sum(s0.aa), Ops::sum(s0.bb)};
    }
    if (__builtin_expect(left != 0, 0)) {
        const CosineParts<Scalar> tail = cosine_tail_avx2(a, b, left);
        total = {total.ab + tail.ab, total.aa + tail.aa, total.bb + tail.bb};
    }
    return total;
}

// ---- Entry points with the signature every level shares (plain function pointers in the
// kernel table). Attributed too; the templates above are always inlined into them. Each
// starts on a 64-byte boundary: they are entered through a pointer once per pair, and where
// the short path fell relative to the fetch blocks moved the dim-16 time by up to 15% from
// one build to the next.

[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX2 inline float dot_avx2(const float* a, const float* b,
                                                                std::size_t n) noexcept {
    return pair_sum_avx2<DotAvx2>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX2 inline double dot_avx2(const double* a, const double* b,
                                                                 std::size_t n) noexcept {
    return pair_sum_avx2<DotAvx2>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX2 inline float l2_squared_avx2(const float* a,
                                                                       const float* b,
                                                                       std::size_t n) noexcept {
    return pair_sum_avx2<L2SquaredAvx2>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX2 inline double l2_squared_avx2(const double* a,
                                                                        const double* b,
                                                                        std::size_t n) noexcept {
    return pair_sum_avx2<L2SquaredAvx2>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX2 inline float l1_avx2(const float* a, const float* b,
                                                               std::size_t n) noexcept {
    return pair_sum_avx2<L1Avx2>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX2 inline double l1_avx2(const double* a, const double* b,
                                                                std::size_t n) noexcept {
    return pair_sum_avx2<L1Avx2>(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX2 inline CosineParts<float> cosine_avx2(
    const float* a, const float* b, std::size_t n) noexcept {
    return cosine_avx2_impl(a, b, n);
}
[[gnu::aligned(64)]] EMBEDKIT_TARGET_AVX2 inline CosineParts<double> cosine_avx2(
    const double* a, const double* b, std::size_t n) noexcept {
    return cosine_avx2_impl(a, b, n);
}

}  // namespace embedkit::detail

#endif  // EMBEDKIT_ARCH_X86
