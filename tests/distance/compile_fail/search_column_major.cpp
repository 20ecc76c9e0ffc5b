// Embedding-set parameters reject column-major storage and unevaluated expressions at compile
// time, with a message naming RowMatrix (run by search_check.cmake with -fsyntax-only).
// EK_BAD=1 EK_CASE=n: case n passes the wrong kind of argument and must fail with the library's
// static_assert text. EK_BAD=0 EK_CASE=0: the positive control, every case's call on a
// RowMatrix, must compile -- so each failure comes from the argument, nothing else.
#include <embedkit/distance/pairwise.hpp>
#include <embedkit/distance/topk.hpp>

#include <Eigen/Core>

#if !defined(EK_BAD) || !defined(EK_CASE)
#error "compile with -DEK_BAD=0|1 -DEK_CASE=<0..9>"
#endif

using Good = embedkit::RowMatrixF;
#if EK_BAD
using Set = Eigen::MatrixXf;  // column-major
#else
using Set = embedkit::RowMatrixF;
#endif

#define EK_RUN(n) (EK_CASE == (n) || EK_CASE == 0)

void search_column_major(const Set& set, const Good& good, const Eigen::VectorXf& q, Set& mut) {
    using embedkit::Metric;
#if EK_RUN(1)  // top_k: the set
    (void)embedkit::top_k(good, set, 3, Metric::l2);
#endif
#if EK_RUN(2)  // top_k: the queries
    (void)embedkit::top_k(set, good, 3, Metric::cosine);
#endif
#if EK_RUN(3)  // distances: the set
    (void)embedkit::distances(q, set, Metric::dot);
#endif
#if EK_RUN(4)  // pairwise: A
    (void)embedkit::pairwise(set, good, Metric::l2_squared);
#endif
#if EK_RUN(5)  // pairwise: B
    (void)embedkit::pairwise(good, set, Metric::l1);
#endif
#if EK_RUN(6)  // normalize_rows
    embedkit::normalize_rows(mut);
#endif
#if EK_RUN(7)  // a Map of the storage
    const Eigen::Map<const Set> map(set.data(), set.rows(), set.cols());
    (void)embedkit::top_k(good, map, 3, Metric::l1);
#endif
#if EK_RUN(8)  // a block of rows of the storage
    (void)embedkit::distances(q, set.topRows(2), Metric::l2);
#endif
#if EK_RUN(9)  // an unevaluated expression of a RowMatrix (evaluated, it is accepted)
#if EK_BAD
    (void)embedkit::top_k(good, good * 2.0f, 3, Metric::l2);
#else
    (void)embedkit::top_k(good, Good(good * 2.0f), 3, Metric::l2);
#endif
#endif
#if EK_CASE < 0 || EK_CASE > 9
#error "unknown EK_CASE"
#endif
    (void)set;
    (void)good;
    (void)q;
    (void)mut;
}
