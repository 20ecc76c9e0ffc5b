// The six pair functions (dot, l2_squared, l2, l1, cosine_similarity, cosine_distance) on raw
// pointers and on Eigen vectors, dispatched to the active SIMD level.
#pragma once

#include "../core/error.hpp"
#include "../core/types.hpp"
#include "dispatch.hpp"
#include "metric.hpp"

#include <Eigen/Core>
#include <cstddef>
#include <string>
#include <type_traits>

namespace embedkit {

namespace detail {

// One pair kernel through the active level: inlined directly when the active level is the one
// this translation unit was compiled for (see EMBEDKIT_STATIC_LEVEL), else through the table.
#if defined(EMBEDKIT_STATIC_LEVEL)
#define EMBEDKIT_PAIR_KERNEL(S, NAME, a, b, n)               \
    (EMBEDKIT_LIKELY(simd::detail::static_level_active<S>()) \
         ? simd::detail::static_##NAME<S>(a, b, n)           \
         : simd::detail::active_table<S>().NAME(a, b, n))
#else
#define EMBEDKIT_PAIR_KERNEL(S, NAME, a, b, n) simd::detail::active_table<S>().NAME(a, b, n)
#endif

}  // namespace detail

// The pair functions' bodies depend on EMBEDKIT_STATIC_LEVEL: see EMBEDKIT_LEVEL_NAMESPACE.
inline namespace EMBEDKIT_LEVEL_NAMESPACE {

// ---- Pointer forms: a and b each address n elements (any alignment). noexcept, no checks.

/// Inner product sum a_i b_i.
inline float dot(const float* a, const float* b, std::size_t n) noexcept {
    return EMBEDKIT_PAIR_KERNEL(float, dot, a, b, n);
}
inline double dot(const double* a, const double* b, std::size_t n) noexcept {
    return EMBEDKIT_PAIR_KERNEL(double, dot, a, b, n);
}

/// Squared Euclidean distance sum (a_i - b_i)^2.
inline float l2_squared(const float* a, const float* b, std::size_t n) noexcept {
    return EMBEDKIT_PAIR_KERNEL(float, l2_squared, a, b, n);
}
inline double l2_squared(const double* a, const double* b, std::size_t n) noexcept {
    return EMBEDKIT_PAIR_KERNEL(double, l2_squared, a, b, n);
}

/// Euclidean distance sqrt(l2_squared).
inline float l2(const float* a, const float* b, std::size_t n) noexcept {
    return detail::finish_l2(l2_squared(a, b, n));
}
inline double l2(const double* a, const double* b, std::size_t n) noexcept {
    return detail::finish_l2(l2_squared(a, b, n));
}

/// Manhattan distance sum |a_i - b_i|.
inline float l1(const float* a, const float* b, std::size_t n) noexcept {
    return EMBEDKIT_PAIR_KERNEL(float, l1, a, b, n);
}
inline double l1(const double* a, const double* b, std::size_t n) noexcept {
    return EMBEDKIT_PAIR_KERNEL(double, l1, a, b, n);
}

/// Cosine similarity in [-1, 1]; zero vectors as documented in metric.hpp (never NaN for
/// finite inputs).
inline float cosine_similarity(const float* a, const float* b, std::size_t n) noexcept {
    return detail::finish_cosine_similarity(EMBEDKIT_PAIR_KERNEL(float, cosine, a, b, n));
}
inline double cosine_similarity(const double* a, const double* b, std::size_t n) noexcept {
    return detail::finish_cosine_similarity(EMBEDKIT_PAIR_KERNEL(double, cosine, a, b, n));
}

/// Cosine distance 1 - cosine_similarity, in [0, 2].
inline float cosine_distance(const float* a, const float* b, std::size_t n) noexcept {
    return detail::finish_cosine_distance(EMBEDKIT_PAIR_KERNEL(float, cosine, a, b, n));
}
inline double cosine_distance(const double* a, const double* b, std::size_t n) noexcept {
    return detail::finish_cosine_distance(EMBEDKIT_PAIR_KERNEL(double, cosine, a, b, n));
}

#undef EMBEDKIT_PAIR_KERNEL

}  // namespace EMBEDKIT_LEVEL_NAMESPACE

namespace detail {

// A contiguous view of a vector expression: maps vectors with unit inner stride (no copy),
// evaluates anything else (sums, strided columns of a row-major matrix) into a temporary.
template <class Scalar>
using ContiguousVector = Eigen::Ref<const Vector<Scalar>, 0, Eigen::InnerStride<1>>;

template <class DA, class DB>
inline void check_pair(const char* fn, const Eigen::MatrixBase<DA>& a,
                       const Eigen::MatrixBase<DB>& b) {
    using SA = typename DA::Scalar;
    using SB = typename DB::Scalar;
    static_assert(std::is_same_v<SA, SB>,
                  "embedkit: both vectors must have the same scalar type (float or double)");
    static_assert(is_supported_scalar_v<SA>,
                  "embedkit: distance functions support float and double vectors only");
    static_assert(DA::IsVectorAtCompileTime && DB::IsVectorAtCompileTime,
                  "embedkit: distance functions take vectors (a VectorX, a row of a RowMatrix, "
                  "a segment or an expression of one); for sets use distances/pairwise/top_k");
    if (a.size() != b.size())
        throw DimensionError(std::string("embedkit::") + fn +
                             ": vectors have different sizes (a: " + std::to_string(a.size()) +
                             ", b: " + std::to_string(b.size()) + ")");
}

// Returned as a prvalue (guaranteed elision in C++17): a copied Ref would not carry its
// evaluated temporary along.
template <class D>
inline ContiguousVector<typename D::Scalar> contiguous(const Eigen::MatrixBase<D>& v) {
    // Ref<const VectorX> binds row vectors too; a transpose keeps column-vector shape.
    if constexpr (D::ColsAtCompileTime == 1)
        return ContiguousVector<typename D::Scalar>(v.derived());
    else
        return ContiguousVector<typename D::Scalar>(v.derived().transpose());
}

}  // namespace detail

inline namespace EMBEDKIT_LEVEL_NAMESPACE {

// ---- Eigen forms: any dense vector or vector expression; same scalar on both sides
// (compile-time); throws DimensionError if the sizes differ.

#define EMBEDKIT_DEFINE_EIGEN_PAIR(NAME)                                        \
    template <class DA, class DB>                                               \
    inline typename DA::Scalar NAME(const Eigen::MatrixBase<DA>& a,             \
                                    const Eigen::MatrixBase<DB>& b) {           \
        detail::check_pair(#NAME, a, b);                                        \
        const auto ca = detail::contiguous(a);                                  \
        const auto cb = detail::contiguous(b);                                  \
        return NAME(ca.data(), cb.data(), static_cast<std::size_t>(ca.size())); \
    }

/// dot(a, b) on Eigen vectors; see the pointer form.
EMBEDKIT_DEFINE_EIGEN_PAIR(dot)
/// l2_squared(a, b) on Eigen vectors.
EMBEDKIT_DEFINE_EIGEN_PAIR(l2_squared)
/// l2(a, b) on Eigen vectors.
EMBEDKIT_DEFINE_EIGEN_PAIR(l2)
/// l1(a, b) on Eigen vectors.
EMBEDKIT_DEFINE_EIGEN_PAIR(l1)
/// cosine_similarity(a, b) on Eigen vectors.
EMBEDKIT_DEFINE_EIGEN_PAIR(cosine_similarity)
/// cosine_distance(a, b) on Eigen vectors.
EMBEDKIT_DEFINE_EIGEN_PAIR(cosine_distance)

#undef EMBEDKIT_DEFINE_EIGEN_PAIR

}  // namespace EMBEDKIT_LEVEL_NAMESPACE

}  // namespace embedkit
