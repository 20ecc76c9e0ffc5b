// The metrics, their names, and the numeric rules every kernel level shares (stated once).
//
// Rules (tested in tests/distance):
//  * l2 = sqrt(max(l2_squared, 0)).
//  * Length 0: dot, l1, l2, l2_squared are 0; cosine treats empty vectors as zero vectors.
//  * cosine_similarity = a.b / (|a| |b|), clamped to [-1, 1]; computed as
//    ab / (sqrt(aa) * sqrt(bb)), never forming aa*bb, so it is accurate whenever
//    aa = sum a_i^2 and bb = sum b_i^2 are finite normal numbers of the scalar type and no
//    product a_i*b_i, a_i^2, b_i^2 underflows to a subnormal.
//  * Zero vectors (aa == 0 or bb == 0): both zero -> similarity 1, distance 0;
//    exactly one zero -> similarity 0, distance 1. Never NaN.
//  * cosine_distance = 1 - cosine_similarity, clamped to [0, 2].
//  * Outside the accurate range: if aa or bb is not finite (an input is +-Inf or NaN, or the
//    sum of squares overflows) the similarity and distance are NaN. If a non-zero vector's
//    sum of squares underflows to 0 it is treated as a zero vector; if it is subnormal the
//    result loses relative accuracy (it stays within [-1, 1]).
//  * NaN in any input propagates to every metric (kernels never throw).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

namespace embedkit {

/// The five metrics of the batch and search functions. l1, l2 and l2_squared are distances
/// (smaller is closer); dot is the inner product and cosine the cosine similarity (larger is
/// closer).
enum class Metric : std::uint8_t { l1, l2, l2_squared, dot, cosine };

/// True for dot and cosine (similarities), false for the three distances.
constexpr bool larger_is_closer(Metric m) noexcept {
    return m == Metric::dot || m == Metric::cosine;
}

/// The metric's name as spelled in the API ("l1", "l2", "l2_squared", "dot", "cosine").
constexpr std::string_view metric_name(Metric m) noexcept {
    switch (m) {
        case Metric::l1:
            return "l1";
        case Metric::l2:
            return "l2";
        case Metric::l2_squared:
            return "l2_squared";
        case Metric::dot:
            return "dot";
        case Metric::cosine:
            return "cosine";
    }
    return "unknown";
}

/// The three sums a cosine kernel returns: a.b, a.a and b.b.
template <class Scalar>
struct CosineParts {
    Scalar ab;
    Scalar aa;
    Scalar bb;
};

namespace detail {

template <class Scalar>
inline Scalar finish_l2(Scalar squared) noexcept {
    // max(NaN, 0) keeps NaN: (NaN < 0) is false, so the NaN argument is returned.
    return std::sqrt(squared < Scalar(0) ? Scalar(0) : squared);
}

template <class Scalar>
inline Scalar finish_cosine_similarity(const CosineParts<Scalar>& p) noexcept {
    constexpr Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
    constexpr Scalar max = std::numeric_limits<Scalar>::max();
    // sqrt(aa)*sqrt(bb) cannot overflow or underflow to 0 while aa and bb are finite normals.
    const Scalar s = p.ab / (std::sqrt(p.aa) * std::sqrt(p.bb));
    // The common case in a handful of compares: both norms finite and non-zero, the result
    // already in [-1, 1] (NaN fails every comparison). Everything else takes the rules below,
    // which give the same value here.
    if (p.aa > Scalar(0) && p.aa <= max && p.bb > Scalar(0) && p.bb <= max && s >= Scalar(-1) &&
        s <= Scalar(1))
        return s;
    if (std::isnan(p.ab) || !std::isfinite(p.aa) || !std::isfinite(p.bb)) return nan;
    const bool a_zero = p.aa == Scalar(0);
    const bool b_zero = p.bb == Scalar(0);
    if (a_zero && b_zero) return Scalar(1);
    if (a_zero || b_zero) return Scalar(0);
    if (s > Scalar(1)) return Scalar(1);
    if (s < Scalar(-1)) return Scalar(-1);
    return s;
}

template <class Scalar>
inline Scalar finish_cosine_distance(const CosineParts<Scalar>& p) noexcept {
    const Scalar d = Scalar(1) - finish_cosine_similarity(p);
    // The similarity is already clamped, so d lies in [0, 2] or is NaN; the checks keep the
    // promise explicit should rounding of 1 - s ever step outside.
    if (d < Scalar(0)) return Scalar(0);
    if (d > Scalar(2)) return Scalar(2);
    return d;
}

}  // namespace detail
}  // namespace embedkit
