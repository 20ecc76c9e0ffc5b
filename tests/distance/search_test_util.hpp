// Helpers shared by the batch and top-k tests (test_batch.cpp, test_topk.cpp): the pair value
// the search functions promise, random sets, the long-double reference of one pair value with
// the kernels' tolerance and the matrix-product form's tolerance, every row-major view of a set,
// and an exact-exception check.
#pragma once

#include "distance_test_util.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/distance/metric.hpp>
#include <embedkit/distance/pair.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace ektest {

// The value the batch and top-k functions promise for one pair: the public pointer function.
template <class S>
S pair_value(embedkit::Metric m, const S* a, const S* b, std::size_t n) {
    using embedkit::Metric;
    switch (m) {
        case Metric::l1:
            return embedkit::l1(a, b, n);
        case Metric::l2:
            return embedkit::l2(a, b, n);
        case Metric::l2_squared:
            return embedkit::l2_squared(a, b, n);
        case Metric::dot:
            return embedkit::dot(a, b, n);
        case Metric::cosine:
            return embedkit::cosine_similarity(a, b, n);
    }
    return S(0);
}

// rows x cols, every element uniform in [lo, hi).
template <class S>
embedkit::RowMatrix<S> random_set(Random& rng, Eigen::Index rows, Eigen::Index cols, double lo = -1,
                                  double hi = 1) {
    embedkit::RowMatrix<S> m(rows, cols);
    for (Eigen::Index i = 0; i < rows; ++i)
        for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = static_cast<S>(rng.uniform(lo, hi));
    return m;
}

// ---- Long-double reference of one pair value and the kernels' own tolerance
// (distance_test_util.hpp derives the bounds; l2 takes the bound of its square through the
// root, plus the rounding of the root).
template <class S>
long double reference_value(embedkit::Metric m, const Reference& r) {
    using embedkit::Metric;
    switch (m) {
        case Metric::l1:
            return r.l1;
        case Metric::l2:
            return std::sqrt(r.l2_squared);
        case Metric::l2_squared:
            return r.l2_squared;
        case Metric::dot:
            return r.dot;
        case Metric::cosine:
            return cosine_similarity_ref(r);
    }
    return 0;
}

template <class S>
long double kernel_tolerance(embedkit::Metric m, const Reference& r, std::size_t n) {
    using embedkit::Metric;
    switch (m) {
        case Metric::l1:
            return sum_tolerance<S>(n, r.l1);
        case Metric::l2_squared:
            return sum_tolerance<S>(n, r.l2_squared);
        case Metric::l2: {
            const long double t = sum_tolerance<S>(n, r.l2_squared);
            return l2_tolerance_from_squared(r.l2_squared, t) +
                   1.01L * unit_roundoff<S>() * std::sqrt(r.l2_squared + t);
        }
        case Metric::dot:
            return sum_tolerance<S>(n, r.dot_abs);
        case Metric::cosine:
            if (r.aa == 0 || r.bb == 0) return 0;  // the zero-vector rules are exact
            return cosine_similarity_tolerance<S>(r, n);
    }
    return 0;
}

// `got` (the value computed for a, b of length n) is within kernel_tolerance of the long-double
// reference; where the reference is NaN, `got` must be NaN too.
template <class S>
bool kernel_value_ok(embedkit::Metric m, S got, const S* a, const S* b, std::size_t n) {
    const Reference r = reference(a, b, n);
    if (std::isnan(r.dot) || std::isnan(r.l1)) return std::isnan(got);
    return std::fabs(got - reference_value<S>(m, r)) <= kernel_tolerance<S>(m, r, n);
}

// ---- Bounds of the matrix-product form (pairwise, and the selection keys of top_k's
// matrix-product path) (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed.,
// ch. 3).
//
// The GEMM computes ab' = a.b in some blocked order, with or without FMA; every term passes
// through at most d + 1 roundings (its product, then at most d additions), so
// |ab' - ab| <= gamma_{d+1} * sum|a_i b_i| (Higham eq. (3.5)). The row norms aa', bb' come from
// the dot kernels, with the relative bound K = sum_error_bound (about (d/4 + 8) eps).
//  * dot: the GEMM value itself.               |err| <= G * S,   S = sum|a_i b_i|
//  * l2_squared = max(aa' + bb' - 2 ab', 0): the norms contribute K (aa + bb), the product
//    2 G S <= G (aa + bb) (S <= (aa + bb) / 2), the two final roundings at most
//    u (aa + bb) + u (aa + bb + 2 S) <= 4u (aa + bb). Clamping only moves towards the exact
//    value (which is >= 0). So |err| <= c eps (aa + bb), c = (K + G + 4u) / eps, about
//    0.75 d + 11.
//  * l2 = sqrt(l2_squared): from the bound T on the square, |sqrt(x') - sqrt(x)| <=
//    min(T / sqrt(x), sqrt(T)), plus the rounding of the root (u relative).
//  * cosine = ab' / (sqrt(aa') sqrt(bb')): G S / (|a| |b|) from the product, |cos| (K + 4u)
//    from the norms and four roundings (as in cosine_similarity_tolerance).
// A factor 1.01 covers second-order terms, and the long-double reference adds its own tiny
// error. A comparison with the pair function adds that function's bound
// (kernel_value_ok's tolerance).
template <class S>
long double gamma_n(std::size_t n) {
    const long double nu = static_cast<long double>(n) * unit_roundoff<S>();
    return nu / (1 - nu);
}

// l1 has no matrix-product form: both pairwise and top_k compute it with the pair kernels.
// What gemm_tolerance gives for it is the caller's explicit choice:
//  * exact:  0 (pairwise's l1 is the pair function's value bit for bit);
//  * kernel: kernel_tolerance (distance from the long-double reference of the pair kernels'
//    value, as a top_k selection key).
enum class GemmL1 { exact, kernel };

template <class S>
long double gemm_tolerance(embedkit::Metric m, const Reference& r, std::size_t d, GemmL1 l1) {
    using embedkit::Metric;
    const long double u = unit_roundoff<S>();
    const long double g = gamma_n<S>(d + 1) + reference_error_bound(d);
    const long double k = sum_error_bound<S>(d) + reference_error_bound(d);
    const long double tiny = underflow_allowance<S>(d) * 4;
    const long double sq = 1.01L * (k + g + 4 * u) * (r.aa + r.bb) + tiny;
    switch (m) {
        case Metric::dot:
            return 1.01L * g * r.dot_abs + tiny;
        case Metric::l2_squared:
            return sq;
        case Metric::l2:
            return l2_tolerance_from_squared(r.l2_squared, sq) +
                   1.01L * u * std::sqrt(r.l2_squared + sq);
        case Metric::cosine: {
            if (r.aa == 0 || r.bb == 0) return 0;
            const long double root = std::sqrt(r.aa) * std::sqrt(r.bb);
            const long double s = std::fabs(r.dot) / root;
            return 1.01L * (g * r.dot_abs / root + s * (k + 4 * u)) +
                   8 * std::numeric_limits<long double>::epsilon();
        }
        case Metric::l1:
            return l1 == GemmL1::exact ? 0 : kernel_tolerance<S>(m, r, d);
    }
    return 0;
}

// ---- Rows the matrix-product form cannot score: non-finite entries, squared norms that
// overflow (or whose sums with another norm would) and squared norms that underflow.

// Small-integer rows (every value the kernels and the matrix product form is exact) with
// special rows planted among them. The queries are copies of the special set rows (so each
// has an exact match, at distance 0 where the pair functions say so), two regular rows, an
// all-Inf row and a huge negative row: `queries` has 12 rows, enough for the matrix-product
// path of top_k.
template <class S>
struct SpecialRows {
    embedkit::RowMatrix<S> queries;
    embedkit::RowMatrix<S> set;
};

template <class S>
SpecialRows<S> special_rows(Random& rng) {
    using RM = embedkit::RowMatrix<S>;
    constexpr Eigen::Index n = 40, dim = 6;
    const S inf = std::numeric_limits<S>::infinity();
    const S nan = std::numeric_limits<S>::quiet_NaN();
    // huge: its square overflows; big: finite squared norm, but the sum of two overflows.
    const S huge = std::is_same_v<S, float> ? S(1e20) : S(1e160);
    const S big = std::sqrt(std::numeric_limits<S>::max() / S(dim) * S(0.8));
    // tiny: its square underflows to 0, differences of tiny values do not.
    const S tiny = std::is_same_v<S, float> ? S(1e-30) : S(1e-300);
    SpecialRows<S> out;
    RM& set = out.set;
    set.resize(n, dim);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < dim; ++j) set(i, j) = static_cast<S>(rng.integer(-4, 4));
    const Eigen::Index special[] = {3, 7, 11, 15, 19, 23, 27, 31, 35};
    set.row(3).setZero();
    set(3, 0) = inf;
    set(7, 0) = -inf;
    set(11, 2) = nan;
    set.row(15).setConstant(huge);
    set(19, 0) = huge;
    for (Eigen::Index j = 0; j < dim; ++j) set(23, j) = tiny * S(j + 1);
    set.row(27).setZero();
    set.row(31).setConstant(big);
    for (Eigen::Index j = 0; j < dim; ++j) set(35, j) = big * (j % 2 == 0 ? S(1) : S(-1));
    RM& q = out.queries;
    q.resize(12, dim);
    for (Eigen::Index r = 0; r < 9; ++r) q.row(r) = set.row(special[r]);
    q.row(9) = set.row(0);
    q.row(10).setConstant(inf);
    q.row(11).setConstant(-huge);
    return out;
}

// ---- Near duplicates: the accuracy the batch and search functions promise for l2 and
// l2_squared, whatever the data: |d - d*| <= max(1e-4 d*, 1e-6 max(|a|, |b|)) for l2 against
// the exact distance d* (long double), and the same for the root of l2_squared.
template <class S>
bool near_duplicate_ok(embedkit::Metric m, S got, const Reference& r) {
    const long double exact = std::sqrt(r.l2_squared);
    const long double d =
        m == embedkit::Metric::l2_squared ? std::sqrt(static_cast<long double>(got)) : got;
    const long double scale = std::sqrt(std::max(r.aa, r.bb));
    return std::fabs(d - exact) <= std::max(1e-4L * exact, 1e-6L * scale);
}

// Queries uniform in [-scale, scale); the set holds random rows of that scale and, per query,
// an exact copy and `per_query` near duplicates q + delta_t * sign vector, delta_t =
// sqrt(eps) * scale * 1.15^t: their distances are about sqrt(eps) |q| and 15% apart, so the
// matrix product's rounding (about eps |q|^2) blurs their squared distances completely, while
// their order is clear. Planted rows sit at shuffled positions.
template <class S>
struct NearDuplicates {
    embedkit::RowMatrix<S> queries;
    embedkit::RowMatrix<S> set;
    Eigen::Index per_query;  // planted rows per query: the copy and the near duplicates
};

template <class S>
NearDuplicates<S> near_duplicates(Random& rng, double scale, Eigen::Index nq, Eigen::Index dim,
                                  Eigen::Index near, Eigen::Index random_rows) {
    NearDuplicates<S> out;
    out.per_query = near + 1;
    out.queries = random_set<S>(rng, nq, dim, -scale, scale);
    const Eigen::Index n = nq * out.per_query + random_rows;
    out.set = random_set<S>(rng, n, dim, -scale, scale);
    std::vector<Eigen::Index> pos(static_cast<std::size_t>(n));
    for (Eigen::Index i = 0; i < n; ++i) pos[std::size_t(i)] = i;
    for (std::size_t i = pos.size() - 1; i > 0; --i)
        std::swap(pos[i], pos[std::size_t(rng.integer(0, int(i)))]);
    const double root_eps = std::sqrt(static_cast<double>(std::numeric_limits<S>::epsilon()));
    std::size_t next = 0;
    for (Eigen::Index i = 0; i < nq; ++i) {
        out.set.row(pos[next++]) = out.queries.row(i);
        for (Eigen::Index t = 0; t < near; ++t) {
            const double delta = root_eps * scale * std::pow(1.15, double(t));
            auto row = out.set.row(pos[next++]);
            for (Eigen::Index j = 0; j < dim; ++j)
                row[j] = static_cast<S>(double(out.queries(i, j)) + delta * rng.sign());
        }
    }
    return out;
}

// ---- Every row-major view of a set.

// Which views for_each_set_view presents, and where the middleRows view sits in its NaN-padded
// matrix (the rows above decide the view's start address, hence its alignment).
struct SetViews {
    bool whole_matrix;        // also call f with the RowMatrix itself, first
    Eigen::Index rows_above;  // NaN rows above the middleRows view
    Eigen::Index rows_below;  // NaN rows below it
};

// Calls `f(view, label)` with the rows of `set` presented as the row-major inputs a user may
// pass: (if views.whole_matrix) the matrix, a Map, a block of rows, a block of columns (outer
// stride larger than the row), a strided Map and a block starting at column 1 (misaligned
// rows). Each view's row r holds exactly set.row(r); the padding around it is NaN.
template <class S, class F>
void for_each_set_view(const embedkit::RowMatrix<S>& set, const SetViews& views, F&& f) {
    using RM = embedkit::RowMatrix<S>;
    const Eigen::Index rows = set.rows(), cols = set.cols();
    const S nan = std::numeric_limits<S>::quiet_NaN();
    if (views.whole_matrix) f(set, "RowMatrix");
    const Eigen::Map<const RM> map(set.data(), rows, cols);
    f(map, "Map");
    RM tall = RM::Constant(views.rows_above + rows + views.rows_below, cols, nan);
    tall.middleRows(views.rows_above, rows) = set;
    f(tall.middleRows(views.rows_above, rows), "middleRows");
    RM wide = RM::Constant(rows, cols + 3, nan);
    wide.leftCols(cols) = set;
    f(wide.leftCols(cols), "leftCols");
    const Eigen::Map<const RM, 0, Eigen::OuterStride<>> strided(wide.data(), rows, cols,
                                                                Eigen::OuterStride<>(cols + 3));
    f(strided, "Map+OuterStride");
    RM shifted = RM::Constant(rows, cols + 2, nan);
    shifted.block(0, 1, rows, cols) = set;
    f(shifted.block(0, 1, rows, cols), "block at column 1");
}

// ---- Errors.

// f() must throw an exception of exactly type E (not merely a child of embedkit::Error) whose
// message holds every one of `parts`.
template <class E, class F>
void check_throws(F&& f, std::initializer_list<std::string> parts) {
    bool thrown = false;
    try {
        f();
    } catch (const embedkit::Error& e) {
        thrown = true;
        const std::string what = e.what();
        CHECK_MESSAGE(typeid(e) == typeid(E), "wrong exception type for: " << what);
        for (const std::string& p : parts)
            CHECK_MESSAGE(what.find(p) != std::string::npos,
                          "message '" << what << "' does not contain '" << p << "'");
    }
    CHECK_MESSAGE(thrown, "no embedkit::Error was thrown");
}

}  // namespace ektest
