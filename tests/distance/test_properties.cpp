// Metric properties at every supported level: symmetry, d(a, a) = 0, the triangle inequality
// for l1 and l2, cosine scale invariance, and exact power-of-two homogeneity.
#include "distance_test_util.hpp"

#include <embedkit/distance/dispatch.hpp>
#include <embedkit/distance/metric.hpp>
#include <embedkit/distance/pair.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace {

using namespace ektest;
namespace simd = embedkit::simd;
using embedkit::CosineParts;

std::vector<std::size_t> property_lengths() {
    return {0,  1,  2,  3,   5,   7,   8,   9,   15,  16,  17,  31,  32,   33,  47,
            63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 300, 513, 1025, 4097};
}

// Families whose values are far from overflow and underflow, so that scaling by the powers of
// two used below is exact for every element, product and partial sum.
constexpr Family property_families[] = {Family::uniform, Family::wide, Family::near_duplicate,
                                        Family::orthogonal_pairs};

template <class Scalar>
std::string where(Level level, Family f, std::size_t n, const char* what) {
    return cat(level_str(level), " ", scalar_str<Scalar>(), " ", family_name(f), " n=", n, " ",
               what, ": ");
}

template <class Scalar>
std::vector<Scalar> scaled(const std::vector<Scalar>& v, Scalar factor) {
    std::vector<Scalar> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = v[i] * factor;
    return out;
}

// All kernels read the two vectors element by element in the same order and every operation
// they apply is commutative in IEEE arithmetic (x*y = y*x, (x-y)^2 = (y-x)^2, |x-y| = |y-x|),
// so swapping the arguments must not change a single bit; cosine swaps a.a and b.b.
TEST_CASE_TEMPLATE("properties: every metric is symmetric, bit for bit", Scalar, float, double) {
    Random rng(0x5eed0301);
    Log log;
    std::vector<Scalar> va, vb;
    std::size_t sets = 0;
    for (Family f : property_families) {
        for (std::size_t n : property_lengths()) {
            make_family(f, rng, n, va, vb);
            ++sets;
            for (Level level : simd::supported()) {
                simd::Scoped scoped(level);
                const Results<Scalar> ab = all_metrics(va.data(), vb.data(), n);
                const Results<Scalar> ba = all_metrics(vb.data(), va.data(), n);
                const CosineParts<Scalar> pab =
                    simd::detail::active_table<Scalar>().cosine(va.data(), vb.data(), n);
                const CosineParts<Scalar> pba =
                    simd::detail::active_table<Scalar>().cosine(vb.data(), va.data(), n);
                auto eq = [&](const char* metric, Scalar x, Scalar y) {
                    log.expect(same_value(x, y), [&] {
                        return cat(where<Scalar>(level, f, n, metric), "d(a, b) = ", x,
                                   ", d(b, a) = ", y);
                    });
                };
                eq("dot", ab.dot, ba.dot);
                eq("l2_squared", ab.l2_squared, ba.l2_squared);
                eq("l2", ab.l2, ba.l2);
                eq("l1", ab.l1, ba.l1);
                eq("cosine_similarity", ab.cosine_similarity, ba.cosine_similarity);
                eq("cosine_distance", ab.cosine_distance, ba.cosine_distance);
                eq("cosine a.b", pab.ab, pba.ab);
                eq("cosine a.a / b.b", pab.aa, pba.bb);
                eq("cosine b.b / a.a", pab.bb, pba.aa);
            }
        }
    }
    log.report(sets * simd::supported().size() * 9);
}

// a - a = 0 exactly, so l1, l2 and l2_squared of (a, a) are exactly 0. Cosine distance of
// (a, a) is 0 up to rounding: within the cosine bound at s = 1 (distance_test_util.hpp);
// exactly 0 (similarity 1) for a zero vector.
TEST_CASE_TEMPLATE("properties: d(a, a) = 0", Scalar, float, double) {
    Random rng(0x5eed0302);
    Log log;
    std::vector<Scalar> va, vb;
    std::size_t sets = 0;
    for (Family f : property_families) {
        for (std::size_t n : property_lengths()) {
            make_family(f, rng, n, va, vb);
            const Reference r = reference(va.data(), va.data(), n);
            ++sets;
            for (Level level : simd::supported()) {
                simd::Scoped scoped(level);
                const Results<Scalar> aa = all_metrics(va.data(), va.data(), n);
                log.expect(aa.l1 == 0 && aa.l2 == 0 && aa.l2_squared == 0, [&] {
                    return cat(where<Scalar>(level, f, n, "l1/l2/l2_squared(a, a)"), aa.l1, " / ",
                               aa.l2, " / ", aa.l2_squared, ", expected 0");
                });
                const bool zero = r.aa == 0;
                const long double tol = zero ? 0 : cosine_distance_tolerance<Scalar>(r, n);
                log.expect(aa.cosine_distance >= 0 && aa.cosine_distance <= tol &&
                               aa.cosine_similarity <= 1 && 1 - aa.cosine_similarity <= tol,
                           [&] {
                               return cat(where<Scalar>(level, f, n, "cosine(a, a)"), "similarity ",
                                          aa.cosine_similarity, ", distance ", aa.cosine_distance,
                                          ", allowed ", tol);
                           });
            }
        }
    }
    log.report(sets * simd::supported().size() * 2);
}

// d(x, z) <= d(x, y) + d(y, z) holds exactly for the exact distances; each computed distance
// is within its bound of the exact one (distance_test_util.hpp), so the computed ones may
// exceed the inequality by at most the sum of the three bounds. Checked for all orderings of
// triples that include points between a and b (where the exact inequality is nearly an
// equality, so the allowance is what stands between pass and fail).
template <class Scalar>
struct Pair {
    long double value;      // computed distance
    long double allowance;  // bound on |computed - exact|
};

template <class Scalar>
Pair<Scalar> l1_pair(const std::vector<Scalar>& x, const std::vector<Scalar>& y) {
    const std::size_t n = x.size();
    const Reference r = reference(x.data(), y.data(), n);
    return {embedkit::l1(x.data(), y.data(), n), sum_tolerance<Scalar>(n, r.l1)};
}

template <class Scalar>
Pair<Scalar> l2_pair(const std::vector<Scalar>& x, const std::vector<Scalar>& y) {
    const std::size_t n = x.size();
    const Reference r = reference(x.data(), y.data(), n);
    const Scalar got = embedkit::l2(x.data(), y.data(), n);
    const long double t = l2_squared_of_l2_tolerance<Scalar>(n, r.l2_squared, got);
    return {got, l2_tolerance_from_squared(r.l2_squared, t)};
}

TEST_CASE_TEMPLATE("properties: triangle inequality for l1 and l2", Scalar, float, double) {
    Random rng(0x5eed0303);
    Log log;
    std::vector<Scalar> va, vb, vc, vd;
    std::size_t triples = 0;
    for (Family f : property_families) {
        for (std::size_t n : property_lengths()) {
            make_family(f, rng, n, va, vb);
            make_family(f, rng, n, vc, vd);
            // Points on the segment from a to b (t = 1/2, 1/3) and a random third point.
            std::vector<Scalar> mid(n), third(n);
            for (std::size_t i = 0; i < n; ++i) {
                mid[i] = va[i] + (vb[i] - va[i]) / 2;
                third[i] = va[i] + (vb[i] - va[i]) / 3;
            }
            const std::vector<Scalar>* points[] = {&va, &vb, &vc, &mid, &third};
            constexpr int count = 5;
            for (Level level : simd::supported()) {
                simd::Scoped scoped(level);
                for (int m = 0; m < 2; ++m) {
                    const char* metric = m == 0 ? "l1" : "l2";
                    // Distances of all ordered pairs, then every triple.
                    std::vector<Pair<Scalar>> d(count * count);
                    for (int i = 0; i < count; ++i)
                        for (int j = 0; j < count; ++j)
                            d[i * count + j] = m == 0 ? l1_pair(*points[i], *points[j])
                                                      : l2_pair(*points[i], *points[j]);
                    for (int x = 0; x < count; ++x)
                        for (int y = 0; y < count; ++y)
                            for (int z = 0; z < count; ++z) {
                                if (x == z) continue;
                                ++triples;
                                const Pair<Scalar>& xz = d[x * count + z];
                                const Pair<Scalar>& xy = d[x * count + y];
                                const Pair<Scalar>& yz = d[y * count + z];
                                const long double slack =
                                    xz.allowance + xy.allowance + yz.allowance;
                                log.expect(xz.value <= xy.value + yz.value + slack, [&] {
                                    return cat(where<Scalar>(level, f, n, metric), "points ", x,
                                               ",", y, ",", z, ": d(x,z) = ", xz.value,
                                               " > d(x,y) + d(y,z) = ", xy.value + yz.value,
                                               " + allowance ", slack);
                                });
                            }
                }
            }
        }
    }
    log.report(triples);
}

// Scaling a by a power of two scales a.b by it and a.a by its square exactly (no element,
// product or partial sum leaves the normal range in these families), and
// sqrt(4^k a.a) = 2^k sqrt(a.a) exactly, so the similarity is the same to the last bit.
// Negation is exact too and flips the sign of a.b only. Any other factor rounds each element
// once: a' = lambda a (1 + d_i), |d_i| <= u, which moves the exact similarity by at most
// 2u (1 + u) (a.b by <= u |a||b|, |a| by <= u |a|), plus the bounds of both computed values.
TEST_CASE_TEMPLATE("properties: cosine is invariant under positive scaling, odd under negation",
                   Scalar, float, double) {
    Random rng(0x5eed0304);
    Log log;
    const long double eps = std::numeric_limits<Scalar>::epsilon();
    std::vector<Scalar> va, vb;
    std::size_t sets = 0;
    for (Family f : property_families) {
        for (std::size_t n : property_lengths()) {
            if (n == 0) continue;
            make_family(f, rng, n, va, vb);
            const Reference r = reference(va.data(), vb.data(), n);
            if (r.aa == 0 || r.bb == 0) continue;  // zero vectors: covered by the rules
            const long double tol = cosine_similarity_tolerance<Scalar>(r, n);
            ++sets;
            for (Level level : simd::supported()) {
                simd::Scoped scoped(level);
                const Scalar s = embedkit::cosine_similarity(va.data(), vb.data(), n);
                const Scalar d = embedkit::cosine_distance(va.data(), vb.data(), n);
                for (int k : {-6, -1, 1, 3, 20}) {
                    const Scalar p = std::ldexp(Scalar(1), k);
                    const std::vector<Scalar> sa = scaled(va, p);
                    const std::vector<Scalar> sb = scaled(vb, Scalar(1) / p);
                    const Scalar s1 = embedkit::cosine_similarity(sa.data(), vb.data(), n);
                    const Scalar s2 = embedkit::cosine_similarity(sa.data(), sb.data(), n);
                    const Scalar d1 = embedkit::cosine_distance(va.data(), sb.data(), n);
                    const Scalar neg =
                        embedkit::cosine_similarity(scaled(va, -p).data(), vb.data(), n);
                    const Scalar negd =
                        embedkit::cosine_distance(vb.data(), scaled(va, -p).data(), n);
                    log.expect(s1 == s && s2 == s && d1 == d && neg == -s &&
                                   negd == std::min(Scalar(2), std::max(Scalar(0), Scalar(1) + s)),
                               [&] {
                                   return cat(where<Scalar>(level, f, n, "scale by 2^k"), "k=", k,
                                              ": s=", s, " s(2^k a, b)=", s1,
                                              " s(2^k a, 2^-k b)=", s2, " d=", d,
                                              " d(a, 2^-k b)=", d1, " s(-2^k a, b)=", neg,
                                              " d(b, -2^k a)=", negd);
                               });
                }
                for (double lambda : {3.0, 0.1, 1000.0, 1.0 / 7, -3.0, -0.3}) {
                    const std::vector<Scalar> sa = scaled(va, static_cast<Scalar>(lambda));
                    const Reference rs = reference(sa.data(), vb.data(), n);
                    const Scalar got = embedkit::cosine_similarity(sa.data(), vb.data(), n);
                    const long double want = lambda > 0 ? s : -static_cast<long double>(s);
                    const long double allowed =
                        tol + cosine_similarity_tolerance<Scalar>(rs, n) + 1.01L * eps;
                    log.expect(std::fabs(got - want) <= allowed, [&] {
                        return cat(where<Scalar>(level, f, n, "scale"), "lambda=", lambda,
                                   ": s(lambda a, b)=", got, " vs ", want, " +- ", allowed);
                    });
                }
            }
        }
    }
    log.report(sets * simd::supported().size() * 11);
}

// l1, l2, l2_squared and dot are homogeneous: with a power-of-two factor every difference,
// product and partial sum scales exactly, so the results scale exactly.
TEST_CASE_TEMPLATE("properties: distances and dot scale exactly with powers of two", Scalar, float,
                   double) {
    Random rng(0x5eed0305);
    Log log;
    std::vector<Scalar> va, vb;
    std::size_t sets = 0;
    for (Family f : property_families) {
        for (std::size_t n : property_lengths()) {
            make_family(f, rng, n, va, vb);
            ++sets;
            for (Level level : simd::supported()) {
                simd::Scoped scoped(level);
                const Results<Scalar> base = all_metrics(va.data(), vb.data(), n);
                for (int k : {-5, -1, 2, 17}) {
                    const Scalar p = std::ldexp(Scalar(1), k);
                    const std::vector<Scalar> sa = scaled(va, p), sb = scaled(vb, p);
                    const Results<Scalar> r = all_metrics(sa.data(), sb.data(), n);
                    const Scalar dot_ab = embedkit::dot(sa.data(), vb.data(), n);
                    log.expect(r.l1 == p * base.l1 && r.l2 == p * base.l2 &&
                                   r.l2_squared == p * p * base.l2_squared &&
                                   r.dot == p * p * base.dot && dot_ab == p * base.dot,
                               [&] {
                                   return cat(where<Scalar>(level, f, n, "2^k homogeneity"),
                                              "k=", k, ": l1 ", r.l1, " vs ", p * base.l1, ", l2 ",
                                              r.l2, " vs ", p * base.l2, ", l2_squared ",
                                              r.l2_squared, " vs ", p * p * base.l2_squared,
                                              ", dot ", r.dot, " vs ", p * p * base.dot);
                               });
                }
            }
        }
    }
    log.report(sets * simd::supported().size() * 4);
}

}  // namespace
