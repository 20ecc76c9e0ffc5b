// Two translation units built with different -m flags in one program: each must keep its own
// pair functions (embedkit::l2 and friends inline a level's kernel when the unit's flags
// guarantee it, so their bodies differ), and each must give the right answer at every forced
// level. Before the pair functions moved into per-level inline namespaces, the linker kept one
// body for all units: the addresses below were equal, and a unit built without AVX-512 could run
// the AVX-512 unit's code.
#include "odr_unit.hpp"

#include <embedkit/distance/dispatch.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

namespace simd = embedkit::simd;

namespace {

struct Unit {
    const char* name;
    simd::Level needs;  // the level whose instructions the unit's flags allow
    odr_test::PairResults (*results)(const float*, const float*, std::size_t);
    odr_test::PairPointer (*address)();
    odr_test::PairPointer (*static_address)();
};

// The units this CPU can run: the baseline unit everywhere, the others where their flags' level
// is supported (running an -mavx512f unit elsewhere would be the user's error, not ours).
std::vector<Unit> runnable_units() {
    std::vector<Unit> units = {{"baseline", simd::Level::scalar, &odr_test::pair_results_baseline,
                                &odr_test::l2_squared_address_baseline,
                                &odr_test::static_dot_address_baseline}};
#if EMBEDKIT_ARCH_X86
    if (simd::cpu_supports(simd::Level::avx2))
        units.push_back({"avx2", simd::Level::avx2, &odr_test::pair_results_avx2,
                         &odr_test::l2_squared_address_avx2, &odr_test::static_dot_address_avx2});
    if (simd::cpu_supports(simd::Level::avx512) && simd::cpu_supports(simd::Level::avx2))
        units.push_back({"avx512", simd::Level::avx512, &odr_test::pair_results_avx512,
                         &odr_test::l2_squared_address_avx512,
                         &odr_test::static_dot_address_avx512});
#endif
    return units;
}

// Random values whose sums round differently in different summation orders, so a level's
// result is (almost always) its own to the last bit.
std::vector<float> random_values(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
    std::uniform_int_distribution<int> exponent(-12, 12);
    std::vector<float> v(n);
    for (float& x : v) x = std::ldexp(mantissa(gen), exponent(gen));
    return v;
}

long double ref_dot(const std::vector<float>& a, const std::vector<float>& b) {
    long double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<long double>(a[i]) * b[i];
    return s;
}

}  // namespace

TEST_CASE("odr: units built with different flags keep their own pair functions") {
    const std::vector<Unit> units = runnable_units();
    REQUIRE(!units.empty());
    for (std::size_t i = 0; i < units.size(); ++i)
        for (std::size_t j = i + 1; j < units.size(); ++j) {
            INFO(units[i].name, " vs ", units[j].name);
            CHECK((units[i].address() != units[j].address()));
            if (units[i].static_address() != nullptr && units[j].static_address() != nullptr)
                CHECK((units[i].static_address() != units[j].static_address()));
        }
#if EMBEDKIT_ARCH_X86
    // An x86 CPU this suite runs on has AVX2 (the project's machines all do); without it the
    // check above compared nothing.
    if (simd::cpu_supports(simd::Level::avx2)) CHECK(units.size() >= 2);
#endif
}

TEST_CASE("odr: every unit gives the forced level's own answer at every level") {
    const std::size_t n = 1003;  // a remainder for every vector width
    const std::vector<float> a = random_values(n, 7);
    const std::vector<float> b = random_values(n, 11);
    long double ref_l2 = 0, ref_l1 = 0, ref_aa = 0, ref_bb = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const long double d = static_cast<long double>(a[i]) - b[i];
        ref_l2 += d * d;
        ref_l1 += std::fabs(d);
        ref_aa += static_cast<long double>(a[i]) * a[i];
        ref_bb += static_cast<long double>(b[i]) * b[i];
    }
    const long double ref_cos = ref_dot(a, b) / std::sqrt(ref_aa * ref_bb);
    long double abs_dot = 0, abs_l2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
        abs_dot += std::fabs(static_cast<long double>(a[i]) * b[i]);
        const long double d = static_cast<long double>(a[i]) - b[i];
        abs_l2 += d * d;
    }
    // |got - ref| <= c * eps * sum|terms| (STYLE.md section 7), c covering n-term summation.
    const double eps_n = 2.0 * static_cast<double>(n) * 1.2e-7;

    std::vector<float> sums;  // each level's dot, l2_squared and l1
    for (const simd::Level level : simd::supported()) {
        simd::Scoped forced(level);
        const embedkit::simd::KernelTable<float>& table =
            *embedkit::simd::detail::table_for<float>(level);
        const float level_dot = table.dot(a.data(), b.data(), n);
        const float level_l2 = table.l2_squared(a.data(), b.data(), n);
        const float level_l1 = table.l1(a.data(), b.data(), n);
        sums.insert(sums.end(), {level_dot, level_l2, level_l1});
        for (const Unit& unit : runnable_units()) {
            INFO("unit ", unit.name, ", level ", std::string(simd::level_name(level)));
            const odr_test::PairResults r = unit.results(a.data(), b.data(), n);
            // Bit for bit the forced level's kernel, whichever path (inlined or table) ran.
            CHECK(r.dot == level_dot);
            CHECK(r.l2_squared == level_l2);
            CHECK(r.l1 == level_l1);
            CHECK(r.l2_eigen == std::sqrt(level_l2));
            CHECK(std::fabs(r.dot - static_cast<double>(ref_dot(a, b))) <= eps_n * double(abs_dot));
            CHECK(std::fabs(r.l2_squared - static_cast<double>(ref_l2)) <= eps_n * double(abs_l2));
            CHECK(std::fabs(r.l1 - static_cast<double>(ref_l1)) <= eps_n * double(ref_l1));
            CHECK(std::fabs(r.cosine_similarity - static_cast<double>(ref_cos)) <= 1e-5);
        }
    }
    // The data tells the levels apart: otherwise "the forced level ran" would be untested.
    if (sums.size() >= 6) {
        bool differ = false;
        for (std::size_t i = 3; i < sums.size(); ++i) differ = differ || sums[i] != sums[i % 3];
        CHECK(differ);
    }
}
