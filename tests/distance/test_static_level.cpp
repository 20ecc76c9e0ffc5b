// Guards test_distance_static: that executable is compiled with -march=native so the pair
// functions take their compile-time path (EMBEDKIT_STATIC_LEVEL) whenever the active level is
// the one the flags guarantee. Its other cases are the kernel, pairwise and property suites.
#include <embedkit/distance/dispatch.hpp>
#include <embedkit/distance/pairwise.hpp>

#include <doctest/doctest.h>

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

TEST_CASE("static level: forcing another level still changes the result's code path") {
    // Values that every level sums exactly, so equality checks the call went through and the
    // forced level ran (the dispatch tests check which level is active).
    const std::vector<float> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
    const std::vector<float> b = {2, 0, 1, 3, 0, 2, 1, 1, 0, 4, 2, 1, 0, 3, 1, 2, 5};
    for (const simd::Level level : simd::supported()) {
        simd::Scoped forced(level);
        CHECK(simd::active() == level);
        CHECK(embedkit::dot(a.data(), b.data(), a.size()) == 292.0f);
        CHECK(embedkit::l1(a.data(), b.data(), a.size()) == 127.0f);
    }
}
