// Fuzz target: the distance API (pair functions, distances, pairwise, top_k, normalize_rows)
// fed with fuzzed shapes, options and values, at every SIMD level this CPU supports.
// Input, in order: a mode byte (bit 0 double, bit 1 small integer values instead of raw bit
// patterns, bit 2 exclude_self, bit 3 give the set another dimension than the queries, bit 4
// long rows, bits 5 and 6 many rows), the SIMD level, the metric, the dimension (0-24, or
// 0-300 with bit 4), the query and set row counts (0-12, or 0-64 with bits 5 and 6), k
// (-4 to 80), then the values: raw float/double bit patterns (NaN, Inf, subnormals allowed)
// or small integers (many ties), read from the remaining bytes cyclically.
// embedkit errors must occur exactly when the arguments are invalid (k <= 0, an empty set,
// different dimensions, exclude_self with one row); valid calls must satisfy the documented
// invariants checked below. A violation aborts.
#include "fuzz_util.hpp"

#include <embedkit/distance/pairwise.hpp>
#include <embedkit/distance/dispatch.hpp>
#include <embedkit/distance/metric.hpp>
#include <embedkit/distance/pair.hpp>
#include <embedkit/distance/topk.hpp>

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

constexpr const char* target = "fuzz_distance";
using Index = Eigen::Index;
using embedkit::Metric;

// Same value or both NaN (0 and -0 compare equal).
template <class S>
bool same(S a, S b) {
    return (std::isnan(a) && std::isnan(b)) || a == b;
}

template <class S>
void fill(embedkit::RowMatrix<S>& m, bool small, const std::uint8_t* pool, std::size_t pool_size,
          std::size_t& pos) {
    const auto next = [&]() -> std::uint8_t {
        if (pool_size == 0) return 0;
        const std::uint8_t b = pool[pos % pool_size];
        ++pos;
        return b;
    };
    for (Index i = 0; i < m.size(); ++i) {
        if (small) {
            m.data()[i] = static_cast<S>(static_cast<std::int8_t>(next()) / 16);
        } else if constexpr (sizeof(S) == 4) {
            std::uint32_t b = 0;
            for (int k = 0; k < 4; ++k) b |= std::uint32_t(next()) << (8 * k);
            std::memcpy(&m.data()[i], &b, 4);
        } else {
            std::uint64_t b = 0;
            for (int k = 0; k < 8; ++k) b |= std::uint64_t(next()) << (8 * k);
            std::memcpy(&m.data()[i], &b, 8);
        }
    }
}

// The pair function that top_k, distances and pairwise report for `metric`.
template <class S>
S pair_value(Metric metric, const S* a, const S* b, std::size_t n) {
    switch (metric) {
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
    fuzz::violated(target, "unknown metric");
}

// Expects `call` to throw an embedkit::Error exactly when `invalid`; returns whether it ran.
template <class F>
bool expect(bool invalid, F&& call) {
    try {
        call();
    } catch (const embedkit::Error&) {
        if (!invalid) fuzz::violated(target, "an embedkit error for valid arguments");
        return false;
    }
    if (invalid) fuzz::violated(target, "no embedkit error for invalid arguments");
    return true;
}

template <class S>
void check_pairs(const S* a, const S* b, std::size_t n) {
    using Map = Eigen::Map<const embedkit::Vector<S>>;
    const Map va(a, static_cast<Index>(n)), vb(b, static_cast<Index>(n));
    const S dot = embedkit::dot(a, b, n), l1 = embedkit::l1(a, b, n);
    const S l2s = embedkit::l2_squared(a, b, n), l2 = embedkit::l2(a, b, n);
    const S cs = embedkit::cosine_similarity(a, b, n), cd = embedkit::cosine_distance(a, b, n);
    // The Eigen forms run the same kernels.
    FUZZ_CHECK(target, same(embedkit::dot(va, vb), dot));
    FUZZ_CHECK(target, same(embedkit::l1(va, vb), l1));
    FUZZ_CHECK(target, same(embedkit::l2_squared(va, vb), l2s));
    FUZZ_CHECK(target, same(embedkit::l2(va, vb), l2));
    FUZZ_CHECK(target, same(embedkit::cosine_similarity(va, vb), cs));
    FUZZ_CHECK(target, same(embedkit::cosine_distance(va, vb), cd));
    // The numeric rules of metric.hpp.
    FUZZ_CHECK(target, std::isnan(l1) || l1 >= 0);
    FUZZ_CHECK(target, std::isnan(l2s) ? std::isnan(l2) : l2 == std::sqrt(std::max(l2s, S(0))));
    FUZZ_CHECK(target, std::isnan(cs) || (cs >= -1 && cs <= 1));
    FUZZ_CHECK(target, std::isnan(cd) || (cd >= 0 && cd <= 2));
    FUZZ_CHECK(target, std::isnan(cs) == std::isnan(cd));
    if (n == 0) FUZZ_CHECK(target, dot == 0 && l1 == 0 && l2s == 0 && cs == 1 && cd == 0);
}

template <class S>
void run(fuzz::Input& in, unsigned mode) {
    const bool small = (mode & 2) != 0;
    const bool exclude_self = (mode & 4) != 0;
    const bool other_dim = (mode & 8) != 0;
    const Metric metric = static_cast<Metric>(in.byte() % 5);
    // Most inputs are small (fast executions); bit 4 allows long rows (dimension up to 300),
    // bits 5 and 6 together many rows (up to 64).
    const unsigned max_dim = (mode & 16) != 0 ? 300 : 24;
    const unsigned max_rows = (mode & 96) == 96 ? 64 : 12;
    const Index dq = in.range(0, max_dim);
    const Index ds = other_dim ? Index(in.range(0, max_dim)) : dq;
    const Index nq = in.range(0, max_rows);
    const Index ns = in.range(0, max_rows);
    const Index k = Index(in.range(0, 84)) - 4;
    embedkit::RowMatrix<S> Q(nq, dq), X(ns, ds);
    std::size_t pos = 0;
    fill(Q, small, in.rest(), in.left(), pos);
    fill(X, small, in.rest(), in.left(), pos);

    // Pair functions on the first rows (and the Eigen forms' dimension check).
    if (nq > 0 && ns > 0) {
        if (dq == ds) check_pairs(Q.row(0).data(), X.row(0).data(), static_cast<std::size_t>(dq));
        expect(dq != ds, [&] { (void)embedkit::l2(Q.row(0), X.row(0)); });
    }

    // distances: one query against the set, the same kernels as the pair functions.
    if (nq > 0) {
        embedkit::Vector<S> d;
        if (expect(ns == 0 || dq != ds, [&] { d = embedkit::distances(Q.row(0), X, metric); })) {
            FUZZ_CHECK(target, d.size() == ns);
            for (Index j = 0; j < ns; ++j)
                FUZZ_CHECK(target, same(d[j], pair_value(metric, Q.row(0).data(), X.row(j).data(),
                                                         std::size_t(dq))));
        }
    }

    // pairwise: shape and the sign/range rules (the GEMM form is only close to the pairs).
    embedkit::RowMatrix<S> P;
    if (expect(nq == 0 || ns == 0 || dq != ds, [&] { P = embedkit::pairwise(Q, X, metric); })) {
        FUZZ_CHECK(target, P.rows() == nq && P.cols() == ns);
        for (Index i = 0; i < P.size(); ++i) {
            const S v = P.data()[i];
            if (metric == Metric::l1 || metric == Metric::l2 || metric == Metric::l2_squared)
                FUZZ_CHECK(target, std::isnan(v) || v >= 0);
            if (metric == Metric::cosine) FUZZ_CHECK(target, std::isnan(v) || (v >= -1 && v <= 1));
        }
        // Pairs with a non-finite row get the pair function's value on every path.
        for (Index i = 0; i < nq; ++i)
            for (Index j = 0; j < ns; ++j)
                if (!Q.row(i).allFinite() || !X.row(j).allFinite())
                    FUZZ_CHECK(target, same(P(i, j), pair_value(metric, Q.row(i).data(),
                                                                X.row(j).data(), std::size_t(dq))));
        if (metric == Metric::l1)
            for (Index i = 0; i < nq; ++i)
                for (Index j = 0; j < ns; ++j)
                    FUZZ_CHECK(target, same(P(i, j), embedkit::l1(Q.row(i).data(), X.row(j).data(),
                                                                  std::size_t(dq))));
    }

    // top_k: shape, indices, order, scores = pair values; exact selection on the kernel path.
    embedkit::TopK<S> r;
    embedkit::TopKOptions opt;
    opt.exclude_self = exclude_self;
    // Q is not in X's memory, so exclude_self names the offset: query i is set row i.
    opt.self_offset = 0;
    const bool invalid = k <= 0 || nq == 0 || ns == 0 || dq != ds || (exclude_self && ns == 1) ||
                         (exclude_self && nq > ns);
    if (expect(invalid, [&] { r = embedkit::top_k(Q, X, k, metric, opt); })) {
        const Index candidates = ns - (exclude_self ? 1 : 0);
        const Index kk = std::min(k, candidates);
        FUZZ_CHECK(target, r.indices.rows() == nq && r.indices.cols() == kk);
        FUZZ_CHECK(target, r.scores.rows() == nq && r.scores.cols() == kk);
        const bool larger = embedkit::larger_is_closer(metric);
        const auto key = [larger](S v) { return larger ? -v : v; };
        const bool exact =
            metric == Metric::l1 || nq < embedkit::detail::topk_gemm_min_queries || dq == 0;
        std::vector<char> taken(static_cast<std::size_t>(ns));
        for (Index i = 0; i < nq; ++i) {
            std::fill(taken.begin(), taken.end(), 0);
            for (Index c = 0; c < kk; ++c) {
                const Index j = r.indices(i, c);
                FUZZ_CHECK(target, j >= 0 && j < ns);
                FUZZ_CHECK(target, !taken[std::size_t(j)]);
                FUZZ_CHECK(target, !(exclude_self && j == i));
                taken[std::size_t(j)] = 1;
                const S s = r.scores(i, c);
                FUZZ_CHECK(target, same(s, pair_value(metric, Q.row(i).data(), X.row(j).data(),
                                                      std::size_t(dq))));
                if (c > 0)
                    FUZZ_CHECK(target, embedkit::detail::better(key(r.scores(i, c - 1)),
                                                                r.indices(i, c - 1), key(s), j));
            }
            if (!exact || kk == 0) continue;
            // Nothing left out beats the last one kept.
            const S worst = key(r.scores(i, kk - 1));
            const Index worst_index = r.indices(i, kk - 1);
            for (Index j = 0; j < ns; ++j) {
                if (taken[std::size_t(j)] || (exclude_self && j == i)) continue;
                const S v =
                    key(pair_value(metric, Q.row(i).data(), X.row(j).data(), std::size_t(dq)));
                FUZZ_CHECK(target, !embedkit::detail::better(v, j, worst, worst_index));
            }
        }
    }

    // normalize_rows: NaN/Inf rows become NaN, zero rows stay zero, others get unit norm.
    embedkit::RowMatrix<S> N = X;
    embedkit::normalize_rows(N);
    for (Index i = 0; i < ns; ++i) {
        const auto row = X.row(i).array();
        const auto out = N.row(i).array();
        if (ds == 0) continue;
        if (!row.allFinite()) {
            FUZZ_CHECK(target, out.isNaN().all());
        } else if ((row == S(0)).all()) {
            FUZZ_CHECK(target, (out == S(0)).all());
        } else {
            long double sq = 0;
            for (Index j = 0; j < ds; ++j) sq += static_cast<long double>(out[j]) * out[j];
            FUZZ_CHECK(target, std::fabs(sq - 1.0L) < 1e-3L);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::vector<embedkit::simd::Level> levels = embedkit::simd::supported();
    fuzz::Input in(data, size);
    const unsigned mode = in.byte();
    embedkit::simd::force(levels[in.byte() % levels.size()]);
    if ((mode & 1) != 0)
        run<double>(in, mode);
    else
        run<float>(in, mode);
    return 0;
}
