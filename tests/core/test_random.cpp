// Rng: the engine against an independent implementation, the transforms' statistics, state
// round trips, shuffles.
#include <embedkit/core/random.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace ek = embedkit;

TEST_CASE("random: xoshiro256** seeded by SplitMix64 gives the reference stream") {
    // Values from a separate Python implementation of SplitMix64 + xoshiro256**.
    ek::Rng rng(42);
    CHECK(rng.next_u64() == 0x15780b2e0c2ec716ULL);
    CHECK(rng.next_u64() == 0x6104d9866d113a7eULL);
    CHECK(rng.next_u64() == 0xae17533239e499a1ULL);
}

TEST_CASE("random: equal seeds give equal streams and state round-trips") {
    ek::Rng a(7), b(7), c(8);
    for (int i = 0; i < 100; ++i) CHECK(a.next_u64() == b.next_u64());
    CHECK(a.next_u64() != c.next_u64());
    ek::Rng d(0);
    d.set_state(a.state());
    for (int i = 0; i < 10; ++i) CHECK(a.normal() == d.normal());
    CHECK(a == d);
    CHECK_THROWS_AS(d.set_state({0, 0, 0, 0}), ek::ArgumentError);
    a.reseed(7);
    b.reseed(7);
    CHECK(a == b);
}

TEST_CASE("random: uniform and normal have the right moments") {
    ek::Rng rng(1);
    const int n = 200000;
    double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0;
    for (int i = 0; i < n; ++i) {
        const double u = rng.uniform();
        REQUIRE(u >= 0.0);
        REQUIRE(u < 1.0);
        su += u;
        su2 += u * u;
        const double z = rng.normal();
        sn += z;
        sn2 += z * z;
        sn4 += z * z * z * z;
    }
    // Standard errors: mean of U(0,1) 0.29/sqrt(n) = 6.5e-4; of N(0,1) 2.2e-3. Bounds at ~5 sigma.
    CHECK(std::abs(su / n - 0.5) < 3.5e-3);
    CHECK(std::abs(su2 / n - 1.0 / 3) < 3.5e-3);
    CHECK(std::abs(sn / n) < 0.012);
    CHECK(std::abs(sn2 / n - 1) < 0.02);
    CHECK(std::abs(sn4 / n - 3) < 0.12);
    const double v = rng.uniform(-2, 3);
    CHECK(v >= -2);
    CHECK(v < 3);
}

TEST_CASE("random: uniform_index is unbiased and shuffle is a permutation") {
    ek::Rng rng(2);
    std::vector<int> counts(7, 0);
    const int n = 70000;
    for (int i = 0; i < n; ++i) ++counts[rng.uniform_index(7)];
    double chi2 = 0;
    for (int c : counts) chi2 += (c - n / 7.0) * (c - n / 7.0) / (n / 7.0);
    CHECK(chi2 < 22.5);  // chi-square, 6 degrees of freedom, p = 0.001
    CHECK_THROWS_AS(rng.uniform_index(0), ek::ArgumentError);
    std::vector<int> v(1000);
    std::iota(v.begin(), v.end(), 0);
    auto w = v;
    rng.shuffle(w);
    CHECK(w != v);
    std::sort(w.begin(), w.end());
    CHECK(w == v);
    // First position of a 3-element shuffle: each value about a third of the time.
    std::vector<int> first(3, 0);
    for (int i = 0; i < 30000; ++i) {
        std::vector<int> s{0, 1, 2};
        rng.shuffle(s);
        ++first[s[0]];
    }
    for (int c : first) CHECK(std::abs(c - 10000) < 400);
}
