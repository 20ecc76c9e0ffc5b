// NEON (AArch64 Advanced SIMD) kernels for the pair metrics, float and double.
#pragma once

#include "../core/config.hpp"

#if EMBEDKIT_ARCH_NEON

#include "metric.hpp"

#include <arm_neon.h>

#include <cmath>
#include <cstddef>

namespace embedkit::detail {

// One 128-bit register per step: four floats or two doubles. The kernels below are written
// once over these few operations; the overloads pick the float32x4_t or float64x2_t intrinsic.
// NEON is baseline on AArch64, so no target attribute is needed.
template <class Scalar>
struct NeonVec;

template <>
struct NeonVec<float> {
    using Reg = float32x4_t;
    static constexpr std::size_t lanes = 4;
    static Reg zero() noexcept { return vdupq_n_f32(0.0f); }
    static Reg load(const float* p) noexcept { return vld1q_f32(p); }  // any alignment
    static Reg add(Reg x, Reg y) noexcept { return vaddq_f32(x, y); }
    static Reg sub(Reg x, Reg y) noexcept { return vsubq_f32(x, y); }
    static Reg fma(Reg acc, Reg x, Reg y) noexcept { return vfmaq_f32(acc, x, y); }  // acc + x*y
    static Reg absdiff(Reg x, Reg y) noexcept { return vabdq_f32(x, y); }            // |x - y|
    static float sum(Reg x) noexcept { return vaddvq_f32(x); }
};

template <>
struct NeonVec<double> {
    using Reg = float64x2_t;
    static constexpr std::size_t lanes = 2;
    static Reg zero() noexcept { return vdupq_n_f64(0.0); }
    static Reg load(const double* p) noexcept { return vld1q_f64(p); }
    static Reg add(Reg x, Reg y) noexcept { return vaddq_f64(x, y); }
    static Reg sub(Reg x, Reg y) noexcept { return vsubq_f64(x, y); }
    static Reg fma(Reg acc, Reg x, Reg y) noexcept { return vfmaq_f64(acc, x, y); }
    static Reg absdiff(Reg x, Reg y) noexcept { return vabdq_f64(x, y); }
    static double sum(Reg x) noexcept { return vaddvq_f64(x); }
};

// Loop shape. A vector FMA (or add) takes about 4 cycles on current AArch64 cores, which
// issue two per cycle; a single accumulator would make every step wait for the previous one.
// dot, l2_squared and l1 therefore keep four independent accumulators (enough to keep loads,
// not the dependency chain, the limit), cosine keeps two for each of its three sums (six
// chains in all). The partial sums are combined pairwise, (s0 + s1) + (s2 + s3), so each
// rounded sum covers only n / (lanes * chains) terms, like the scalar kernels' four sums.
// Loads are unaligned; after the vector loops a scalar tail handles the last n % lanes
// elements, so nothing past a[n - 1] or b[n - 1] is ever read. NaN propagates through every
// operation used (FMA, subtraction, absolute difference, horizontal add).

template <class Scalar>
inline Scalar dot_neon_impl(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    using V = NeonVec<Scalar>;
    constexpr std::size_t w = V::lanes;
    typename V::Reg s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
    std::size_t i = 0;
    for (; i + 4 * w <= n; i += 4 * w) {
        s0 = V::fma(s0, V::load(a + i), V::load(b + i));
        s1 = V::fma(s1, V::load(a + i + w), V::load(b + i + w));
        s2 = V::fma(s2, V::load(a + i + 2 * w), V::load(b + i + 2 * w));
        s3 = V::fma(s3, V::load(a + i + 3 * w), V::load(b + i + 3 * w));
    }
    for (; i + w <= n; i += w) s0 = V::fma(s0, V::load(a + i), V::load(b + i));
    Scalar s = V::sum(V::add(V::add(s0, s1), V::add(s2, s3)));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

template <class Scalar>
inline Scalar l2_squared_neon_impl(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    using V = NeonVec<Scalar>;
    constexpr std::size_t w = V::lanes;
    typename V::Reg s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
    std::size_t i = 0;
    for (; i + 4 * w <= n; i += 4 * w) {
        const typename V::Reg d0 = V::sub(V::load(a + i), V::load(b + i));
        const typename V::Reg d1 = V::sub(V::load(a + i + w), V::load(b + i + w));
        const typename V::Reg d2 = V::sub(V::load(a + i + 2 * w), V::load(b + i + 2 * w));
        const typename V::Reg d3 = V::sub(V::load(a + i + 3 * w), V::load(b + i + 3 * w));
        s0 = V::fma(s0, d0, d0);
        s1 = V::fma(s1, d1, d1);
        s2 = V::fma(s2, d2, d2);
        s3 = V::fma(s3, d3, d3);
    }
    for (; i + w <= n; i += w) {
        const typename V::Reg d = V::sub(V::load(a + i), V::load(b + i));
        s0 = V::fma(s0, d, d);
    }
    Scalar s = V::sum(V::add(V::add(s0, s1), V::add(s2, s3)));
    for (; i < n; ++i) {
        const Scalar d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

template <class Scalar>
inline Scalar l1_neon_impl(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    using V = NeonVec<Scalar>;
    constexpr std::size_t w = V::lanes;
    typename V::Reg s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
    std::size_t i = 0;
    for (; i + 4 * w <= n; i += 4 * w) {
        // FABD computes |a - b| in one instruction (rounded once, like std::abs(a - b)).
        s0 = V::add(s0, V::absdiff(V::load(a + i), V::load(b + i)));
        s1 = V::add(s1, V::absdiff(V::load(a + i + w), V::load(b + i + w)));
        s2 = V::add(s2, V::absdiff(V::load(a + i + 2 * w), V::load(b + i + 2 * w)));
        s3 = V::add(s3, V::absdiff(V::load(a + i + 3 * w), V::load(b + i + 3 * w)));
    }
    for (; i + w <= n; i += w) s0 = V::add(s0, V::absdiff(V::load(a + i), V::load(b + i)));
    Scalar s = V::sum(V::add(V::add(s0, s1), V::add(s2, s3)));
    for (; i < n; ++i) {
        const Scalar d = a[i] - b[i];
        s += std::abs(d);
    }
    return s;
}

// One pass over a and b for all three sums: each element is loaded once, which is what makes
// cosine cheaper than three separate reductions.
template <class Scalar>
inline CosineParts<Scalar> cosine_neon_impl(const Scalar* a, const Scalar* b,
                                            std::size_t n) noexcept {
    using V = NeonVec<Scalar>;
    constexpr std::size_t w = V::lanes;
    typename V::Reg ab0 = V::zero(), ab1 = V::zero();
    typename V::Reg aa0 = V::zero(), aa1 = V::zero();
    typename V::Reg bb0 = V::zero(), bb1 = V::zero();
    std::size_t i = 0;
    for (; i + 2 * w <= n; i += 2 * w) {
        const typename V::Reg x0 = V::load(a + i);
        const typename V::Reg y0 = V::load(b + i);
        const typename V::Reg x1 = V::load(a + i + w);
        const typename V::Reg y1 = V::load(b + i + w);
        ab0 = V::fma(ab0, x0, y0);
        aa0 = V::fma(aa0, x0, x0);
        bb0 = V::fma(bb0, y0, y0);
        ab1 = V::fma(ab1, x1, y1);
        aa1 = V::fma(aa1, x1, x1);
        bb1 = V::fma(bb1, y1, y1);
    }
    for (; i + w <= n; i += w) {
        const typename V::Reg x = V::load(a + i);
        const typename V::Reg y = V::load(b + i);
        ab0 = V::fma(ab0, x, y);
        aa0 = V::fma(aa0, x, x);
        bb0 = V::fma(bb0, y, y);
    }
    CosineParts<Scalar> p{V::sum(V::add(ab0, ab1)), V::sum(V::add(aa0, aa1)),
                          V::sum(V::add(bb0, bb1))};
    for (; i < n; ++i) {
        p.ab += a[i] * b[i];
        p.aa += a[i] * a[i];
        p.bb += b[i] * b[i];
    }
    return p;
}

// Non-template entry points with the signature the kernel table stores.
inline float dot_neon(const float* a, const float* b, std::size_t n) noexcept {
    return dot_neon_impl(a, b, n);
}
inline double dot_neon(const double* a, const double* b, std::size_t n) noexcept {
    return dot_neon_impl(a, b, n);
}
inline float l2_squared_neon(const float* a, const float* b, std::size_t n) noexcept {
    return l2_squared_neon_impl(a, b, n);
}
inline double l2_squared_neon(const double* a, const double* b, std::size_t n) noexcept {
    return l2_squared_neon_impl(a, b, n);
}
inline float l1_neon(const float* a, const float* b, std::size_t n) noexcept {
    return l1_neon_impl(a, b, n);
}
inline double l1_neon(const double* a, const double* b, std::size_t n) noexcept {
    return l1_neon_impl(a, b, n);
}
inline CosineParts<float> cosine_neon(const float* a, const float* b, std::size_t n) noexcept {
    return cosine_neon_impl(a, b, n);
}
inline CosineParts<double> cosine_neon(const double* a, const double* b, std::size_t n) noexcept {
    return cosine_neon_impl(a, b, n);
}

}  // namespace embedkit::detail

#endif  // EMBEDKIT_ARCH_NEON
