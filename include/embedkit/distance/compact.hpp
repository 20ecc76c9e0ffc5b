// Search over compact sets (core/compact.hpp): distances, pairwise and top_k with optional
// exact re-ranking against float rows, on the kernels of distance/compact_kernels.hpp.
#pragma once

#include "../core/compact.hpp"
#include "../core/detail/parallel.hpp"
#include "../core/detail/set_view.hpp"
#include "compact_kernels.hpp"
#include "pairwise.hpp"
#include "topk.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace embedkit {

/// Metrics of binary sets. hamming: the number of differing bits; jaccard: the Jaccard
/// distance of the sets of set bits, 1 - |a and b| / |a or b| (0 when both are empty).
/// Both are distances (smaller is closer).
enum class BitMetric : std::uint8_t { hamming, jaccard };

/// "hamming" or "jaccard".
constexpr std::string_view bit_metric_name(BitMetric m) noexcept {
    return m == BitMetric::hamming ? "hamming" : m == BitMetric::jaccard ? "jaccard" : "unknown";
}

/// The Hamming distance (the number of differing bits) of two packed bit rows of `bytes`
/// bytes each, for example two rows of binary sets (set.row(i), set.row_bytes()), through the
/// active level's kernel. Pointer form: no checks, any alignment.
inline std::uint64_t hamming(const unsigned char* a, const unsigned char* b,
                             std::size_t bytes) noexcept {
    return detail::active_compact_table().hamming(a, b, bytes);
}

/// The Jaccard distance 1 - |a and b| / |a or b| of two packed bit rows of `bytes` bytes each
/// (0 when both are empty), as BitMetric::jaccard computes it. Pointer form, as hamming.
inline float jaccard(const unsigned char* a, const unsigned char* b, std::size_t bytes) noexcept {
    return detail::active_compact_table().jaccard(a, b, bytes);
}

/// Exact re-ranking for top_k over a compact set: the float rows the set was encoded from
/// (the same row order), in memory or memory-mapped (io::map_npy), and how many candidates
/// per result to re-score: the compact scan keeps k * factor candidates per query, which are
/// then scored exactly against `rows` and the best k returned with their exact scores.
struct Rerank {
    detail::SetView<float> rows{nullptr, 0, 0, 0};
    Eigen::Index factor = 1;
};

/// A Rerank over `rows` (row-major float set: RowMatrix, Map or MappedNpy's matrix()).
template <class D>
Rerank rerank_with(const Eigen::MatrixBase<D>& rows, Eigen::Index factor) {
    static_assert(std::is_same_v<typename D::Scalar, float>,
                  "embedkit::rerank_with: re-ranking rows must be float");
    return {detail::view_set("rerank_with", "the re-ranking rows", rows), factor};
}

namespace detail {

inline void check_compact_metric(const char* fn, const CompactSet& set, Metric metric) {
    check_metric(fn, metric);
    if (set.storage() == Storage::binary)
        throw ArgumentError(std::string("embedkit::") + fn +
                            ": a binary set is searched with "
                            "BitMetric::hamming or BitMetric::jaccard (or with a Metric when "
                            "re-ranking against float rows), not " +
                            std::string(metric_name(metric)));
    if (metric == Metric::l1)
        throw ArgumentError(std::string("embedkit::") + fn +
                            ": compact sets support dot, l2, l2_squared and cosine, not l1");
}

inline void check_bit_metric(const char* fn, const CompactSet& set, BitMetric metric) {
    if (metric != BitMetric::hamming && metric != BitMetric::jaccard)
        throw ArgumentError(std::string("embedkit::") + fn + ": unknown BitMetric (enum value " +
                            std::to_string(static_cast<int>(metric)) + ")");
    if (set.storage() != Storage::binary)
        throw ArgumentError(std::string("embedkit::") + fn + ": " +
                            std::string(bit_metric_name(metric)) + " needs a binary set, got " +
                            std::string(storage_name(set.storage())));
}

// A float query prepared for one compact set: the vector the kernels take (int8 per_dim dot:
// q * scale, folded once) and its squared norm (cosine).
struct CompactQuery {
    const float* q;                   // the query
    const float* q_dot;               // what the dot kernel takes
    float qq;                         // q . q
    std::vector<float> tmp;           // storage of q_dot when it differs from q
    std::vector<unsigned char> bits;  // binary sets: the query's sign bits
    std::vector<float> sums;          // binary re-ranking: sign_sum_tables (256 per row byte)
};

// For re-ranking a binary set against a float query: table j holds, for every byte value v,
// the sum of the query's values at the dimensions of byte j whose bits are set in v (first
// dimension in the most significant bit). A row's sum of its table entries is q . b for its
// 0/1 bits, so q . (2b - 1) = 2 (q . b) - sum(q): the asymmetric score, which keeps the
// query's magnitudes and ranks far closer to the float order than the Hamming distance of the
// query's signs. 1 KiB per row byte (49 KB for 384 dimensions) per query.
inline void sign_sum_tables(const float* q, std::size_t dim, std::size_t bytes,
                            std::vector<float>& out) {
    out.assign(bytes * 256, 0.0f);
    for (std::size_t j = 0; j < bytes; ++j) {
        float* t = out.data() + j * 256;
        for (unsigned v = 1; v < 256; ++v) {
            // v = (v without its lowest set bit) + that bit: one addition per entry.
            const unsigned low = v & (0u - v);
            unsigned k = 0;  // bit position from the most significant end
            while ((0x80u >> k) != low) ++k;
            const std::size_t d = 8 * j + k;
            t[v] = t[v & (v - 1)] + (d < dim ? q[d] : 0.0f);
        }
    }
}

// Keys (smaller is better) for rows [r0, r0 + n) of a binary set: -(q . b), from the tables.
inline void sign_sum_keys(const std::vector<float>& tables, const CompactSet& set, Eigen::Index r0,
                          Eigen::Index n, float* keys) noexcept {
    const std::size_t rb = set.row_bytes();
    const float* t = tables.data();
    for (Eigen::Index r = 0; r < n; ++r) {
        const unsigned char* p = set.row(r0 + r);
        // Four sums: the additions' latency, not the look-ups, bounds one chain (two sums
        // took 1.6x as long; eight no less than four).
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        std::size_t j = 0;
        for (; j + 4 <= rb; j += 4) {
            s0 += t[j * 256 + p[j]];
            s1 += t[(j + 1) * 256 + p[j + 1]];
            s2 += t[(j + 2) * 256 + p[j + 2]];
            s3 += t[(j + 3) * 256 + p[j + 3]];
        }
        for (; j < rb; ++j) s0 += t[j * 256 + p[j]];
        keys[r] = -((s0 + s1) + (s2 + s3));
    }
}

inline void prepare_query(CompactQuery& cq, const float* q, const CompactSet& set) {
    const auto dim = static_cast<std::size_t>(set.dim());
    cq.q = q;
    cq.q_dot = q;
    cq.qq = simd::detail::active_table<float>().dot(q, q, dim);
    if (set.storage() == Storage::int8 && set.int8_scale() == Int8Scale::per_dim) {
        cq.tmp.resize(dim);
        for (std::size_t i = 0; i < dim; ++i) cq.tmp[i] = q[i] * set.scales()[i];
        cq.q_dot = cq.tmp.data();
    }
    if (set.storage() == Storage::binary) {
        cq.bits.assign(set.row_bytes(), 0);
        for (std::size_t i = 0; i < dim; ++i)
            if (q[i] > 0.0f) set_bit(cq.bits.data(), i);
    }
}

// Values of `metric` (a Metric, or a BitMetric for binary sets) for rows [r0, r0 + n).
inline void compact_scores(const CompactTable& t, const CompactQuery& cq, const CompactSet& set,
                           Metric metric, Eigen::Index r0, Eigen::Index n, float* out) noexcept {
    const auto dim = static_cast<std::size_t>(set.dim());
    const unsigned char* rows = set.row(r0);
    const auto nr = static_cast<std::size_t>(n);
    const bool int8 = set.storage() == Storage::int8;
    const float* rs =
        int8 && set.int8_scale() == Int8Scale::per_row ? set.scales().data() + r0 : nullptr;
    const float* ds =
        int8 && set.int8_scale() == Int8Scale::per_dim ? set.scales().data() : nullptr;
    CompactManyFn dot = t.f16_dot, l2 = t.f16_l2_squared;
    if (set.storage() == Storage::bf16) {
        dot = t.bf16_dot;
        l2 = t.bf16_l2_squared;
    } else if (int8) {
        dot = t.int8_dot;
        l2 = t.int8_l2_squared;
    }
    switch (metric) {
        case Metric::dot:
            dot(cq.q_dot, rows, nr, dim, rs, ds, out);
            return;
        case Metric::cosine: {
            dot(cq.q_dot, rows, nr, dim, rs, ds, out);
            const float* norms = set.norms().data() + r0;
            for (std::size_t r = 0; r < nr; ++r)
                out[r] = finish_cosine_similarity(
                    CosineParts<float>{out[r], cq.qq, norms[r] * norms[r]});
            return;
        }
        case Metric::l2_squared:
        case Metric::l2:
            l2(cq.q, rows, nr, dim, rs, ds, out);
            if (metric == Metric::l2)
                for (std::size_t r = 0; r < nr; ++r) out[r] = finish_l2(out[r]);
            return;
        case Metric::l1:
            return;
    }
}

// The bf16 pair dot product for two sets: the kernel for rows without small values
// (CompactSet::has_small_values) unless either set has them.
inline CompactPairFn bf16_pair_dot_for(const CompactTable& t, bool small_values) noexcept {
    return small_values ? t.bf16_pair_dot : t.bf16_pair_dot_normal;
}

inline void bit_scores(const CompactTable& t, const unsigned char* qbits, const CompactSet& set,
                       BitMetric metric, Eigen::Index r0, Eigen::Index n, float* out) noexcept {
    const std::size_t rb = set.row_bytes();
    if (metric == BitMetric::hamming) {
        t.hamming_many(qbits, set.row(r0), static_cast<std::size_t>(n), rb, out);
        return;
    }
    for (Eigen::Index r = 0; r < n; ++r) out[r] = t.jaccard(qbits, set.row(r0 + r), rb);
}

// Rows per block of a scan: about 256 KiB of stored rows, so a block stays in L2 while a
// block of queries passes over it.
inline Eigen::Index compact_block_rows(const CompactSet& s) noexcept {
    const auto rb = static_cast<Eigen::Index>(std::max<std::size_t>(1, s.row_bytes()));
    return std::max<Eigen::Index>(16, (Eigen::Index(256) << 10) / rb);
}

inline constexpr Eigen::Index compact_query_block = 32;

template <class DQ>
inline SetView<float> compact_queries(const Eigen::MatrixBase<DQ>& queries, Vector<float>& copy) {
    static_assert(std::is_same_v<typename DQ::Scalar, float>,
                  "embedkit: queries against a compact set must be float");
    return view_queries(queries, copy);
}

// The k best of `set` per query by `key_of` (fills a block of keys, smaller is better), then
// optionally re-scored: final(i, index) gives the exact key. Work items are query blocks x
// row chunks; each list is merged in a fixed order, so results do not depend on threads.
template <class Keys, class Final>
TopK<float> compact_select(Eigen::Index nq, const CompactSet& set, Eigen::Index keep,
                           Eigen::Index k, bool larger_closer, const Keys& key_of,
                           const Final* final_key) {
    using Index = Eigen::Index;
    const Index n = set.rows();
    const Index block = compact_block_rows(set);
    const Index nqb = (nq + compact_query_block - 1) / compact_query_block;
    const int threads = threads_for_work(double(nq) * double(n) * double(set.row_bytes()));
    // Split the rows when there are fewer query blocks than threads.
    const Index chunks = nqb >= threads ? 1 : std::min<Index>(threads, (n + block - 1) / block);
    const Index chunk = ((n + chunks - 1) / chunks + block - 1) / block * block;
    const Index nchunks = (n + chunk - 1) / chunk;
    const auto lists = static_cast<std::size_t>(nchunks * nq);
    std::vector<Candidate<float>> storage(lists * static_cast<std::size_t>(keep));
    std::vector<KBest<float>> best(lists);
    for (std::size_t l = 0; l < lists; ++l) best[l].reset(storage.data() + Index(l) * keep, keep);
    parallel_for(nqb * nchunks, threads, [&](std::ptrdiff_t item) {
        const Index bq = Index(item) / nchunks;
        const Index c = Index(item) % nchunks;
        const Index q0 = bq * compact_query_block;
        const Index q1 = std::min(nq, q0 + compact_query_block);
        const Index c1 = std::min(n, (c + 1) * chunk);
        std::vector<float> keys(static_cast<std::size_t>(block));
        for (Index r0 = c * chunk; r0 < c1; r0 += block) {
            const Index nr = std::min(block, c1 - r0);
            for (Index i = q0; i < q1; ++i) {
                key_of(i, r0, nr, keys.data());
                offer_keys(best[static_cast<std::size_t>(c * nq + i)], keys.data(), nr, r0, -1);
            }
        }
    });
    const Index kk = std::min(k, keep);
    TopK<float> out;
    out.indices.resize(nq, kk);
    out.scores.resize(nq, kk);
    const auto order = [](const Candidate<float>& x, const Candidate<float>& y) {
        return better(x.key, x.index, y.key, y.index);
    };
    parallel_for(nqb, threads, [&](std::ptrdiff_t bq) {
        std::vector<Candidate<float>> merged;
        const Index q0 = Index(bq) * compact_query_block;
        for (Index i = q0; i < std::min(nq, q0 + compact_query_block); ++i) {
            merged.clear();
            for (Index c = 0; c < nchunks; ++c) {
                const std::size_t l = static_cast<std::size_t>(c * nq + i);
                const Index got = best[l].finish();
                const Candidate<float>* first = storage.data() + Index(l) * keep;
                merged.insert(merged.end(), first, first + got);
            }
            const Index got = std::min<Index>(keep, Index(merged.size()));
            std::partial_sort(merged.begin(), merged.begin() + got, merged.end(), order);
            merged.resize(static_cast<std::size_t>(got));
            if constexpr (!std::is_same_v<Final, int>) {
                for (Candidate<float>& cand : merged) cand.key = (*final_key)(i, cand.index);
                std::sort(merged.begin(), merged.end(), order);
            }
            for (Index r = 0; r < kk; ++r) {
                out.indices(i, r) = merged[static_cast<std::size_t>(r)].index;
                const float key = merged[static_cast<std::size_t>(r)].key;
                out.scores(i, r) = larger_closer ? -key : key;
            }
        }
    });
    return out;
}

inline void check_rerank(const char* fn, const CompactSet& set, const Rerank& rr) {
    const std::string f = std::string("embedkit::") + fn + ": ";
    if (rr.factor < 1)
        throw ArgumentError(f + "the re-ranking factor must be >= 1, got " +
                            std::to_string(rr.factor));
    if (rr.rows.data == nullptr && rr.rows.rows * rr.rows.cols != 0)
        throw ArgumentError(f + "the re-ranking rows have no data");
    if (rr.rows.rows != set.rows())
        throw DimensionError(f + "the re-ranking rows number " + std::to_string(rr.rows.rows) +
                             ", the set " + std::to_string(set.rows()));
    if (rr.rows.cols != set.dim())
        throw DimensionError(f + "the re-ranking rows have dimension " +
                             std::to_string(rr.rows.cols) + ", the set " +
                             std::to_string(set.dim()));
}

}  // namespace detail

/// Values of `metric` between one float query and every row of a compact f16, bf16 or int8
/// set (dot, l2, l2_squared, cosine similarity), computed on the decoded rows (the query
/// stays float). Returns set.rows() values. Throws DimensionError if the sizes differ,
/// ArgumentError if the set is empty or binary, or the metric is l1 or not a Metric.
template <class DQ>
Vector<float> distances(const Eigen::MatrixBase<DQ>& query, const CompactSet& set, Metric metric) {
    static_assert(DQ::IsVectorAtCompileTime, "embedkit::distances: the query must be a vector");
    static_assert(std::is_same_v<typename DQ::Scalar, float>,
                  "embedkit::distances: a query against a compact set must be float");
    detail::check_nonempty("distances", "the set", set.rows());
    detail::check_dims("distances", query.size(), "the query", set.dim(), "the set");
    detail::check_compact_metric("distances", set, metric);
    const auto q = detail::contiguous(query);
    detail::CompactQuery cq;
    detail::prepare_query(cq, q.data(), set);
    Vector<float> out(set.rows());
    const detail::CompactTable& t = detail::active_compact_table();
    const Eigen::Index block = detail::compact_block_rows(set);
    detail::parallel_for((set.rows() + block - 1) / block,
                         detail::threads_for_work(double(set.rows()) * double(set.row_bytes())),
                         [&](std::ptrdiff_t item) {
                             const Eigen::Index r0 = Eigen::Index(item) * block;
                             detail::compact_scores(t, cq, set, metric, r0,
                                                    std::min(block, set.rows() - r0),
                                                    out.data() + r0);
                         });
    return out;
}

/// Hamming or Jaccard distances between one float query (binarised as the set was: bit =
/// x > 0) and every row of a binary set. Throws as distances() above, and ArgumentError if
/// the set is not binary.
template <class DQ>
Vector<float> distances(const Eigen::MatrixBase<DQ>& query, const CompactSet& set,
                        BitMetric metric) {
    static_assert(DQ::IsVectorAtCompileTime, "embedkit::distances: the query must be a vector");
    static_assert(std::is_same_v<typename DQ::Scalar, float>,
                  "embedkit::distances: a query against a compact set must be float");
    detail::check_bit_metric("distances", set, metric);
    detail::check_nonempty("distances", "the set", set.rows());
    detail::check_dims("distances", query.size(), "the query", set.dim(), "the set");
    const auto q = detail::contiguous(query);
    detail::CompactQuery cq;
    detail::prepare_query(cq, q.data(), set);
    Vector<float> out(set.rows());
    detail::bit_scores(detail::active_compact_table(), cq.bits.data(), set, metric, 0, set.rows(),
                       out.data());
    return out;
}

/// All-pairs values between the rows of two compact sets of the same dimension (any
/// storages except binary; for binary sets use the BitMetric overload). Same storage: the
/// symmetric kernels (int8 with per-row scales: exact integer sums, combined in double);
/// otherwise each row of `a` is decoded and scored as a float query against `b`.
/// Returns a.rows() x b.rows(). Throws as distances().
inline RowMatrix<float> pairwise(const CompactSet& a, const CompactSet& b, Metric metric) {
    detail::check_nonempty("pairwise", "A", a.rows());
    detail::check_nonempty("pairwise", "B", b.rows());
    detail::check_dims("pairwise", a.dim(), "A", b.dim(), "B");
    detail::check_compact_metric("pairwise", a, metric);
    detail::check_compact_metric("pairwise", b, metric);
    RowMatrix<float> out(a.rows(), b.rows());
    const detail::CompactTable& t = detail::active_compact_table();
    const auto dim = static_cast<std::size_t>(a.dim());
    const bool same = a.storage() == b.storage() &&
                      (a.storage() != Storage::int8 || (a.int8_scale() == Int8Scale::per_row &&
                                                        b.int8_scale() == Int8Scale::per_row));
    const bool f16 = a.storage() == Storage::f16;
    const detail::CompactPairFn pair_dot =
        f16 ? t.f16_pair_dot
            : detail::bf16_pair_dot_for(t, a.has_small_values() || b.has_small_values());
    detail::parallel_for(
        a.rows(), detail::threads_for_work(double(a.rows()) * double(b.rows()) * double(dim)),
        [&](std::ptrdiff_t item) {
            const Eigen::Index i = Eigen::Index(item);
            float* row = out.data() + i * b.rows();
            if (!same) {
                std::vector<float> q(dim);
                for (std::size_t d = 0; d < dim; ++d) q[d] = a.value(i, Eigen::Index(d));
                detail::CompactQuery cq;
                detail::prepare_query(cq, q.data(), b);
                detail::compact_scores(t, cq, b, metric, 0, b.rows(), row);
                return;
            }
            for (Eigen::Index j = 0; j < b.rows(); ++j) {
                if (a.storage() == Storage::int8) {
                    const detail::Int8Sums s = t.int8_sums(a.row(i), b.row(j), dim);
                    const double sa = a.scales()[std::size_t(i)], sb = b.scales()[std::size_t(j)];
                    const double ab = sa * sb * double(s.ab);
                    switch (metric) {
                        case Metric::dot:
                            row[j] = static_cast<float>(ab);
                            break;
                        case Metric::cosine:
                            row[j] = static_cast<float>(
                                detail::finish_cosine_similarity(CosineParts<double>{
                                    ab, sa * sa * double(s.aa), sb * sb * double(s.bb)}));
                            break;
                        case Metric::l2_squared:
                        case Metric::l2: {
                            const double v = std::max(
                                0.0, sa * sa * double(s.aa) + sb * sb * double(s.bb) - 2.0 * ab);
                            row[j] = static_cast<float>(metric == Metric::l2 ? std::sqrt(v) : v);
                            break;
                        }
                        case Metric::l1:
                            break;
                    }
                    continue;
                }
                switch (metric) {
                    case Metric::dot:
                    case Metric::cosine: {
                        const float ab = pair_dot(a.row(i), b.row(j), dim);
                        if (metric == Metric::dot) {
                            row[j] = ab;
                        } else {
                            const float na = a.norms()[std::size_t(i)],
                                        nb = b.norms()[std::size_t(j)];
                            row[j] = detail::finish_cosine_similarity(
                                CosineParts<float>{ab, na * na, nb * nb});
                        }
                        break;
                    }
                    case Metric::l2_squared:
                    case Metric::l2: {
                        const float v = (f16 ? t.f16_pair_l2_squared : t.bf16_pair_l2_squared)(
                            a.row(i), b.row(j), dim);
                        row[j] = metric == Metric::l2 ? detail::finish_l2(v) : v;
                        break;
                    }
                    case Metric::l1:
                        break;
                }
            }
        });
    return out;
}

/// All-pairs Hamming or Jaccard distances between two binary sets.
inline RowMatrix<float> pairwise(const CompactSet& a, const CompactSet& b, BitMetric metric) {
    detail::check_bit_metric("pairwise", a, metric);
    detail::check_bit_metric("pairwise", b, metric);
    detail::check_nonempty("pairwise", "A", a.rows());
    detail::check_nonempty("pairwise", "B", b.rows());
    detail::check_dims("pairwise", a.dim(), "A", b.dim(), "B");
    RowMatrix<float> out(a.rows(), b.rows());
    const detail::CompactTable& t = detail::active_compact_table();
    for (Eigen::Index i = 0; i < a.rows(); ++i)
        detail::bit_scores(t, a.row(i), b, metric, 0, b.rows(), out.data() + i * b.rows());
    return out;
}

/// The k best rows of a compact f16, bf16 or int8 set for every float query (nq x d, or one
/// vector), by the compact kernels' scores. With `rerank`, k * rerank.factor candidates are
/// kept per query and re-scored exactly against rerank.rows (the float set's pair functions),
/// and the best k returned with those exact scores. A binary set needs `rerank` here: its
/// candidates come from the asymmetric score q . (2b - 1) of the float query against the
/// rows' sign bits (sign_sum_tables; 1 KiB per row byte per query, 49 KB at 384 dimensions),
/// and the scores are the exact `metric` on the float rows (for Hamming or Jaccard results use the
/// BitMetric overload). Ties go to the lower index, as in top_k over float sets; results do not
/// depend on the thread count. Throws ArgumentError if k <= 0, a set is empty, the metric is l1 or
/// not a Metric, a binary set has no rerank, or rerank.factor < 1; DimensionError if the sizes
/// (queries, set, rerank rows) differ.
template <class DQ>
TopK<float> top_k(const Eigen::MatrixBase<DQ>& queries, const CompactSet& set, Eigen::Index k,
                  Metric metric, const Rerank* rerank = nullptr) {
    Vector<float> copy;
    const detail::SetView<float> q = detail::compact_queries(queries, copy);
    if (k <= 0)
        throw ArgumentError("embedkit::top_k: k must be positive, got " + std::to_string(k));
    detail::check_nonempty("top_k", "queries", q.rows);
    detail::check_nonempty("top_k", "the set", set.rows());
    detail::check_dims("top_k", q.cols, "queries", set.dim(), "the set");
    detail::check_metric("top_k", metric);
    if (metric == Metric::l1 || (set.storage() == Storage::binary && rerank == nullptr))
        detail::check_compact_metric("top_k", set, metric);
    if (rerank != nullptr) detail::check_rerank("top_k", set, *rerank);
    // k * factor without overflow: anything beyond the rows keeps them all.
    const Eigen::Index keep =
        rerank != nullptr && rerank->factor > set.rows() / std::min(k, set.rows())
            ? set.rows()
            : std::min(set.rows(),
                       rerank != nullptr ? std::min(k, set.rows()) * rerank->factor : k);
    const bool binary = set.storage() == Storage::binary;
    std::vector<detail::CompactQuery> cqs(static_cast<std::size_t>(q.rows));
    for (Eigen::Index i = 0; i < q.rows; ++i) {
        detail::prepare_query(cqs[std::size_t(i)], q.row(i), set);
        if (binary)
            detail::sign_sum_tables(q.row(i), static_cast<std::size_t>(set.dim()), set.row_bytes(),
                                    cqs[std::size_t(i)].sums);
    }
    const detail::CompactTable& t = detail::active_compact_table();
    const bool larger = larger_is_closer(metric) && !binary;
    const auto key_of = [&](Eigen::Index i, Eigen::Index r0, Eigen::Index nr, float* keys) {
        const detail::CompactQuery& cq = cqs[std::size_t(i)];
        if (binary) {
            detail::sign_sum_keys(cq.sums, set, r0, nr, keys);
            return;
        }
        detail::compact_scores(t, cq, set, metric, r0, nr, keys);
        if (larger)
            for (Eigen::Index r = 0; r < nr; ++r) keys[r] = -keys[r];
    };
    if (rerank == nullptr)
        return detail::compact_select<decltype(key_of), int>(q.rows, set, keep, k, larger, key_of,
                                                             nullptr);
    const simd::KernelTable<float>& ft = simd::detail::active_table<float>();
    const auto dim = static_cast<std::size_t>(set.dim());
    const auto exact = [&](Eigen::Index i, Eigen::Index index) {
        return detail::to_key(
            metric, detail::exact_value(ft, metric, q.row(i), rerank->rows.row(index), dim));
    };
    TopK<float> out = detail::compact_select(q.rows, set, keep, k, false, key_of, &exact);
    if (larger_is_closer(metric)) out.scores = -out.scores;
    return out;
}

/// top_k with exact re-ranking (see above): `rerank` from rerank_with(float_rows, factor).
template <class DQ>
TopK<float> top_k(const Eigen::MatrixBase<DQ>& queries, const CompactSet& set, Eigen::Index k,
                  Metric metric, const Rerank& rerank) {
    return top_k(queries, set, k, metric, &rerank);
}

/// The k nearest rows of a binary set by Hamming or Jaccard distance, for float queries
/// (binarised: bit = x > 0). Scores are the distances; ties go to the lower index.
template <class DQ>
TopK<float> top_k(const Eigen::MatrixBase<DQ>& queries, const CompactSet& set, Eigen::Index k,
                  BitMetric metric) {
    Vector<float> copy;
    const detail::SetView<float> q = detail::compact_queries(queries, copy);
    if (k <= 0)
        throw ArgumentError("embedkit::top_k: k must be positive, got " + std::to_string(k));
    detail::check_bit_metric("top_k", set, metric);
    detail::check_nonempty("top_k", "queries", q.rows);
    detail::check_nonempty("top_k", "the set", set.rows());
    detail::check_dims("top_k", q.cols, "queries", set.dim(), "the set");
    std::vector<detail::CompactQuery> cqs(static_cast<std::size_t>(q.rows));
    for (Eigen::Index i = 0; i < q.rows; ++i)
        detail::prepare_query(cqs[std::size_t(i)], q.row(i), set);
    const detail::CompactTable& t = detail::active_compact_table();
    const auto key_of = [&](Eigen::Index i, Eigen::Index r0, Eigen::Index nr, float* keys) {
        detail::bit_scores(t, cqs[std::size_t(i)].bits.data(), set, metric, r0, nr, keys);
    };
    return detail::compact_select<decltype(key_of), int>(q.rows, set, std::min(k, set.rows()), k,
                                                         false, key_of, nullptr);
}

}  // namespace embedkit
