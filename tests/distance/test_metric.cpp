// metric.hpp: names, larger_is_closer, and the finishing rules every level shares
// (l2 from l2_squared, cosine from its three sums: zero vectors, clamping, NaN, range).
#include "distance_test_util.hpp"

#include <embedkit/distance/metric.hpp>
#include <embedkit/distance/pair.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string_view>

namespace {

using embedkit::CosineParts;
using embedkit::Metric;
using embedkit::detail::finish_cosine_distance;
using embedkit::detail::finish_cosine_similarity;
using embedkit::detail::finish_l2;

constexpr Metric all_metrics_enum[] = {Metric::l1, Metric::l2, Metric::l2_squared, Metric::dot,
                                       Metric::cosine};

// Usable in constant expressions.
static_assert(embedkit::metric_name(Metric::l2_squared) == "l2_squared");
static_assert(embedkit::larger_is_closer(Metric::cosine));
static_assert(!embedkit::larger_is_closer(Metric::l1));

TEST_CASE("metric: names as spelled in the API, all distinct") {
    CHECK(embedkit::metric_name(Metric::l1) == "l1");
    CHECK(embedkit::metric_name(Metric::l2) == "l2");
    CHECK(embedkit::metric_name(Metric::l2_squared) == "l2_squared");
    CHECK(embedkit::metric_name(Metric::dot) == "dot");
    CHECK(embedkit::metric_name(Metric::cosine) == "cosine");
    std::set<std::string_view> names;
    for (Metric m : all_metrics_enum) names.insert(embedkit::metric_name(m));
    CHECK(names.size() == 5);
}

TEST_CASE("metric: similarities are larger-is-closer, distances smaller-is-closer") {
    CHECK(embedkit::larger_is_closer(Metric::dot));
    CHECK(embedkit::larger_is_closer(Metric::cosine));
    CHECK_FALSE(embedkit::larger_is_closer(Metric::l1));
    CHECK_FALSE(embedkit::larger_is_closer(Metric::l2));
    CHECK_FALSE(embedkit::larger_is_closer(Metric::l2_squared));
}

TEST_CASE_TEMPLATE("metric: l2 = sqrt(max(l2_squared, 0)), NaN kept", Scalar, float, double) {
    using limits = std::numeric_limits<Scalar>;
    CHECK(finish_l2(Scalar(4)) == Scalar(2));
    CHECK(finish_l2(Scalar(2)) == std::sqrt(Scalar(2)));
    CHECK(finish_l2(Scalar(0)) == Scalar(0));
    CHECK(finish_l2(-Scalar(0)) == Scalar(0));
    CHECK(finish_l2(-limits::epsilon()) == Scalar(0));
    CHECK(finish_l2(-limits::infinity()) == Scalar(0));
    CHECK(finish_l2(limits::infinity()) == limits::infinity());
    CHECK(std::isnan(finish_l2(limits::quiet_NaN())));
    CHECK(finish_l2(limits::denorm_min()) == std::sqrt(limits::denorm_min()));
    CHECK(finish_l2(limits::max()) == std::sqrt(limits::max()));
}

TEST_CASE_TEMPLATE("metric: cosine of zero vectors is 1/0 (both) or 0/1 (one), never NaN", Scalar,
                   float, double) {
    using P = CosineParts<Scalar>;
    // Both zero (a.b is then 0 too, of either sign).
    for (Scalar ab : {Scalar(0), -Scalar(0)}) {
        CHECK(finish_cosine_similarity(P{ab, 0, 0}) == 1);
        CHECK(finish_cosine_distance(P{ab, 0, 0}) == 0);
        CHECK(finish_cosine_similarity(P{ab, -Scalar(0), 0}) == 1);
    }
    // Exactly one zero, whatever the other norm (tiny, ordinary, huge).
    for (Scalar other :
         {std::numeric_limits<Scalar>::denorm_min(), std::numeric_limits<Scalar>::min(), Scalar(1),
          Scalar(12345), std::numeric_limits<Scalar>::max()}) {
        CAPTURE(other);
        CHECK(finish_cosine_similarity(P{0, 0, other}) == 0);
        CHECK(finish_cosine_similarity(P{0, other, 0}) == 0);
        CHECK(finish_cosine_distance(P{0, 0, other}) == 1);
        CHECK(finish_cosine_distance(P{0, other, 0}) == 1);
    }
}

TEST_CASE_TEMPLATE("metric: cosine is a.b / (|a| |b|), clamped to [-1, 1] and [0, 2]", Scalar,
                   float, double) {
    using P = CosineParts<Scalar>;
    // Plain values: 3 / (2 * 4).
    CHECK(finish_cosine_similarity(P{3, 4, 16}) == Scalar(3) / Scalar(8));
    CHECK(finish_cosine_distance(P{3, 4, 16}) == Scalar(1) - Scalar(3) / Scalar(8));
    CHECK(finish_cosine_similarity(P{-3, 4, 16}) == -Scalar(3) / Scalar(8));
    CHECK(finish_cosine_similarity(P{0, 4, 16}) == 0);
    // Rounding can put |a.b| above |a| |b|: the result is clamped, never outside [-1, 1].
    const Scalar above = std::nextafter(Scalar(1), Scalar(2));
    CHECK(finish_cosine_similarity(P{above, 1, 1}) == 1);
    CHECK(finish_cosine_similarity(P{-above, 1, 1}) == -1);
    CHECK(finish_cosine_similarity(P{2, 1, 1}) == 1);
    CHECK(finish_cosine_similarity(P{-2, 1, 1}) == -1);
    CHECK(finish_cosine_distance(P{above, 1, 1}) == 0);
    CHECK(finish_cosine_distance(P{-above, 1, 1}) == 2);
    CHECK(finish_cosine_distance(P{-2, 1, 1}) == 2);
    // Parallel and antiparallel with exact norms.
    CHECK(finish_cosine_similarity(P{4, 4, 4}) == 1);
    CHECK(finish_cosine_distance(P{4, 4, 4}) == 0);
    CHECK(finish_cosine_similarity(P{-4, 4, 4}) == -1);
    CHECK(finish_cosine_distance(P{-4, 4, 4}) == 2);
}

TEST_CASE_TEMPLATE("metric: cosine never forms a.a * b.b (accurate over the whole normal range)",
                   Scalar, float, double) {
    using P = CosineParts<Scalar>;
    using limits = std::numeric_limits<Scalar>;
    // a.a * b.b would overflow: max/4 each, a.b = max/4 (parallel).
    const Scalar big = limits::max() / 4;
    CHECK(finish_cosine_similarity(P{big, big, big}) ==
          doctest::Approx(1.0).epsilon(4 * limits::epsilon()));
    CHECK(finish_cosine_similarity(P{big / 2, big, big}) ==
          doctest::Approx(0.5).epsilon(4 * limits::epsilon()));
    // a.a * b.b would underflow to 0: the smallest normals.
    const Scalar small = limits::min() * 4;
    CHECK(finish_cosine_similarity(P{small, small, small}) ==
          doctest::Approx(1.0).epsilon(4 * limits::epsilon()));
    CHECK(finish_cosine_similarity(P{-small / 2, small, small}) ==
          doctest::Approx(-0.5).epsilon(4 * limits::epsilon()));
    // Norms at opposite ends of the range: a.a near the largest, b.b near the smallest normal.
    const Scalar aa = std::ldexp(Scalar(1), limits::max_exponent - 2);
    const Scalar bb = std::ldexp(Scalar(1), limits::min_exponent + 1);
    const Scalar ab = std::sqrt(aa) * std::sqrt(bb) / 4;
    CHECK(finish_cosine_similarity(P{ab, aa, bb}) ==
          doctest::Approx(0.25).epsilon(4 * limits::epsilon()));
}

TEST_CASE_TEMPLATE("metric: non-finite sums give NaN for cosine", Scalar, float, double) {
    using P = CosineParts<Scalar>;
    using limits = std::numeric_limits<Scalar>;
    const Scalar nan = limits::quiet_NaN();
    const Scalar inf = limits::infinity();
    const P cases[] = {
        {nan, 1, 1}, {1, nan, 1}, {1, 1, nan},    {nan, 0, 0},     {0, nan, 0},
        {0, 0, nan}, {1, inf, 1}, {1, 1, inf},    {inf, inf, 1},   {inf, inf, inf},
        {0, inf, 0}, {0, 0, inf}, {-inf, 1, inf}, {nan, inf, inf}, {-nan, 1, 1},
    };
    for (const P& p : cases) {
        CAPTURE(p.ab);
        CAPTURE(p.aa);
        CAPTURE(p.bb);
        CHECK(std::isnan(finish_cosine_similarity(p)));
        CHECK(std::isnan(finish_cosine_distance(p)));
    }
}

TEST_CASE_TEMPLATE("metric: subnormal norms keep cosine within [-1, 1] and [0, 2]", Scalar, float,
                   double) {
    using P = CosineParts<Scalar>;
    using limits = std::numeric_limits<Scalar>;
    ektest::Random rng(0x5eed0101);
    const Scalar dmin = limits::denorm_min();
    const Scalar values[] = {dmin,        2 * dmin,          3 * dmin,
                             1000 * dmin, limits::min() / 2, limits::min() - dmin};
    for (Scalar aa : values) {
        for (Scalar bb : values) {
            // |a.b| <= |a| |b| up to the rounding of subnormal sums; also beyond it.
            for (Scalar ab : {Scalar(0), dmin, -dmin, aa, -bb, std::min(aa, bb), limits::min(),
                              -limits::min(), Scalar(1)}) {
                const Scalar s = finish_cosine_similarity(P{ab, aa, bb});
                const Scalar d = finish_cosine_distance(P{ab, aa, bb});
                CAPTURE(aa);
                CAPTURE(bb);
                CAPTURE(ab);
                CHECK(s >= -1);
                CHECK(s <= 1);
                CHECK(d >= 0);
                CHECK(d <= 2);
            }
        }
    }
    // Random sums over the whole range, consistent or not: always within range or NaN-free.
    for (int k = 0; k < 2000; ++k) {
        const Scalar aa = std::ldexp(
            static_cast<Scalar>(rng.uniform(1, 2)),
            rng.integer(limits::min_exponent - limits::digits, limits::max_exponent - 2));
        const Scalar bb = std::ldexp(
            static_cast<Scalar>(rng.uniform(1, 2)),
            rng.integer(limits::min_exponent - limits::digits, limits::max_exponent - 2));
        const Scalar ab =
            static_cast<Scalar>(rng.uniform(-1.5, 1.5)) * std::sqrt(aa) * std::sqrt(bb);
        const Scalar s = finish_cosine_similarity(P{ab, aa, bb});
        const Scalar d = finish_cosine_distance(P{ab, aa, bb});
        CAPTURE(aa);
        CAPTURE(bb);
        CAPTURE(ab);
        REQUIRE(s >= -1);
        REQUIRE(s <= 1);
        REQUIRE(d >= 0);
        REQUIRE(d <= 2);
        REQUIRE(d == std::min(Scalar(2), std::max(Scalar(0), 1 - s)));
    }
}

TEST_CASE_TEMPLATE("metric: the public pointer functions apply these rules", Scalar, float,
                   double) {
    const Scalar zero[3] = {0, 0, 0};
    const Scalar a[3] = {1, 2, 2};   // |a| = 3
    const Scalar b[3] = {0, 4, -3};  // |b| = 5, a.b = 2
    for (ektest::Level level : embedkit::simd::supported()) {
        embedkit::simd::Scoped scoped(level);
        CAPTURE(ektest::level_str(level));
        CHECK(embedkit::cosine_similarity(zero, zero, 3) == 1);
        CHECK(embedkit::cosine_distance(zero, zero, 3) == 0);
        CHECK(embedkit::cosine_similarity(a, zero, 3) == 0);
        CHECK(embedkit::cosine_distance(zero, b, 3) == 1);
        CHECK(embedkit::cosine_similarity(a, b, 3) == doctest::Approx(2.0 / 15));
        CHECK(embedkit::cosine_distance(a, b, 3) == doctest::Approx(13.0 / 15));
        CHECK(embedkit::cosine_similarity(a, a, 3) == 1);
        CHECK(embedkit::cosine_distance(a, a, 3) == 0);
        CHECK(embedkit::l2_squared(a, b, 3) == 1 + 4 + 25);
        CHECK(embedkit::l2(a, b, 3) == std::sqrt(Scalar(30)));
        CHECK(embedkit::l1(a, b, 3) == 1 + 2 + 5);
        CHECK(embedkit::dot(a, b, 3) == 2);
    }
}

}  // namespace
