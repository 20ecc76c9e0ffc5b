// The pair kernels at every level this CPU supports, float and double, every grid length and
// misalignment: exact sums of small integers, rounding-error bounds on real data, and the
// special values (zeros, subnormals, overflow, underflow, NaN, infinities).
#include "distance_test_util.hpp"

#include <embedkit/distance/dispatch.hpp>
#include <embedkit/distance/metric.hpp>
#include <embedkit/distance/pair.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace ektest;
namespace simd = embedkit::simd;
using embedkit::CosineParts;

template <class Scalar>
const simd::KernelTable<Scalar>& table() {
    return simd::detail::active_table<Scalar>();
}

template <class Scalar>
std::string context(Level level, const char* metric, std::size_t n, Offsets off) {
    return cat(level_str(level), " ", scalar_str<Scalar>(), " ", metric, " n=", n,
               " offset(a)=", off.a, " offset(b)=", off.b, ": ");
}

template <class Scalar>
std::string context(Level level, const char* metric, std::size_t n, const std::string& what) {
    return cat(level_str(level), " ", scalar_str<Scalar>(), " ", metric, " n=", n, " ", what, ": ");
}

template <class Scalar>
constexpr Scalar nan_v = std::numeric_limits<Scalar>::quiet_NaN();
template <class Scalar>
constexpr Scalar inf_v = std::numeric_limits<Scalar>::infinity();

// Exact comparison of all four table kernels and all six public functions with the values an
// exact summation gives. `parts` are the exact cosine sums; the public cosine results must be
// exactly what metric.hpp's finish makes of them (the finish is deterministic).
template <class Scalar>
void expect_exact(Log& log, const std::string& where, const Scalar* a, const Scalar* b,
                  std::size_t n, Scalar dot, Scalar l2_squared, Scalar l1,
                  const CosineParts<Scalar>& parts) {
    const auto& t = table<Scalar>();
    const Scalar l2 = std::sqrt(l2_squared);  // correctly rounded square root of the exact sum
    const Scalar cs = embedkit::detail::finish_cosine_similarity(parts);
    const Scalar cd = embedkit::detail::finish_cosine_distance(parts);
    auto eq = [&](const char* metric, Scalar got, Scalar want) {
        log.expect(same_value(got, want),
                   [&] { return cat(where, metric, ": got ", got, ", expected exactly ", want); });
    };
    eq("table dot", t.dot(a, b, n), dot);
    eq("table l2_squared", t.l2_squared(a, b, n), l2_squared);
    eq("table l1", t.l1(a, b, n), l1);
    const CosineParts<Scalar> p = t.cosine(a, b, n);
    eq("table cosine a.b", p.ab, parts.ab);
    eq("table cosine a.a", p.aa, parts.aa);
    eq("table cosine b.b", p.bb, parts.bb);
    const Results<Scalar> r = all_metrics(a, b, n);
    eq("dot", r.dot, dot);
    eq("l2_squared", r.l2_squared, l2_squared);
    eq("l2", r.l2, l2);
    eq("l1", r.l1, l1);
    eq("cosine_similarity", r.cosine_similarity, cs);
    eq("cosine_distance", r.cosine_distance, cd);
}
constexpr std::size_t exact_checks_per_call = 12;

// ---------------------------------------------------------------------------------------
// (a) Exactness: every partial sum of small integers is representable, so every level must
// return the exact sums. A skipped, repeated or out-of-range element (the NaN guards) shows
// up as a mismatch however small, which no tolerance-based check could promise.

TEST_CASE_TEMPLATE("kernels: sums of small integers are exact at every level, length and offset",
                   Scalar, float, double) {
    Random rng(0x5eed0001);
    Log log;
    const std::vector<Level> levels = simd::supported();
    std::vector<Scalar> va, vb;
    std::size_t sets = 0;
    for (std::size_t n : grid_lengths()) {
        for (Offsets off : grid_offsets()) {
            small_integers(rng, n, va, vb);
            const GuardedVector<Scalar> ga(va, off.a), gb(vb, off.b);
            const Scalar* a = ga.data();
            const Scalar* b = gb.data();
            const Reference r = reference(a, b, n);
            const CosineParts<Scalar> parts{static_cast<Scalar>(r.dot), static_cast<Scalar>(r.aa),
                                            static_cast<Scalar>(r.bb)};
            ++sets;
            for (Level level : levels) {
                simd::Scoped scoped(level);
                log.expect(table<Scalar>().level == level && simd::active() == level, [&] {
                    return cat(context<Scalar>(level, "dispatch", n, off), "table of level ",
                               level_str(table<Scalar>().level), " is active");
                });
                expect_exact(log, context<Scalar>(level, "", n, off), a, b, n,
                             static_cast<Scalar>(r.dot), static_cast<Scalar>(r.l2_squared),
                             static_cast<Scalar>(r.l1), parts);
            }
            // The finish on exact parts: two square roots, a product and a division, each
            // within u relative, so |s - s_exact| <= 4u |s| (+ second order) = 2 eps |s|,
            // plus the long-double reference's own rounding.
            if (r.aa > 0 && r.bb > 0) {
                const long double s = cosine_similarity_ref(r);
                const long double got = embedkit::detail::finish_cosine_similarity(parts);
                const long double tol =
                    2.01L * std::numeric_limits<Scalar>::epsilon() * std::fabs(s) +
                    8 * std::numeric_limits<long double>::epsilon();
                log.expect(std::fabs(got - s) <= tol, [&] {
                    return cat(scalar_str<Scalar>(), " cosine finish n=", n, ": got ", got,
                               ", expected ", s, " +- ", tol);
                });
            }
        }
    }
    log.report(sets * levels.size() * (exact_checks_per_call + 1));
}

// Tight allocations: the data ends exactly where its heap block ends, so that under
// AddressSanitizer (the asan preset) a read of even one element past n is reported. In other
// builds this is one more exact check on a different layout.
TEST_CASE_TEMPLATE("kernels: no level reads past the last element (tight heap blocks)", Scalar,
                   float, double) {
    Random rng(0x5eed0002);
    Log log;
    const std::vector<Level> levels = simd::supported();
    std::vector<Scalar> va, vb;
    std::size_t sets = 0;
    for (std::size_t n : grid_lengths()) {
        const Offsets off{(3 * n + 1) % 16, 0};  // b starts at its block's start
        small_integers(rng, n, va, vb);
        const TightVector<Scalar> ta(va, off.a), tb(vb, off.b);
        const Reference r = reference(ta.data(), tb.data(), n);
        const CosineParts<Scalar> parts{static_cast<Scalar>(r.dot), static_cast<Scalar>(r.aa),
                                        static_cast<Scalar>(r.bb)};
        ++sets;
        for (Level level : levels) {
            simd::Scoped scoped(level);
            expect_exact(log, context<Scalar>(level, "", n, off), ta.data(), tb.data(), n,
                         static_cast<Scalar>(r.dot), static_cast<Scalar>(r.l2_squared),
                         static_cast<Scalar>(r.l1), parts);
            // The other way round: a at the start of its block, b with the offset.
            expect_exact(log, context<Scalar>(level, "(swapped)", n, off), tb.data(), ta.data(), n,
                         static_cast<Scalar>(r.dot), static_cast<Scalar>(r.l2_squared),
                         static_cast<Scalar>(r.l1),
                         CosineParts<Scalar>{parts.ab, parts.bb, parts.aa});
        }
    }
    log.report(sets * levels.size() * 2 * exact_checks_per_call);
}

// ---------------------------------------------------------------------------------------
// (b) Real-valued data within the accurate range, checked against the long-double reference
// with the bounds of distance_test_util.hpp.

// Bound checks of one pair at the active level.
template <class Scalar>
void expect_within_bounds(Log& log, const std::string& where, const Scalar* a, const Scalar* b,
                          std::size_t n, const Reference& r) {
    const auto& t = table<Scalar>();
    auto near = [&](const char* metric, long double got, long double want, long double tol) {
        log.expect(std::fabs(got - want) <= tol, [&] {
            return cat(where, metric, ": got ", got, ", expected ", want, " +- ", tol, " (error ",
                       std::fabs(got - want), ")");
        });
    };
    const long double t_dot = sum_tolerance<Scalar>(n, r.dot_abs);
    const long double t_l2sq = sum_tolerance<Scalar>(n, r.l2_squared);
    near("table dot", t.dot(a, b, n), r.dot, t_dot);
    near("table l2_squared", t.l2_squared(a, b, n), r.l2_squared, t_l2sq);
    near("table l1", t.l1(a, b, n), r.l1, sum_tolerance<Scalar>(n, r.l1));
    const CosineParts<Scalar> p = t.cosine(a, b, n);
    near("table cosine a.b", p.ab, r.dot, t_dot);
    near("table cosine a.a", p.aa, r.aa, sum_tolerance<Scalar>(n, r.aa));
    near("table cosine b.b", p.bb, r.bb, sum_tolerance<Scalar>(n, r.bb));

    const Results<Scalar> res = all_metrics(a, b, n);
    near("dot", res.dot, r.dot, t_dot);
    near("l2_squared", res.l2_squared, r.l2_squared, t_l2sq);
    near("l1", res.l1, r.l1, sum_tolerance<Scalar>(n, r.l1));
    // l2 = sqrt(l2_squared) exactly (the documented relation), and accurate through it.
    log.expect(res.l2 == std::sqrt(res.l2_squared), [&] {
        return cat(where, "l2: got ", res.l2, ", sqrt(l2_squared) is ", std::sqrt(res.l2_squared));
    });
    const long double l2sq_of_l2 = static_cast<long double>(res.l2) * res.l2;
    near("l2 (squared)", l2sq_of_l2, r.l2_squared,
         l2_squared_of_l2_tolerance<Scalar>(n, r.l2_squared, res.l2));

    const long double s = cosine_similarity_ref(r);
    if (r.aa == 0 || r.bb == 0) {  // exact rule: a zero vector's sums are exactly 0
        near("cosine_similarity (zero vector)", res.cosine_similarity, s, 0);
        near("cosine_distance (zero vector)", res.cosine_distance, 1 - s, 0);
    } else {
        near("cosine_similarity", res.cosine_similarity, s,
             cosine_similarity_tolerance<Scalar>(r, n));
        near("cosine_distance", res.cosine_distance, 1 - s,
             cosine_distance_tolerance<Scalar>(r, n));
    }
    log.expect(res.cosine_similarity >= -1 && res.cosine_similarity <= 1 &&
                   res.cosine_distance >= 0 && res.cosine_distance <= 2 &&
                   res.cosine_distance ==
                       std::min(Scalar(2), std::max(Scalar(0), Scalar(1) - res.cosine_similarity)),
               [&] {
                   return cat(where, "cosine range/relation: similarity ", res.cosine_similarity,
                              ", distance ", res.cosine_distance);
               });
}
constexpr std::size_t bound_checks_per_call = 13;

TEST_CASE_TEMPLATE("kernels: real-valued data meets the rounding-error bound at every level",
                   Scalar, float, double) {
    Random rng(0x5eed0003);
    Log log;
    const std::vector<Level> levels = simd::supported();
    std::vector<Scalar> va, vb;
    std::size_t sets = 0;
    for (Family f : {Family::uniform, Family::wide, Family::near_duplicate, Family::common_offset,
                     Family::orthogonal_pairs}) {
        for (std::size_t n : grid_lengths()) {
            // One rotating offset pair per length: alignment is covered exactly above and by
            // the address-independence test below.
            const Offsets off{(5 * n + static_cast<std::size_t>(f)) % 16, (11 * n + 7) % 16};
            make_family(f, rng, n, va, vb);
            const GuardedVector<Scalar> ga(va, off.a), gb(vb, off.b);
            const Reference r = reference(ga.data(), gb.data(), n);
            ++sets;
            for (Level level : levels) {
                simd::Scoped scoped(level);
                expect_within_bounds(log, context<Scalar>(level, family_name(f), n, off), ga.data(),
                                     gb.data(), n, r);
            }
        }
    }
    log.report(sets * levels.size() * bound_checks_per_call);
}

// The bottom and the top of the accurate range (metric.hpp: accurate while a.a and b.b are
// finite normal numbers). Both vectors at the top make a.a * b.b overflow and both at the
// bottom make it underflow, so a kernel or finish that formed that product would fail here.
TEST_CASE_TEMPLATE("kernels: accuracy holds at the edges of the accurate range", Scalar, float,
                   double) {
    using limits = std::numeric_limits<Scalar>;
    Random rng(0x5eed0004);
    Log log;
    const std::vector<Level> levels = simd::supported();
    std::size_t sets = 0;
    // Bottom: |x| in [2^(e/2), 2^(e/2 + 1)) with 2^e the smallest normal, so every square and
    // product is normal and no rounding involves subnormals.
    const int half_min_exp = (limits::min_exponent - 1) / 2;  // float: -63, double: -511
    for (std::size_t n : grid_lengths()) {
        if (n == 0) continue;
        for (int shape = 0; shape < 3; ++shape) {  // 0: both top, 1: both bottom, 2: mixed
            std::vector<Scalar> va(n), vb(n);
            std::vector<double> raw_a(n), raw_b(n);
            long double sum_a = 0, sum_b = 0;
            for (std::size_t i = 0; i < n; ++i) {
                raw_a[i] = rng.sign() * rng.uniform(1, 2);
                raw_b[i] = rng.sign() * rng.uniform(1, 2);
                sum_a += static_cast<long double>(raw_a[i]) * raw_a[i];
                sum_b += static_cast<long double>(raw_b[i]) * raw_b[i];
            }
            // Top: scale by a power of two so that a.a lands in [2^(max-6), 2^(max-4)): the
            // sum of squares of a - b (<= 2(a.a + b.b)) stays finite too.
            auto top_exponent = [&](long double sum) {
                return (limits::max_exponent - 5 - static_cast<int>(std::ceil(std::log2(sum)))) / 2;
            };
            const int ea = shape == 1 ? half_min_exp : top_exponent(sum_a);
            const int eb = shape == 0 ? top_exponent(sum_b) : half_min_exp;
            for (std::size_t i = 0; i < n; ++i) {
                va[i] = static_cast<Scalar>(std::ldexp(raw_a[i], ea));
                vb[i] = static_cast<Scalar>(std::ldexp(raw_b[i], eb));
            }
            const Offsets off{n % 16, (n + 5) % 16};
            const GuardedVector<Scalar> ga(va, off.a), gb(vb, off.b);
            const Reference r = reference(ga.data(), gb.data(), n);
            ++sets;
            const char* names[] = {"top/top", "bottom/bottom", "top/bottom"};
            for (Level level : levels) {
                simd::Scoped scoped(level);
                expect_within_bounds(log, context<Scalar>(level, names[shape], n, off), ga.data(),
                                     gb.data(), n, r);
            }
        }
    }
    log.report(sets * levels.size() * bound_checks_per_call);
}

// The same data at every address gives bit-identical results: the kernels use unaligned loads
// and no alignment peeling, so results cannot depend on where an allocator put the data (which
// would break run-to-run reproducibility, STYLE.md section 6).
TEST_CASE_TEMPLATE("kernels: results do not depend on the address of the data", Scalar, float,
                   double) {
    Random rng(0x5eed0005);
    Log log;
    const std::vector<Level> levels = simd::supported();
    std::vector<std::size_t> lengths;
    for (std::size_t n = 1; n <= 70; ++n) lengths.push_back(n);
    for (std::size_t n : {100, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1025, 4099})
        lengths.push_back(n);
    std::vector<Scalar> va, vb;
    std::size_t sets = 0;
    for (std::size_t n : lengths) {
        make_family(Family::uniform, rng, n, va, vb);
        for (Level level : levels) {
            simd::Scoped scoped(level);
            const auto& t = table<Scalar>();
            Scalar first[6] = {};
            for (std::size_t k = 0; k < 32; ++k) {
                // 16 equal offsets, then 16 unequal ones.
                const Offsets off{k % 16, k < 16 ? k : (7 * k + 5) % 16};
                const GuardedVector<Scalar> ga(va, off.a), gb(vb, off.b);
                const CosineParts<Scalar> p = t.cosine(ga.data(), gb.data(), n);
                const Scalar got[6] = {t.dot(ga.data(), gb.data(), n),
                                       t.l2_squared(ga.data(), gb.data(), n),
                                       t.l1(ga.data(), gb.data(), n),
                                       p.ab,
                                       p.aa,
                                       p.bb};
                if (k == 0) {
                    std::copy(got, got + 6, first);
                    continue;
                }
                ++sets;
                static const char* names[6] = {"dot",        "l2_squared", "l1",
                                               "cosine a.b", "cosine a.a", "cosine b.b"};
                for (int m = 0; m < 6; ++m)
                    log.expect(got[m] == first[m], [&] {
                        return cat(context<Scalar>(level, names[m], n, off), "got ", got[m],
                                   ", at offsets 0/0 it was ", first[m]);
                    });
            }
        }
    }
    log.report(sets * 6);
}

// ---------------------------------------------------------------------------------------
// (c) Special values.

std::vector<std::size_t> special_lengths() {
    return {1,  2,  3,  4,  5,  6,  7,   8,   9,   15,  16,   17,   31,   32,  33,
            47, 48, 49, 63, 64, 65, 100, 255, 256, 257, 1023, 1024, 1025, 4097};
}

// First, middle and each of the last 17 positions: the tail of every level (scalar remainder,
// masked AVX-512 lanes, partial unrolled steps) holds some of them at every length.
std::vector<std::size_t> special_positions(std::size_t n) {
    std::set<std::size_t> p{0, n / 2};
    for (std::size_t k = 1; k <= 17 && k <= n; ++k) p.insert(n - k);
    return {p.begin(), p.end()};
}

template <class Scalar>
struct Expected {
    Scalar dot, l2_squared, l2, l1, cosine_similarity, cosine_distance;
};

template <class Scalar>
void expect_results(Log& log, const std::string& where, const Scalar* a, const Scalar* b,
                    std::size_t n, const Expected<Scalar>& e) {
    const Results<Scalar> r = all_metrics(a, b, n);
    auto eq = [&](const char* metric, Scalar got, Scalar want) {
        log.expect(same_value(got, want),
                   [&] { return cat(where, metric, ": got ", got, ", expected ", want); });
    };
    eq("dot", r.dot, e.dot);
    eq("l2_squared", r.l2_squared, e.l2_squared);
    eq("l2", r.l2, e.l2);
    eq("l1", r.l1, e.l1);
    eq("cosine_similarity", r.cosine_similarity, e.cosine_similarity);
    eq("cosine_distance", r.cosine_distance, e.cosine_distance);
}

TEST_CASE_TEMPLATE("kernels: NaN in either input at any position gives NaN for every metric",
                   Scalar, float, double) {
    Random rng(0x5eed0006);
    Log log;
    const Scalar nan = nan_v<Scalar>;
    const Expected<Scalar> all_nan{nan, nan, nan, nan, nan, nan};
    std::vector<Scalar> va, vb;
    for (std::size_t n : special_lengths()) {
        small_integers(rng, n, va, vb);
        GuardedVector<Scalar> ga(va, n % 16), gb(vb, (n + 9) % 16);
        for (std::size_t pos : special_positions(n)) {
            for (int variant = 0; variant < 6; ++variant) {
                // NaN of either sign (the sign bit of a NaN must not be taken for data), in a,
                // in b, or in both.
                const Scalar value = variant % 2 == 0 ? nan : -nan;
                const int where = variant / 2;  // 0: a, 1: b, 2: both
                if (where != 1) ga.data()[pos] = value;
                if (where != 0) gb.data()[pos] = value;
                for (Level level : simd::supported()) {
                    simd::Scoped scoped(level);
                    expect_results(log,
                                   context<Scalar>(level, "", n,
                                                   cat("NaN (", variant % 2 ? "-" : "+", ") in ",
                                                       where == 0   ? "a"
                                                       : where == 1 ? "b"
                                                                    : "a and b",
                                                       " at ", pos)),
                                   ga.data(), gb.data(), n, all_nan);
                    const CosineParts<Scalar> p = table<Scalar>().cosine(ga.data(), gb.data(), n);
                    log.expect(std::isnan(p.ab), [&] {
                        return cat(context<Scalar>(level, "table cosine a.b", n, "NaN"), "got ",
                                   p.ab);
                    });
                }
                ga.data()[pos] = va[pos];
                gb.data()[pos] = vb[pos];
            }
        }
    }
    log.report(1000);
}

// Infinities follow IEEE arithmetic, whatever the summation order (only one infinite term, or
// two of opposite sign, among small finite ones): Inf * 2 = Inf, Inf * 0 = NaN,
// Inf - Inf = NaN, Inf + finite = Inf. The scalar kernels define this behaviour and every level
// must match it; metric.hpp's rule makes cosine NaN whenever a.a or b.b is not finite.
TEST_CASE_TEMPLATE("kernels: infinities follow IEEE arithmetic, cosine of an infinite input is NaN",
                   Scalar, float, double) {
    Random rng(0x5eed0007);
    Log log;
    const Scalar nan = nan_v<Scalar>;
    const Scalar inf = inf_v<Scalar>;
    struct Case {
        const char* name;
        Scalar a_p, b_p;  // values placed at position p
        bool second;      // also a[q] = -Inf, b[q] = 1 at a second position q
        Expected<Scalar> e;
    };
    const Case cases[] = {
        {"a=+Inf b=2", inf, 2, false, {inf, inf, inf, inf, nan, nan}},
        {"a=-Inf b=2", -inf, 2, false, {-inf, inf, inf, inf, nan, nan}},
        {"a=3 b=+Inf", 3, inf, false, {inf, inf, inf, inf, nan, nan}},
        {"a=-3 b=-Inf", -3, -inf, false, {inf, inf, inf, inf, nan, nan}},
        {"a=+Inf b=+Inf", inf, inf, false, {inf, nan, nan, nan, nan, nan}},
        {"a=+Inf b=-Inf", inf, -inf, false, {-inf, inf, inf, inf, nan, nan}},
        {"a=+Inf b=0", inf, 0, false, {nan, inf, inf, inf, nan, nan}},
        {"a=+Inf,-Inf b=1,1", inf, 1, true, {nan, inf, inf, inf, nan, nan}},
    };
    std::vector<Scalar> va, vb;
    for (std::size_t n : special_lengths()) {
        small_integers(rng, n, va, vb);
        GuardedVector<Scalar> ga(va, (n + 3) % 16), gb(vb, (2 * n) % 16);
        for (std::size_t pos : special_positions(n)) {
            for (const Case& c : cases) {
                if (c.second && n < 2) continue;
                const std::size_t q = (pos + (n + 1) / 2) % n;  // != pos for n >= 2
                ga.data()[pos] = c.a_p;
                gb.data()[pos] = c.b_p;
                if (c.second) {
                    ga.data()[q] = -inf;
                    gb.data()[q] = 1;
                }
                for (Level level : simd::supported()) {
                    simd::Scoped scoped(level);
                    expect_results(log, context<Scalar>(level, "", n, cat(c.name, " at ", pos)),
                                   ga.data(), gb.data(), n, c.e);
                }
                ga.data()[pos] = va[pos];
                gb.data()[pos] = vb[pos];
                if (c.second) {
                    ga.data()[q] = va[q];
                    gb.data()[q] = vb[q];
                }
            }
        }
    }
    log.report(1000);
}

// Overflow: metric.hpp makes cosine NaN when a.a or b.b overflows (an element whose square
// overflows, or finite squares whose sum does), for either vector or both. The other metrics
// follow IEEE arithmetic: a product that fits stays finite, a square that overflows is +Inf.
TEST_CASE_TEMPLATE("kernels: overflowing sums of squares", Scalar, float, double) {
    using limits = std::numeric_limits<Scalar>;
    Random rng(0x5eed0008);
    Log log;
    const Scalar inf = inf_v<Scalar>;
    // Square overflows on its own (1e20f^2 = 1e40 > FLT_MAX; 1e200^2 > DBL_MAX), product with
    // a small integer does not.
    const Scalar huge = std::is_same_v<Scalar, float> ? Scalar(1e20f) : Scalar(1e200);
    // Square is 0.5625 max (finite); two of them overflow.
    const Scalar big = Scalar(0.75) * std::sqrt(limits::max());
    REQUIRE(std::isinf(huge * huge));
    REQUIRE(std::isfinite(big * big));
    REQUIRE(std::isinf(big * big + big * big));
    std::vector<Scalar> va, vb;
    for (std::size_t n : special_lengths()) {
        small_integers(rng, n, va, vb);
        for (std::size_t pos : special_positions(n)) {
            const std::size_t q = (pos + (n + 1) / 2) % n;  // != pos for n >= 2
            for (int variant = 0; variant < 5; ++variant) {
                if ((variant == 1 || variant == 2 || variant == 3) && n < 2) continue;
                std::vector<Scalar> a = va, b = vb;
                std::string what;
                switch (variant) {
                    case 0:
                        a[pos] = huge;
                        what = "a has one huge element";
                        break;
                    case 1:
                        a[pos] = a[q] = big;
                        what = "a has two big elements";
                        break;
                    case 2:
                        b[pos] = b[q] = -big;
                        what = "b has two big elements";
                        break;
                    case 3:
                        a[pos] = a[q] = big;
                        b[pos] = huge;
                        what = "both overflow";
                        break;
                    case 4:
                        b[pos] = -huge;
                        what = "b has one huge element";
                        break;
                }
                const GuardedVector<Scalar> ga(a, pos % 16), gb(b, (pos + 7) % 16);
                const Reference r = reference(ga.data(), gb.data(), n);
                for (Level level : simd::supported()) {
                    simd::Scoped scoped(level);
                    const std::string where = context<Scalar>(level, "", n, cat(what, " at ", pos));
                    const Results<Scalar> res = all_metrics(ga.data(), gb.data(), n);
                    log.expect(std::isnan(res.cosine_similarity) && std::isnan(res.cosine_distance),
                               [&] {
                                   return cat(where, "cosine: got ", res.cosine_similarity, " / ",
                                              res.cosine_distance, ", expected NaN / NaN");
                               });
                    log.expect(res.l2_squared == inf && res.l2 == inf, [&] {
                        return cat(where, "l2_squared / l2: got ", res.l2_squared, " / ", res.l2,
                                   ", expected +Inf");
                    });
                    // l1 and, but for a huge * huge product, dot stay finite and accurate.
                    log.expect(std::isfinite(res.l1) &&
                                   std::fabs(res.l1 - r.l1) <= sum_tolerance<Scalar>(n, r.l1),
                               [&] { return cat(where, "l1: got ", res.l1, ", expected ", r.l1); });
                    if (variant == 3) {
                        log.expect(res.dot == inf, [&] {
                            return cat(where, "dot: got ", res.dot, ", expected +Inf (big * huge)");
                        });
                    } else {
                        log.expect(
                            std::isfinite(res.dot) &&
                                std::fabs(res.dot - r.dot) <= sum_tolerance<Scalar>(n, r.dot_abs),
                            [&] { return cat(where, "dot: got ", res.dot, ", expected ", r.dot); });
                    }
                }
            }
        }
    }
    log.report(1000);
}

// Underflow: a non-zero vector whose squares all underflow to 0 is a zero vector for cosine
// (metric.hpp); one whose sum of squares is subnormal keeps the similarity in [-1, 1].
TEST_CASE_TEMPLATE(
    "kernels: underflowing squares make a zero vector, subnormal norms stay in range", Scalar,
    float, double) {
    using limits = std::numeric_limits<Scalar>;
    Random rng(0x5eed0009);
    Log log;
    // tiny^2 < denorm_min / 2 rounds to 0; tiny itself is a normal number.
    const Scalar tiny = std::is_same_v<Scalar, float> ? Scalar(1e-30f) : Scalar(1e-200);
    // sub^2 is subnormal (float 1e-44, double 1e-320) and so are the sums below.
    const Scalar sub = std::is_same_v<Scalar, float> ? Scalar(1e-22f) : Scalar(1e-160);
    REQUIRE(tiny * tiny == 0);
    REQUIRE(sub * sub > 0);
    REQUIRE(sub * sub < limits::min());
    std::vector<Scalar> va, vb;
    for (std::size_t n : special_lengths()) {
        small_integers(rng, n, va, vb);
        std::vector<Scalar> ta(n), tb(n), sa(n), sb(n);
        for (std::size_t i = 0; i < n; ++i) {
            ta[i] = tiny * va[i];  // |x| <= 8 tiny: every square still underflows to 0
            tb[i] = tiny * vb[i];
            sa[i] = sub * va[i] / 8;  // |x| <= sub: every square subnormal (or 0)
            sb[i] = sub * vb[i] / 8;
        }
        const Offsets off{n % 16, (3 * n) % 16};
        const GuardedVector<Scalar> g_ta(ta, off.a), g_tb(tb, off.b), g_b(vb, off.b);
        const GuardedVector<Scalar> g_sa(sa, off.a), g_sb(sb, off.b);
        const Reference r_tiny_b = reference(g_ta.data(), g_b.data(), n);
        const Reference r_tiny_tiny = reference(g_ta.data(), g_tb.data(), n);
        for (Level level : simd::supported()) {
            simd::Scoped scoped(level);
            const std::string where = context<Scalar>(level, "", n, off);
            // tiny vector vs ordinary vector: cosine as for a zero a; the rest accurate.
            const Results<Scalar> r1 = all_metrics(g_ta.data(), g_b.data(), n);
            log.expect(r1.cosine_similarity == 0 && r1.cosine_distance == 1, [&] {
                return cat(where, "tiny a vs b: cosine ", r1.cosine_similarity, " / ",
                           r1.cosine_distance, ", expected 0 / 1");
            });
            log.expect(
                std::fabs(r1.dot - r_tiny_b.dot) <= sum_tolerance<Scalar>(n, r_tiny_b.dot_abs),
                [&] {
                    return cat(where, "tiny a vs b: dot ", r1.dot, ", expected ", r_tiny_b.dot);
                });
            const Results<Scalar> r2 = all_metrics(g_ta.data(), g_tb.data(), n);
            log.expect(r2.cosine_similarity == 1 && r2.cosine_distance == 0, [&] {
                return cat(where, "tiny a vs tiny b: cosine ", r2.cosine_similarity, " / ",
                           r2.cosine_distance, ", expected 1 / 0");
            });
            // Differences of two tiny values are at most 16 tiny: their squares underflow too.
            log.expect(r2.l2_squared == 0 && r2.l2 == 0 && r2.dot == 0, [&] {
                return cat(where, "tiny a vs tiny b: l2_squared ", r2.l2_squared, ", l2 ", r2.l2,
                           ", dot ", r2.dot, ", expected 0");
            });
            log.expect(
                std::fabs(r2.l1 - r_tiny_tiny.l1) <= sum_tolerance<Scalar>(n, r_tiny_tiny.l1), [&] {
                    return cat(where, "tiny a vs tiny b: l1 ", r2.l1, ", expected ",
                               r_tiny_tiny.l1);
                });
            // Subnormal sums of squares: defined, in range, never NaN.
            const Results<Scalar> r3 = all_metrics(g_sa.data(), g_sb.data(), n);
            log.expect(r3.cosine_similarity >= -1 && r3.cosine_similarity <= 1 &&
                           r3.cosine_distance >= 0 && r3.cosine_distance <= 2,
                       [&] {
                           return cat(where, "subnormal norms: cosine ", r3.cosine_similarity,
                                      " / ", r3.cosine_distance, ", expected within range");
                       });
            const Results<Scalar> r4 = all_metrics(g_sa.data(), g_sa.data(), n);
            log.expect(r4.cosine_similarity >= -1 && r4.cosine_similarity <= 1 &&
                           r4.cosine_distance >= 0 && r4.cosine_distance <= 2,
                       [&] {
                           return cat(where, "subnormal norms (a, a): cosine ",
                                      r4.cosine_similarity, " / ", r4.cosine_distance,
                                      ", expected within range");
                       });
        }
    }
    log.report(special_lengths().size() * simd::supported().size() * 7);
}

// Subnormal inputs: multiples k * denorm_min of small integers k form an exact fixed-point
// grid, so IEEE arithmetic (with gradual underflow) is exact on them as long as the sums stay
// below 2^24 (float) / 2^53 (double) grid steps: products with small integers and all
// differences are exact, products of two subnormals underflow to exactly 0.
TEST_CASE_TEMPLATE("kernels: subnormal inputs are handled exactly where IEEE arithmetic is exact",
                   Scalar, float, double) {
    const Scalar dmin = std::numeric_limits<Scalar>::denorm_min();
    Random rng(0x5eed000a);
    Log log;
    const std::vector<Level> levels = simd::supported();
    std::vector<Scalar> ka, kb;
    std::size_t sets = 0;
    for (std::size_t n : grid_lengths()) {
        small_integers(rng, n, ka, kb);
        std::vector<Scalar> sa(n), sb(n);
        long double k_dot = 0, k_l1 = 0, m_l1 = 0;
        for (std::size_t i = 0; i < n; ++i) {
            sa[i] = ka[i] * dmin;  // exact: k * denorm_min is representable for |k| < 2^23
            sb[i] = kb[i] * dmin;
            k_dot += static_cast<long double>(ka[i]) * kb[i];
            k_l1 += std::fabs(static_cast<long double>(ka[i]) - kb[i]);
            m_l1 += std::fabs(static_cast<long double>(kb[i]));
        }
        const Offsets off{(n + 1) % 16, (5 * n + 2) % 16};
        const GuardedVector<Scalar> g_sa(sa, off.a), g_sb(sb, off.b), g_kb(kb, off.b);
        ++sets;
        for (Level level : levels) {
            simd::Scoped scoped(level);
            const std::string where = context<Scalar>(level, "", n, off);
            // subnormal a vs subnormal b: products underflow to 0, differences exact.
            expect_results(
                log, where + "subnormal vs subnormal: ", g_sa.data(), g_sb.data(), n,
                Expected<Scalar>{Scalar(0), Scalar(0), Scalar(0), static_cast<Scalar>(k_l1) * dmin,
                                 Scalar(1), Scalar(0)});  // both norms underflow
            // subnormal a vs integer b: exact subnormal products; |k dmin - m| rounds to |m|.
            // a.a underflows, b is non-zero: cosine as for one zero vector. n == 0 is handled
            // by the both-zero rule.
            const Results<Scalar> r = all_metrics(g_sa.data(), g_kb.data(), n);
            log.expect(r.dot == static_cast<Scalar>(k_dot) * dmin, [&] {
                return cat(where, "subnormal vs integer dot: got ", r.dot, ", expected ",
                           static_cast<Scalar>(k_dot) * dmin);
            });
            log.expect(r.l1 == static_cast<Scalar>(m_l1), [&] {
                return cat(where, "subnormal vs integer l1: got ", r.l1, ", expected ", m_l1);
            });
            const Scalar cs = n == 0 ? Scalar(1) : Scalar(0);
            log.expect(r.cosine_similarity == cs && r.cosine_distance == 1 - cs, [&] {
                return cat(where, "subnormal vs integer cosine: got ", r.cosine_similarity, " / ",
                           r.cosine_distance, ", expected ", cs, " / ", 1 - cs);
            });
        }
    }
    log.report(sets * levels.size() * 9);
}

// Zero vectors (metric.hpp): one zero -> similarity 0, distance 1; both -> 1, 0; never NaN,
// for +0, -0 and mixed signs of zero. The other metrics are exact on integers.
TEST_CASE_TEMPLATE("kernels: zero vectors of either sign follow the cosine rules exactly", Scalar,
                   float, double) {
    Random rng(0x5eed000b);
    Log log;
    const std::vector<Level> levels = simd::supported();
    std::vector<Scalar> va, vb;
    std::size_t sets = 0;
    for (std::size_t n : grid_lengths()) {
        small_integers(rng, n, va, vb);
        std::vector<Scalar> plus(n, Scalar(0)), minus(n, -Scalar(0)), mixed(n);
        for (std::size_t i = 0; i < n; ++i) mixed[i] = rng.chance(0.5) ? Scalar(0) : -Scalar(0);
        long double b_l1 = 0, b_sq = 0;
        for (Scalar x : vb) {
            b_l1 += std::fabs(x);
            b_sq += static_cast<long double>(x) * x;
        }
        const Offsets off{(7 * n) % 16, (n + 11) % 16};
        const GuardedVector<Scalar> gp(plus, off.a), gm(minus, off.b), gx(mixed, off.a),
            gb(vb, off.b);
        const Scalar l1 = static_cast<Scalar>(b_l1), sq = static_cast<Scalar>(b_sq);
        const Scalar one_zero = n == 0 ? Scalar(1) : Scalar(0);  // empty b is a zero vector
        ++sets;
        for (Level level : levels) {
            simd::Scoped scoped(level);
            const std::string where = context<Scalar>(level, "", n, off);
            const Expected<Scalar> both{0, 0, 0, 0, 1, 0};
            const Expected<Scalar> one{0, sq, std::sqrt(sq), l1, one_zero, 1 - one_zero};
            expect_results(log, where + "+0 vs -0: ", gp.data(), gm.data(), n, both);
            expect_results(log, where + "-0 vs mixed zeros: ", gm.data(), gx.data(), n, both);
            expect_results(log, where + "+0 vs b: ", gp.data(), gb.data(), n, one);
            expect_results(log, where + "b vs -0: ", gb.data(), gm.data(), n, one);
            expect_results(log, where + "mixed zeros vs b: ", gx.data(), gb.data(), n, one);
        }
    }
    log.report(sets * levels.size() * 30);
}

// Signed zeros inside ordinary data change nothing: the results equal those with +0.
TEST_CASE_TEMPLATE("kernels: -0 elements inside data act as +0", Scalar, float, double) {
    Random rng(0x5eed000c);
    Log log;
    std::vector<Scalar> va, vb;
    for (std::size_t n : special_lengths()) {
        small_integers(rng, n, va, vb);
        std::vector<Scalar> pa = va, ma = va;
        for (std::size_t i = 0; i < n; i += 3) {
            pa[i] = Scalar(0);
            ma[i] = -Scalar(0);
        }
        const GuardedVector<Scalar> gp(pa, n % 16), gm(ma, (n + 1) % 16), gb(vb, (n + 2) % 16);
        for (Level level : simd::supported()) {
            simd::Scoped scoped(level);
            const Results<Scalar> rp = all_metrics(gp.data(), gb.data(), n);
            const Results<Scalar> rm = all_metrics(gm.data(), gb.data(), n);
            const std::string where = context<Scalar>(level, "", n, "-0 vs +0 elements");
            log.expect(rp.dot == rm.dot && rp.l2_squared == rm.l2_squared && rp.l2 == rm.l2 &&
                           rp.l1 == rm.l1 && rp.cosine_similarity == rm.cosine_similarity &&
                           rp.cosine_distance == rm.cosine_distance,
                       [&] { return cat(where, "results differ"); });
        }
    }
    log.report(special_lengths().size() * simd::supported().size());
}

// Length 0: dot, l1, l2, l2_squared are 0; empty vectors are zero vectors for cosine
// (similarity 1, distance 0). The pointers are not used, so null is fine.
TEST_CASE_TEMPLATE("kernels: length 0 at every level", Scalar, float, double) {
    const Scalar some[2] = {Scalar(1), Scalar(2)};
    for (Level level : simd::supported()) {
        simd::Scoped scoped(level);
        CAPTURE(level_str(level));
        for (const Scalar* p : {static_cast<const Scalar*>(nullptr), &some[0]}) {
            const Results<Scalar> r = all_metrics(p, p == nullptr ? p : &some[1], 0);
            CHECK(r.dot == 0);
            CHECK(r.l2_squared == 0);
            CHECK(r.l2 == 0);
            CHECK(r.l1 == 0);
            CHECK(r.cosine_similarity == 1);
            CHECK(r.cosine_distance == 0);
            const CosineParts<Scalar> parts = table<Scalar>().cosine(p, p, 0);
            CHECK(parts.ab == 0);
            CHECK(parts.aa == 0);
            CHECK(parts.bb == 0);
        }
    }
}

}  // namespace
