// Exact k-nearest-neighbour search: for every query, the k best rows of a set under a metric.
#pragma once

#include "../core/detail/parallel.hpp"
#include "../core/error.hpp"
#include "../core/types.hpp"
#include "pairwise.hpp"
#include "../core/detail/set_view.hpp"
#include "detail/panel_tile.hpp"
#include "dispatch.hpp"
#include "metric.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace embedkit {

/// Options of top_k.
struct TopKOptions {
    /// Skip each query's own row of the set: k-nearest neighbours within one set.
    /// Candidates per query become |set| - 1. Which row is the query's is self_offset's.
    bool exclude_self = false;
    /// With exclude_self: query i skips set row self_offset + i. -1 (the default) finds it:
    /// queries that lie in the set's memory as a block of its rows (the set itself,
    /// set.middleRows(first, m), a Map of those rows) use their place there; queries held
    /// elsewhere must equal the set's first rows bit for bit (offset 0). Anything else
    /// throws ArgumentError rather than skipping the wrong rows.
    Eigen::Index self_offset = -1;
};

/// Result of top_k: both matrices are queries x min(k, candidates), best first.
template <class Scalar>
struct TopK {
    RowMatrix<Eigen::Index> indices;  ///< row numbers in the set
    RowMatrix<Scalar> scores;         ///< the metric's values (distance or similarity)
};

namespace detail {

// Order of candidates: smaller key first; equal keys by lower index; NaN keys after every
// number, among themselves by lower index. Keys are distances, or negated similarities.
template <class Scalar>
inline bool better(Scalar ka, Eigen::Index ia, Scalar kb, Eigen::Index ib) noexcept {
    const bool na = std::isnan(ka);
    const bool nb = std::isnan(kb);
    if (na || nb) return na != nb ? nb : ia < ib;
    return ka < kb || (ka == kb && ia < ib);
}

template <class Scalar>
struct Candidate {
    Scalar key;
    Eigen::Index index;
};

// The k best candidates seen so far, as a binary heap with the worst on top, in storage the
// caller owns. Candidates arrive in increasing index order within one query, so a candidate
// whose key equals the worst kept one never displaces it (ties go to the lower index).
template <class Scalar>
class KBest {
public:
    void reset(Candidate<Scalar>* storage, Eigen::Index k) noexcept {
        heap_ = storage;
        k_ = k;
        size_ = 0;
        threshold_ = std::numeric_limits<Scalar>::infinity();
        open_ = true;
    }

    void offer(Scalar key, Eigen::Index index) noexcept {
        // Fast rejection: once full, only keys below the worst kept one (or anything while
        // the worst kept one is NaN) can enter.
        if (!open_ && !(key < threshold_)) return;
        if (size_ < k_) {
            heap_[size_++] = {key, index};
            std::push_heap(heap_, heap_ + size_, worse_first);
            if (size_ == k_) update_threshold();
            return;
        }
        const Candidate<Scalar>& top = heap_[0];
        if (!better(key, index, top.key, top.index)) return;
        std::pop_heap(heap_, heap_ + size_, worse_first);
        heap_[size_ - 1] = {key, index};
        std::push_heap(heap_, heap_ + size_, worse_first);
        update_threshold();
    }

    /// While false (the list is full and its worst key is a number), only keys below
    /// threshold() can enter; offer() rejects every other key.
    bool open() const noexcept { return open_; }
    Scalar threshold() const noexcept { return threshold_; }

    /// Sorts the kept candidates best first and returns how many there are.
    Eigen::Index finish() noexcept {
        std::sort_heap(heap_, heap_ + size_, worse_first);
        return size_;
    }

private:
    static bool worse_first(const Candidate<Scalar>& a, const Candidate<Scalar>& b) noexcept {
        return better(a.key, a.index, b.key, b.index);
    }
    void update_threshold() noexcept {
        threshold_ = heap_[0].key;
        open_ = std::isnan(threshold_);
    }

    Candidate<Scalar>* heap_ = nullptr;
    Eigen::Index k_ = 0;
    Eigen::Index size_ = 0;
    Scalar threshold_ = 0;
    bool open_ = true;
};

// The search key of a value: distances as they are, similarities negated (exactly).
template <class Scalar>
inline Scalar to_key(Metric m, Scalar value) noexcept {
    return larger_is_closer(m) ? -value : value;
}

// Offers candidates j0 .. j0 + n - 1 with keys keys[0 .. n) to `best`, skipping local index
// `self`. Once the list is full nearly every candidate is rejected, so the keys are first
// compared with the threshold 16 at a time (a branch-free loop the compiler vectorises) and
// only a group holding a possible entrant goes through offer(). offer() sees the candidates
// of a plain loop, in its order, minus ones it would reject: the result is the same.
template <class Scalar>
inline void offer_keys(KBest<Scalar>& best, const Scalar* keys, Eigen::Index n, Eigen::Index j0,
                       Eigen::Index self) noexcept {
    constexpr Eigen::Index group = 16;
    Eigen::Index j = 0;
    for (; j + group <= n; j += group) {
        if (!best.open()) {
            // A count, not an early-out: compilers vectorise it (the scalar compares were a
            // quarter of a binary set's scan).
            const Scalar threshold = best.threshold();
            int below = 0;
            for (Eigen::Index t = 0; t < group; ++t) below += keys[j + t] < threshold ? 1 : 0;
            if (below == 0) continue;
        }
        for (Eigen::Index t = j; t < j + group; ++t)
            if (t != self) best.offer(keys[t], j0 + t);
    }
    for (; j < n; ++j)
        if (j != self) best.offer(keys[j], j0 + j);
}

// As offer_keys, for a block in which flagged candidates (flag[t] != 0) have no trusted key:
// keys[t] is only a lower bound of their exact key. A flagged candidate that could enter is
// scored exactly (exact_value) before it is offered, so an untrusted key never keeps a
// candidate out.
template <class Scalar>
inline void offer_checked(KBest<Scalar>& best, const Scalar* keys, const unsigned char* flag,
                          Eigen::Index n, Eigen::Index j0, Eigen::Index self,
                          const simd::KernelTable<Scalar>& t, Metric m, const Scalar* q,
                          const SetView<Scalar>& s) noexcept {
    constexpr Eigen::Index group = 16;
    const auto dim = static_cast<std::size_t>(s.cols);
    for (Eigen::Index g0 = 0; g0 < n; g0 += group) {
        const Eigen::Index g1 = std::min(n, g0 + group);
        if (!best.open()) {  // a count, as offer_keys
            const Scalar threshold = best.threshold();
            int below = 0;
            for (Eigen::Index t2 = g0; t2 < g1; ++t2) below += keys[t2] < threshold ? 1 : 0;
            if (below == 0) continue;
        }
        for (Eigen::Index t2 = g0; t2 < g1; ++t2) {
            if (t2 == self) continue;
            Scalar key = keys[t2];
            if (flag[t2]) {
                if (!best.open() && !(key < best.threshold())) continue;
                key = to_key(m, exact_value(t, m, q, s.row(j0 + t2), dim));
            }
            best.offer(key, j0 + t2);
        }
    }
}

// l2 and l2_squared keys from inner products, with the cancellation rule of pairwise
// (cancellation_fraction): a pair whose matrix-product value is not trusted gets the lower
// bound 0 and a flag, for offer_checked. Returns whether any pair was flagged.
template <Metric M, class Scalar>
inline bool squared_keys_from_products(const Scalar* ip, Eigen::Index n, Scalar q_sq,
                                       const Scalar* s_sq, Scalar frac, Scalar* keys,
                                       unsigned char* flag) noexcept {
    int any = 0;
    for (Eigen::Index j = 0; j < n; ++j) {
        const Scalar sum = q_sq + s_sq[j];
        const Scalar d = sum - Scalar(2) * ip[j];
        const Scalar g = d < Scalar(0) ? Scalar(0) : d;
        const int unsure = !(g > frac * sum);
        any |= unsure;
        flag[j] = static_cast<unsigned char>(unsure);
        keys[j] = unsure ? Scalar(0) : (M == Metric::l2 ? std::sqrt(g) : g);
    }
    return any != 0;
}

// One query's keys for a block of the set, from its inner products with the block's rows
// (ip), its squared norm and theirs (unused for dot): the metric is fixed at compile time,
// so the loop has no branch and vectorises.
template <Metric M, class Scalar>
inline void keys_from_products(const Scalar* ip, Eigen::Index n, Scalar q_sq, const Scalar* s_sq,
                               Scalar* keys) noexcept {
    for (Eigen::Index j = 0; j < n; ++j)
        keys[j] =
            to_key(M, from_inner_product(M, ip[j], q_sq, M == Metric::dot ? Scalar(0) : s_sq[j]));
}

template <class Scalar>
inline void keys_from_products(Metric m, const Scalar* ip, Eigen::Index n, Scalar q_sq,
                               const Scalar* s_sq, Scalar* keys) noexcept {
    switch (m) {
        case Metric::dot:
            keys_from_products<Metric::dot>(ip, n, q_sq, s_sq, keys);
            break;
        case Metric::l2_squared:
            keys_from_products<Metric::l2_squared>(ip, n, q_sq, s_sq, keys);
            break;
        case Metric::l2:
            keys_from_products<Metric::l2>(ip, n, q_sq, s_sq, keys);
            break;
        case Metric::cosine:
            keys_from_products<Metric::cosine>(ip, n, q_sq, s_sq, keys);
            break;
        case Metric::l1:
            break;  // never on the matrix-product path
    }
}

// Rows of the set per block: a block of scores (128 queries x block) stays within L2. A
// multiple of every GEMM panel height Eigen uses (48, 24, 16, 12, 8, 4 rows), and the last
// partial block is zero-padded to full size: every set row then goes through the same
// micro-kernel path, so identical rows get bit-identical inner products and ties keep their
// index order (Eigen's remainder paths round differently).
inline constexpr Eigen::Index topk_set_block = 1536;
// Queries per matrix-product block: the set is streamed once per 128 queries.
inline constexpr Eigen::Index topk_query_block = 128;
// From this many queries on, the inner products come from one GEMM per block.
inline constexpr Eigen::Index topk_gemm_min_queries = 8;
// With few queries the set is split into chunks of this many rows (more for sets above
// topk_max_chunks chunks), each with its own bounded lists, merged at the end: the work items
// threads share. A multiple of topk_set_block, so chunk edges are block edges and every
// candidate gets the same key as in one pass over the whole set; the split depends on the
// sizes only, never on the thread count. 24,576 rows are 12 MiB of floats at d = 128.
inline constexpr Eigen::Index topk_chunk_rows = 16 * topk_set_block;
// From this many queries (16 query blocks) on, the query blocks alone are work items enough:
// the set is not split.
inline constexpr Eigen::Index topk_split_max_queries = 16 * topk_query_block;
// At most this many chunks, and at most this many kept candidates over all chunks' lists
// (nq * k per chunk): the split costs memory, so it stays bounded.
inline constexpr Eigen::Index topk_max_chunks = 64;
inline constexpr Eigen::Index topk_max_chunk_candidates = Eigen::Index(1) << 20;

// Rows per chunk of the set for nq queries keeping kk each, from the sizes only; `n` (one
// chunk) when the set is not split.
inline Eigen::Index topk_chunk_size(Eigen::Index nq, Eigen::Index kk, Eigen::Index n) noexcept {
    if (n <= topk_chunk_rows || nq >= topk_split_max_queries) return n;
    const Eigen::Index chunks = (n + topk_chunk_rows - 1) / topk_chunk_rows;
    const Eigen::Index most =
        std::min(topk_max_chunks, std::max<Eigen::Index>(1, topk_max_chunk_candidates / (nq * kk)));
    if (chunks <= most) return topk_chunk_rows;
    if (most <= 1) return n;
    // Too many chunks: fewer, larger ones, still whole set blocks.
    const Eigen::Index rows = (n + most - 1) / most;
    return (rows + topk_set_block - 1) / topk_set_block * topk_set_block;
}

// What every work item of one top_k call shares.
template <class Scalar>
struct TopKScan {
    const simd::KernelTable<Scalar>& t;
    Metric metric;
    SetView<Scalar> q;
    SetView<Scalar> s;
    bool gemm;
    bool fused;  // float at levels avx2 and avx512: topk_scan_fused instead of Eigen's product
    bool wide;   // with fused, level avx512: the AVX-512 micro-kernel
    bool exclude_self;
    Eigen::Index self_offset;
};

#if EMBEDKIT_ARCH_X86
// The float matrix-product path at levels avx2 and avx512 (TopKScan::fused). The query block is
// packed into panels of 16 queries (distance/detail/panel_tile.hpp) and the set rows stream
// through the micro-kernel 6 at a time, read in place: no product matrix is written. Each 6 x 16
// tile of inner products is compared in registers with a per-query bound derived from the
// query's current k-th key (fused_bound); only lanes that pass reach fused_offer, which computes
// the key exactly as the Eigen path does (keys_from_products, squared_keys_from_products,
// exact_value for pairs the product cannot score) and offers it. The bound lets through a
// superset of the keys offer() would accept, so the lists end as if every key were offered.
// Queries or rows with unsafe norms (gemm_safe_norm) pass always and are scored exactly.
struct FusedScan {
    const TopKScan<float>* a;
    Eigen::Index q0;
    KBest<float>* best;
    const float* q_sq;              // per query of the block (16 per panel, zero-padded)
    const float* q_inv;             // cosine: 1 / |q|
    const unsigned char* q_unsafe;  // queries the product cannot score
    float* bound;                   // per query: fused_bound, NaN lets every key through
    float frac;                     // cancellation_fraction (l2, l2_squared)
    Eigen::Index row0;              // set row of the current tile's row 0
    const float* s_sq;              // the tile's rows: squared norms,
    const float* s_inv;             // 1 / norm (cosine),
    const unsigned char* s_unsafe;  // and whether the product cannot score them
};

// The bound of a query's list for the filter, in the filter's terms: the filter passes dot
// lanes unless ip <= bound, l2 and l2_squared lanes unless g >= bound (g the clamped squared
// distance from the product, or the cancellation rule does not trust g), cosine lanes unless
// ip / (|q| |s|) <= bound. NaN (the list is not full) lets every lane through.
template <Metric M>
inline float fused_bound(const KBest<float>& b) noexcept {
    if (b.open()) return std::numeric_limits<float>::quiet_NaN();
    const float t = b.threshold();
    if constexpr (M == Metric::dot) {
        return -t;  // key = -ip < t exactly when ip > -t
    } else if constexpr (M == Metric::l2_squared) {
        return t;  // key = g, computed as the filter does
    } else if constexpr (M == Metric::l2) {
        // key = sqrt(g) (correctly rounded) < t implies g < t^2 (1 + 2^-22): a little above.
        const double sq = double(t) * double(t) * (1.0 + 1e-6);
        return sq >= double(std::numeric_limits<float>::max())
                   ? std::numeric_limits<float>::infinity()
                   : static_cast<float>(sq);
    } else {
        // key = -similarity; the filter's similarity (ip * (1/|q|) * (1/|s|)) is within a few
        // units in the last place of finish_cosine_similarity's, both at most about 1.
        return -t - 1e-5f;
    }
}

// The cold path: lanes of `mask` (queries qbase + lane of the block) for tile row r passed the
// filter; ip[lane] is the lane's inner product.
template <Metric M>
inline void fused_offer(FusedScan& c, Eigen::Index qbase, int r, std::uint32_t mask,
                        const float* ip) {
    const TopKScan<float>& a = *c.a;
    const auto dim = static_cast<std::size_t>(a.s.cols);
    const Eigen::Index row = c.row0 + r;
    const bool row_unsafe = c.s_unsafe[r] != 0;
    const float s_sq = c.s_sq[r];
    while (mask != 0) {
        const int lane = __builtin_ctz(mask);
        mask &= mask - 1;
        const Eigen::Index i = qbase + lane;
        if (a.exclude_self && row == a.self_offset + c.q0 + i) continue;
        KBest<float>& b = c.best[i];
        const float* qi = a.q.row(c.q0 + i);
        float key;
        if (row_unsafe || c.q_unsafe[i]) {
            key = to_key(M, exact_value(a.t, M, qi, a.s.row(row), dim));
        } else if constexpr (M == Metric::l2 || M == Metric::l2_squared) {
            const float sum = c.q_sq[i] + s_sq;
            const float d = sum - 2.0f * ip[lane];
            const float g = d < 0.0f ? 0.0f : d;
            if (!(g > c.frac * sum)) {  // not trusted (cancellation): the pair kernel
                if (!b.open() && !(0.0f < b.threshold())) continue;
                key = to_key(M, exact_value(a.t, M, qi, a.s.row(row), dim));
            } else {
                key = M == Metric::l2 ? std::sqrt(g) : g;
            }
        } else {
            key = to_key(M, from_inner_product(M, ip[lane], c.q_sq[i], s_sq));
        }
        b.offer(key, row);
        if (!c.q_unsafe[i]) c.bound[i] = fused_bound<M>(b);
    }
}

// The filter: the epilogue of panel_tile_avx2 for panel p (valid: its lanes that are queries).
template <Metric M>
struct FusedFilter {
    FusedScan* c;
    Eigen::Index p;
    unsigned valid;

    // l2 and l2_squared, 8 lanes: g = max(|q|^2 + |s|^2 - 2 ip, 0) as squared_keys_from_products
    // computes it (2 ip is exact, so the fused form rounds the same), passed unless g >= the
    // bound and the cancellation rule trusts g.
    EMBEDKIT_TARGET_AVX2 static unsigned squared_pass(__m256 ip, __m256 ss, const float* q_sq,
                                                      const float* bnd, float frac) noexcept {
        const __m256 sum = _mm256_add_ps(_mm256_loadu_ps(q_sq), ss);
        const __m256 g =
            _mm256_max_ps(_mm256_fnmadd_ps(_mm256_set1_ps(2.0f), ip, sum), _mm256_setzero_ps());
        const __m256 over = _mm256_cmp_ps(g, _mm256_loadu_ps(bnd), _CMP_NGE_UQ);
        const __m256 unsure =
            _mm256_cmp_ps(g, _mm256_mul_ps(_mm256_set1_ps(frac), sum), _CMP_NGT_UQ);
        return unsigned(_mm256_movemask_ps(_mm256_or_ps(over, unsure)));
    }

    EMBEDKIT_TARGET_AVX2 void operator()(int r, __m256 lo, __m256 hi) const noexcept {
        const Eigen::Index o = p * panel_width;
        const float* bnd = c->bound + o;
        unsigned mask;
        if constexpr (M == Metric::dot) {
            const __m256 plo = _mm256_cmp_ps(lo, _mm256_loadu_ps(bnd), _CMP_NLE_UQ);
            const __m256 phi = _mm256_cmp_ps(hi, _mm256_loadu_ps(bnd + 8), _CMP_NLE_UQ);
            mask = unsigned(_mm256_movemask_ps(plo)) | unsigned(_mm256_movemask_ps(phi)) << 8;
        } else if constexpr (M == Metric::l2 || M == Metric::l2_squared) {
            const __m256 ss = _mm256_set1_ps(c->s_sq[r]);
            mask = squared_pass(lo, ss, c->q_sq + o, bnd, c->frac) |
                   squared_pass(hi, ss, c->q_sq + o + 8, bnd + 8, c->frac) << 8;
        } else {
            const __m256 si = _mm256_set1_ps(c->s_inv[r]);
            const __m256 slo = _mm256_mul_ps(_mm256_mul_ps(lo, _mm256_loadu_ps(c->q_inv + o)), si);
            const __m256 shi =
                _mm256_mul_ps(_mm256_mul_ps(hi, _mm256_loadu_ps(c->q_inv + o + 8)), si);
            mask = unsigned(
                       _mm256_movemask_ps(_mm256_cmp_ps(slo, _mm256_loadu_ps(bnd), _CMP_NLE_UQ))) |
                   unsigned(_mm256_movemask_ps(
                       _mm256_cmp_ps(shi, _mm256_loadu_ps(bnd + 8), _CMP_NLE_UQ)))
                       << 8;
        }
        mask = c->s_unsafe[r] ? valid : (mask & valid);
        if (mask != 0) {
            alignas(32) float ip[16];
            _mm256_store_ps(ip, lo);
            _mm256_store_ps(ip + 8, hi);
            fused_offer<M>(*c, o, r, mask, ip);
        }
    }
};

// Rows j0 .. j0 + nb - 1 of the set (norms and flags from the block's arrays) against panel p,
// 6 rows at a time.
template <Metric M>
EMBEDKIT_TARGET_AVX2 inline void fused_panel(FusedScan& c, Eigen::Index p, const float* panel,
                                             Eigen::Index k, Eigen::Index qn, Eigen::Index j0,
                                             Eigen::Index nb, const float* s_sq, const float* s_inv,
                                             const unsigned char* s_unsafe) noexcept {
    const SetView<float>& s = c.a->s;
    const Eigen::Index lanes = std::min(panel_width, qn - p * panel_width);
    FusedFilter<M> f{&c, p, lanes == panel_width ? 0xFFFFu : (1u << lanes) - 1u};
    for (Eigen::Index j = 0; j < nb; j += panel_rows) {
        c.row0 = j0 + j;
        c.s_sq = s_sq + j;
        c.s_inv = s_inv + j;
        c.s_unsafe = s_unsafe + j;
        const float* x = s.row(j0 + j);
        switch (std::min(panel_rows, nb - j)) {
            case 6:
                panel_tile_avx2<6>(x, s.stride, panel, k, f);
                break;
            case 5:
                panel_tile_avx2<5>(x, s.stride, panel, k, f);
                break;
            case 4:
                panel_tile_avx2<4>(x, s.stride, panel, k, f);
                break;
            case 3:
                panel_tile_avx2<3>(x, s.stride, panel, k, f);
                break;
            case 2:
                panel_tile_avx2<2>(x, s.stride, panel, k, f);
                break;
            default:
                panel_tile_avx2<1>(x, s.stride, panel, k, f);
                break;
        }
    }
}

// The filter of the AVX-512 kernel: as FusedFilter, for the 32 queries of panels 2pp and
// 2pp + 1 (lo and hi).
template <Metric M>
struct FusedFilter512 {
    FusedScan* c;
    Eigen::Index pp;
    std::uint32_t valid;

    EMBEDKIT_TARGET_AVX512 static std::uint32_t squared_pass(__m512 ip, __m512 ss,
                                                             const float* q_sq, const float* bnd,
                                                             float frac) noexcept {
        const __m512 sum = _mm512_add_ps(_mm512_loadu_ps(q_sq), ss);
        // The masked max (all lanes) instead of _mm512_max_ps, whose undefined pass-through
        // operand GCC 12 reports as maybe-uninitialized.
        const __m512 d = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), ip, sum);
        const __m512 g = _mm512_mask_max_ps(d, __mmask16(0xFFFF), d, _mm512_setzero_ps());
        return std::uint32_t(
            _mm512_cmp_ps_mask(g, _mm512_loadu_ps(bnd), _CMP_NGE_UQ) |
            _mm512_cmp_ps_mask(g, _mm512_mul_ps(_mm512_set1_ps(frac), sum), _CMP_NGT_UQ));
    }

    EMBEDKIT_TARGET_AVX512 void operator()(int r, __m512 lo, __m512 hi) const noexcept {
        const Eigen::Index o = pp * 2 * panel_width;
        const float* bnd = c->bound + o;
        std::uint32_t mask;
        if constexpr (M == Metric::dot) {
            mask = std::uint32_t(_mm512_cmp_ps_mask(lo, _mm512_loadu_ps(bnd), _CMP_NLE_UQ)) |
                   std::uint32_t(_mm512_cmp_ps_mask(hi, _mm512_loadu_ps(bnd + 16), _CMP_NLE_UQ))
                       << 16;
        } else if constexpr (M == Metric::l2 || M == Metric::l2_squared) {
            const __m512 ss = _mm512_set1_ps(c->s_sq[r]);
            mask = squared_pass(lo, ss, c->q_sq + o, bnd, c->frac) |
                   squared_pass(hi, ss, c->q_sq + o + 16, bnd + 16, c->frac) << 16;
        } else {
            const __m512 si = _mm512_set1_ps(c->s_inv[r]);
            const __m512 slo = _mm512_mul_ps(_mm512_mul_ps(lo, _mm512_loadu_ps(c->q_inv + o)), si);
            const __m512 shi =
                _mm512_mul_ps(_mm512_mul_ps(hi, _mm512_loadu_ps(c->q_inv + o + 16)), si);
            mask = std::uint32_t(_mm512_cmp_ps_mask(slo, _mm512_loadu_ps(bnd), _CMP_NLE_UQ)) |
                   std::uint32_t(_mm512_cmp_ps_mask(shi, _mm512_loadu_ps(bnd + 16), _CMP_NLE_UQ))
                       << 16;
        }
        mask = c->s_unsafe[r] ? valid : (mask & valid);
        if (mask != 0) {
            alignas(64) float ip[32];
            _mm512_store_ps(ip, lo);
            _mm512_store_ps(ip + 16, hi);
            fused_offer<M>(*c, o, r, mask, ip);
        }
    }
};

// `rows` (1 to R) set rows from x against panels 2pp and 2pp + 1: the R-row kernel for a full
// tile, fewer for the block's last.
template <Metric M, int R>
EMBEDKIT_TARGET_AVX512 inline void fused_tile512(FusedFilter512<M>& f, Eigen::Index rows,
                                                 const float* x, Eigen::Index ldx,
                                                 const float* panel0, const float* panel1,
                                                 Eigen::Index k) noexcept {
    if constexpr (R > 1) {
        if (rows < R) return fused_tile512<M, R - 1>(f, rows, x, ldx, panel0, panel1, k);
    }
    panel_tile_avx512<R>(x, ldx, panel0, panel1, k, f);
}

inline constexpr Eigen::Index wide_rows = 12;  // set rows per AVX-512 tile

// Rows j0 .. j0 + nb - 1 of the set against panels 2pp and 2pp + 1, 12 rows at a time.
template <Metric M>
EMBEDKIT_TARGET_AVX512 inline void fused_pair512(FusedScan& c, Eigen::Index pp, const float* panels,
                                                 Eigen::Index k, Eigen::Index qn, Eigen::Index j0,
                                                 Eigen::Index nb, const float* s_sq,
                                                 const float* s_inv,
                                                 const unsigned char* s_unsafe) noexcept {
    const SetView<float>& s = c.a->s;
    const Eigen::Index lanes = std::min<Eigen::Index>(2 * panel_width, qn - pp * 2 * panel_width);
    FusedFilter512<M> f{&c, pp, lanes == 32 ? 0xFFFFFFFFu : (std::uint32_t(1) << lanes) - 1u};
    const float* panel0 = panels + 2 * pp * panel_width * k;
    const float* panel1 = panel0 + panel_width * k;
    for (Eigen::Index j = 0; j < nb; j += wide_rows) {
        c.row0 = j0 + j;
        c.s_sq = s_sq + j;
        c.s_inv = s_inv + j;
        c.s_unsafe = s_unsafe + j;
        fused_tile512<M, int(wide_rows)>(f, std::min(wide_rows, nb - j), s.row(j0 + j), s.stride,
                                         panel0, panel1, k);
    }
}

// One work item of the fused path (as topk_scan's, same lists and order of candidates).
template <Metric M>
inline void topk_scan_fused(const TopKScan<float>& a, Eigen::Index q0, Eigen::Index qn,
                            Eigen::Index c0, Eigen::Index c1, KBest<float>* best) {
    using Index = Eigen::Index;
    const SetView<float>& s = a.s;
    const Index k = s.cols;
    // The AVX-512 kernel takes panels in pairs: their number is made even.
    Index panel_count = (qn + panel_width - 1) / panel_width;
    if (a.wide) panel_count += panel_count % 2;
    const auto padded = static_cast<std::size_t>(panel_count * panel_width);
    std::vector<float> panels(padded * static_cast<std::size_t>(k));
    pack_panels(a.q.row(q0), qn, a.q.stride, k, panels.data());
    std::vector<float> q_sq(padded, 0.0f), q_inv(padded, 0.0f);
    std::vector<float> bound(padded, std::numeric_limits<float>::quiet_NaN());
    std::vector<unsigned char> q_unsafe(padded, 0);
    row_squared_norms(a.t, SetView<float>{a.q.row(q0), qn, a.q.cols, a.q.stride}, q_sq.data());
    for (Index i = 0; i < qn; ++i) {
        q_unsafe[std::size_t(i)] = !gemm_safe_norm(q_sq[std::size_t(i)]);
        if constexpr (M == Metric::cosine)  // only cosine's filter reads the inverse norms
            q_inv[std::size_t(i)] = 1.0f / std::sqrt(q_sq[std::size_t(i)]);
        if (!q_unsafe[std::size_t(i)]) bound[std::size_t(i)] = fused_bound<M>(best[i]);
    }
    // The set a block at a time: the block (about 128 KiB) stays in L2 while every panel passes
    // over it, each panel in L1 for the block's tiles. Within a query's panel its candidates
    // still come in increasing row order.
    const Index block =
        std::clamp<Index>(Index(32768) / std::max<Index>(k, 1) / wide_rows, 4, 32) * wide_rows;
    std::vector<float> s_sq(static_cast<std::size_t>(block)), s_inv(s_sq.size());
    std::vector<unsigned char> s_unsafe(s_sq.size());
    FusedScan c{&a,
                q0,
                best,
                q_sq.data(),
                q_inv.data(),
                q_unsafe.data(),
                bound.data(),
                cancellation_fraction<float>(static_cast<std::size_t>(k)),
                0,
                nullptr,
                nullptr,
                nullptr};
    for (Index j0 = c0; j0 < c1; j0 += block) {
        const Index nb = std::min(block, c1 - j0);
        row_squared_norms(a.t, SetView<float>{s.row(j0), nb, s.cols, s.stride}, s_sq.data());
        for (Index j = 0; j < nb; ++j) {
            s_unsafe[std::size_t(j)] = !gemm_safe_norm(s_sq[std::size_t(j)]);
            if constexpr (M == Metric::cosine)
                s_inv[std::size_t(j)] = 1.0f / std::sqrt(s_sq[std::size_t(j)]);
        }
        if (a.wide) {
            for (Index pp = 0; pp < panel_count / 2; ++pp)
                fused_pair512<M>(c, pp, panels.data(), k, qn, j0, nb, s_sq.data(), s_inv.data(),
                                 s_unsafe.data());
        } else {
            for (Index p = 0; p < panel_count; ++p)
                fused_panel<M>(c, p, panels.data() + p * panel_width * k, k, qn, j0, nb,
                               s_sq.data(), s_inv.data(), s_unsafe.data());
        }
    }
}

inline void topk_scan_fused(const TopKScan<float>& a, Eigen::Index q0, Eigen::Index qn,
                            Eigen::Index c0, Eigen::Index c1, KBest<float>* best) {
    switch (a.metric) {
        case Metric::dot:
            return topk_scan_fused<Metric::dot>(a, q0, qn, c0, c1, best);
        case Metric::l2:
            return topk_scan_fused<Metric::l2>(a, q0, qn, c0, c1, best);
        case Metric::l2_squared:
            return topk_scan_fused<Metric::l2_squared>(a, q0, qn, c0, c1, best);
        case Metric::cosine:
            return topk_scan_fused<Metric::cosine>(a, q0, qn, c0, c1, best);
        case Metric::l1:
            return;  // never on the matrix-product path
    }
}
#endif

// One work item: offers set rows [c0, c1) to queries q0 .. q0 + qn - 1, whose lists are
// best[0 .. qn). c0 is a multiple of topk_set_block (or 0), so the blocks are those of one
// pass over the whole set.
template <class Scalar>
inline void topk_scan(const TopKScan<Scalar>& a, Eigen::Index q0, Eigen::Index qn, Eigen::Index c0,
                      Eigen::Index c1, KBest<Scalar>* best) {
    using Index = Eigen::Index;
    const simd::KernelTable<Scalar>& t = a.t;
    const Metric metric = a.metric;
    const SetView<Scalar>& q = a.q;
    const SetView<Scalar>& s = a.s;
    const auto dim = static_cast<std::size_t>(q.cols);
#if EMBEDKIT_ARCH_X86
    if constexpr (std::is_same_v<Scalar, float>) {
        if (a.fused) return topk_scan_fused(a, q0, qn, c0, c1, best);
    }
#endif
    if (a.gemm) {
        const SetView<Scalar> qv{q.row(q0), qn, q.cols, q.stride};
        const auto qmap = as_map(qv);
        const Vector<Scalar> q_sq = row_squared_norms(t, qv);
        // Every product has `width` columns. A set smaller than one block is one product,
        // padded only to a multiple of 48 rows (the tallest panel), not to a full block.
        const Index width = s.rows >= topk_set_block ? topk_set_block : (s.rows + 47) / 48 * 48;
        RowMatrix<Scalar> ip(qn, width);
        Vector<Scalar> s_sq(width);
        Vector<Scalar> keys(width);
        std::vector<unsigned char> flag(static_cast<std::size_t>(width));
        std::vector<Index> unsafe;  // rows of the set block the matrix product cannot score
        const bool squared = metric == Metric::l2 || metric == Metric::l2_squared;
        const Scalar frac = cancellation_fraction<Scalar>(dim);
        RowMatrix<Scalar> padded;  // the last, partial block of the set, zero-padded
        for (Index j0 = c0; j0 < c1; j0 += width) {
            const Index nb = std::min(width, c1 - j0);
            const SetView<Scalar> sv{s.row(j0), nb, s.cols, s.stride};
            if (nb == width) {
                ip.noalias() = qmap * as_map(sv).transpose();
            } else {
                padded.setZero(width, s.cols);
                padded.topRows(nb) = as_map(sv);
                ip.noalias() = qmap * padded.transpose();
            }
            row_squared_norms(t, sv, s_sq.data());
            unsafe.clear();
            for (Index j = 0; j < nb; ++j)
                if (!gemm_safe_norm(s_sq[j])) unsafe.push_back(j);
            for (Index i = 0; i < qn; ++i) {
                const Index self = a.exclude_self ? a.self_offset + q0 + i - j0 : Index(-1);
                KBest<Scalar>& b = best[i];
                const Scalar* qi = q.row(q0 + i);
                if (!gemm_safe_norm(q_sq[i])) {
                    // A query the matrix product cannot score: the pair kernels.
                    many(t, metric, qi, s, j0, nb, keys.data());
                    for (Index j = 0; j < nb; ++j) keys[j] = to_key(metric, keys[j]);
                    offer_keys(b, keys.data(), nb, j0, self);
                    continue;
                }
                const Scalar* ipi = ip.data() + i * ip.cols();
                bool flagged = false;
                if (metric == Metric::l2)
                    flagged = squared_keys_from_products<Metric::l2>(
                        ipi, nb, q_sq[i], s_sq.data(), frac, keys.data(), flag.data());
                else if (metric == Metric::l2_squared)
                    flagged = squared_keys_from_products<Metric::l2_squared>(
                        ipi, nb, q_sq[i], s_sq.data(), frac, keys.data(), flag.data());
                else
                    keys_from_products(metric, ipi, nb, q_sq[i], s_sq.data(), keys.data());
                if (!unsafe.empty()) {
                    if (!flagged && !squared) flag.assign(flag.size(), 0);
                    for (const Index j : unsafe) {
                        flag[std::size_t(j)] = 1;
                        keys[j] = -std::numeric_limits<Scalar>::infinity();
                    }
                    flagged = true;
                }
                if (flagged)
                    offer_checked(b, keys.data(), flag.data(), nb, j0, self, t, metric, qi, s);
                else
                    offer_keys(b, keys.data(), nb, j0, self);
            }
        }
    } else {
        Vector<Scalar> vals(std::min(topk_set_block, c1 - c0));
        const bool negate = larger_is_closer(metric);
        for (Index j0 = c0; j0 < c1; j0 += topk_set_block) {
            const Index nb = std::min(topk_set_block, c1 - j0);
            for (Index i = 0; i < qn; ++i) {
                many(t, metric, q.row(q0 + i), s, j0, nb, vals.data());
                if (negate)  // the keys of similarities (to_key), in place
                    for (Index j = 0; j < nb; ++j) vals[j] = -vals[j];
                const Index self = a.exclude_self ? a.self_offset + q0 + i - j0 : Index(-1);
                offer_keys(best[i], vals.data(), nb, j0, self);
            }
        }
    }
}

// The set row of query 0 for exclude_self (TopKOptions::self_offset).
template <class Scalar>
inline Eigen::Index resolve_self_offset(const SetView<Scalar>& q, const SetView<Scalar>& s,
                                        Eigen::Index given) {
    const Eigen::Index last = s.rows - q.rows;  // the largest valid offset
    if (given != -1) {
        if (given < 0 || given > last)
            throw ArgumentError(
                "embedkit::top_k: self_offset must be -1 (find the queries in "
                "the set) or a set row from 0 to " +
                std::to_string(last) + " (" + std::to_string(q.rows) + " queries, " +
                std::to_string(s.rows) + " set rows), got " + std::to_string(given));
        return given;
    }
    if (last >= 0 && q.cols == 0) return 0;  // empty rows are all alike
    const auto qa = reinterpret_cast<std::uintptr_t>(q.data);
    const auto sa = reinterpret_cast<std::uintptr_t>(s.data);
    const auto bytes = static_cast<std::uintptr_t>(sizeof(Scalar));
    const auto end = sa + static_cast<std::uintptr_t>((s.rows - 1) * s.stride + s.cols) * bytes;
    if (last >= 0 && qa >= sa && qa < end) {
        const auto offset = static_cast<Eigen::Index>((qa - sa) / bytes);
        const bool block = (qa - sa) % bytes == 0 && offset % s.stride == 0 &&
                           (q.rows == 1 || q.stride == s.stride) && offset / s.stride <= last;
        if (block) return offset / s.stride;
    } else if (last >= 0) {
        bool same = true;
        const auto row_bytes = static_cast<std::size_t>(q.cols) * sizeof(Scalar);
        for (Eigen::Index i = 0; i < q.rows && same; ++i)
            same = std::memcmp(q.row(i), s.row(i), row_bytes) == 0;
        if (same) return 0;
    }
    throw ArgumentError(
        "embedkit::top_k: exclude_self cannot tell which set row each query "
        "is: the queries are neither a block of the set's rows nor copies "
        "of its first rows; set TopKOptions::self_offset");
}

// The view of top_k's queries: a set, or one vector (any dense vector or expression of one)
// as a single query (`storage` keeps an evaluated copy alive when one is needed).
template <class DQ>
inline SetView<typename DQ::Scalar> view_queries(const Eigen::MatrixBase<DQ>& queries,
                                                 Vector<typename DQ::Scalar>& storage) {
    using Scalar = typename DQ::Scalar;
    if constexpr (DQ::IsVectorAtCompileTime && !DQ::IsRowMajor) {
        static_assert(is_supported_scalar_v<Scalar>,
                      "embedkit: embedding sets must hold float or double");
        const DQ& v = queries.derived();
        if constexpr (static_cast<bool>(Eigen::internal::traits<DQ>::Flags &
                                        Eigen::DirectAccessBit)) {
            if (v.innerStride() == 1) return {v.data(), 1, v.size(), v.size()};
        }
        storage = v;
        return {storage.data(), 1, storage.size(), storage.size()};
    } else {
        (void)storage;
        return view_set("top_k", "queries", queries);
    }
}

}  // namespace detail

/// The k best rows of `set` for every row of `queries` under `metric`.
///
/// queries: nq x d, set: n x d, both row-major sets (RowMatrix, Map or row block; a
/// column-major matrix is a compile-time error); a single query may also be any vector
/// (VectorX, RowVectorX, or an expression of one), which gives a 1-row result. Best means
/// smallest for l1, l2, l2_squared and largest for dot and cosine (the cosine similarity).
/// Returns nq x min(k, candidates) indices and scores, best first; equal scores are ordered
/// by lower index and NaN scores come last. Scores are the values the pair functions return
/// for the same rows. With 8 or more queries and a metric other than l1, candidates are
/// selected by inner products from a matrix product; pairs that form cannot score (rows with
/// Inf, NaN, or squared norms that overflow or underflow, and, for l2 and l2_squared, near
/// duplicates whose value cancels) are scored with the pair kernels before selection. The
/// remaining rounding (dot: about eps * sum |q_i s_i|; l2: relative 1e-4) can only swap
/// candidates whose exact scores are that close at the k-th place. For float at levels avx2
/// and avx512 the product is embedkit's own micro-kernel (distance/detail/panel_tile.hpp),
/// fused with the selection: each tile of inner products is compared in registers with every
/// query's current k-th key, and only candidates that can enter reach the lists (no product
/// matrix is written); both levels compute each inner product as the same FMA chain.
///
/// Threads: up to num_threads() (core/threads.hpp). The work items are fixed by the sizes:
/// query blocks of 128, and with fewer than 2048 queries the set is also split into chunks
/// (24,576 rows or more), each with its own lists, merged in the same order; so indices and
/// scores, ties included, are bit-identical for every thread count.
/// Memory: O(nq * k) (with a split set, one list per query and chunk: at most 2^20 kept
/// candidates over all chunks, or nq * k if more) plus, per thread, one block of scores (or,
/// on the fused float path, its query block packed: 128 x d floats); the set is streamed,
/// never copied.
/// Throws ArgumentError if k <= 0, queries or set are empty, exclude_self leaves no candidate
/// or cannot tell the queries' set rows (TopKOptions::self_offset), self_offset is out of
/// range, or `metric` is not a Metric value; DimensionError if the dimensions differ.
template <class DQ, class DS>
TopK<typename DS::Scalar> top_k(const Eigen::MatrixBase<DQ>& queries,
                                const Eigen::MatrixBase<DS>& set, Eigen::Index k, Metric metric,
                                TopKOptions options = {}) {
    using Scalar = typename DS::Scalar;
    using Index = Eigen::Index;
    static_assert(std::is_same_v<typename DQ::Scalar, Scalar>,
                  "embedkit::top_k: queries and set must have the same scalar type");
    Vector<Scalar> query_copy;
    const detail::SetView<Scalar> q = detail::view_queries(queries, query_copy);
    const detail::SetView<Scalar> s = detail::view_set("top_k", "the set", set);
    if (k <= 0)
        throw ArgumentError("embedkit::top_k: k must be positive, got " + std::to_string(k));
    detail::check_nonempty("top_k", "queries", q.rows);
    detail::check_nonempty("top_k", "the set", s.rows);
    detail::check_dims("top_k", q.cols, "queries", s.cols, "the set");
    detail::check_metric("top_k", metric);
    const Index candidates = s.rows - (options.exclude_self ? 1 : 0);
    if (candidates <= 0)
        throw ArgumentError("embedkit::top_k: exclude_self with a 1-row set leaves no candidates");
    const Index self_offset =
        options.exclude_self ? detail::resolve_self_offset(q, s, options.self_offset) : 0;
    const Index kk = std::min<Index>(k, candidates);
    const Index nq = q.rows;
    const auto dim = static_cast<std::size_t>(q.cols);
    const simd::KernelTable<Scalar>& t = simd::detail::active_table<Scalar>();

    const bool gemm = metric != Metric::l1 && nq >= detail::topk_gemm_min_queries && dim > 0;
    const Index nblocks_q = (nq + detail::topk_query_block - 1) / detail::topk_query_block;
    const Index chunk = detail::topk_chunk_size(nq, kk, s.rows);
    const Index nchunks = (s.rows + chunk - 1) / chunk;
    const int threads = detail::threads_for_work(double(nq) * double(s.rows) *
                                                 double(std::max<std::size_t>(dim, 1)));

    // One bounded list per query and chunk: list (c, i) is best[c * nq + i], its storage
    // kk candidates at storage[(c * nq + i) * kk].
    const auto lists = static_cast<std::size_t>(nchunks * nq);
    std::vector<detail::Candidate<Scalar>> storage(lists * static_cast<std::size_t>(kk));
    std::vector<detail::KBest<Scalar>> best(lists);
    for (std::size_t l = 0; l < lists; ++l) best[l].reset(storage.data() + Index(l) * kk, kk);

    // Work items: (query block, chunk) pairs, query block major.
    // The fused float path needs the AVX2+FMA micro-kernel (levels avx2 and avx512).
    const simd::Level level = simd::active();
    const bool fused = std::is_same_v<Scalar, float> && gemm &&
                       (level == simd::Level::avx2 || level == simd::Level::avx512);
    const bool wide = fused && level == simd::Level::avx512;
    const detail::TopKScan<Scalar> scan{
        t, metric, q, s, gemm, fused, wide, options.exclude_self, self_offset};
    detail::parallel_for(nblocks_q * nchunks, threads, [&](std::ptrdiff_t item) {
        const Index bq = Index(item) / nchunks;
        const Index c = Index(item) % nchunks;
        const Index q0 = bq * detail::topk_query_block;
        const Index qn = std::min(detail::topk_query_block, nq - q0);
        const Index c0 = c * chunk;
        detail::topk_scan(scan, q0, qn, c0, std::min(s.rows, c0 + chunk),
                          best.data() + c * nq + q0);
    });

    // Each query's result: its chunks' lists merged (the same order, so the kk best of the
    // union are the kk best of one pass), then, on the matrix-product path, the pair
    // functions' exact values, ordered by them. Per query block, on the same threads.
    TopK<Scalar> out;
    out.indices.resize(nq, kk);
    out.scores.resize(nq, kk);
    const auto order = [](const detail::Candidate<Scalar>& x, const detail::Candidate<Scalar>& y) {
        return detail::better(x.key, x.index, y.key, y.index);
    };
    detail::parallel_for(nblocks_q, (nchunks > 1 || gemm) ? threads : 1, [&](std::ptrdiff_t bq) {
        std::vector<detail::Candidate<Scalar>> merged;
        const Index q0 = Index(bq) * detail::topk_query_block;
        const Index q1 = std::min(nq, q0 + detail::topk_query_block);
        for (Index i = q0; i < q1; ++i) {
            detail::Candidate<Scalar>* c = storage.data() + i * kk;
            Index got = 0;
            if (nchunks == 1) {
                got = best[std::size_t(i)].finish();
            } else {
                merged.clear();
                for (Index ch = 0; ch < nchunks; ++ch) {
                    const std::size_t l = std::size_t(ch * nq + i);
                    const Index n_l = best[l].finish();
                    const detail::Candidate<Scalar>* first = storage.data() + Index(l) * kk;
                    merged.insert(merged.end(), first, first + n_l);
                }
                got = std::min<Index>(kk, Index(merged.size()));
                std::partial_sort(merged.begin(), merged.begin() + got, merged.end(), order);
                c = merged.data();
            }
            if (gemm) {
                // Report the pair functions' exact values and order by them.
                for (Index r = 0; r < got; ++r)
                    c[r].key = detail::to_key(
                        metric, detail::exact_value(t, metric, q.row(i), s.row(c[r].index), dim));
                std::sort(c, c + got, order);
            }
            for (Index r = 0; r < got; ++r) {
                out.indices(i, r) = c[r].index;
                out.scores(i, r) = detail::to_key(metric, c[r].key);
            }
        }
    });
    return out;
}

}  // namespace embedkit
