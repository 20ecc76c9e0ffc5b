// With EMBEDKIT_USE_OPENMP, top_k, distances and pairwise run their work items on OpenMP
// threads: the cases of tests/threads/test_parallel.cpp (the same bits for 1, 2, 3 and 7
// threads; several threads really ran the items, seen through the test hook) on that backend.
// Built with -fopenmp (tests/distance/CMakeLists.txt); without OpenMP a failing or skipped
// test says so instead.
#ifndef EMBEDKIT_USE_OPENMP
#error "test_openmp must be built with EMBEDKIT_USE_OPENMP"
#endif
#ifndef _OPENMP
#error "test_openmp must be built with OpenMP enabled"
#endif

#include "../threads/test_parallel.cpp"

#include <omp.h>

TEST_CASE("backend: the work items run on OpenMP threads") {
    CHECK(embedkit::detail::parallel_backend() == "openmp");
    // The default thread count is OpenMP's, so OMP_NUM_THREADS applies.
    CHECK(embedkit::hardware_threads() == omp_get_max_threads());
    // Inside a work item the threads are an OpenMP team: an item that asks sees its size.
    const parallel_test::Threads three(3);
    std::atomic<int> largest_team{0};
    embedkit::detail::parallel_for(12, embedkit::num_threads(), [&](std::ptrdiff_t) {
        int seen = largest_team.load();
        const int team = omp_get_num_threads();
        while (team > seen && !largest_team.compare_exchange_weak(seen, team)) {}
    });
    CHECK(largest_team.load() == 3);
    // The caller's own OpenMP setting survives the call (parallel_for makes Eigen's products
    // inside the items single-threaded, on the calling thread too, and restores it).
    omp_set_num_threads(5);
    embedkit::detail::parallel_for(1, 1, [](std::ptrdiff_t) { CHECK(omp_get_max_threads() == 1); });
    CHECK(omp_get_max_threads() == 5);
    omp_set_num_threads(embedkit::hardware_threads());
}
