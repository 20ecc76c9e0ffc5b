// A profiler hook: the training code marks its phases (matrix products, activations, loss,
// optimiser steps, the rest), and a caller that wants the breakdown (the training benchmark)
// collects the seconds per phase on its own thread. Nothing is timed unless a collector is
// active on the calling thread; then each phase costs two clock reads.
#pragma once

#include <chrono>

namespace embedkit::profile {

/// Seconds spent per phase of training, summed over the phases timed while collecting.
struct Timings {
    double gemm = 0;        ///< matrix products (forward, weight and input gradients)
    double activation = 0;  ///< activation functions, their derivatives, bias adds and sums
    double loss = 0;        ///< loss values and their gradients, sampling
    double optimizer = 0;   ///< optimiser steps
    double other = 0;       ///< batch gathering and the rest of the loop

    double total() const noexcept { return gemm + activation + loss + optimizer + other; }
    void reset() noexcept { *this = Timings{}; }
};

/// The phases the library marks.
enum class Phase { gemm, activation, loss, optimizer, other };

namespace detail {

// The calling thread's collector (null: not collecting). The same code in every translation
// unit, whatever its flags, so the hook adds no ODR hazard.
inline Timings*& current_timings() noexcept {
    thread_local Timings* timings = nullptr;
    return timings;
}

inline double* phase_slot(Timings* t, Phase p) noexcept {
    if (!t) return nullptr;
    switch (p) {
        case Phase::gemm:
            return &t->gemm;
        case Phase::activation:
            return &t->activation;
        case Phase::loss:
            return &t->loss;
        case Phase::optimizer:
            return &t->optimizer;
        case Phase::other:
            return &t->other;
    }
    return nullptr;
}

}  // namespace detail

/// Adds the seconds of the calling thread's marked phases to `timings` from construction to
/// destruction (nested collectors restore the outer one). Work that other threads do for the
/// caller (OpenMP workers) is not split by phase.
class Collect {
public:
    explicit Collect(Timings& timings) noexcept : previous_(detail::current_timings()) {
        detail::current_timings() = &timings;
    }
    Collect(const Collect&) = delete;
    Collect& operator=(const Collect&) = delete;
    ~Collect() { detail::current_timings() = previous_; }

private:
    Timings* previous_;
};

/// Stops collecting on the calling thread until destroyed (the fit loop pauses around
/// validation, which is not training time).
class Pause {
public:
    Pause() noexcept : previous_(detail::current_timings()) { detail::current_timings() = nullptr; }
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;
    ~Pause() { detail::current_timings() = previous_; }

private:
    Timings* previous_;
};

/// Marks one phase: from construction to destruction, the time counts as `phase` when a
/// Collect is active on this thread.
class Scope {
public:
    explicit Scope(Phase phase) noexcept
        : slot_(detail::phase_slot(detail::current_timings(), phase)) {
        if (slot_) start_ = std::chrono::steady_clock::now();
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() {
        if (slot_)
            *slot_ +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    double* slot_;
    std::chrono::steady_clock::time_point start_{};
};

}  // namespace embedkit::profile
