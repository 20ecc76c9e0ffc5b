// Rng: the one source of randomness in embedkit, seeded explicitly and reproducible everywhere.
#pragma once

#include "error.hpp"

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace embedkit {

/// A seeded pseudo-random generator with its own uniform and normal transforms.
///
/// The engine is xoshiro256** (Blackman & Vigna, 2018), seeded through SplitMix64 so that
/// nearby seeds give unrelated streams. The transforms to uniform and normal numbers are our
/// own (not std::*_distribution, whose algorithms differ between standard libraries), so a
/// seed gives the same numbers with libstdc++, libc++ and MSVC. The normal transform is
/// Marsaglia's polar method; it uses only sqrt (exactly rounded) and log.
///
/// The whole state is four 64-bit words (`state()` / `set_state()`), which is what a training
/// checkpoint stores to resume exactly where it stopped.
class Rng {
public:
    using State = std::array<std::uint64_t, 4>;

    /// Seeds the generator; equal seeds give equal streams.
    explicit Rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

    /// Restarts the stream from `seed`.
    void reseed(std::uint64_t seed) noexcept {
        std::uint64_t x = seed;
        for (auto& word : s_) word = splitmix64(x);
    }

    /// The next raw 64-bit value.
    std::uint64_t next_u64() noexcept {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    /// Uniform double in [0, 1) with 53 random bits.
    double uniform() noexcept { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

    /// Uniform double in [lo, hi).
    double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }

    /// Uniform integer in [0, n), without modulo bias (Lemire's multiply-and-reject).
    /// Throws ArgumentError when n is 0.
    std::uint64_t uniform_index(std::uint64_t n) {
        if (n == 0) throw ArgumentError("embedkit::Rng::uniform_index: n must be positive, got 0");
        return bounded(n);
    }

    /// Standard normal N(0, 1), Marsaglia's polar method (one value per call; the partner
    /// value is discarded so that the state stays four words).
    double normal() noexcept {
        for (;;) {
            const double u = 2.0 * uniform() - 1.0;
            const double v = 2.0 * uniform() - 1.0;
            const double s = u * u + v * v;
            if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * std::log(s) / s);
        }
    }

    /// Normal with the given mean and standard deviation.
    double normal(double mean, double stddev) noexcept { return mean + stddev * normal(); }

    /// Shuffles `v` in place (Fisher-Yates, drawing from this generator).
    template <class T>
    void shuffle(std::vector<T>& v) noexcept {
        for (std::size_t i = v.size(); i > 1; --i) {
            const std::size_t j = static_cast<std::size_t>(bounded(i));
            std::swap(v[i - 1], v[j]);
        }
    }

    /// The full generator state, for checkpoints.
    const State& state() const noexcept { return s_; }

    /// Restores a state from `state()`. Throws ArgumentError for the all-zero state, which
    /// xoshiro256** can never leave (and so never produces).
    void set_state(const State& s) {
        if ((s[0] | s[1] | s[2] | s[3]) == 0)
            throw ArgumentError("embedkit::Rng::set_state: the all-zero state is invalid");
        s_ = s;
    }

    friend bool operator==(const Rng& a, const Rng& b) noexcept { return a.s_ == b.s_; }
    friend bool operator!=(const Rng& a, const Rng& b) noexcept { return !(a == b); }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) noexcept {
        return (x << k) | (x >> (64 - k));
    }

    static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
        std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    // Lemire (2019), "Fast random integer generation in an interval": the high word of a
    // 64x64 product is uniform once the few low-word values that would bias it are rejected.
    std::uint64_t bounded(std::uint64_t n) noexcept {
#if defined(__SIZEOF_INT128__)
        __extension__ typedef unsigned __int128 u128;  // __extension__: no -Wpedantic warning
        u128 m = static_cast<u128>(next_u64()) * n;
        std::uint64_t low = static_cast<std::uint64_t>(m);
        if (low < n) {
            const std::uint64_t threshold = (0 - n) % n;
            while (low < threshold) {
                m = static_cast<u128>(next_u64()) * n;
                low = static_cast<std::uint64_t>(m);
            }
        }
        return static_cast<std::uint64_t>(m >> 64);
#else
        const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        std::uint64_t x;
        do {
            x = next_u64();
        } while (x >= limit);
        return x % n;
#endif
    }

    State s_{};
};

}  // namespace embedkit
