// topk.hpp: top_k against a brute-force reference -- the exact pair values of every candidate,
// fully sorted by (score, index) with NaN last, and a long-double check of those values -- on
// both internal paths (direct kernels for l1 or few queries; a matrix product per block
// otherwise), across set and query blocks, at every SIMD level, float and double.
#include "distance_test_util.hpp"
#include "search_test_util.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/distance/metric.hpp>
#include <embedkit/distance/pair.hpp>
#include <embedkit/distance/topk.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstddef>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

// Named, not anonymous: the unity build puts this file beside test_batch.cpp, whose helpers
// have the same names.
namespace topk_test {

using ektest::cat;
using ektest::check_throws;
using ektest::for_each_set_view;
using ektest::gemm_tolerance;
using ektest::GemmL1;
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
using embedkit::TopK;
using embedkit::TopKOptions;
using Index = Eigen::Index;
namespace simd = embedkit::simd;

template <class S>
using RM = embedkit::RowMatrix<S>;

// The internal block sizes the cases below are built around (read, not assumed, so the cases
// keep crossing the boundaries if the constants change).
constexpr Index gemm_min = embedkit::detail::topk_gemm_min_queries;
constexpr Index set_block = embedkit::detail::topk_set_block;
constexpr Index query_block = embedkit::detail::topk_query_block;

constexpr Metric all_metrics[] = {Metric::l1, Metric::l2, Metric::l2_squared, Metric::dot,
                                  Metric::cosine};
constexpr Metric gemm_metrics[] = {Metric::l2, Metric::l2_squared, Metric::dot, Metric::cosine};

std::string name(Metric m) { return std::string(embedkit::metric_name(m)); }

// The views the set and query arguments are tested with: every row-major view but the
// RowMatrix itself (the result they must equal), the middleRows view four rows into its padding.
constexpr ektest::SetViews set_views{false, 4, 5};

static_assert(std::is_same_v<decltype(TopK<float>::indices), embedkit::RowMatrix<Eigen::Index>>);
static_assert(std::is_same_v<decltype(TopK<double>::scores), embedkit::RowMatrix<double>>);
static_assert(
    std::is_same_v<decltype(embedkit::top_k(std::declval<const RM<float>&>(),
                                            std::declval<const RM<float>&>(), 1, Metric::l2)),
                   TopK<float>>);

// Small integers: every product and every partial sum of this file's sizes is an integer far
// below 2^24, so the kernels, the matrix product and the long-double reference all give the
// same exact a.b, a.a, b.b and squared distances. The matrix-product path then selects with
// exact keys, and the many exact ties test the lower-index rule.
template <class S>
RM<S> integer_set(Random& rng, Index rows, Index cols, int lo, int hi) {
    RM<S> m(rows, cols);
    for (Index i = 0; i < rows; ++i)
        for (Index j = 0; j < cols; ++j) m(i, j) = static_cast<S>(rng.integer(lo, hi));
    return m;
}

// ---- The brute-force reference: every candidate's pair value, sorted.

// The promised order: smaller distance / larger similarity first, equal values by lower
// index, NaN after every number (among themselves by lower index).
template <class S>
bool ranks_before(Metric m, S va, Index ia, S vb, Index ib) {
    const bool na = std::isnan(va), nb = std::isnan(vb);
    if (na || nb) return na && nb ? ia < ib : nb;
    if (va != vb) return embedkit::larger_is_closer(m) ? va > vb : va < vb;
    return ia < ib;
}

template <class S>
struct Expected {
    Metric metric;
    Index candidates;                       // per query
    std::vector<std::vector<S>> values;     // [query][set row]: the pair function's value
    std::vector<std::vector<Index>> order;  // [query]: best first, the first `depth` sorted
};

// `depth` is the largest k the result will be compared at (sorting only that far keeps the
// large cases fast).
template <class S>
Expected<S> expect(const RM<S>& queries, const RM<S>& set, Metric m, bool exclude_self, Index depth,
                   Index self_offset = 0) {
    Expected<S> e;
    e.metric = m;
    const Index n = set.rows();
    e.candidates = n - (exclude_self ? 1 : 0);
    const auto d = static_cast<std::size_t>(set.cols());
    for (Index i = 0; i < queries.rows(); ++i) {
        std::vector<S> v(static_cast<std::size_t>(n));
        for (Index j = 0; j < n; ++j)
            v[std::size_t(j)] = pair_value(m, queries.row(i).data(), set.row(j).data(), d);
        std::vector<Index> order;
        order.reserve(static_cast<std::size_t>(n));
        for (Index j = 0; j < n; ++j)
            if (!(exclude_self && j == self_offset + i)) order.push_back(j);
        const auto before = [&](Index a, Index b) {
            return ranks_before(m, v[std::size_t(a)], a, v[std::size_t(b)], b);
        };
        const Index sorted = std::min<Index>(depth, Index(order.size()));
        std::partial_sort(order.begin(), order.begin() + sorted, order.end(), before);
        e.values.push_back(std::move(v));
        e.order.push_back(std::move(order));
    }
    return e;
}

// The result must be exactly the reference: shape queries x min(k, candidates), the indices of
// the full sort, the pair functions' values bit for bit.
template <class S, class Describe>
void check_exact(const TopK<S>& got, const Expected<S>& e, Index k, Log& log,
                 const Describe& describe) {
    const Index nq = Index(e.values.size());
    const Index kk = std::min(k, e.candidates);
    const bool shape_ok = got.indices.rows() == nq && got.indices.cols() == kk &&
                          got.scores.rows() == nq && got.scores.cols() == kk;
    log.expect(shape_ok, [&] {
        return cat(describe(), " k ", k, ": shape ", got.indices.rows(), " x ", got.indices.cols(),
                   " / ", got.scores.rows(), " x ", got.scores.cols(), ", expected ", nq, " x ",
                   kk);
    });
    if (!shape_ok) return;
    for (Index i = 0; i < nq; ++i)
        for (Index r = 0; r < kk; ++r) {
            const Index want = e.order[std::size_t(i)][std::size_t(r)];
            const S want_score = e.values[std::size_t(i)][std::size_t(want)];
            log.expect(got.indices(i, r) == want && same_value(got.scores(i, r), want_score), [&] {
                return cat(describe(), " ", name(e.metric), " k ", k, " query ", i, " rank ", r,
                           ": got index ", got.indices(i, r), " score ", got.scores(i, r),
                           ", expected index ", want, " score ", want_score);
            });
        }
}

// The returned scores against the long-double reference (the first `cols` ranks).
template <class S, class Describe>
void check_reference(const TopK<S>& got, const RM<S>& queries, const RM<S>& set, Metric m,
                     Index cols, Log& log, const Describe& describe) {
    const auto d = static_cast<std::size_t>(set.cols());
    for (Index i = 0; i < got.indices.rows(); ++i)
        for (Index r = 0; r < std::min(cols, got.indices.cols()); ++r) {
            const Index j = got.indices(i, r);
            if (j < 0 || j >= set.rows()) {
                log.expect(false, [&] { return cat(describe(), " index ", j, " out of range"); });
                continue;
            }
            log.expect(
                kernel_value_ok(m, got.scores(i, r), queries.row(i).data(), set.row(j).data(), d),
                [&] {
                    return cat(describe(), " ", name(m), " query ", i, " rank ", r, ": score ",
                               got.scores(i, r), " is too far from the long-double reference");
                });
        }
}

std::vector<Index> ks_for(Index n) {
    std::vector<Index> ks = {1, 2, 5, n - 1, n, n + 3};
    ks.erase(std::remove_if(ks.begin(), ks.end(), [](Index k) { return k < 1; }), ks.end());
    std::sort(ks.begin(), ks.end());
    ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
    return ks;
}

// The number docs/*.md states right after `before` (digits, thousands separated by commas)
// and followed by `after`, with the text's line breaks and runs of spaces read as one space;
// -1 if the phrase is not there.
Index documented_number(const std::string& doc, const std::string& before,
                        const std::string& after) {
    const std::string path = std::string(EMBEDKIT_SOURCE_DIR) + "/docs/" + doc;
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    std::ostringstream raw;
    raw << in.rdbuf();
    std::string text;
    for (const char c : raw.str()) {
        const char d = (c == '\n' || c == '\t') ? ' ' : c;
        if (d == ' ' && !text.empty() && text.back() == ' ') continue;
        text += d;
    }
    for (std::size_t at = text.find(before); at != std::string::npos;
         at = text.find(before, at + 1)) {
        std::size_t end = at + before.size();
        std::string digits;
        for (; end < text.size() &&
               (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == ',');
             ++end)
            if (text[end] != ',') digits += text[end];
        if (!digits.empty() && text.compare(end, after.size(), after) == 0)
            return std::stol(digits);
    }
    return -1;
}

TEST_CASE("topk: the block constants the cases are built around, as the docs state them") {
    // The cases below derive their sizes from these; this records what they were written for.
    CHECK(gemm_min >= 2);
    CHECK(set_block >= 2);
    CHECK(query_block >= gemm_min);
    CHECK(embedkit::detail::topk_chunk_rows % set_block == 0);  // chunk edges are block edges
    // The figures docs/API.md and docs/ARCHITECTURE.md give must be the code's (API.md once
    // said 1024-row blocks while the code used 1536).
    CHECK(documented_number("API.md", "streamed in blocks of ", " rows") == set_block);
    CHECK(documented_number("ARCHITECTURE.md", "streams the set in blocks of ", " rows") ==
          set_block);
    CHECK(documented_number("API.md", "With fewer than ", " queries, or `l1`") == gemm_min);
    CHECK(documented_number("API.md", "blocks of ", " queries, and") == query_block);
    CHECK(documented_number("API.md", "with fewer than ", " queries and a set") ==
          embedkit::detail::topk_split_max_queries);
    CHECK(documented_number("API.md", "chunks of the set of ", " rows") ==
          embedkit::detail::topk_chunk_rows);
    CHECK(documented_number("API.md", "would need over ", " chunks") ==
          embedkit::detail::topk_max_chunks);
    CHECK(documented_number("ARCHITECTURE.md", "cut into chunks of ", " rows") ==
          embedkit::detail::topk_chunk_rows);
    CHECK(documented_number("ARCHITECTURE.md", "(fewer than ", " queries)") ==
          embedkit::detail::topk_split_max_queries);
    CHECK(documented_number("ARCHITECTURE.md", "a multiple of the ", "-row block") == set_block);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE(
    "topk: direct path (fewer than 8 queries) equals a full sort of the pair "
    "values",
    S, float, double) {
    Random rng(0x70bc0001);
    Log log;
    for (const Index dim : {1, 3, 17, 129}) {
        for (const Index n : {Index(1), Index(2), Index(37), set_block + 76}) {
            if (dim == 129 && n > 100) continue;  // the large set runs at the smaller dims
            const RM<S> set = random_set<S>(rng, n, dim);
            for (const Index nq : {Index(1), Index(3), gemm_min - 1}) {
                const RM<S> queries = random_set<S>(rng, nq, dim);
                const std::vector<Index> ks = ks_for(n);
                for (const Level level : simd::supported()) {
                    simd::Scoped scoped(level);
                    for (const Metric m : all_metrics) {
                        const Expected<S> e = expect(queries, set, m, false, n);
                        const auto describe = [&] {
                            return cat(level_str(level), " ", scalar_str<S>(), " dim ", dim, " n ",
                                       n, " nq ", nq);
                        };
                        for (const Index k : ks) {
                            const TopK<S> got = embedkit::top_k(queries, set, k, m);
                            check_exact(got, e, k, log, describe);
                            if (k == ks.back())
                                check_reference(got, queries, set, m, n, log, describe);
                        }
                        // Queries that are rows of the set, with and without exclude_self.
                        const Index own = std::min(nq, n);
                        const RM<S> own_rows = set.topRows(own);
                        const Expected<S> e_own = expect(own_rows, set, m, false, n);
                        check_exact(embedkit::top_k(set.topRows(own), set, n, m), e_own, n, log,
                                    describe);
                        if (n >= 2) {
                            const Expected<S> e_ex = expect(own_rows, set, m, true, n);
                            for (const Index k : ks)
                                check_exact(
                                    embedkit::top_k(set.topRows(own), set, k, m, TopKOptions{true}),
                                    e_ex, k, log, describe);
                        }
                    }
                }
            }
        }
    }
    log.report(10000);
}

TEST_CASE_TEMPLATE("topk: matrix-product path is exact on small-integer data with ties", S, float,
                   double) {
    Random rng(0x70bc0002);
    Log log;
    for (const Index dim : {1, 3, 17, 129}) {
        for (const Index n : {1, 2, 37, 300}) {
            // Values in [-3, 3]: many exact ties, zero rows included (all zero at dim 1 and 3).
            const RM<S> set = integer_set<S>(rng, n, dim, -3, 3);
            for (const Index nq : {gemm_min, query_block + 2}) {
                if (dim == 129 && nq > query_block) continue;  // two query blocks at dims <= 17
                const RM<S> queries = integer_set<S>(rng, nq, dim, -3, 3);
                std::vector<Index> ks = {1, 5, n, n + 3};
                if (n < 5) ks = {1, n, n + 3};
                for (const Level level : simd::supported()) {
                    simd::Scoped scoped(level);
                    for (const Metric m : all_metrics) {
                        const auto describe = [&] {
                            return cat(level_str(level), " ", scalar_str<S>(), " dim ", dim, " n ",
                                       n, " nq ", nq);
                        };
                        const Expected<S> e = expect(queries, set, m, false, n);
                        for (const Index k : ks) {
                            const TopK<S> got = embedkit::top_k(queries, set, k, m);
                            check_exact(got, e, k, log, describe);
                            if (k == ks.front())
                                check_reference(got, queries, set, m, 1, log, describe);
                        }
                        if (n >= gemm_min) {  // the set's own rows as queries, still >= 8
                            const RM<S> own = set.topRows(std::min(nq, n));
                            const Expected<S> e_ex = expect(own, set, m, true, n);
                            for (const Index k : ks)
                                check_exact(embedkit::top_k(set.topRows(own.rows()), set, k, m,
                                                            TopKOptions{true}),
                                            e_ex, k, log, describe);
                        }
                    }
                }
            }
        }
    }
    log.report(100000);
}

TEST_CASE_TEMPLATE("topk: results cross set and query blocks unchanged", S, float, double) {
    // 2 set blocks and a part, 2 query blocks and a part; dim 3 with values in [-4, 4] keeps
    // every path exact and full of ties.
    Random rng(0x70bc0003);
    const Index n = 2 * set_block + 452;
    const Index dim = 3;
    const RM<S> set = integer_set<S>(rng, n, dim, -4, 4);
    const RM<S> many_queries = set.topRows(2 * query_block + 44);
    const RM<S> few_queries = integer_set<S>(rng, gemm_min - 3, dim, -4, 4);
    // k above one set block keeps candidates from several blocks (run on fewer queries: the
    // heap work grows with k).
    const Index big_k = set_block + 6;
    Log log;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const Metric m : all_metrics) {
            for (const bool exclude : {false, true}) {
                const auto describe = [&] {
                    return cat(level_str(level), " ", scalar_str<S>(),
                               exclude ? " exclude_self" : "");
                };
                const Expected<S> e = expect(many_queries, set, m, exclude, 10);
                for (const Index k : {1, 10})
                    check_exact(embedkit::top_k(set.topRows(many_queries.rows()), set, k, m,
                                                TopKOptions{exclude}),
                                e, k, log, describe);
                const Expected<S> e_big =
                    expect(RM<S>(set.topRows(gemm_min)), set, m, exclude, big_k);
                check_exact(
                    embedkit::top_k(set.topRows(gemm_min), set, big_k, m, TopKOptions{exclude}),
                    e_big, big_k, log, describe);
            }
            const Expected<S> e_few = expect(few_queries, set, m, false, n);
            for (const Index k : {Index(1), Index(10), big_k, n})
                check_exact(embedkit::top_k(few_queries, set, k, m), e_few, k, log, [&] {
                    return cat(level_str(level), " ", scalar_str<S>(), " few queries");
                });
        }
    }
    // About 283,000 comparisons per SIMD level.
    log.report(std::size_t(250000) * simd::supported().size());
}

TEST_CASE_TEMPLATE("topk: exclude_self skips the query's own row in every set block", S, float,
                   double) {
    // All rows are queries, so the own row of the later queries lies in the second set block.
    Random rng(0x70bc0004);
    const Index n = set_block + 276;
    const RM<S> set = integer_set<S>(rng, n, 2, -6, 6);
    Log log;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const Metric m : {Metric::l2_squared, Metric::dot, Metric::cosine, Metric::l1}) {
            const Expected<S> e = expect(set, set, m, true, 7);
            for (const Index k : {1, 7}) {
                const TopK<S> got = embedkit::top_k(set, set, k, m, TopKOptions{true});
                check_exact(got, e, k, log,
                            [&] { return cat(level_str(level), " ", scalar_str<S>()); });
                for (Index i = 0; i < got.indices.rows(); ++i)
                    for (Index r = 0; r < got.indices.cols(); ++r)
                        log.expect(got.indices(i, r) != i, [&] {
                            return cat(level_str(level), " ", name(m), " query ", i,
                                       " returned its own row");
                        });
            }
        }
    }
    log.report(std::size_t(n) * 16);
}

TEST_CASE_TEMPLATE("topk: exclude_self caps k at n - 1 and never returns row i for query i", S,
                   float, double) {
    Random rng(0x70bc0005);
    const Index n = 37, dim = 17;
    const RM<S> real = random_set<S>(rng, n, dim);
    const RM<S> ints = integer_set<S>(rng, n, dim, -2, 2);
    Log log;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const Metric m : all_metrics) {
            // Real-valued data on the direct path, integers on the matrix-product path.
            for (const Index nq : {Index(1), gemm_min - 1, gemm_min, n}) {
                const RM<S>& set = nq < gemm_min ? real : ints;
                const Expected<S> e = expect(RM<S>(set.topRows(nq)), set, m, true, n);
                for (const Index k : {Index(1), Index(5), n - 1, n, Index(100)}) {
                    const TopK<S> got =
                        embedkit::top_k(set.topRows(nq), set, k, m, TopKOptions{true});
                    log.expect(got.indices.cols() == std::min(k, n - 1),
                               [&] { return cat("k ", k, ": ", got.indices.cols(), " columns"); });
                    check_exact(got, e, k, log, [&] {
                        return cat(level_str(level), " ", scalar_str<S>(), " nq ", nq);
                    });
                    for (Index i = 0; i < got.indices.rows(); ++i)
                        for (Index r = 0; r < got.indices.cols(); ++r)
                            log.expect(got.indices(i, r) != i, [&] {
                                return cat(level_str(level), " ", name(m), " nq ", nq, " k ", k,
                                           " query ", i, " returned its own row");
                            });
                }
            }
            // Two rows: each query gets the other one.
            const TopK<S> two =
                embedkit::top_k(real.topRows(2), real.topRows(2), 5, m, TopKOptions{true});
            log.expect(two.indices.rows() == 2 && two.indices.cols() == 1 &&
                           two.indices(0, 0) == 1 && two.indices(1, 0) == 0,
                       [&] { return cat(name(m), ": two-row exclude_self"); });
        }
    }
    log.report(1000);
}

// Real-valued data on the matrix-product path: the selection uses rounded inner products, so
// near-ties at the k-th place may swap; what holds exactly is that the scores are the pair
// functions' values, in exact (score, index) order, and the selection is right up to the
// stated rounding bound.
TEST_CASE_TEMPLATE(
    "topk: matrix-product path on real-valued data is exact up to the stated "
    "rounding bound",
    S, float, double) {
    Random rng(0x70bc0006);
    Log log;
    std::size_t determined = 0, lists = 0;
    for (const Index dim : {3, 17, 129}) {
        for (const Index n : {Index(37), set_block + 76}) {
            RM<S> set = random_set<S>(rng, n, dim);
            for (Index j = 0; j < n; ++j)  // rows of different lengths
                set.row(j) *= static_cast<S>(std::ldexp(1.0, int(j % 5) - 2));
            for (const Index nq : {gemm_min, query_block + 2}) {
                if (dim == 129 && n > set_block && nq > query_block) continue;  // the slowest
                const RM<S> queries = random_set<S>(rng, nq, dim);
                // The long-double reference of every pair, once.
                std::vector<ektest::Reference> refs(std::size_t(nq * n));
                for (Index i = 0; i < nq; ++i)
                    for (Index j = 0; j < n; ++j)
                        refs[std::size_t(i * n + j)] = ektest::reference(
                            queries.row(i).data(), set.row(j).data(), std::size_t(dim));
                for (const Level level : simd::supported()) {
                    simd::Scoped scoped(level);
                    for (const Metric m : gemm_metrics) {
                        const Expected<S> e = expect(queries, set, m, false, n);
                        const double sign = embedkit::larger_is_closer(m) ? -1.0 : 1.0;
                        for (const Index k : {Index(1), Index(10), n}) {
                            const TopK<S> got = embedkit::top_k(queries, set, k, m);
                            const Index kk = std::min(k, n);
                            REQUIRE(got.indices.rows() == nq);
                            REQUIRE(got.indices.cols() == kk);
                            REQUIRE(got.scores.cols() == kk);
                            for (Index i = 0; i < nq; ++i) {
                                ++lists;
                                const auto where = [&] {
                                    return cat(level_str(level), " ", scalar_str<S>(), " ", name(m),
                                               " dim ", dim, " n ", n, " nq ", nq, " k ", k,
                                               " query ", i);
                                };
                                std::vector<char> chosen(std::size_t(n), 0);
                                long double worst_chosen =
                                    -std::numeric_limits<long double>::infinity();
                                for (Index r = 0; r < kk; ++r) {
                                    const Index j = got.indices(i, r);
                                    const bool in_range =
                                        j >= 0 && j < n && !chosen[std::size_t(j)];
                                    log.expect(in_range, [&] {
                                        return cat(where(), ": bad or repeated index ", j);
                                    });
                                    if (!in_range) continue;
                                    chosen[std::size_t(j)] = 1;
                                    // The score is the pair function's value, bit for bit.
                                    const S pv = e.values[std::size_t(i)][std::size_t(j)];
                                    log.expect(same_value(got.scores(i, r), pv), [&] {
                                        return cat(where(), " rank ", r, ": score ",
                                                   got.scores(i, r), " != pair function ", pv);
                                    });
                                    // In exact (score, index) order.
                                    if (r > 0)
                                        log.expect(ranks_before(m, got.scores(i, r - 1),
                                                                got.indices(i, r - 1),
                                                                got.scores(i, r), j),
                                                   [&] {
                                                       return cat(where(), " rank ", r,
                                                                  ": out of order");
                                                   });
                                    const ektest::Reference& ref = refs[std::size_t(i * n + j)];
                                    worst_chosen =
                                        std::max(worst_chosen,
                                                 sign * reference_value<S>(m, ref) -
                                                     gemm_tolerance<S>(m, ref, std::size_t(dim),
                                                                       GemmL1::kernel));
                                }
                                // No row left out is better than a chosen one by more than
                                // the two selection errors.
                                long double best_left =
                                    std::numeric_limits<long double>::infinity();
                                for (Index j = 0; j < n; ++j) {
                                    if (chosen[std::size_t(j)]) continue;
                                    const ektest::Reference& ref = refs[std::size_t(i * n + j)];
                                    best_left = std::min(
                                        best_left, sign * reference_value<S>(m, ref) +
                                                       gemm_tolerance<S>(m, ref, std::size_t(dim),
                                                                         GemmL1::kernel));
                                }
                                log.expect(worst_chosen <= best_left, [&] {
                                    return cat(where(),
                                               ": a chosen row is worse than a left-out "
                                               "one beyond the rounding bound (",
                                               worst_chosen, " > ", best_left, ")");
                                });
                                // Where the exact top-k set is the chosen one, the whole list
                                // equals the reference.
                                bool same_set = true;
                                for (Index r = 0; r < kk; ++r)
                                    same_set =
                                        same_set && chosen[std::size_t(
                                                        e.order[std::size_t(i)][std::size_t(r)])];
                                if (same_set) {
                                    ++determined;
                                    for (Index r = 0; r < kk; ++r)
                                        log.expect(got.indices(i, r) ==
                                                       e.order[std::size_t(i)][std::size_t(r)],
                                                   [&] {
                                                       return cat(
                                                           where(), " rank ", r,
                                                           ": index differs from the full sort");
                                                   });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    log.report(lists * 2);
    // Nearly every list has well-separated scores at the k-th place.
    CHECK(determined * 100 >= lists * 95);
}

// ---- The fused float path (levels avx2 and avx512): the filter in registers must let through
// every key offer() would accept. The reference computes every pair's key the way the path
// does -- the inner product as one FMA chain over the dimensions in order (what each lane of
// the micro-kernel computes, bit for bit), the same key rules (cancellation, rows and queries
// the product cannot score) -- keeps the k best of all of them by (key, index), and reports
// them as top_k does (pair values, sorted). Any key the filter wrongly drops changes a list.

float fused_key(Metric m, const float* q, const float* s, Index dim, float q_sq, float s_sq) {
    namespace ed = embedkit::detail;
    const auto d = std::size_t(dim);
    const auto exact = [&] { return ed::to_key(m, pair_value(m, q, s, d)); };
    if (!ed::gemm_safe_norm(q_sq) || !ed::gemm_safe_norm(s_sq)) return exact();
    float ip = 0.0f;
    for (Index t = 0; t < dim; ++t) ip = std::fma(q[t], s[t], ip);
    if (m == Metric::l2 || m == Metric::l2_squared) {
        const float sum = q_sq + s_sq;
        const float dd = sum - 2.0f * ip;
        const float g = dd < 0.0f ? 0.0f : dd;
        if (!(g > ed::cancellation_fraction<float>(d) * sum)) return exact();
        return m == Metric::l2 ? std::sqrt(g) : g;
    }
    return ed::to_key(m, ed::from_inner_product(m, ip, q_sq, s_sq));
}

TopK<float> fused_reference(const RM<float>& queries, const RM<float>& set, Index k, Metric m,
                            bool exclude_self) {
    namespace ed = embedkit::detail;
    const Index nq = queries.rows(), n = set.rows(), dim = set.cols();
    const Index kk = std::min(k, n - (exclude_self ? 1 : 0));
    const auto d = std::size_t(dim);
    TopK<float> out;
    out.indices.resize(nq, kk);
    out.scores.resize(nq, kk);
    for (Index i = 0; i < nq; ++i) {
        const float* q = queries.row(i).data();
        const float q_sq = embedkit::dot(q, q, d);
        std::vector<ed::Candidate<float>> c;
        for (Index j = 0; j < n; ++j) {
            if (exclude_self && j == i) continue;
            const float* s = set.row(j).data();
            c.push_back({fused_key(m, q, s, dim, q_sq, embedkit::dot(s, s, d)), j});
        }
        const auto better = [](const ed::Candidate<float>& a, const ed::Candidate<float>& b) {
            return ed::better(a.key, a.index, b.key, b.index);
        };
        std::partial_sort(c.begin(), c.begin() + kk, c.end(), better);
        c.resize(std::size_t(kk));
        for (auto& x : c) x.key = ed::to_key(m, pair_value(m, q, set.row(x.index).data(), d));
        std::sort(c.begin(), c.end(), better);
        for (Index r = 0; r < kk; ++r) {
            out.indices(i, r) = c[std::size_t(r)].index;
            out.scores(i, r) = ed::to_key(m, c[std::size_t(r)].key);
        }
    }
    return out;
}

TEST_CASE("topk: the fused float path keeps what offering every key would keep") {
#if !EMBEDKIT_ARCH_X86
    MESSAGE("the fused float path is x86-64 only (levels avx2 and avx512): nothing to test");
    return;
#endif
    if (!simd::cpu_supports(Level::avx2)) {
        MESSAGE("this CPU lacks AVX2+FMA: the fused float path does not run here");
        return;
    }
    Random rng(0x70bc0020);
    Log log;
    int ran = 0;
    // 37 queries: two full panels of 16 and one of 5; 6 * 50 + 5 rows: a tail of 5 rows. At
    // dimension 300 the set crosses blocks of the fused loop (108 rows there); 140 queries
    // cross a query block (128).
    const Index n = 6 * 50 + 5;
    const std::pair<Index, Index> shapes[] = {{1, 37},  {7, 37},   {19, 37},
                                              {64, 37}, {300, 37}, {7, 140}};
    for (const auto& shape : shapes) {
        const Index dim = shape.first, nq = shape.second;
        for (const bool integers : {true, false}) {
            RM<float> set =
                integers ? integer_set<float>(rng, n, dim, -3, 3) : random_set<float>(rng, n, dim);
            if (!integers) {
                // Near and exact duplicates (cancellation), rows the product cannot score (a zero
                // row, a huge one, an infinite and a NaN value), rows of different lengths.
                for (Index j = 40; j < 80; j += 2) {
                    set.row(j + 1) = set.row(j);
                    set(j + 1, 0) += 1e-6f;
                }
                set.row(90).setZero();
                set.row(91) *= 1e19f;
                set(92, 0) = std::numeric_limits<float>::infinity();
                set(93, dim - 1) = std::numeric_limits<float>::quiet_NaN();
                for (Index j = 100; j < 200; ++j) set.row(j) *= float(1 + j % 7);
            }
            RM<float> queries = set.topRows(nq);
            if (!integers) {
                queries.row(5) = set.row(41);                            // a near duplicate's twin
                queries(7, 0) = std::numeric_limits<float>::infinity();  // not scorable
                queries.row(8) *= 1e-21f;  // squared norm too small for the product
            }
            for (const Level level : simd::supported()) {
                if (level != Level::avx2 && level != Level::avx512) continue;
                simd::Scoped scoped(level);
                ++ran;
                for (const Metric m : gemm_metrics)
                    for (const Index k : {Index(1), Index(3), Index(10), Index(64)})
                        for (const bool self : {false, true}) {
                            TopKOptions o;
                            o.exclude_self = self;
                            o.self_offset = self ? 0 : -1;
                            const TopK<float> got = embedkit::top_k(queries, set, k, m, o);
                            const TopK<float> want = fused_reference(queries, set, k, m, self);
                            const auto where = [&] {
                                return cat(level_str(level), " ", name(m), " dim ", dim,
                                           integers ? " integers" : " reals", " k ", k,
                                           self ? " exclude_self" : "");
                            };
                            REQUIRE(got.indices.cols() == want.indices.cols());
                            for (Index i = 0; i < nq; ++i)
                                for (Index r = 0; r < want.indices.cols(); ++r)
                                    log.expect(got.indices(i, r) == want.indices(i, r) &&
                                                   same_value(got.scores(i, r), want.scores(i, r)),
                                               [&] {
                                                   return cat(where(), " query ", i, " rank ", r,
                                                              ": got ", got.indices(i, r), " (",
                                                              got.scores(i, r), "), expected ",
                                                              want.indices(i, r), " (",
                                                              want.scores(i, r), ")");
                                               });
                        }
            }
        }
    }
    log.report(1);
    CHECK(ran > 0);
}

// Exact duplicates have exactly equal scores: ties, which go to the lower index.
TEST_CASE_TEMPLATE("topk: duplicate rows come out in index order (integer data, both paths)", S,
                   float, double) {
    Random rng(0x70bc0007);
    const Index n = set_block + 476, dim = 17;
    RM<S> set = integer_set<S>(rng, n, dim, -5, 5);
    const std::vector<Index> copies = {
        3, 7, 100, set_block - 3, set_block - 2, set_block - 1, set_block, set_block + 1, n - 1};
    for (const Index c : copies) set.row(c) = set.row(3);
    RM<S> queries = integer_set<S>(rng, gemm_min + 2, dim, -5, 5);
    queries.row(0) = set.row(3);
    Log log;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const Metric m : all_metrics) {
            for (const Index nq : {Index(1), queries.rows()}) {
                const RM<S> q = queries.topRows(nq);
                const Expected<S> e = expect(q, set, m, false, 12);
                for (Index k = 1; k <= 12; ++k) {
                    const TopK<S> got = embedkit::top_k(q, set, k, m);
                    check_exact(got, e, k, log, [&] {
                        return cat(level_str(level), " ", scalar_str<S>(), " nq ", nq);
                    });
                    if (m == Metric::l1 || m == Metric::l2 || m == Metric::l2_squared)
                        for (Index r = 0; r < std::min<Index>(k, Index(copies.size())); ++r)
                            log.expect(got.indices(0, r) == copies[std::size_t(r)] &&
                                           got.scores(0, r) == 0,
                                       [&] {
                                           return cat(level_str(level), " ", name(m), " nq ", nq,
                                                      " k ", k, " rank ", r, ": index ",
                                                      got.indices(0, r), " score ",
                                                      got.scores(0, r), ", expected copy ",
                                                      copies[std::size_t(r)]);
                                       });
                }
            }
        }
    }
    // About 4,800 comparisons per SIMD level (2 levels under NEON, 3 on AVX-512).
    log.report(std::size_t(4000) * simd::supported().size());
}

// The same with real-valued data on the matrix-product path: the copies have bit-identical
// exact scores, so ties must still go to the lower index even though their rounded inner
// products (taken in different GEMM blocks and panels) may differ.
TEST_CASE_TEMPLATE(
    "topk: duplicate rows come out in index order (real-valued data, "
    "matrix-product path)",
    S, float, double) {
    Random rng(0x70bc0008);
    const Index n = set_block + 476, dim = 129;
    const std::vector<Index> copies = {
        3, 7, 100, set_block - 3, set_block - 2, set_block - 1, set_block, set_block + 1, n - 1};
    Log log;
    for (int trial = 0; trial < 4;
         ++trial) {  // whether rounding splits the copies depends on the data
        RM<S> set = random_set<S>(rng, n, dim);
        for (const Index c : copies) set.row(c) = set.row(3);
        RM<S> queries = random_set<S>(rng, gemm_min + 8, dim);
        queries.row(0) = set.row(3);
        for (const Level level : simd::supported()) {
            simd::Scoped scoped(level);
            for (const Metric m : gemm_metrics) {
                // k = 10 keeps every copy and one more row; the others cut inside the copies.
                for (const Index k : {1, 2, 5, 9, 10}) {
                    const TopK<S> got = embedkit::top_k(queries, set, k, m);
                    for (Index i = 0; i < queries.rows(); ++i) {
                        // Whenever a copy is returned, every copy with a lower index is too,
                        // and before it.
                        std::size_t seen = 0;
                        for (Index r = 0; r < got.indices.cols(); ++r) {
                            const auto it =
                                std::find(copies.begin(), copies.end(), got.indices(i, r));
                            if (it == copies.end()) continue;
                            const auto pos = static_cast<std::size_t>(it - copies.begin());
                            log.expect(pos == seen, [&] {
                                return cat("trial ", trial, " ", level_str(level), " ",
                                           scalar_str<S>(), " ", name(m), " k ", k, " query ", i,
                                           " rank ", r, ": copy at row ", got.indices(i, r),
                                           " returned, but the lower-index copy ", copies[seen],
                                           " was not returned before it");
                            });
                            seen = pos + 1;
                        }
                        if (i == 0 && (m == Metric::l2 || m == Metric::l2_squared))
                            for (Index r = 0; r < std::min<Index>(k, Index(copies.size())); ++r)
                                log.expect(got.indices(0, r) == copies[std::size_t(r)], [&] {
                                    return cat("trial ", trial, " ", level_str(level), " ",
                                               scalar_str<S>(), " ", name(m), " k ", k,
                                               ": query 0 (a copy of row 3) has row ",
                                               got.indices(0, r), " at rank ", r, ", expected ",
                                               copies[std::size_t(r)]);
                                });
                    }
                }
            }
        }
    }
    log.report(1);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("topk: NaN rows come last and leave the other rows in order", S, float, double) {
    Random rng(0x70bc0009);
    const Index n = 40, dim = 17;
    const Index nan_rows[] = {5, 22};
    for (const bool gemm : {false, true}) {
        // The direct path takes real-valued data; the matrix-product path integers (exact).
        RM<S> set = gemm ? integer_set<S>(rng, n, dim, -4, 4) : random_set<S>(rng, n, dim);
        const Index nq = gemm ? gemm_min + 4 : 3;
        const RM<S> queries =
            gemm ? integer_set<S>(rng, nq, dim, -4, 4) : random_set<S>(rng, nq, dim);
        RM<S> clean(n - 2, dim);  // the set without its NaN rows
        std::vector<Index> clean_to_set;
        for (Index j = 0, c = 0; j < n; ++j)
            if (j != nan_rows[0] && j != nan_rows[1]) {
                clean.row(c++) = set.row(j);
                clean_to_set.push_back(j);
            }
        set(nan_rows[0], dim - 1) = std::numeric_limits<S>::quiet_NaN();
        set(nan_rows[1], 0) = std::numeric_limits<S>::quiet_NaN();
        Log log;
        for (const Level level : simd::supported()) {
            simd::Scoped scoped(level);
            for (const Metric m : all_metrics) {
                const auto describe = [&] {
                    return cat(level_str(level), " ", scalar_str<S>(), gemm ? " gemm" : " direct");
                };
                const Expected<S> e = expect(queries, set, m, false, n);
                for (const Index k : {Index(1), Index(10), n - 2, n - 1, n, n + 5}) {
                    const TopK<S> got = embedkit::top_k(queries, set, k, m);
                    check_exact(got, e, k, log, describe);
                    const TopK<S> without = embedkit::top_k(queries, clean, k, m);
                    const Index kk = std::min(k, n);
                    if (got.indices.cols() != kk || without.indices.cols() != std::min(k, n - 2))
                        continue;
                    for (Index i = 0; i < nq; ++i)
                        for (Index r = 0; r < kk; ++r) {
                            if (r < n - 2) {
                                // The numbers: exactly the result without the NaN rows.
                                const Index want = clean_to_set[std::size_t(without.indices(i, r))];
                                log.expect(got.indices(i, r) == want &&
                                               got.scores(i, r) == without.scores(i, r),
                                           [&] {
                                               return cat(describe(), " ", name(m), " k ", k,
                                                          " query ", i, " rank ", r, ": ",
                                                          got.indices(i, r), " vs ", want);
                                           });
                            } else {
                                // Then the NaN rows, by index.
                                const Index want = nan_rows[r - (n - 2)];
                                log.expect(
                                    got.indices(i, r) == want && std::isnan(got.scores(i, r)), [&] {
                                        return cat(describe(), " ", name(m), " k ", k, " query ", i,
                                                   " rank ", r, ": ", got.indices(i, r), " score ",
                                                   got.scores(i, r), ", expected NaN row ", want);
                                    });
                            }
                        }
                }
            }
        }
        log.report(std::size_t(nq) * 100);
    }
}

TEST_CASE_TEMPLATE(
    "topk: a NaN query gets NaN scores in index order and disturbs no other "
    "query",
    S, float, double) {
    Random rng(0x70bc000a);
    const Index n = 30, dim = 17;
    for (const bool gemm : {false, true}) {
        const RM<S> set = gemm ? integer_set<S>(rng, n, dim, -4, 4) : random_set<S>(rng, n, dim);
        const Index nq = gemm ? gemm_min + 4 : 3;
        RM<S> queries = gemm ? integer_set<S>(rng, nq, dim, -4, 4) : random_set<S>(rng, nq, dim);
        queries(1, 4) = std::numeric_limits<S>::quiet_NaN();
        RM<S> others(nq - 1, dim);
        others.row(0) = queries.row(0);
        others.bottomRows(nq - 2) = queries.bottomRows(nq - 2);
        for (const Level level : simd::supported()) {
            simd::Scoped scoped(level);
            for (const Metric m : all_metrics) {
                CAPTURE(level_str(level));
                CAPTURE(name(m));
                CAPTURE(gemm);
                const Index k = 7;
                const TopK<S> got = embedkit::top_k(queries, set, k, m);
                const Expected<S> e = expect(others, set, m, false, k);
                // The other queries: exactly as if the NaN query were not there (when the
                // remaining queries still take the same path).
                const bool same_path = m == Metric::l1 || (nq - 1 >= gemm_min) == gemm;
                REQUIRE(got.indices.rows() == nq);
                REQUIRE(got.indices.cols() == k);
                for (Index r = 0; r < k; ++r) {
                    CHECK(got.indices(1, r) == r);
                    CHECK(std::isnan(got.scores(1, r)));
                }
                if (same_path) {
                    const TopK<S> ref = embedkit::top_k(others, set, k, m);
                    for (Index i = 0, o = 0; i < nq; ++i) {
                        if (i == 1) continue;
                        for (Index r = 0; r < k; ++r) {
                            CHECK(got.indices(i, r) == ref.indices(o, r));
                            CHECK(got.scores(i, r) == ref.scores(o, r));
                        }
                        ++o;
                    }
                }
                for (Index i = 0, o = 0; i < nq; ++i) {
                    if (i == 1) continue;
                    for (Index r = 0; r < k; ++r) {
                        CHECK(got.indices(i, r) == e.order[std::size_t(o)][std::size_t(r)]);
                        CHECK(got.scores(i, r) ==
                              e.values[std::size_t(o)][std::size_t(got.indices(i, r))]);
                    }
                    ++o;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------

template <class S>
bool same_result(const TopK<S>& a, const TopK<S>& b) {
    if (a.indices.rows() != b.indices.rows() || a.indices.cols() != b.indices.cols()) return false;
    if (a.scores.rows() != b.scores.rows() || a.scores.cols() != b.scores.cols()) return false;
    for (Index i = 0; i < a.indices.rows(); ++i)
        for (Index r = 0; r < a.indices.cols(); ++r)
            if (a.indices(i, r) != b.indices(i, r) || !same_value(a.scores(i, r), b.scores(i, r)))
                return false;
    return true;
}

TEST_CASE_TEMPLATE("topk: maps and row blocks as set or queries give the RowMatrix result", S,
                   float, double) {
    Random rng(0x70bc000b);
    const Index n = 53, dim = 17;
    const RM<S> set = integer_set<S>(rng, n, dim, -3, 3);
    const RM<S> big_queries = integer_set<S>(rng, gemm_min + 5, dim, -3, 3);
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const Metric m : all_metrics) {
            for (const Index nq : {Index(1), Index(3), big_queries.rows()}) {
                const RM<S> q = big_queries.topRows(nq);
                const TopK<S> want = embedkit::top_k(q, set, 9, m);
                const Expected<S> e = expect(q, set, m, false, 9);
                Log log;
                check_exact(want, e, 9, log, [&] { return cat(level_str(level)); });
                log.report(std::size_t(nq) * 9);
                for_each_set_view(set, set_views, [&](const auto& sv, const char* set_name) {
                    for_each_set_view(q, set_views, [&](const auto& qv, const char* q_name) {
                        CHECK_MESSAGE(same_result(embedkit::top_k(qv, sv, 9, m), want),
                                      level_str(level)
                                          << " " << name(m) << " nq " << nq << " set as "
                                          << set_name << ", queries as " << q_name);
                    });
                });
                // A single row of the set as the query, and the queries as rows of the set.
                const TopK<S> one = embedkit::top_k(q.row(0), set, 9, m);
                CHECK(same_result(one, embedkit::top_k(RM<S>(q.topRows(1)), set, 9, m)));
            }
            // A block of the set's rows as the set: indices count from the block's first row.
            const TopK<S> sub = embedkit::top_k(set.topRows(4), set.middleRows(10, 30), 6, m);
            const RM<S> sub_copy = set.middleRows(10, 30);
            CHECK(same_result(sub, embedkit::top_k(RM<S>(set.topRows(4)), sub_copy, 6, m)));
            const RM<S> own = set.topRows(gemm_min + 1);
            CHECK(same_result(
                embedkit::top_k(set.topRows(gemm_min + 1), set, 6, m, TopKOptions{true}),
                embedkit::top_k(own, set, 6, m, TopKOptions{true})));
        }
    }
}

TEST_CASE_TEMPLATE("topk: dimension 0 gives equal scores in index order", S, float, double) {
    const RM<S> set(6, 0);
    for (const Index nq : {Index(2), gemm_min + 1}) {
        const RM<S> queries(nq, 0);
        for (const Metric m : all_metrics) {
            CAPTURE(name(m));
            const TopK<S> got = embedkit::top_k(queries, set, 4, m);
            REQUIRE(got.indices.rows() == nq);
            REQUIRE(got.indices.cols() == 4);
            for (Index i = 0; i < nq; ++i)
                for (Index r = 0; r < 4; ++r) {
                    CHECK(got.indices(i, r) == r);
                    // Length 0: dot, l1, l2, l2_squared are 0; cosine of two zero vectors is 1.
                    CHECK(got.scores(i, r) == (m == Metric::cosine ? S(1) : S(0)));
                }
        }
    }
}

TEST_CASE_TEMPLATE(
    "topk: Inf, NaN, huge and tiny rows get the pair functions' scores and "
    "order on both paths",
    S, float, double) {
    // Small-integer rows (exact on every path) with special rows among them: an exact match
    // of a huge row is at distance 0 and comes first, Inf rows are at inf, NaN comes after
    // every number. The result must equal the full sort of the pair functions' values.
    Random rng(0x70bc0010);
    const ektest::SpecialRows<S> data = ektest::special_rows<S>(rng);
    const Index n = data.set.rows();
    Log log;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const Metric m : all_metrics) {
            // All 12 queries take the matrix-product path, 4 at a time the direct one.
            for (const Index first : {Index(0), Index(4), Index(8)}) {
                for (const Index nq : {Index(4), data.queries.rows()}) {
                    if (first + nq > data.queries.rows()) continue;
                    const RM<S> queries = data.queries.middleRows(first, nq);
                    const Expected<S> e = expect(queries, data.set, m, false, n);
                    for (const Index k : {Index(1), Index(3), n}) {
                        const TopK<S> got = embedkit::top_k(queries, data.set, k, m);
                        check_exact(got, e, k, log, [&] {
                            return cat(level_str(level), " ", scalar_str<S>(), " queries ", first,
                                       "..", first + nq - 1);
                        });
                    }
                }
            }
        }
    }
    log.report(2000);
}

TEST_CASE_TEMPLATE(
    "topk: exact and near duplicates come out in the right order at every "
    "scale on both paths",
    S, float, double) {
    // Per query one exact copy and 12 near duplicates whose squared distances the matrix
    // product cannot resolve (near_duplicates). The top k must be the k closest by the exact
    // (long-double) distance, in that order, with scores within the l2 accuracy promise.
    Random rng(0x70bc0011);
    Log log;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const double scale : {1e-3, 1e-1, 1.0, 1e1, 1e3}) {
            for (const Index dim : {Index(16), Index(100)}) {
                const ektest::NearDuplicates<S> data =
                    ektest::near_duplicates<S>(rng, scale, gemm_min + 2, dim, 12, 40);
                const Index n = data.set.rows();
                const auto d = static_cast<std::size_t>(dim);
                for (const Index nq : {Index(3), gemm_min + 2}) {
                    const RM<S> queries = data.queries.topRows(nq);
                    for (const Metric m : {Metric::l2, Metric::l2_squared}) {
                        for (const Index k : {Index(1), Index(3), data.per_query}) {
                            const TopK<S> got = embedkit::top_k(queries, data.set, k, m);
                            for (Index i = 0; i < nq; ++i) {
                                std::vector<ektest::Reference> refs;
                                std::vector<Index> order;
                                for (Index j = 0; j < n; ++j) {
                                    refs.push_back(ektest::reference(queries.row(i).data(),
                                                                     data.set.row(j).data(), d));
                                    order.push_back(j);
                                }
                                std::sort(order.begin(), order.end(), [&](Index a, Index b) {
                                    const long double x = refs[std::size_t(a)].l2_squared;
                                    const long double y = refs[std::size_t(b)].l2_squared;
                                    return x < y || (x == y && a < b);
                                });
                                for (Index r = 0; r < k; ++r) {
                                    const Index want = order[std::size_t(r)];
                                    const Index j = got.indices(i, r);
                                    log.expect(
                                        j == want &&
                                            ektest::near_duplicate_ok(m, got.scores(i, r),
                                                                      refs[std::size_t(want)]),
                                        [&] {
                                            return cat(
                                                level_str(level), " ", scalar_str<S>(), " ",
                                                name(m), " scale ", scale, " dim ", dim, " nq ", nq,
                                                " k ", k, " query ", i, " rank ", r, ": got row ",
                                                j, " score ", got.scores(i, r), ", expected row ",
                                                want, " at ",
                                                std::sqrt(refs[std::size_t(want)].l2_squared));
                                        });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    log.report(4000);
}

TEST_CASE_TEMPLATE("topk: exclude_self with queries from the middle or the end of the set", S,
                   float, double) {
    // A block of rows taken from the set is found in the set's memory: query i skips set row
    // first + i. Direct and matrix-product paths; the set spans two set blocks.
    Random rng(0x70bc0012);
    const Index n = set_block + 40;
    const RM<S> set = integer_set<S>(rng, n, 5, -3, 3);
    Log log;
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const Metric m : all_metrics) {
            for (const Index nq : {Index(2), gemm_min + 3}) {
                for (const Index first : {Index(100), set_block - 1, n - nq}) {
                    const RM<S> copy = set.middleRows(first, nq);
                    const Expected<S> e = expect(copy, set, m, true, 4, first);
                    const auto describe = [&] {
                        return cat(level_str(level), " ", scalar_str<S>(), " nq ", nq, " first ",
                                   first);
                    };
                    const TopK<S> got =
                        embedkit::top_k(set.middleRows(first, nq), set, 4, m, TopKOptions{true});
                    check_exact(got, e, 4, log, describe);
                    // A copy names its first row explicitly.
                    TopKOptions opt;
                    opt.exclude_self = true;
                    opt.self_offset = first;
                    check_exact(embedkit::top_k(copy, set, 4, m, opt), e, 4, log, describe);
                    for (Index i = 0; i < got.indices.rows(); ++i)
                        for (Index r = 0; r < got.indices.cols(); ++r)
                            log.expect(got.indices(i, r) != first + i, [&] {
                                return cat(describe(), " ", name(m), " query ", i,
                                           " returned its own row");
                            });
                }
            }
        }
    }
    log.report(1000);
}

TEST_CASE_TEMPLATE("topk: a vector is one query, like a one-row set", S, float, double) {
    // A column vector (VectorX), a Map of one, a row vector and a vector expression each give
    // the result of the same values as a 1-row RowMatrix.
    Random rng(0x70bc0013);
    const RM<S> set = random_set<S>(rng, 50, 9);
    const embedkit::Vector<S> q = random_set<S>(rng, 9, 1).col(0);
    const RM<S> q_row = q.transpose();
    for (const Level level : simd::supported()) {
        simd::Scoped scoped(level);
        for (const Metric m : all_metrics) {
            CAPTURE(level_str(level));
            CAPTURE(name(m));
            const TopK<S> want = embedkit::top_k(q_row, set, 4, m);
            const Eigen::Map<const embedkit::Vector<S>> q_map(q.data(), q.size());
            const Eigen::Matrix<S, 1, Eigen::Dynamic> q_rowvec = q.transpose();
            const TopK<S> results[] = {
                embedkit::top_k(q, set, 4, m), embedkit::top_k(q_map, set, 4, m),
                embedkit::top_k(q_rowvec, set, 4, m), embedkit::top_k(q * S(1), set, 4, m)};
            for (std::size_t r = 0; r < 4; ++r) {
                CHECK(results[r].indices == want.indices);
                CHECK(results[r].scores == want.scores);
            }
            const TopK<S> own =
                embedkit::top_k(set.row(7).transpose(), set, 1, m, TopKOptions{true});
            CHECK(own.indices.rows() == 1);
            CHECK(own.indices(0, 0) != 7);
        }
    }
}

TEST_CASE("topk: exclude_self without a known row for each query throws ArgumentError") {
    const RM<float> set = RM<float>::Random(10, 4);
    const RM<float> middle = set.middleRows(3, 2);  // a copy: not in the set's memory
    for (const Metric m : all_metrics) {
        CAPTURE(name(m));
        check_throws<embedkit::ArgumentError>(
            [&] { (void)embedkit::top_k(middle, set, 2, m, TopKOptions{true}); },
            {"top_k", "exclude_self", "self_offset"});
        // Columns of the set lie in its memory but are not its rows.
        check_throws<embedkit::ArgumentError>(
            [&] {
                (void)embedkit::top_k(set.block(0, 1, 2, 3), set.leftCols(3), 2, m,
                                      TopKOptions{true});
            },
            {"top_k", "exclude_self", "self_offset"});
        for (const Index bad : {Index(-2), Index(9), Index(100)}) {
            TopKOptions opt;
            opt.exclude_self = true;
            opt.self_offset = bad;
            check_throws<embedkit::ArgumentError>(
                [&] { (void)embedkit::top_k(middle, set, 2, m, opt); },
                {"top_k", "self_offset", "0 to 8", "got " + std::to_string(bad)});
        }
        // A copy of the first rows keeps working (offset 0), and self_offset is ignored
        // without exclude_self.
        const RM<float> first = set.topRows(3);
        CHECK(embedkit::top_k(first, set, 9, m, TopKOptions{true}).indices.cols() == 9);
        TopKOptions ignored;
        ignored.self_offset = 1000;
        CHECK(embedkit::top_k(first, set, 10, m, ignored).indices.cols() == 10);
    }
}

TEST_CASE("topk: invalid arguments throw ArgumentError or DimensionError with a message") {
    const RM<float> set = RM<float>::Ones(5, 13);
    const RM<float> queries = RM<float>::Ones(2, 13);
    for (const Metric m : all_metrics) {
        CAPTURE(name(m));
        for (const Index k : {Index(0), Index(-1), Index(-100)})
            check_throws<embedkit::ArgumentError>(
                [&] { (void)embedkit::top_k(queries, set, k, m); },
                {"top_k", "k must be positive", "got " + std::to_string(k)});
        check_throws<embedkit::ArgumentError>(
            [&] { (void)embedkit::top_k(RM<float>(0, 13), set, 3, m); },
            {"top_k", "queries", "empty"});
        check_throws<embedkit::ArgumentError>(
            [&] { (void)embedkit::top_k(queries, RM<float>(0, 13), 3, m); },
            {"top_k", "set", "empty"});
        check_throws<embedkit::DimensionError>(
            [&] { (void)embedkit::top_k(RM<float>(RM<float>::Ones(2, 21)), set, 3, m); },
            {"top_k", "21", "13"});
        check_throws<embedkit::DimensionError>(
            [&] {
                (void)embedkit::top_k(RM<double>(RM<double>::Ones(9, 4)),
                                      RM<double>(RM<double>::Ones(3, 7)), 1, m);
            },
            {"top_k", "4", "7"});
        check_throws<embedkit::ArgumentError>(
            [&] { (void)embedkit::top_k(set.topRows(1), set.topRows(1), 1, m, TopKOptions{true}); },
            {"top_k", "exclude_self"});
        // Every one of them is an embedkit::Error and a std::runtime_error.
        CHECK_THROWS_AS((void)embedkit::top_k(queries, set, 0, m), embedkit::Error);
        CHECK_THROWS_AS((void)embedkit::top_k(queries, set, 0, m), std::runtime_error);
    }
}

}  // namespace topk_test
