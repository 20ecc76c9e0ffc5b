// With EMBEDKIT_USE_OPENMP, top_k and pairwise split their work over threads; the results must
// be bit-identical to a single thread's (built with -fopenmp; see tests/distance/CMakeLists.txt).
#include <embedkit/distance/batch.hpp>
#include <embedkit/distance/topk.hpp>

#include <doctest/doctest.h>
#include <omp.h>

#include <cstdint>
#include <cstring>

#ifndef EMBEDKIT_USE_OPENMP
#error "test_openmp must be built with EMBEDKIT_USE_OPENMP"
#endif
#ifndef _OPENMP
#error "test_openmp must be built with OpenMP enabled"
#endif

namespace {

namespace ek = embedkit;

template <class S>
ek::RowMatrix<S> seeded_set(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
    ek::RowMatrix<S> m(rows, cols);
    std::uint64_t x = seed;
    for (Eigen::Index i = 0; i < m.size(); ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;  // LCG: reproducible anywhere
        m.data()[i] = static_cast<S>(static_cast<double>(x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    return m;
}

template <class M>
bool same_bits(const M& a, const M& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(typename M::Scalar) * std::size_t(a.size())) == 0;
}

}  // namespace

TEST_CASE_TEMPLATE("openmp: top_k and pairwise match one thread bit for bit", S, float, double) {
    REQUIRE(omp_get_max_threads() >= 1);
    // 300 queries: three query blocks, so threads really share the work; 3100 rows: two full
    // set blocks and a partial one.
    const ek::RowMatrix<S> set = seeded_set<S>(3100, 37, 0x5eed);
    const ek::RowMatrix<S> queries = seeded_set<S>(300, 37, 0xfeed);
    for (const ek::Metric m : {ek::Metric::l1, ek::Metric::l2, ek::Metric::l2_squared,
                               ek::Metric::dot, ek::Metric::cosine}) {
        CAPTURE(ek::metric_name(m));
        omp_set_num_threads(1);
        const ek::TopK<S> one = ek::top_k(queries, set, 10, m);
        const ek::TopK<S> self_one = ek::top_k(set.topRows(200), set, 5, m, {true});
        const ek::RowMatrix<S> pair_one = ek::pairwise(queries, set.topRows(500), m);
        for (const int threads : {2, 3, 4}) {
            CAPTURE(threads);
            omp_set_num_threads(threads);
            const ek::TopK<S> many = ek::top_k(queries, set, 10, m);
            CHECK(same_bits(one.indices, many.indices));
            CHECK(same_bits(one.scores, many.scores));
            const ek::TopK<S> self_many = ek::top_k(set.topRows(200), set, 5, m, {true});
            CHECK(same_bits(self_one.indices, self_many.indices));
            CHECK(same_bits(self_one.scores, self_many.scores));
            CHECK(same_bits(pair_one, ek::pairwise(queries, set.topRows(500), m)));
        }
    }
    omp_set_num_threads(1);
}

TEST_CASE("openmp: the parallel regions really run on several threads") {
    // Guards the test above: without OpenMP the pragmas vanish and it would compare a single
    // thread with itself.
    omp_set_num_threads(3);
    int seen = 0;
#pragma omp parallel
    {
#pragma omp single
        seen = omp_get_num_threads();
    }
    CHECK(seen == 3);
    omp_set_num_threads(1);
}
