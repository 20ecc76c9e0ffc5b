// Guards test_distance_static: that executable is compiled with -march=native so the pair
// functions take their compile-time path (EMBEDKIT_STATIC_LEVEL) whenever the active level is
// the one the flags guarantee. Its other cases are the kernel, pairwise and property suites.
#include <embedkit/distance/dispatch.hpp>
#include <embedkit/distance/pair.hpp>

#include <doctest/doctest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

namespace simd = embedkit::simd;

TEST_CASE("static level: -march=native selects the compile-time path where the CPU has it") {
#if defined(EMBEDKIT_STATIC_LEVEL)
    // The compile-time level is this CPU's best (the flags came from this CPU), so with no
    // cap it is the active level and every pair call in this executable is inlined.
    CHECK(simd::cpu_supports(simd::Level::EMBEDKIT_STATIC_LEVEL));
    simd::Scoped best(simd::best());
    CHECK(simd::detail::static_level_active<float>() ==
          (simd::best() == simd::Level::EMBEDKIT_STATIC_LEVEL));
    CHECK(simd::detail::static_level_active<double>() ==
          (simd::best() == simd::Level::EMBEDKIT_STATIC_LEVEL));
    {
        simd::Scoped scalar(simd::Level::scalar);
        CHECK_FALSE(simd::detail::static_level_active<float>());
        CHECK_FALSE(simd::detail::static_level_active<double>());
    }
#else
    // Native flags without AVX2+FMA (or NEON) mean a CPU without them.
    CHECK(simd::best() == simd::Level::scalar);
#endif
}

namespace {

// Values whose sums round differently in different summation orders (mantissas over 2^-12 to
// 2^12), so each level's result is its own to the last bit: the scalar loop, AVX2's four and
// AVX-512's accumulators add the same terms in different orders.
template <class Scalar>
std::vector<Scalar> order_sensitive_values(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> mantissa(-1.0, 1.0);
    std::uniform_int_distribution<int> exponent(-12, 12);
    std::vector<Scalar> v(n);
    for (Scalar& x : v) x = static_cast<Scalar>(std::ldexp(mantissa(gen), exponent(gen)));
    return v;
}

// Every pair function, pointer and Eigen forms, at every forced level equals that level's
// table kernel bit for bit, whether the call inlined the compile-time level or went through
// the table. Returns each level's (dot, l2_squared, l1) to show that the data tells them apart.
template <class Scalar>
std::vector<std::vector<Scalar>> check_forced_levels() {
    using Map = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
    const std::size_t n = 1003;  // a remainder for every vector width
    const std::vector<Scalar> a = order_sensitive_values<Scalar>(n, 7);
    const std::vector<Scalar> b = order_sensitive_values<Scalar>(n, 11);
    const Map va(a.data(), static_cast<Eigen::Index>(n)),
        vb(b.data(), static_cast<Eigen::Index>(n));
    std::vector<std::vector<Scalar>> per_level;
    for (const simd::Level level : simd::supported()) {
        simd::Scoped forced(level);
        REQUIRE(simd::active() == level);
        INFO("level ", std::string(simd::level_name(level)));
        const simd::KernelTable<Scalar>& table = *simd::detail::table_for<Scalar>(level);
        REQUIRE(table.level == level);
        const Scalar dot = table.dot(a.data(), b.data(), n);
        const Scalar l2_squared = table.l2_squared(a.data(), b.data(), n);
        const Scalar l1 = table.l1(a.data(), b.data(), n);
        const auto parts = table.cosine(a.data(), b.data(), n);
        const Scalar similarity = embedkit::detail::finish_cosine_similarity(parts);
        const Scalar distance = embedkit::detail::finish_cosine_distance(parts);
        const Scalar l2 = std::sqrt(std::max(l2_squared, Scalar(0)));

        CHECK(embedkit::dot(a.data(), b.data(), n) == dot);
        CHECK(embedkit::l2_squared(a.data(), b.data(), n) == l2_squared);
        CHECK(embedkit::l2(a.data(), b.data(), n) == l2);
        CHECK(embedkit::l1(a.data(), b.data(), n) == l1);
        CHECK(embedkit::cosine_similarity(a.data(), b.data(), n) == similarity);
        CHECK(embedkit::cosine_distance(a.data(), b.data(), n) == distance);
        CHECK(embedkit::dot(va, vb) == dot);
        CHECK(embedkit::l2_squared(va, vb) == l2_squared);
        CHECK(embedkit::l2(va, vb) == l2);
        CHECK(embedkit::l1(va, vb) == l1);
        CHECK(embedkit::cosine_similarity(va, vb) == similarity);
        CHECK(embedkit::cosine_distance(va, vb) == distance);
        per_level.push_back({dot, l2_squared, l1});
    }
    return per_level;
}

// True when some level's results differ from the first (scalar) level's in some metric.
template <class Scalar>
bool levels_differ(const std::vector<std::vector<Scalar>>& per_level) {
    for (const auto& results : per_level)
        if (results != per_level.front()) return true;
    return false;
}

}  // namespace

TEST_CASE("static level: every forced level runs its own kernel, inlined or not") {
    const auto f = check_forced_levels<float>();
    const auto d = check_forced_levels<double>();
    // With more than one level, the data must give different answers per level, or the
    // equalities above could not tell which kernel ran.
    if (simd::supported().size() > 1) {
        CHECK(levels_differ(f));
        CHECK(levels_differ(d));
    }
}
