// batch.hpp: distances (one query against a set) equal the pair functions bit for bit;
// pairwise (all pairs) equals them exactly for l1 and within stated rounding bounds for the
// matrix-product form, never giving a negative squared distance; normalize_rows gives unit rows
// across the whole floating-point range and turns cosine search into dot search.
#include "distance_test_util.hpp"
#include "search_test_util.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/distance/pairwise.hpp>
#include <embedkit/distance/metric.hpp>
#include <embedkit/distance/pair.hpp>
#include <embedkit/distance/topk.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace {

using ektest::cat;
using ektest::check_throws;
using ektest::for_each_set_view;
using ektest::gemm_tolerance;
using ektest::GemmL1;
using ektest::kernel_tolerance;
using ektest::kernel_value_ok;
using ektest::Level;
using ektest::level_str;
using ektest::Log;
using ektest::pair_value;
using ektest::Random;
using ektest::random_set;
using ektest::reference_value;
using ektest::same_value;
using ektest::scalar_str;
using embedkit::Metric;
using Index = Eigen::Index;
namespace simd = embedkit::simd;

template <class S>
using RM = embedkit::RowMatrix<S>;
template <class S>
using Vec = embedkit::Vector<S>;

constexpr Metric all_metrics[] = {Metric::l1, Metric::l2, Metric::l2_squared, Metric::dot,
                                  Metric::cosine};

std::string name(Metric m) { return std::string(embedkit::metric_name(m)); }

// The views the set arguments are tested with: the RowMatrix itself first, then every other
// row-major view (search_test_util.hpp); the middleRows view starts two rows into its padding.
constexpr ektest::SetViews set_views{true, 2, 3};

// ---------------------------------------------------------------------------------------------
// distances

TEST_CASE_TEMPLATE("batch: distances equals the pair functions bit for bit at every level", S,
                   float, double) {
    Random rng(0xba7c0001);
    Log log;
    for (const Index dim : {1, 3, 17, 129}) {
        for (const Index rows : {1, 2, 37}) {
            const RM<S> set = random_set<S>(rng, rows, dim);
            const Vec<S> q = random_set<S>(rng, 1, dim).transpose();
            // The same query values as every kind of vector a user may pass.
            RM<S> q_rows = random_set<S>(rng, 3, dim);
            q_rows.row(1) = q.transpose();
            Vec<S> longer = Vec<S>::Constant(dim + 5, std::numeric_limits<S>::quiet_NaN());
            longer.segment(2, dim) = q;
            RM<S> q_cols = RM<S>::Constant(dim, 2, std::numeric_limits<S>::quiet_NaN());
            q_cols.col(1) = q;  // a strided column: the query is evaluated first
            const Eigen::Map<const Vec<S>> q_map(q.data(), dim);

            for (const Level level : simd::supported()) {
                simd::Scoped scoped(level);
                for (const Metric m : all_metrics) {
                    std::vector<S> expected(static_cast<std::size_t>(rows));
                    for (Index r = 0; r < rows; ++r)
                        expected[std::size_t(r)] =
                            pair_value(m, q.data(), set.row(r).data(), std::size_t(dim));
                    for_each_set_view(set, set_views, [&](const auto& view, const char* view_name) {
                        const auto check = [&](const Vec<S>& got, const char* query_name) {
                            log.expect(got.size() == rows, [&] {
                                return cat(level_str(level), " ", name(m), " ", view_name, " ",
                                           query_name, ": size ", got.size(), " != ", rows);
                            });
                            if (got.size() != rows) return;
                            for (Index r = 0; r < rows; ++r) {
                                const S want = expected[std::size_t(r)];
                                log.expect(same_value(got[r], want), [&] {
                                    return cat(level_str(level), " ", scalar_str<S>(), " ", name(m),
                                               " dim ", dim, " set ", view_name, " query ",
                                               query_name, " row ", r, ": got ", got[r],
                                               ", pair function ", want);
                                });
                                log.expect(kernel_value_ok(m, got[r], q.data(), set.row(r).data(),
                                                           std::size_t(dim)),
                                           [&] {
                                               return cat(level_str(level), " ", name(m), " dim ",
                                                          dim, " row ", r, ": ", got[r],
                                                          " too far from the reference");
                                           });
                            }
                        };
                        check(embedkit::distances(q, view, m), "VectorX");
                        check(embedkit::distances(q_rows.row(1), view, m), "row of a RowMatrix");
                        check(embedkit::distances(longer.segment(2, dim), view, m), "segment");
                        check(embedkit::distances(q_cols.col(1), view, m), "strided column");
                        check(embedkit::distances(q_map, view, m), "Map");
                        check(embedkit::distances((q * S(2)) * S(0.5), view, m), "expression");
                    });
                }
            }
        }
    }
    // 4 dims x 3 row counts (40 rows) x levels x 5 metrics x 6 views x 6 queries x 2 checks.
    log.report(std::size_t(4 * 40 * 5 * 6 * 6 * 2) * simd::supported().size());
}

TEST_CASE_TEMPLATE("batch: distances gives NaN for a NaN row and leaves the other rows alone", S,
                   float, double) {
    Random rng(0xba7c0002);
    const Index dim = 17;
    RM<S> set = random_set<S>(rng, 9, dim);
    const Vec<S> q = random_set<S>(rng, 1, dim).transpose();
    set(4, 16) = std::numeric_limits<S>::quiet_NaN();
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const Metric m : all_metrics) {
            CAPTURE(level_str(level));
            CAPTURE(name(m));
            const Vec<S> got = embedkit::distances(q, set, m);
            REQUIRE(got.size() == 9);
            for (Index r = 0; r < 9; ++r) {
                if (r == 4) {
                    CHECK(std::isnan(got[r]));
                } else {
                    CHECK(got[r] == pair_value(m, q.data(), set.row(r).data(), std::size_t(dim)));
                }
            }
        }
    }
}

TEST_CASE("batch: distances rejects an empty set and a dimension mismatch") {
    const RM<float> empty(0, 13);
    const Vec<float> q13 = Vec<float>::Ones(13);
    check_throws<embedkit::ArgumentError>(
        [&] { (void)embedkit::distances(q13, empty, Metric::l2); }, {"distances", "empty"});
    const RM<float> set21 = RM<float>::Ones(4, 21);
    for (const Metric m : all_metrics)
        check_throws<embedkit::DimensionError>([&] { (void)embedkit::distances(q13, set21, m); },
                                               {"distances", "13", "21"});
    const RM<double> set_d = RM<double>::Ones(3, 5);
    const Vec<double> q4 = Vec<double>::Ones(4);
    check_throws<embedkit::DimensionError>(
        [&] { (void)embedkit::distances(q4, set_d, Metric::dot); }, {"distances", "4", "5"});
}

// ---------------------------------------------------------------------------------------------
// pairwise

TEST_CASE_TEMPLATE("batch: pairwise l1 equals the pair function exactly across cache blocks", S,
                   float, double) {
    // l1 runs the kernels over slices of B of about 256 KiB: 1100 rows of 129 elements span
    // three slices for float (508 rows each) and five for double (254 rows).
    Random rng(0xba7c0003);
    const Index dim = 129;
    const RM<S> a = random_set<S>(rng, 5, dim);
    const RM<S> b = random_set<S>(rng, 1100, dim);
    Log log;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for_each_set_view(b, set_views, [&](const auto& bv, const char* b_name) {
            const RM<S> got = embedkit::pairwise(a.middleRows(1, 4), bv, Metric::l1);
            log.expect(got.rows() == 4 && got.cols() == 1100,
                       [&] { return cat("shape ", got.rows(), " x ", got.cols()); });
            if (got.rows() != 4 || got.cols() != 1100) return;
            for (Index i = 0; i < 4; ++i)
                for (Index j = 0; j < 1100; ++j) {
                    const S want =
                        embedkit::l1(a.row(i + 1).data(), b.row(j).data(), std::size_t(dim));
                    log.expect(got(i, j) == want, [&] {
                        return cat(level_str(level), " ", scalar_str<S>(), " B as ", b_name, " (",
                                   i, ", ", j, "): got ", got(i, j), ", l1 ", want);
                    });
                }
        });
    }
    log.report(std::size_t(6 * 4 * 1100) * simd::supported().size());
}

TEST_CASE_TEMPLATE("batch: pairwise matrix-product metrics are within the stated bound", S, float,
                   double) {
    Random rng(0xba7c0004);
    Log log;
    std::size_t beyond_eps = 0;  // values that differ from the pair function at all
    for (const Index dim : {1, 3, 17, 129}) {
        RM<S> a = random_set<S>(rng, 23, dim);
        RM<S> b = random_set<S>(rng, 41, dim);
        // Rows of very different lengths: the bound must scale with |a|^2 + |b|^2.
        for (Index i = 0; i < a.rows(); ++i)
            a.row(i) *= static_cast<S>(std::ldexp(1.0, int(i % 7) * 3 - 9));
        for (Index j = 0; j < b.rows(); ++j)
            b.row(j) *= static_cast<S>(std::ldexp(1.0, int(j % 5) * 4 - 8));
        a.row(3).setZero();  // zero vectors follow the cosine rules
        b.row(7).setZero();
        for (const Level level : simd::supported()) {
            simd::Scoped scoped(level);
            for (const Metric m : all_metrics) {
                for_each_set_view(b, set_views, [&](const auto& bv, const char* b_name) {
                    const RM<S> got = embedkit::pairwise(a, bv, m);
                    log.expect(got.rows() == a.rows() && got.cols() == b.rows(),
                               [&] { return cat("shape ", got.rows(), " x ", got.cols()); });
                    if (got.rows() != a.rows() || got.cols() != b.rows()) return;
                    for (Index i = 0; i < a.rows(); ++i)
                        for (Index j = 0; j < b.rows(); ++j) {
                            const std::size_t n = std::size_t(dim);
                            const S* pa = a.row(i).data();
                            const S* pb = b.row(j).data();
                            const ektest::Reference r = ektest::reference(pa, pb, n);
                            const S pair = pair_value(m, pa, pb, n);
                            const long double tol = gemm_tolerance<S>(m, r, n, GemmL1::exact);
                            const long double ref = reference_value<S>(m, r);
                            const long double v = got(i, j);
                            if (v != pair) ++beyond_eps;
                            // l1 runs the pair kernels; dot and cosine with a zero row are
                            // exactly 0 (or the cosine zero-vector rules).
                            const bool exact_needed =
                                m == Metric::l1 || ((r.aa == 0 || r.bb == 0) &&
                                                    (m == Metric::dot || m == Metric::cosine));
                            bool ok = exact_needed ? v == pair : std::fabs(v - ref) <= tol;
                            // Against the pair function: this bound plus the pair function's.
                            ok = ok && (exact_needed || (kernel_value_ok(m, pair, pa, pb, n) &&
                                                         std::fabs(v - pair) <=
                                                             tol + kernel_tolerance<S>(m, r, n)));
                            if (m == Metric::l2_squared || m == Metric::l2) ok = ok && v >= 0;
                            if (m == Metric::cosine) ok = ok && v >= -1 && v <= 1;
                            log.expect(ok, [&] {
                                return cat(level_str(level), " ", scalar_str<S>(), " ", name(m),
                                           " dim ", dim, " B as ", b_name, " (", i, ", ", j,
                                           "): got ", v, ", pair function ", pair, ", reference ",
                                           ref, ", tolerance ", tol);
                            });
                        }
                });
            }
        }
    }
    log.report(std::size_t(4 * 5 * 6 * 23 * 41) * simd::supported().size());
    // The GEMM really is a different computation (so the bound is what is being tested).
    CHECK(beyond_eps > 0);
}

TEST_CASE_TEMPLATE("batch: pairwise of nearly identical rows never gives a negative square", S,
                   float, double) {
    Random rng(0xba7c0005);
    const Index dim = 129, rows = 64;
    const RM<S> a = random_set<S>(rng, rows, dim, 0.5, 2.0);
    RM<S> noisy = a;
    for (Index i = 0; i < rows; ++i)
        for (Index j = 0; j < dim; ++j) noisy(i, j) += static_cast<S>(rng.uniform(-1e-4, 1e-4));
    Log log;
    std::size_t would_be_negative = 0;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const RM<S>* b : std::initializer_list<const RM<S>*>{&a, &noisy}) {
            const char* b_name = b == &a ? "b == a" : "b = a + 1e-4 noise";
            // Guard: the unclamped form aa + bb - 2ab with this data does go below zero for
            // some pairs, so the clamp is really exercised.
            const RM<S> ip = a * b->transpose();
            for (Index i = 0; i < rows; ++i) {
                const S aa = embedkit::dot(a.row(i).data(), a.row(i).data(), std::size_t(dim));
                const S bb = embedkit::dot(b->row(i).data(), b->row(i).data(), std::size_t(dim));
                if (aa + bb - S(2) * ip(i, i) < S(0)) ++would_be_negative;
            }
            for (const Metric m : {Metric::l2_squared, Metric::l2, Metric::cosine}) {
                const RM<S> got = embedkit::pairwise(a, *b, m);
                for (Index i = 0; i < rows; ++i)
                    for (Index j = 0; j < rows; ++j) {
                        const long double v = got(i, j);
                        bool ok = !std::isnan(got(i, j));
                        if (m != Metric::cosine)
                            ok = ok && v >= 0;
                        else
                            ok = ok && v <= 1 && v >= -1;
                        if (i == j) {
                            const ektest::Reference r = ektest::reference(
                                a.row(i).data(), b->row(j).data(), std::size_t(dim));
                            ok = ok && std::fabs(v - reference_value<S>(m, r)) <=
                                           gemm_tolerance<S>(m, r, std::size_t(dim), GemmL1::exact);
                        }
                        log.expect(ok, [&] {
                            return cat(level_str(level), " ", scalar_str<S>(), " ", name(m), " ",
                                       b_name, " (", i, ", ", j, "): ", v);
                        });
                    }
            }
        }
    }
    log.report(std::size_t(2 * 3 * rows * rows) * simd::supported().size());
    CHECK_MESSAGE(would_be_negative > 0,
                  "the unclamped form never went negative: the data does not test the clamp");
}

TEST_CASE_TEMPLATE(
    "batch: pairwise gives the pair functions' values for Inf, NaN, huge and "
    "tiny rows",
    S, float, double) {
    // Rows whose squared norms are not finite, overflow (or overflow when two are added) or
    // underflow cannot go through |a|^2 + |b|^2 - 2 a.b; every other pair here holds small
    // integers, where that form is exact. So every value must be the pair function's, bit for
    // bit: 0 for a huge row against itself, inf against an Inf row, NaN only where the pair
    // function gives NaN.
    Random rng(0xba7c0010);
    const ektest::SpecialRows<S> data = ektest::special_rows<S>(rng);
    const auto d = static_cast<std::size_t>(data.set.cols());
    Log log;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const Metric m :
             {Metric::l1, Metric::l2, Metric::l2_squared, Metric::dot, Metric::cosine}) {
            for (const bool swap : {false, true}) {
                const RM<S>& a = swap ? data.set : data.queries;
                const RM<S>& b = swap ? data.queries : data.set;
                const RM<S> got = embedkit::pairwise(a, b, m);
                for (Index i = 0; i < a.rows(); ++i)
                    for (Index j = 0; j < b.rows(); ++j) {
                        const S want = pair_value(m, a.row(i).data(), b.row(j).data(), d);
                        log.expect(same_value(got(i, j), want), [&] {
                            return cat(level_str(level), " ", scalar_str<S>(), " ",
                                       embedkit::metric_name(m), " swap ", swap, " (", i, ", ", j,
                                       "): got ", got(i, j), ", the pair function gives ", want);
                        });
                    }
            }
        }
    }
    log.report(2 * 5 * 12 * 40);
}

TEST_CASE_TEMPLATE("batch: pairwise l2 of exact and near duplicates is accurate at every scale", S,
                   float, double) {
    // The matrix-product form loses every digit of a near duplicate's distance (its error is
    // about eps (|a|^2 + |b|^2)); such pairs must be recomputed. Every pair, planted or random,
    // meets |d - d*| <= max(1e-4 d*, 1e-6 max(|a|, |b|)).
    Random rng(0xba7c0011);
    Log log;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const double scale : {1e-3, 1e-1, 1.0, 1e1, 1e3}) {
            for (const Index dim : {Index(16), Index(100)}) {
                const ektest::NearDuplicates<S> data =
                    ektest::near_duplicates<S>(rng, scale, 6, dim, 12, 30);
                const auto d = static_cast<std::size_t>(dim);
                for (const Metric m : {Metric::l2, Metric::l2_squared}) {
                    const RM<S> got = embedkit::pairwise(data.queries, data.set, m);
                    for (Index i = 0; i < got.rows(); ++i)
                        for (Index j = 0; j < got.cols(); ++j) {
                            const ektest::Reference r = ektest::reference(
                                data.queries.row(i).data(), data.set.row(j).data(), d);
                            log.expect(ektest::near_duplicate_ok(m, got(i, j), r), [&] {
                                return cat(level_str(level), " ", scalar_str<S>(), " ",
                                           embedkit::metric_name(m), " scale ", scale, " dim ", dim,
                                           " (", i, ", ", j, "): got ", got(i, j), ", exact l2 ",
                                           std::sqrt(r.l2_squared));
                            });
                        }
                }
            }
        }
    }
    log.report(5 * 2 * 2 * 6 * 108);
}

TEST_CASE("batch: pairwise rejects empty sets and a dimension mismatch") {
    const RM<float> a = RM<float>::Ones(3, 13);
    const RM<float> b = RM<float>::Ones(4, 21);
    const RM<float> empty(0, 13);
    for (const Metric m : all_metrics) {
        CAPTURE(name(m));
        check_throws<embedkit::ArgumentError>([&] { (void)embedkit::pairwise(empty, a, m); },
                                              {"pairwise", "A", "empty"});
        check_throws<embedkit::ArgumentError>([&] { (void)embedkit::pairwise(a, empty, m); },
                                              {"pairwise", "B", "empty"});
        check_throws<embedkit::DimensionError>([&] { (void)embedkit::pairwise(a, b, m); },
                                               {"pairwise", "13", "21"});
    }
}

// ---------------------------------------------------------------------------------------------
// normalize_rows

// Expected row x / |x| in long double; empty when the row must become NaN.
template <class S>
std::vector<long double> unit_reference(const S* x, Index n) {
    long double mx = 0;
    for (Index j = 0; j < n; ++j) {
        if (!std::isfinite(x[j])) return {};
        mx = std::max(mx, std::fabs(static_cast<long double>(x[j])));
    }
    std::vector<long double> out(static_cast<std::size_t>(n), 0.0L);
    if (mx == 0) return out;
    long double ss = 0;  // scaled, so the long-double sum neither overflows nor underflows
    for (Index j = 0; j < n; ++j) ss += (x[j] / mx) * (x[j] / mx);
    const long double norm = std::sqrt(ss);
    for (Index j = 0; j < n; ++j) out[std::size_t(j)] = (x[j] / mx) / norm;
    return out;
}

// Checks row `got` against unit_reference of `orig`. Bound: the squared norm from the kernel
// (relative K, see ektest::sum_error_bound), then sqrt, 1/sqrt, the scaling by the largest
// element and the product: each element is within (K/2 + 5u) of its exact value relative to
// it; K + 8u leaves room. The norm of the result is then within 2 (K + 8u) + (K + 8u)^2 of 1.
template <class S>
bool unit_row_ok(const S* got, const S* orig, Index n, std::string& why) {
    const std::vector<long double> want = unit_reference(orig, n);
    if (want.empty()) {
        for (Index j = 0; j < n; ++j)
            if (!std::isnan(got[j])) {
                why = cat("element ", j, " is ", got[j], ", expected NaN");
                return false;
            }
        return true;
    }
    const long double rel =
        ektest::sum_error_bound<S>(std::size_t(n)) + 8 * ektest::unit_roundoff<S>();
    long double norm2 = 0;
    bool all_zero = true;
    for (Index j = 0; j < n; ++j) {
        const long double w = want[std::size_t(j)];
        all_zero = all_zero && w == 0;
        norm2 += static_cast<long double>(got[j]) * got[j];
        const long double tol =
            rel * std::fabs(w) + static_cast<long double>(std::numeric_limits<S>::denorm_min());
        if (!(std::fabs(got[j] - w) <= tol)) {
            why = cat("element ", j, " is ", got[j], ", expected ", w, " +- ", tol);
            return false;
        }
    }
    if (all_zero) {
        for (Index j = 0; j < n; ++j)
            if (got[j] != 0 || std::signbit(got[j]) != std::signbit(orig[j])) {
                why = cat("zero row changed at ", j, ": ", got[j]);
                return false;
            }
        return true;
    }
    if (!(std::fabs(norm2 - 1) <= 2 * rel + rel * rel)) {
        why = cat("squared norm ", norm2);
        return false;
    }
    return true;
}

TEST_CASE_TEMPLATE(
    "batch: normalize_rows gives unit rows over the whole range and NaN for "
    "non-finite rows",
    S, float, double) {
    using lim = std::numeric_limits<S>;
    Random rng(0xba7c0006);
    // Huge: squares overflow (float 1e30^2, double 1e200^2); tiny: squares underflow to 0.
    const S huge = std::is_same_v<S, float> ? S(1e30) : S(1e200);
    const S tiny = std::is_same_v<S, float> ? S(1e-30) : S(1e-200);
    for (const Index dim : {1, 3, 17, 129}) {
        const Index rows = 14;
        RM<S> orig = random_set<S>(rng, rows, dim);
        orig.row(1).setZero();
        orig.row(2) = random_set<S>(rng, 1, dim) * huge;
        orig.row(3) = random_set<S>(rng, 1, dim) * tiny;
        for (Index j = 0; j < dim; ++j)  // subnormal elements only
            orig(4, j) = lim::denorm_min() * S(1 + rng.integer(0, 1000)) * S(rng.sign());
        orig.row(5).setZero();
        orig(5, dim - 1) = -lim::denorm_min();  // one subnormal element: exactly -1 after
        orig.row(6) = random_set<S>(rng, 1, dim);
        orig(6, dim / 2) = lim::quiet_NaN();
        orig.row(7) = random_set<S>(rng, 1, dim);
        orig(7, 0) = lim::infinity();
        orig.row(8) = random_set<S>(rng, 1, dim);
        orig(8, dim - 1) = -lim::infinity();
        orig.row(9) = random_set<S>(rng, 1, dim) * huge;
        orig(9, 0) = lim::max();  // the largest finite value
        orig.row(10).setZero();
        orig(10, 0) = -S(0);  // -0 stays -0
        orig.row(11) = random_set<S>(rng, 1, dim) * S(1e-3);
        orig(11, dim - 1) = huge;  // one huge element among small ones
        orig.row(12) = random_set<S>(rng, 1, dim);
        if (dim > 1) {
            orig(12, 0) = lim::quiet_NaN();
            orig(12, 1) = lim::infinity();
        }
        for (const Level level : simd::supported()) {
            simd::Scoped scoped(level);
            RM<S> m = orig;
            embedkit::normalize_rows(m);
            for (Index i = 0; i < rows; ++i) {
                std::string why;
                CHECK_MESSAGE(unit_row_ok(m.row(i).data(), orig.row(i).data(), dim, why),
                              level_str(level) << " " << scalar_str<S>() << " dim " << dim
                                               << " row " << i << ": " << why);
            }
            // The row's result does not depend on its neighbours: each row alone gives the
            // same bits.
            for (Index i = 0; i < rows; ++i) {
                RM<S> one = orig.row(i);
                embedkit::normalize_rows(one);
                for (Index j = 0; j < dim; ++j) CHECK(same_value(one(0, j), m(i, j)));
            }
        }
    }
}

TEST_CASE_TEMPLATE("batch: normalize_rows on maps and row blocks touches only those rows", S, float,
                   double) {
    Random rng(0xba7c0007);
    const Index dim = 17;
    const RM<S> orig = random_set<S>(rng, 10, dim, 1.0, 3.0);
    RM<S> expect_all = orig;
    embedkit::normalize_rows(expect_all);

    RM<S> m = orig;
    embedkit::normalize_rows(m.middleRows(3, 4));  // an rvalue block
    for (Index i = 0; i < 10; ++i)
        for (Index j = 0; j < dim; ++j)
            CHECK(m(i, j) == (i >= 3 && i < 7 ? expect_all(i, j) : orig(i, j)));

    RM<S> w = orig;
    Eigen::Map<RM<S>> map(w.data() + 2 * dim, 5, dim);
    embedkit::normalize_rows(map);  // an lvalue Map
    for (Index i = 0; i < 10; ++i)
        for (Index j = 0; j < dim; ++j)
            CHECK(w(i, j) == (i >= 2 && i < 7 ? expect_all(i, j) : orig(i, j)));

    RM<S> wide = RM<S>::Constant(10, dim + 3, S(7));
    wide.leftCols(dim) = orig;
    embedkit::normalize_rows(wide.leftCols(dim));  // outer stride larger than the row
    CHECK(wide.leftCols(dim) == expect_all);
    CHECK((wide.rightCols(3).array() == S(7)).all());

    RM<S> none(0, dim);
    embedkit::normalize_rows(none);  // nothing to do, nothing thrown
    RM<S> no_cols(4, 0);
    embedkit::normalize_rows(no_cols);
    CHECK(none.rows() == 0);
    CHECK(no_cols.rows() == 4);
}

// Compares top_k by dot on normalised data with top_k by cosine on the original data: the
// scores agree within the rounding of the two computations, and where the exact cosines leave
// a clear gap the indices are the same.
TEST_CASE_TEMPLATE("batch: after normalize_rows dot search equals cosine search", S, float,
                   double) {
    Random rng(0xba7c0008);
    const Index dim = 17, n = 300;
    RM<S> set = random_set<S>(rng, n, dim);
    for (Index i = 0; i < n; ++i) set.row(i) *= static_cast<S>(std::ldexp(1.0, int(i % 9) - 4));
    std::size_t compared = 0;
    for (const Index nq : {3, 20}) {  // the direct path and the matrix-product path
        const RM<S> queries = random_set<S>(rng, nq, dim, -2, 2);
        RM<S> unit_set = set;
        RM<S> unit_queries = queries;
        embedkit::normalize_rows(unit_set);
        embedkit::normalize_rows(unit_queries);
        for (const Level level : simd::supported()) {
            simd::Scoped scoped(level);
            for (const Index k : {Index(1), Index(10), n}) {
                const auto by_cos = embedkit::top_k(queries, set, k, Metric::cosine);
                const auto by_dot = embedkit::top_k(unit_queries, unit_set, k, Metric::dot);
                REQUIRE(by_cos.indices.rows() == nq);
                REQUIRE(by_dot.indices.rows() == nq);
                REQUIRE(by_cos.indices.cols() == k);
                REQUIRE(by_dot.indices.cols() == k);
                // Bound on |dot(unit q, unit x) - cos(q, x)|: both are within a few d eps of
                // the exact cosine (normalisation error 2 (K + 8u), the dot kernel K, the
                // cosine kernel's own bound); 4 (d + 32) eps is comfortably above the sum.
                const long double tol =
                    4.0L * (dim + 32) * static_cast<long double>(std::numeric_limits<S>::epsilon());
                for (Index i = 0; i < nq; ++i) {
                    // Exact cosines of every row, best first.
                    std::vector<long double> exact(static_cast<std::size_t>(n));
                    for (Index j = 0; j < n; ++j)
                        exact[std::size_t(j)] = ektest::cosine_similarity_ref(ektest::reference(
                            queries.row(i).data(), set.row(j).data(), std::size_t(dim)));
                    std::vector<long double> sorted = exact;
                    std::sort(sorted.begin(), sorted.end(), std::greater<long double>());
                    for (Index r = 0; r < k; ++r) {
                        CHECK(std::fabs(static_cast<long double>(by_dot.scores(i, r)) -
                                        by_cos.scores(i, r)) <= tol);
                        CHECK(std::fabs(exact[std::size_t(by_dot.indices(i, r))] -
                                        sorted[std::size_t(r)]) <= tol);
                        const bool clear =
                            (r == 0 ||
                             sorted[std::size_t(r - 1)] - sorted[std::size_t(r)] > 2 * tol) &&
                            (r + 1 == n ||
                             sorted[std::size_t(r)] - sorted[std::size_t(r + 1)] > 2 * tol);
                        if (clear) {
                            ++compared;
                            CHECK_MESSAGE(by_dot.indices(i, r) == by_cos.indices(i, r),
                                          level_str(level) << " nq " << nq << " k " << k
                                                           << " query " << i << " rank " << r);
                        }
                    }
                }
            }
        }
    }
    // Most ranks are clearly separated; a check that compared nothing would prove nothing.
    CHECK(compared > std::size_t(n) * simd::supported().size());
}

}  // namespace
