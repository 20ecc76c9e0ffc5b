// core/threads.hpp and core/detail/parallel.hpp, through the functions that use them: top_k,
// distances and pairwise give bit-identical results (indices and values, ties and NaN rows
// included) for 1, 2, 3 and 7 threads, on sets the split into chunks does not divide evenly;
// and several threads really share the work, seen through the test hook parallel_for calls
// before every work item (EMBEDKIT_TEST_PARALLEL_HOOK, defined for this executable in
// CMakeLists.txt). tests/distance/test_openmp.cpp builds this file again with the OpenMP
// backend; the tsan preset runs it under ThreadSanitizer.
#include <embedkit/core/detail/parallel.hpp>
#include <embedkit/core/error.hpp>
#include <embedkit/core/threads.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/distance/pairwise.hpp>
#include <embedkit/distance/metric.hpp>
#include <embedkit/distance/topk.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifndef EMBEDKIT_TEST_PARALLEL_HOOK
#error "test_parallel needs EMBEDKIT_TEST_PARALLEL_HOOK (see tests/threads/CMakeLists.txt)"
#endif

namespace parallel_test {

namespace ek = embedkit;
using Index = Eigen::Index;

// ---- The hook: which threads ran work items. In rendezvous mode the first item waits (up to
// 20 s) until a second thread has started one, so a pool that works cannot finish every item
// on its first thread before the others start, and a pool that does not gives up waiting
// once and is counted as one thread.
struct HookState {
    std::mutex mutex;
    std::condition_variable cv;
    std::set<std::thread::id> threads;
    long items = 0;
    bool rendezvous = false;
    bool gave_up = false;
};

HookState& hook() {
    static HookState state;
    return state;
}

// Starts recording; returns nothing, read with hook_threads() / hook_items().
void hook_start(bool rendezvous) {
    HookState& h = hook();
    const std::lock_guard<std::mutex> lock(h.mutex);
    h.threads.clear();
    h.items = 0;
    h.rendezvous = rendezvous;
    h.gave_up = false;
}

std::size_t hook_threads() {
    HookState& h = hook();
    const std::lock_guard<std::mutex> lock(h.mutex);
    return h.threads.size();
}

long hook_items() {
    HookState& h = hook();
    const std::lock_guard<std::mutex> lock(h.mutex);
    return h.items;
}

// Sets the thread count for a scope and restores the default after it.
class Threads {
public:
    explicit Threads(int n) { ek::set_num_threads(n); }
    ~Threads() { ek::set_num_threads(0); }
    Threads(const Threads&) = delete;
    Threads& operator=(const Threads&) = delete;
};

constexpr int thread_counts[] = {2, 3, 7};
constexpr ek::Metric all_metrics[] = {ek::Metric::l1, ek::Metric::l2, ek::Metric::l2_squared,
                                      ek::Metric::dot, ek::Metric::cosine};

template <class M>
bool same_bits(const M& a, const M& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(),
                       sizeof(typename M::Scalar) * static_cast<std::size_t>(a.size())) == 0;
}

// Small integers in [-3, 3]: every product, sum and norm is exact in float and double, so
// many rows tie exactly, and the matrix-product path scores exactly like the pair kernels.
template <class S>
ek::RowMatrix<S> tie_set(Index rows, Index cols, std::uint64_t seed) {
    ek::RowMatrix<S> m(rows, cols);
    std::uint64_t x = seed;
    for (Index i = 0; i < m.size(); ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;  // LCG: the same everywhere
        m.data()[i] = static_cast<S>(int((x >> 33) % 7) - 3);
    }
    return m;
}

// The set of the search cases: two chunks and a part (neither the chunk nor the set block
// divides it), 8 columns (whole SIMD vectors: no scalar tails, which ThreadSanitizer makes
// slow), copies of rows 5 and 6 in every chunk (exact ties across chunks), NaN rows in
// the first and last chunk.
template <class S>
ek::RowMatrix<S> search_set() {
    const Index chunk = ek::detail::topk_chunk_rows;
    const Index n = 2 * chunk + 777;
    ek::RowMatrix<S> set = tie_set<S>(n, 8, 0x5eed);
    for (const Index at : {chunk + 5, 2 * chunk + 5}) set.row(at) = set.row(5);
    for (const Index at : {chunk - 1, chunk, 2 * chunk + 6}) set.row(at) = set.row(6);
    set(100, 3) = std::numeric_limits<S>::quiet_NaN();
    set(n - 3, 0) = std::numeric_limits<S>::quiet_NaN();
    return set;
}

// The reference: every candidate's pair value (distances() runs the pair kernels), ordered
// as top_k documents: best first, equal values by lower index, NaN after every number.
template <class S>
void check_against_full_sort(const ek::RowMatrix<S>& set, const ek::RowMatrix<S>& queries,
                             const ek::TopK<S>& got, ek::Metric m, Index self_offset) {
    for (Index i = 0; i<queries.rows(); i += queries.rows()> 8 ? 16 : 1) {
        CAPTURE(i);
        const ek::Vector<S> v = ek::distances(queries.row(i), set, m);
        std::vector<Index> order;
        for (Index j = 0; j < set.rows(); ++j)
            if (j != self_offset + i || self_offset < 0) order.push_back(j);
        const bool larger = ek::larger_is_closer(m);
        const auto key = [&](Index j) { return larger ? -v[j] : v[j]; };
        const Index kk = got.indices.cols();
        std::partial_sort(order.begin(), order.begin() + kk, order.end(), [&](Index a, Index b) {
            const S ka = key(a), kb = key(b);
            if (std::isnan(ka) || std::isnan(kb))
                return std::isnan(ka) != std::isnan(kb) ? std::isnan(kb) : a < b;
            return ka < kb || (ka == kb && a < b);
        });
        bool same = true;
        for (Index r = 0; r < kk && same; ++r) {
            const Index j = order[std::size_t(r)];
            const S want = v[j];
            const S have = got.scores(i, r);
            same = got.indices(i, r) == j && (std::memcmp(&want, &have, sizeof(S)) == 0 ||
                                              (std::isnan(want) && std::isnan(have)));
        }
        CHECK(same);
    }
}

}  // namespace parallel_test

// Records the thread of every work item; in rendezvous mode, holds the first items until a
// second thread arrives.
void EMBEDKIT_TEST_PARALLEL_HOOK() {
    parallel_test::HookState& h = parallel_test::hook();
    std::unique_lock<std::mutex> lock(h.mutex);
    h.threads.insert(std::this_thread::get_id());
    ++h.items;
    h.cv.notify_all();
    if (h.rendezvous && !h.gave_up && h.threads.size() < 2) {
        if (!h.cv.wait_for(lock, std::chrono::seconds(20), [&] { return h.threads.size() >= 2; }))
            h.gave_up = true;
    }
}

using namespace parallel_test;

// The default starts no threads of the library's own: one thread, unless the program opted
// into OpenMP (then OpenMP's count, OMP_NUM_THREADS included).
int default_threads() {
#if defined(EMBEDKIT_USE_OPENMP) && defined(_OPENMP)
    return ek::hardware_threads();
#else
    return 1;
#endif
}

TEST_CASE("parallel: num_threads follows set_num_threads, 0 is the default") {
    CHECK(ek::hardware_threads() >= 1);
    CHECK(ek::num_threads() == default_threads());
    {
        const Threads three(3);
        CHECK(ek::num_threads() == 3);
        CHECK_THROWS_AS(ek::set_num_threads(-1), ek::ArgumentError);
        CHECK(ek::num_threads() == 3);  // a refused count changes nothing
    }
    CHECK(ek::num_threads() == default_threads());
}

TEST_CASE("parallel: parallel_for runs every item once and passes the first exception on") {
    for (const int threads : {1, 2, 3, 7}) {
        CAPTURE(threads);
        std::vector<std::atomic<int>> runs(1000);
        ek::detail::parallel_for(1000, threads, [&](std::ptrdiff_t i) {
            runs[std::size_t(i)].fetch_add(1, std::memory_order_relaxed);
        });
        CHECK(std::all_of(runs.begin(), runs.end(),
                          [](const std::atomic<int>& r) { return r.load() == 1; }));
        ek::detail::parallel_for(
            0, threads, [](std::ptrdiff_t) { throw std::logic_error("no items, no call"); });
        CHECK_THROWS_WITH_AS(ek::detail::parallel_for(100, threads,
                                                      [](std::ptrdiff_t i) {
                                                          if (i == 17)
                                                              throw std::runtime_error("item 17");
                                                      }),
                             "item 17", std::runtime_error);
    }
}

TEST_CASE("parallel: top_k's split of the set depends on the sizes only, as documented") {
    using ek::detail::topk_chunk_size;
    const Index chunk = ek::detail::topk_chunk_rows;
    const Index block = ek::detail::topk_set_block;
    CHECK(topk_chunk_size(1, 10, chunk) == chunk);         // one chunk: not split
    CHECK(topk_chunk_size(1, 10, chunk + 1) == chunk);     // two chunks, the second of 1 row
    CHECK(topk_chunk_size(1, 10, 1000000) == chunk);       // 41 chunks
    CHECK(topk_chunk_size(2047, 10, 1000000) == chunk);    // fewer than 2048 queries: split
    CHECK(topk_chunk_size(2048, 10, 1000000) == 1000000);  // 16 full query blocks: not split
    // Beyond 64 chunks: 64 larger ones, whole set blocks.
    const Index big = topk_chunk_size(1, 10, 100000000);
    CHECK(big % block == 0);
    CHECK((100000000 + big - 1) / big == ek::detail::topk_max_chunks);
    // At most 2^20 kept candidates over all lists: 1000 queries x k 100 allow 10 chunks.
    const Index kept = topk_chunk_size(1000, 100, 1000000);
    CHECK((1000000 + kept - 1) / kept == 10);
    CHECK(topk_chunk_size(1000, 2000, 1000000) == 1000000);  // not even two
}

TEST_CASE_TEMPLATE("parallel: top_k gives the same bits for 1, 2, 3 and 7 threads", S, float,
                   double) {
    const ek::RowMatrix<S> set = search_set<S>();
    const Index chunk = ek::detail::topk_chunk_rows;
    // The queries: rows of the set (so exact duplicates score 0 and tie), the NaN row among them.
    for (const Index nq : {Index(1), Index(3), ek::detail::topk_gemm_min_queries, Index(130)}) {
        const ek::RowMatrix<S> queries = set.middleRows(95, nq);
        for (const Index k : {Index(10), Index(300)}) {
            if (k > 10 && nq > 8) continue;  // long lists on few queries: the costly part
            // The split these cases are about, and enough work to use the threads.
            REQUIRE(ek::detail::topk_chunk_size(nq, k, set.rows()) < set.rows());
            REQUIRE(double(nq) * double(set.rows()) * double(set.cols()) >=
                    ek::detail::parallel_min_work);
            for (const ek::Metric m : all_metrics) {
                // l1 never takes the matrix-product path, so many queries add nothing for it.
                if (m == ek::Metric::l1 && nq > ek::detail::topk_gemm_min_queries) continue;
                CAPTURE(nq);
                CAPTURE(k);
                CAPTURE(ek::metric_name(m));
                ek::TopK<S> one;
                {
                    const Threads t1(1);
                    one = ek::top_k(queries, set, k, m);
                }
                check_against_full_sort(set, queries, one, m, -1);
                for (const int threads : thread_counts) {
                    CAPTURE(threads);
                    const Threads tn(threads);
                    const ek::TopK<S> many = ek::top_k(queries, set, k, m);
                    CHECK(same_bits(one.indices, many.indices));
                    CHECK(same_bits(one.scores, many.scores));
                }
            }
        }
    }
    // exclude_self with queries that straddle the first chunk edge (their own rows in two
    // chunks), found by place and given as an offset.
    const Index first = chunk - 3;
    for (const Index nq : {Index(5), Index(12)}) {
        for (const ek::Metric m : all_metrics) {
            CAPTURE(nq);
            CAPTURE(ek::metric_name(m));
            ek::TopKOptions self;
            self.exclude_self = true;
            ek::TopK<S> one;
            {
                const Threads t1(1);
                one = ek::top_k(set.middleRows(first, nq), set, 7, m, self);
            }
            check_against_full_sort(set, ek::RowMatrix<S>(set.middleRows(first, nq)), one, m,
                                    first);
            ek::TopKOptions given = self;
            given.self_offset = first;
            const ek::RowMatrix<S> copies = set.middleRows(first, nq);
            for (const int threads : thread_counts) {
                CAPTURE(threads);
                const Threads tn(threads);
                const ek::TopK<S> many = ek::top_k(set.middleRows(first, nq), set, 7, m, self);
                CHECK(same_bits(one.indices, many.indices));
                CHECK(same_bits(one.scores, many.scores));
                const ek::TopK<S> offset = ek::top_k(copies, set, 7, m, given);
                CHECK(same_bits(one.indices, offset.indices));
                CHECK(same_bits(one.scores, offset.scores));
            }
        }
    }
}

TEST_CASE_TEMPLATE("parallel: distances and pairwise give the same bits for 1, 2, 3 and 7 threads",
                   S, float, double) {
    // Random-valued rows (the matrix product rounds) with a NaN row and an Inf row in each set.
    ek::RowMatrix<S> a = tie_set<S>(600, 9, 0xa11).array() * S(0.37) + S(0.01);
    ek::RowMatrix<S> b = tie_set<S>(700, 9, 0xb22).array() * S(1.13) - S(0.02);
    a(10, 2) = std::numeric_limits<S>::quiet_NaN();
    b(300, 4) = std::numeric_limits<S>::infinity();
    const ek::RowMatrix<S> set = search_set<S>();
    const ek::RowMatrix<S> query = set.row(17);
    REQUIRE(double(a.rows()) * double(b.rows()) * double(a.cols()) >=
            ek::detail::parallel_min_work);
    REQUIRE(double(set.size()) >= ek::detail::parallel_min_work);
    for (const ek::Metric m : all_metrics) {
        CAPTURE(ek::metric_name(m));
        ek::RowMatrix<S> pair_one;
        ek::Vector<S> dist_one;
        {
            const Threads t1(1);
            pair_one = ek::pairwise(a, b, m);
            dist_one = ek::distances(query.row(0), set, m);
        }
        for (const int threads : thread_counts) {
            CAPTURE(threads);
            const Threads tn(threads);
            CHECK(same_bits(pair_one, ek::pairwise(a, b, m)));
            CHECK(same_bits(dist_one, ek::distances(query.row(0), set, m)));
        }
    }
}

TEST_CASE("parallel: several threads really run the work items") {
    // Without this, the cases above could compare one thread with itself.
    const ek::RowMatrix<float> set = search_set<float>();
    const ek::RowMatrix<float> queries = set.topRows(300);
    const ek::RowMatrix<float> b = set.topRows(2000);
    const Threads two(2);
    SUBCASE("top_k, one query: the set's chunks") {
        hook_start(true);
        (void)ek::top_k(set.row(4), set, 10, ek::Metric::l2);
        CHECK(hook_items() >= 3);  // 3 chunks, then the merge
        CHECK(hook_threads() >= 2);
    }
    SUBCASE("top_k, 300 queries: query blocks and chunks") {
        hook_start(true);
        (void)ek::top_k(queries, set, 10, ek::Metric::dot);
        CHECK(hook_threads() >= 2);
    }
    SUBCASE("pairwise, matrix-product and l1 paths") {
        for (const ek::Metric m : {ek::Metric::l2, ek::Metric::l1}) {
            CAPTURE(ek::metric_name(m));
            hook_start(true);
            (void)ek::pairwise(queries, b, m);
            CHECK(hook_threads() >= 2);
        }
    }
    SUBCASE("distances, one query against the set") {
        hook_start(true);
        (void)ek::distances(set.row(4), set, ek::Metric::cosine);
        CHECK(hook_threads() >= 2);
    }
    SUBCASE("one thread: every item on the calling thread") {
        const Threads one(1);
        hook_start(false);
        (void)ek::top_k(set.row(4), set, 10, ek::Metric::l2);
        CHECK(hook_items() >= 3);
        CHECK(hook_threads() == 1);
    }
    hook_start(false);
}
