// A parallel loop over a fixed list of work items, on OpenMP threads or std::threads.
#pragma once

#include "../threads.hpp"

#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

// Tests define EMBEDKIT_TEST_PARALLEL_HOOK as the name of a function of their own, called on
// the running thread before each work item, to see which threads did the work.
#if defined(EMBEDKIT_TEST_PARALLEL_HOOK)
void EMBEDKIT_TEST_PARALLEL_HOOK();
#endif

namespace embedkit {
namespace detail {
inline namespace EMBEDKIT_THREADS_NAMESPACE {

/// Which threads parallel_for runs on: "openmp" with EMBEDKIT_USE_OPENMP and OpenMP enabled,
/// else "std::thread".
constexpr std::string_view parallel_backend() noexcept {
#if defined(EMBEDKIT_USE_OPENMP) && defined(_OPENMP)
    return "openmp";
#else
    return "std::thread";
#endif
}

// Below this much work (multiply-adds, or values read) a call stays on one thread: starting a
// thread costs tens of microseconds, about what one core needs for this much work.
inline constexpr double parallel_min_work = double(1 << 18);

/// The threads a call with `work` multiply-adds may use: 1 below parallel_min_work, else
/// num_threads(). Only the speed depends on it, never the result.
inline int threads_for_work(double work) noexcept {
    return work < parallel_min_work ? 1 : num_threads();
}

// While alive, OpenMP regions the calling thread opens (Eigen's threaded matrix products, in
// a program built with OpenMP) get one thread. Work items run their products on one thread
// each, wherever they run: a product Eigen splits over its own threads may round differently,
// which would make results depend on which thread ran an item. OpenMP's thread count is a
// per-thread setting, so this changes nothing for other threads; the old value is restored.
class SerialOpenMPProducts {
public:
#if defined(_OPENMP)
    SerialOpenMPProducts() noexcept : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
    ~SerialOpenMPProducts() { omp_set_num_threads(saved_); }

private:
    int saved_;
#else
    SerialOpenMPProducts() noexcept {}
#endif
public:
    SerialOpenMPProducts(const SerialOpenMPProducts&) = delete;
    SerialOpenMPProducts& operator=(const SerialOpenMPProducts&) = delete;
};

/// Runs body(i) once for every i in [0, count), on at most `threads` threads (the calling
/// thread is one of them), items handed out one at a time in increasing order. The caller
/// chooses the items without regard to the thread count and gives each its own output, so
/// the result does not depend on which thread ran which item. With one thread or one item it
/// is a plain loop. The first exception a body throws is rethrown here once every thread has
/// stopped (items not yet started are skipped). Without OpenMP the threads are started per
/// call and joined before return: nothing outlives the call; if the system refuses to start
/// one, the others (at least the caller) do its share.
template <class Body>
void parallel_for(std::ptrdiff_t count, int threads, const Body& body) {
    if (count <= 0) return;
    const SerialOpenMPProducts serial;
    std::ptrdiff_t workers = threads < 1 ? 1 : threads;
    if (workers > count) workers = count;
    if (workers == 1) {
        for (std::ptrdiff_t i = 0; i < count; ++i) {
#if defined(EMBEDKIT_TEST_PARALLEL_HOOK)
            ::EMBEDKIT_TEST_PARALLEL_HOOK();
#endif
            body(i);
        }
        return;
    }
    std::exception_ptr error;
    std::mutex error_mutex;
    std::atomic<bool> failed{false};
    const auto run = [&](std::ptrdiff_t i) noexcept {
        if (failed.load(std::memory_order_relaxed)) return;
        try {
#if defined(EMBEDKIT_TEST_PARALLEL_HOOK)
            ::EMBEDKIT_TEST_PARALLEL_HOOK();
#endif
            body(i);
        } catch (...) {
            const std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            failed.store(true, std::memory_order_relaxed);
        }
    };
#if defined(EMBEDKIT_USE_OPENMP) && defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) num_threads(static_cast <int>(workers))
    for (std::ptrdiff_t i = 0; i < count; ++i) run(i);
#else
    std::atomic<std::ptrdiff_t> next{0};
    const auto work = [&]() noexcept {
        const SerialOpenMPProducts worker_serial;
        for (std::ptrdiff_t i = next.fetch_add(1, std::memory_order_relaxed); i < count;
             i = next.fetch_add(1, std::memory_order_relaxed))
            run(i);
    };
    std::vector<std::thread> pool;
    try {
        pool.reserve(static_cast<std::size_t>(workers - 1));
        for (std::ptrdiff_t w = 1; w < workers; ++w) pool.emplace_back(work);
    } catch (...) {
        // No memory or no thread (std::system_error): fewer threads share the same items.
    }
    work();
    for (std::thread& t : pool) t.join();
#endif
    if (error) std::rethrow_exception(error);
}

}  // namespace EMBEDKIT_THREADS_NAMESPACE
}  // namespace detail
}  // namespace embedkit
