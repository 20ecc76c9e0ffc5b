// Portable scalar kernels for the pair metrics, float and double: the definition every SIMD
// level must match, and the fallback on CPUs without one.
#pragma once

#include "metric.hpp"

#include <cmath>
#include <cstddef>

namespace embedkit::detail {

// Four independent accumulators, combined pairwise at the end: the same summation shape as
// the SIMD levels (several partial sums), which halves the rounding-error growth of one
// running sum and lets the compiler overlap the additions.

template <class Scalar>
inline Scalar dot_scalar_impl(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    Scalar s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; ++i) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

template <class Scalar>
inline Scalar l2_squared_scalar_impl(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    Scalar s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const Scalar d0 = a[i] - b[i];
        const Scalar d1 = a[i + 1] - b[i + 1];
        const Scalar d2 = a[i + 2] - b[i + 2];
        const Scalar d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < n; ++i) {
        const Scalar d = a[i] - b[i];
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

template <class Scalar>
inline Scalar l1_scalar_impl(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    Scalar s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += std::abs(a[i] - b[i]);
        s1 += std::abs(a[i + 1] - b[i + 1]);
        s2 += std::abs(a[i + 2] - b[i + 2]);
        s3 += std::abs(a[i + 3] - b[i + 3]);
    }
    for (; i < n; ++i) s0 += std::abs(a[i] - b[i]);
    return (s0 + s1) + (s2 + s3);
}

template <class Scalar>
inline CosineParts<Scalar> cosine_scalar_impl(const Scalar* a, const Scalar* b,
                                              std::size_t n) noexcept {
    Scalar ab0 = 0, ab1 = 0, aa0 = 0, aa1 = 0, bb0 = 0, bb1 = 0;
    std::size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        ab0 += a[i] * b[i];
        aa0 += a[i] * a[i];
        bb0 += b[i] * b[i];
        ab1 += a[i + 1] * b[i + 1];
        aa1 += a[i + 1] * a[i + 1];
        bb1 += b[i + 1] * b[i + 1];
    }
    if (i < n) {
        ab0 += a[i] * b[i];
        aa0 += a[i] * a[i];
        bb0 += b[i] * b[i];
    }
    return {ab0 + ab1, aa0 + aa1, bb0 + bb1};
}

// Non-template entry points with the signature every level shares, so the kernel table holds
// plain function pointers.
inline float dot_scalar(const float* a, const float* b, std::size_t n) noexcept {
    return dot_scalar_impl(a, b, n);
}
inline double dot_scalar(const double* a, const double* b, std::size_t n) noexcept {
    return dot_scalar_impl(a, b, n);
}
inline float l2_squared_scalar(const float* a, const float* b, std::size_t n) noexcept {
    return l2_squared_scalar_impl(a, b, n);
}
inline double l2_squared_scalar(const double* a, const double* b, std::size_t n) noexcept {
    return l2_squared_scalar_impl(a, b, n);
}
inline float l1_scalar(const float* a, const float* b, std::size_t n) noexcept {
    return l1_scalar_impl(a, b, n);
}
inline double l1_scalar(const double* a, const double* b, std::size_t n) noexcept {
    return l1_scalar_impl(a, b, n);
}
inline CosineParts<float> cosine_scalar(const float* a, const float* b, std::size_t n) noexcept {
    return cosine_scalar_impl(a, b, n);
}
inline CosineParts<double> cosine_scalar(const double* a, const double* b, std::size_t n) noexcept {
    return cosine_scalar_impl(a, b, n);
}

}  // namespace embedkit::detail
