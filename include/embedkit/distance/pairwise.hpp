// One-to-many distances, all-pairs distances between two sets, and row normalisation.
#pragma once

#include "../core/detail/parallel.hpp"
#include "../core/error.hpp"
#include "../core/types.hpp"
#include "../core/detail/set_view.hpp"
#include "dispatch.hpp"
#include "metric.hpp"
#include "pair.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace embedkit {

namespace detail {

inline void check_dims(const char* fn, Eigen::Index a, const char* a_name, Eigen::Index b,
                       const char* b_name) {
    if (a != b)
        throw DimensionError(std::string("embedkit::") + fn + ": " + a_name + " has dimension " +
                             std::to_string(a) + " but " + b_name + " has dimension " +
                             std::to_string(b));
}

inline void check_nonempty(const char* fn, const char* what, Eigen::Index rows) {
    if (rows == 0)
        throw ArgumentError(std::string("embedkit::") + fn + ": " + what + " is empty (0 rows)");
}

// A Metric made from an integer outside the enum (say, read from a config file) would make
// the kernel switches below fall through and leave the output unwritten.
inline void check_metric(const char* fn, Metric metric) {
    switch (metric) {
        case Metric::l1:
        case Metric::l2:
        case Metric::l2_squared:
        case Metric::dot:
        case Metric::cosine:
            return;
    }
    throw ArgumentError(std::string("embedkit::") + fn + ": unknown metric (enum value " +
                        std::to_string(static_cast<int>(metric)) +
                        "; expected l1, l2, l2_squared, dot or cosine)");
}

// Runs the level's one-to-many kernel for `metric` over rows [0, v.rows) and finishes the
// values the metric defines on top of a kernel (l2 = sqrt(l2_squared)).
template <class Scalar>
inline void many(const simd::KernelTable<Scalar>& t, Metric metric, const Scalar* q,
                 const SetView<Scalar>& v, Eigen::Index first, Eigen::Index count,
                 Scalar* out) noexcept {
    const auto rows = static_cast<std::size_t>(count);
    const auto dim = static_cast<std::size_t>(v.cols);
    const auto stride = static_cast<std::size_t>(v.stride);
    const Scalar* base = v.row(first);
    switch (metric) {
        case Metric::dot:
            t.dot_many(q, base, rows, dim, stride, out);
            break;
        case Metric::l1:
            t.l1_many(q, base, rows, dim, stride, out);
            break;
        case Metric::cosine:
            t.cosine_many(q, base, rows, dim, stride, out);
            break;
        case Metric::l2_squared:
            t.l2_squared_many(q, base, rows, dim, stride, out);
            break;
        case Metric::l2:
            t.l2_squared_many(q, base, rows, dim, stride, out);
            for (std::size_t r = 0; r < rows; ++r) out[r] = finish_l2(out[r]);
            break;
    }
}

// Rows of A per matrix product in pairwise(): the work items threads share.
inline constexpr Eigen::Index pairwise_row_block = 256;
// Rows of A per work item of pairwise() with l1.
inline constexpr Eigen::Index pairwise_l1_row_block = 64;

// Squared norms of the rows of a set, through the active kernels, into out[0 .. v.rows).
template <class Scalar>
inline void row_squared_norms(const simd::KernelTable<Scalar>& t, const SetView<Scalar>& v,
                              Scalar* out) noexcept {
    const auto dim = static_cast<std::size_t>(v.cols);
    for (Eigen::Index i = 0; i < v.rows; ++i) out[i] = t.dot(v.row(i), v.row(i), dim);
}

template <class Scalar>
inline Vector<Scalar> row_squared_norms(const simd::KernelTable<Scalar>& t,
                                        const SetView<Scalar>& v) {
    Vector<Scalar> n(v.rows);
    row_squared_norms(t, v, n.data());
    return n;
}

// Whether a row with squared norm `sq` can go through the matrix-product form. Outside
// [lo, hi] (or NaN) the form fails where the pair kernels do not: an Inf or NaN entry, or a
// squared norm that overflows, gives inf - inf = NaN for pairs the kernels score 0 or inf;
// above hi, |a|^2 + |b|^2 + 2|a.b| can overflow; below lo, the products a_i b_i underflow
// and their lost low bits are no longer small next to the squared norms. Such rows are scored
// with the pair kernels instead (lo is about 1e-31 for float, 1e-292 for double).
template <class Scalar>
inline bool gemm_safe_norm(Scalar sq) noexcept {
    constexpr Scalar lo =
        std::numeric_limits<Scalar>::min() / std::numeric_limits<Scalar>::epsilon();
    constexpr Scalar hi = std::numeric_limits<Scalar>::max() / Scalar(8);
    return sq >= lo && sq <= hi;
}

// The rows of a set whose squared norms gemm_safe_norm rejects.
template <class Scalar>
inline std::vector<Eigen::Index> gemm_unsafe_rows(const Vector<Scalar>& sq) {
    std::vector<Eigen::Index> rows;
    for (Eigen::Index i = 0; i < sq.size(); ++i)
        if (!gemm_safe_norm(sq[i])) rows.push_back(i);
    return rows;
}

// Below which fraction of |a|^2 + |b|^2 the matrix-product value g' of a squared distance is
// not trusted (cancellation: near duplicates). With both norms from the dot kernels (relative
// error <= gamma_d each), a.b from the GEMM (error <= gamma_d * sum|a_i b_i| <= gamma_d
// (|a|^2 + |b|^2) / 2) and two final roundings, |g' - g| <= E = (2d + 8) u (|a|^2 + |b|^2)
// (Higham, ch. 3), u = eps / 2. Where g' >= 5500 E, g >= 5499 E, so g' is within
// 1 / 5499 < 1.9e-4 of g and its root, the l2 distance, within 1e-4 (with the root's
// rounding). Pairs below are recomputed with the l2_squared kernel. At dimension 128 the
// fraction is 0.087 for float and 1.6e-10 for double: random pairs come nowhere near it.
template <class Scalar>
inline Scalar cancellation_fraction(std::size_t dim) noexcept {
    const double u = static_cast<double>(std::numeric_limits<Scalar>::epsilon()) / 2;
    return static_cast<Scalar>((2.0 * static_cast<double>(dim) + 8.0) * u * 5500.0);
}

// The exact value of one pair through the active kernels (as the pair functions compute it).
template <class Scalar>
inline Scalar exact_value(const simd::KernelTable<Scalar>& t, Metric m, const Scalar* a,
                          const Scalar* b, std::size_t dim) noexcept {
    switch (m) {
        case Metric::dot:
            return t.dot(a, b, dim);
        case Metric::l1:
            return t.l1(a, b, dim);
        case Metric::l2_squared:
            return t.l2_squared(a, b, dim);
        case Metric::l2:
            return finish_l2(t.l2_squared(a, b, dim));
        case Metric::cosine:
            return finish_cosine_similarity(t.cosine(a, b, dim));
    }
    return Scalar(0);
}

// Turns an inner product and the two squared norms into the metric's value, with the same
// rules as the pair functions (metric.hpp). l2_squared is clamped at 0: the matrix-product
// form aa + bb - 2ab can round below zero for nearly identical vectors.
template <class Scalar>
inline Scalar from_inner_product(Metric metric, Scalar ab, Scalar aa, Scalar bb) noexcept {
    switch (metric) {
        case Metric::dot:
            return ab;
        case Metric::cosine:
            return finish_cosine_similarity(CosineParts<Scalar>{ab, aa, bb});
        case Metric::l2_squared: {
            const Scalar d = aa + bb - Scalar(2) * ab;
            return d < Scalar(0) ? Scalar(0) : d;
        }
        case Metric::l2: {
            const Scalar d = aa + bb - Scalar(2) * ab;
            return finish_l2(d < Scalar(0) ? Scalar(0) : d);
        }
        case Metric::l1:
            break;
    }
    return ab;
}

// Turns a rows x cols block of inner products (row i of A against every row of B, rows
// `cols` apart) into l2_squared (or, with `root`, l2) in place, as from_inner_product, except
// that pairs whose value the cancellation rule (cancellation_fraction) does not trust are
// recomputed with the l2_squared kernel. The first pass has no branch and vectorises; the
// second runs only for a row holding such a pair.
template <class Scalar>
inline void finish_squared_block(const simd::KernelTable<Scalar>& t, const SetView<Scalar>& a,
                                 const SetView<Scalar>& b, Eigen::Index i0, Eigen::Index rows,
                                 const Scalar* an, const Scalar* bn, bool root,
                                 Scalar* out) noexcept {
    const auto dim = static_cast<std::size_t>(b.cols);
    const Scalar frac = cancellation_fraction<Scalar>(dim);
    const Eigen::Index cols = b.rows;
    for (Eigen::Index i = 0; i < rows; ++i) {
        Scalar* row = out + i * cols;
        const Scalar aa = an[i];
        int unsure = 0;
        for (Eigen::Index j = 0; j < cols; ++j) {
            const Scalar sum = aa + bn[j];
            const Scalar d = sum - Scalar(2) * row[j];
            const Scalar g = d < Scalar(0) ? Scalar(0) : d;
            unsure |= !(g > frac * sum);
            row[j] = g;
        }
        if (unsure)
            for (Eigen::Index j = 0; j < cols; ++j)
                if (!(row[j] > frac * (aa + bn[j])))
                    row[j] = t.l2_squared(a.row(i0 + i), b.row(j), dim);
        if (root)
            for (Eigen::Index j = 0; j < cols; ++j) row[j] = finish_l2(row[j]);
    }
}

// The pairs of a finished block that involve a row gemm_safe_norm rejects, recomputed with
// the pair kernels: a whole row for such a row of A (an: A's squared norms from row i0 on),
// the listed columns for such rows of B.
template <class Scalar>
inline void rescore_unsafe(const simd::KernelTable<Scalar>& t, Metric metric,
                           const SetView<Scalar>& a, const SetView<Scalar>& b, Eigen::Index i0,
                           Eigen::Index rows, const Scalar* an,
                           const std::vector<Eigen::Index>& b_unsafe, Scalar* out) noexcept {
    const auto dim = static_cast<std::size_t>(b.cols);
    for (Eigen::Index i = 0; i < rows; ++i) {
        Scalar* row = out + i * b.rows;
        const Scalar* ai = a.row(i0 + i);
        if (!gemm_safe_norm(an[i])) {
            many(t, metric, ai, b, 0, b.rows, row);
            continue;
        }
        for (const Eigen::Index j : b_unsafe) row[j] = exact_value(t, metric, ai, b.row(j), dim);
    }
}

// What the cosine finishing needs of B's squared norms: their square roots, and the rows whose
// squared norm is zero or not finite (they follow the pair rules one by one).
template <class Scalar>
struct CosineColumns {
    Vector<Scalar> root;
    std::vector<Eigen::Index> special;
};

template <class Scalar>
inline bool regular_squared_norm(Scalar sq) noexcept {
    return std::isfinite(sq) && sq != Scalar(0);
}

template <class Scalar>
inline CosineColumns<Scalar> cosine_columns(const Vector<Scalar>& bn) {
    CosineColumns<Scalar> c;
    c.root.resize(bn.size());
    for (Eigen::Index j = 0; j < bn.size(); ++j) {
        c.root[j] = std::sqrt(bn[j]);
        if (!regular_squared_norm(bn[j])) c.special.push_back(j);
    }
    return c;
}

// Cosine similarity over such a block, with the values of finish_cosine_similarity: the
// square roots of the norms are taken once per row instead of twice per pair (per pair, they
// made the finishing pass cost more than the matrix product at dim 128).
template <class Scalar>
inline void finish_cosine_block(Scalar* out, Eigen::Index rows, Eigen::Index cols, const Scalar* an,
                                const Scalar* bn, const CosineColumns<Scalar>& bc) {
    constexpr Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
    std::vector<Scalar> saved(bc.special.size());
    const Scalar* b_root = bc.root.data();
    for (Eigen::Index i = 0; i < rows; ++i) {
        Scalar* row = out + i * cols;
        const Scalar aa = an[i];
        if (!regular_squared_norm(aa)) {
            for (Eigen::Index j = 0; j < cols; ++j)
                row[j] = finish_cosine_similarity(CosineParts<Scalar>{row[j], aa, bn[j]});
            continue;
        }
        for (std::size_t k = 0; k < bc.special.size(); ++k) saved[k] = row[bc.special[k]];
        const Scalar a_root = std::sqrt(aa);
        for (Eigen::Index j = 0; j < cols; ++j) {
            const Scalar ab = row[j];
            Scalar s = ab / (a_root * b_root[j]);
            s = s > Scalar(1) ? Scalar(1) : s;
            s = s < Scalar(-1) ? Scalar(-1) : s;
            row[j] = ab != ab ? nan : s;
        }
        for (std::size_t k = 0; k < bc.special.size(); ++k) {
            const Eigen::Index j = bc.special[k];
            row[j] = finish_cosine_similarity(CosineParts<Scalar>{saved[k], aa, bn[j]});
        }
    }
}

// A hint to Linux that a large, freshly allocated result may be backed by 2 MiB pages before
// it is first written. Without it a 40 MB matrix takes about 10,000 page faults on first
// write, which on a virtual machine cost 16 ms, as much as half the matrix product at dim 128
// (1,000 x 10,000 pairs). Only the whole 2 MiB pages inside the buffer are advised; nothing
// changes where transparent huge pages are disabled or on other systems.
inline void advise_huge_pages(void* data, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::uintptr_t huge = std::uintptr_t(2) << 20;
    if (bytes < 4 * huge) return;
    const auto begin = reinterpret_cast<std::uintptr_t>(data);
    const std::uintptr_t lo = (begin + huge - 1) & ~(huge - 1);
    const std::uintptr_t hi = (begin + bytes) & ~(huge - 1);
    if (hi > lo) (void)madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
#else
    (void)data;
    (void)bytes;
#endif
}

}  // namespace detail

/// Distances (or similarities, for dot and cosine) from one query to every row of a set.
/// `query`: any dense vector or vector expression of size d; `set`: rows x d, row-major
/// (RowMatrix, Map or row block). Returns a vector of `set.rows()` values, computed with the
/// same kernels as the pair functions. Throws DimensionError if d differs, ArgumentError if
/// the set is empty, has an inner stride other than 1, or `metric` is not a Metric value.
template <class DQ, class DS>
Vector<typename DS::Scalar> distances(const Eigen::MatrixBase<DQ>& query,
                                      const Eigen::MatrixBase<DS>& set, Metric metric) {
    using Scalar = typename DS::Scalar;
    static_assert(std::is_same_v<typename DQ::Scalar, Scalar>,
                  "embedkit::distances: query and set must have the same scalar type");
    static_assert(DQ::IsVectorAtCompileTime, "embedkit::distances: the query must be a vector");
    const detail::SetView<Scalar> v = detail::view_set("distances", "the set", set);
    detail::check_nonempty("distances", "the set", v.rows);
    detail::check_dims("distances", query.size(), "the query", v.cols, "the set");
    detail::check_metric("distances", metric);
    const auto q = detail::contiguous(query);
    Vector<Scalar> out(v.rows);
    const simd::KernelTable<Scalar>& t = simd::detail::active_table<Scalar>();
    // Each value depends on its row only, so any split gives the same bits; items of about
    // 2^18 values read keep the hand-out cost negligible.
    const Eigen::Index dim = std::max<Eigen::Index>(1, v.cols);
    const Eigen::Index rows = std::max<Eigen::Index>(1, (Eigen::Index(1) << 18) / dim);
    const Eigen::Index items = (v.rows + rows - 1) / rows;
    detail::parallel_for(items, detail::threads_for_work(double(v.rows) * double(dim)),
                         [&](std::ptrdiff_t item) {
                             const Eigen::Index r0 = Eigen::Index(item) * rows;
                             const Eigen::Index nr = std::min(rows, v.rows - r0);
                             detail::many(t, metric, q.data(), v, r0, nr, out.data() + r0);
                         });
    return out;
}

/// All-pairs values between the rows of A (n x d) and B (m x d), both row-major sets.
/// Returns n x m, out(i, j) = metric(A.row(i), B.row(j)). l2, l2_squared, dot and cosine use
/// the matrix-product form (row norms + one GEMM through Eigen; clamped so squared distances
/// never go negative), except for the pairs it cannot score, which get the pair functions'
/// values: pairs with a row holding Inf or NaN or whose squared norm overflows, comes within
/// a factor 8 of overflow or underflows (see gemm_safe_norm), and, for l2 and l2_squared,
/// pairs whose matrix-product value is too small next to |a|^2 + |b|^2 to be accurate
/// (near duplicates). So l2 is within max(1e-4 d, 1e-6 max(|a|, |b|)) of the exact distance
/// d and l2_squared within 2e-4 of it (relative), for any data; dot agrees with the pair
/// function to about eps * sum |a_i b_i| and cosine to about eps. l1 runs the SIMD kernels,
/// blocked so a slice of B stays in cache. On Linux a result of 8 MiB or more is marked as a
/// candidate for transparent huge pages (madvise), which makes its first write much cheaper.
/// Throws DimensionError if d differs, ArgumentError if either set is empty or `metric` is not
/// a Metric value.
template <class DA, class DB>
RowMatrix<typename DA::Scalar> pairwise(const Eigen::MatrixBase<DA>& A,
                                        const Eigen::MatrixBase<DB>& B, Metric metric) {
    using Scalar = typename DA::Scalar;
    static_assert(std::is_same_v<typename DB::Scalar, Scalar>,
                  "embedkit::pairwise: both sets must have the same scalar type");
    const detail::SetView<Scalar> a = detail::view_set("pairwise", "A", A);
    const detail::SetView<Scalar> b = detail::view_set("pairwise", "B", B);
    detail::check_nonempty("pairwise", "A", a.rows);
    detail::check_nonempty("pairwise", "B", b.rows);
    detail::check_dims("pairwise", a.cols, "A", b.cols, "B");
    detail::check_metric("pairwise", metric);
    const simd::KernelTable<Scalar>& t = simd::detail::active_table<Scalar>();
    RowMatrix<Scalar> out(a.rows, b.rows);
    detail::advise_huge_pages(out.data(), static_cast<std::size_t>(out.size()) * sizeof(Scalar));
    const int threads = detail::threads_for_work(double(a.rows) * double(b.rows) *
                                                 double(std::max<Eigen::Index>(1, a.cols)));
    if (metric == Metric::l1) {
        // Work items of 64 rows of A; each walks B in slices of about 256 KiB, which stay in
        // L2 while the item's rows pass over them. Every value depends on its pair only.
        const Eigen::Index row_bytes =
            std::max<Eigen::Index>(1, b.cols) * Eigen::Index(sizeof(Scalar));
        const Eigen::Index block = std::max<Eigen::Index>(1, (Eigen::Index(256) << 10) / row_bytes);
        const Eigen::Index rows = detail::pairwise_l1_row_block;
        detail::parallel_for((a.rows + rows - 1) / rows, threads, [&](std::ptrdiff_t item) {
            const Eigen::Index i0 = Eigen::Index(item) * rows;
            const Eigen::Index i1 = std::min(a.rows, i0 + rows);
            for (Eigen::Index j0 = 0; j0 < b.rows; j0 += block) {
                const Eigen::Index nb = std::min(block, b.rows - j0);
                for (Eigen::Index i = i0; i < i1; ++i)
                    detail::many(t, metric, a.row(i), b, j0, nb, out.data() + i * b.rows + j0);
            }
        });
        return out;
    }
    // The norms also find the rows the matrix-product form cannot score (dot included).
    const Vector<Scalar> an = detail::row_squared_norms(t, a);
    const Vector<Scalar> bn = detail::row_squared_norms(t, b);
    const std::vector<Eigen::Index> b_unsafe = detail::gemm_unsafe_rows(bn);
    const detail::CosineColumns<Scalar> bc =
        metric == Metric::cosine ? detail::cosine_columns(bn) : detail::CosineColumns<Scalar>{};
    // Fixed blocks of A's rows, one GEMM each: the split never depends on the thread count
    // (and Eigen does not thread a product started inside a parallel region, nor without
    // OpenMP), so threaded results are bit-identical to one thread's.
    const Eigen::Index block = detail::pairwise_row_block;
    const Eigen::Index nblocks = (a.rows + block - 1) / block;
    const auto bmap = detail::as_map(b);
    detail::parallel_for(nblocks, threads, [&](std::ptrdiff_t item) {
        const Eigen::Index bi = Eigen::Index(item);
        const Eigen::Index i0 = bi * block;
        const Eigen::Index nr = std::min(block, a.rows - i0);
        const detail::SetView<Scalar> ab{a.row(i0), nr, a.cols, a.stride};
        out.middleRows(i0, nr).noalias() = detail::as_map(ab) * bmap.transpose();
        Scalar* rows = out.data() + i0 * b.rows;
        switch (metric) {
            case Metric::l2_squared:
            case Metric::l2:
                detail::finish_squared_block(t, a, b, i0, nr, an.data() + i0, bn.data(),
                                             metric == Metric::l2, rows);
                break;
            case Metric::cosine:
                detail::finish_cosine_block(rows, nr, b.rows, an.data() + i0, bn.data(), bc);
                break;
            case Metric::dot:
            case Metric::l1:
                break;
        }
        detail::rescore_unsafe(t, metric, a, b, i0, nr, an.data() + i0, b_unsafe, rows);
    });
    return out;
}

/// Scales every row of `set` (row-major, stored data) to unit L2 norm in place; zero rows
/// stay zero. After it, dot equals cosine similarity for non-zero rows, so cosine search can
/// run as dot search (a zero row scores 0, where cosine would give 0, or 1 against another
/// zero vector). Rows holding NaN or Inf become NaN. Throws ArgumentError if the rows are not
/// contiguous (inner stride other than 1).
template <class D>
void normalize_rows(Eigen::MatrixBase<D>& set) {
    using Scalar = typename D::Scalar;
    detail::static_check_set<D>();
    const simd::KernelTable<Scalar>& t = simd::detail::active_table<Scalar>();
    D& m = set.derived();
    const auto dim = static_cast<std::size_t>(m.cols());
    if (dim == 0) return;
    if (m.innerStride() != 1)
        throw ArgumentError(
            "embedkit::normalize_rows: the set must have contiguous rows (inner stride 1), "
            "got inner stride " +
            std::to_string(m.innerStride()));
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
        Scalar* r = &m.coeffRef(i, 0);
        Scalar sq = t.dot(r, r, dim);
        if (std::isnan(sq)) {
            for (std::size_t j = 0; j < dim; ++j) r[j] = std::numeric_limits<Scalar>::quiet_NaN();
            continue;
        }
        if (!(sq >= std::numeric_limits<Scalar>::min()) || std::isinf(sq)) {
            // The sum of squares underflowed or overflowed: divide by the largest magnitude
            // first (exact scaling is not needed, only a representable sum of squares).
            Scalar mx = 0;
            for (std::size_t j = 0; j < dim; ++j) mx = std::max(mx, std::abs(r[j]));
            if (mx == Scalar(0)) continue;  // a zero row stays zero
            if (std::isinf(mx)) {
                for (std::size_t j = 0; j < dim; ++j)
                    r[j] = std::numeric_limits<Scalar>::quiet_NaN();
                continue;
            }
            for (std::size_t j = 0; j < dim; ++j) r[j] /= mx;
            sq = t.dot(r, r, dim);
        }
        const Scalar inv = Scalar(1) / std::sqrt(sq);
        for (std::size_t j = 0; j < dim; ++j) r[j] *= inv;
    }
}

/// normalize_rows for temporaries such as `set.topRows(10)` or an Eigen::Map.
template <class D>
void normalize_rows(Eigen::MatrixBase<D>&& set) {
    normalize_rows(static_cast<Eigen::MatrixBase<D>&>(set));
}

}  // namespace embedkit
