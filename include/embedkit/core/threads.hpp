// The run-time thread count of the search and batch functions (top_k, distances, pairwise).
#pragma once

#include "error.hpp"

#include <atomic>
#include <string>
#include <thread>

#if defined(EMBEDKIT_USE_OPENMP) && defined(_OPENMP)
#include <omp.h>
#endif

// The functions whose bodies depend on the OpenMP flags (the default thread count, the
// parallel loop) live in an inline namespace named after those flags, as the SIMD pair
// functions do after their level: translation units built with and without -fopenmp or
// EMBEDKIT_USE_OPENMP each keep their own copies instead of sharing one the linker picked
// (an ODR violation; the loop's guard object even changes its layout with _OPENMP).
#if defined(EMBEDKIT_USE_OPENMP) && defined(_OPENMP)
#define EMBEDKIT_THREADS_NAMESPACE threads_openmp
#elif defined(_OPENMP)
#define EMBEDKIT_THREADS_NAMESPACE threads_own_openmp_build
#else
#define EMBEDKIT_THREADS_NAMESPACE threads_own
#endif

namespace embedkit {

/// The largest thread count set_num_threads accepts: a guard against a count read from a
/// config file or a negative number cast to unsigned, not a tuning limit.
inline constexpr int max_num_threads = 1024;

namespace detail {

// The setting: 0 = the default (see num_threads). Constant-initialised, so reading it costs one
// load and no initialisation guard. A program-wide setting, like omp_set_num_threads: the calls
// that use threads read it once at their start.
inline std::atomic<int>& thread_setting() noexcept {
    static std::atomic<int> setting{0};
    return setting;
}

}  // namespace detail

/// Sets how many threads top_k, distances and pairwise may use from now on, in every thread
/// of the program: n >= 1 uses at most n, 0 restores the default (see num_threads()).
/// Results are bit-identical for every thread count. Throws ArgumentError outside
/// [0, max_num_threads].
inline void set_num_threads(int n) {
    if (n < 0 || n > max_num_threads)
        throw ArgumentError(
            "embedkit::set_num_threads: the thread count must be from 0 (the "
            "default) to " +
            std::to_string(max_num_threads) + ", got " + std::to_string(n));
    detail::thread_setting().store(n, std::memory_order_relaxed);
}

inline namespace EMBEDKIT_THREADS_NAMESPACE {

/// The default thread count: with EMBEDKIT_USE_OPENMP and OpenMP, omp_get_max_threads() (so
/// OMP_NUM_THREADS applies); otherwise std::thread::hardware_concurrency() (1 if unknown).
inline int hardware_threads() noexcept {
#if defined(EMBEDKIT_USE_OPENMP) && defined(_OPENMP)
    const int n = omp_get_max_threads();
#else
    const int n = static_cast<int>(std::thread::hardware_concurrency());
#endif
    return n < 1 ? 1 : (n > max_num_threads ? max_num_threads : n);
}

/// The most threads the next call of top_k, distances or pairwise will use: the count given to
/// set_num_threads; while it is 0 (the default), hardware_threads() in a program built with
/// EMBEDKIT_USE_OPENMP and OpenMP (the user opted into threads), and 1 otherwise: the library
/// starts no threads of its own unless asked (set_num_threads(hardware_threads()) uses every
/// core).
inline int num_threads() noexcept {
    const int n = detail::thread_setting().load(std::memory_order_relaxed);
    if (n > 0) return n;
#if defined(EMBEDKIT_USE_OPENMP) && defined(_OPENMP)
    return hardware_threads();
#else
    return 1;
#endif
}

}  // namespace EMBEDKIT_THREADS_NAMESPACE

}  // namespace embedkit
