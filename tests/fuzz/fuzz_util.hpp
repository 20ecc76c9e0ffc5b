// Helpers shared by the fuzz targets: a reader that turns the fuzzer's bytes into choices and
// values, and the one rule of every target: an embedkit::Error is an expected outcome,
// anything else (another exception, a crash, a sanitizer report, a broken invariant) is a bug.
#pragma once

#include <embedkit/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fuzz {

/// Takes choices and values from the front of the fuzzer's input; once the input is used up
/// every read returns 0, so any input (even an empty one) decodes to something.
class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : p_(data), left_(size) {}

    std::uint8_t byte() {
        if (left_ == 0) return 0;
        --left_;
        return *p_++;
    }
    std::uint16_t u16() { return static_cast<std::uint16_t>(byte() | (byte() << 8)); }
    std::uint32_t u32() { return std::uint32_t(u16()) | (std::uint32_t(u16()) << 16); }
    std::uint64_t u64() { return std::uint64_t(u32()) | (std::uint64_t(u32()) << 32); }
    /// A value in [lo, hi] (hi - lo < 65536).
    unsigned range(unsigned lo, unsigned hi) { return lo + u16() % (hi - lo + 1); }
    bool flag() { return byte() & 1; }
    template <class T>
    T bits() {
        static_assert(sizeof(T) == 4 || sizeof(T) == 8, "fuzz::Input::bits: float or double");
        T v;
        if constexpr (sizeof(T) == 4) {
            const std::uint32_t b = u32();
            std::memcpy(&v, &b, 4);
        } else {
            const std::uint64_t b = u64();
            std::memcpy(&v, &b, 8);
        }
        return v;
    }
    const std::uint8_t* rest() const { return p_; }
    std::size_t left() const { return left_; }

private:
    const std::uint8_t* p_;
    std::size_t left_;
};

/// Reports a broken invariant and aborts, so that libFuzzer (and the replay tests) fail.
[[noreturn]] inline void violated(const char* target, const char* what) {
    std::fprintf(stderr, "%s: invariant violated: %s\n", target, what);
    std::fflush(stderr);
    std::abort();
}

#define FUZZ_CHECK(target, cond)                      \
    do {                                              \
        if (!(cond)) ::fuzz::violated(target, #cond); \
    } while (0)

}  // namespace fuzz
