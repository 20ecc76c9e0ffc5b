// Flush-to-zero for denormal floats on the calling thread: an RAII guard and a query.
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <xmmintrin.h>
#define EMBEDKIT_DENORMALS_X86 1
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define EMBEDKIT_DENORMALS_AARCH64 1
#endif

namespace embedkit {

namespace detail {

#if defined(EMBEDKIT_DENORMALS_X86)
// MXCSR bit 15 (FTZ: denormal results become zero) and bit 6 (DAZ: denormal inputs are read as
// zero); Intel SDM vol. 1, 10.2.3. SSE arithmetic (float and double) obeys them, x87 does not.
inline constexpr std::uint64_t flush_denormal_bits = 0x8000u | 0x0040u;
// Bits 0-5 are sticky exception flags (status, not mode).
inline constexpr std::uint64_t fp_status_bits = 0x3Fu;
inline std::uint64_t read_fp_control() noexcept { return _mm_getcsr(); }
inline void write_fp_control(std::uint64_t v) noexcept { _mm_setcsr(static_cast<unsigned>(v)); }
#elif defined(EMBEDKIT_DENORMALS_AARCH64)
// FPCR bit 24 (FZ): denormal inputs and results are flushed to zero (Arm ARM, C5.2.8).
inline constexpr std::uint64_t flush_denormal_bits = std::uint64_t(1) << 24;
inline constexpr std::uint64_t fp_status_bits = 0;  // the flags live in FPSR
inline std::uint64_t read_fp_control() noexcept {
    std::uint64_t v;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
    return v;
}
inline void write_fp_control(std::uint64_t v) noexcept {
    __asm__ __volatile__("msr fpcr, %0" : : "r"(v));
}
#else
inline constexpr std::uint64_t flush_denormal_bits = 0;
inline constexpr std::uint64_t fp_status_bits = 0;
inline std::uint64_t read_fp_control() noexcept { return 0; }
inline void write_fp_control(std::uint64_t) noexcept {}
#endif

}  // namespace detail

/// True when this thread flushes denormal floats to zero: on x86 both MXCSR's FTZ and DAZ
/// bits are set, on aarch64 FPCR's FZ bit. Always false on other targets.
inline bool denormals_flushed() noexcept {
    return detail::flush_denormal_bits != 0 &&
           (detail::read_fp_control() & detail::flush_denormal_bits) == detail::flush_denormal_bits;
}

/// While alive, denormal inputs and results of float and double arithmetic on the calling
/// thread are flushed to zero (x86: MXCSR FTZ + DAZ; aarch64: FPCR FZ; elsewhere nothing).
/// Denormals (|x| < 1.2e-38 in float) cost Intel cores a microcode assist of ~100 cycles per
/// operation; training drives Adam's moments and the gradients of always-zero inputs into
/// that range. The destructor restores the mode (every control bit: flushing, rounding,
/// exception masks) as it was at construction, also when unwinding, and undoes any change made
/// to it in between; exception flags raised meanwhile stay raised. Other threads (e.g. Eigen's,
/// if enabled) keep their own mode. Not copyable or movable: it belongs to a scope.
class ScopedFlushDenormals {
public:
    ScopedFlushDenormals() noexcept : saved_(detail::read_fp_control()) {
        detail::write_fp_control(saved_ | detail::flush_denormal_bits);
    }
    ~ScopedFlushDenormals() {
        const std::uint64_t flags = detail::read_fp_control() & detail::fp_status_bits;
        detail::write_fp_control((saved_ & ~detail::fp_status_bits) | flags);
    }
    ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
    ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

private:
    std::uint64_t saved_;
};

}  // namespace embedkit
