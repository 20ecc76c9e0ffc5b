// CPU feature detection: CPUID + XCR0 on x86-64, baseline NEON on aarch64.
#pragma once

#include "../core/config.hpp"

#if EMBEDKIT_ARCH_X86
#include <cpuid.h>
#endif

#include <cstdint>

namespace embedkit {

/// What the running CPU and operating system can execute.
struct CpuFeatures {
    bool avx2 = false;             ///< AVX2 and FMA, with the OS saving YMM state
    bool avx512f = false;          ///< AVX-512F, with the OS saving ZMM and opmask state
    bool avx512vpopcntdq = false;  ///< AVX-512 VPOPCNTDQ (bit counts of 64-bit lanes), with avx512f
    bool avx512vnni = false;  ///< AVX-512 VNNI (byte dot products into 32-bit lanes), with avx512f
    bool f16c = false;        ///< F16C (half <-> float conversion), with the OS saving YMM state
    bool popcnt = false;      ///< POPCNT
    bool neon = false;        ///< Advanced SIMD (always on aarch64)
    bool avx512bf16 = false;  ///< AVX-512 BF16 (bf16 pair dot products into float), with avx512f
};

namespace detail {

#if EMBEDKIT_ARCH_X86
// XGETBV through inline asm rather than _xgetbv(), which needs -mxsave on the caller.
inline std::uint64_t read_xcr0() noexcept {
    std::uint32_t lo = 0;
    std::uint32_t hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

inline CpuFeatures detect_cpu() noexcept {
    CpuFeatures f;
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    const bool fma = (ecx >> 12) & 1u;
    const bool osxsave = (ecx >> 27) & 1u;
    const bool avx = (ecx >> 28) & 1u;
    const bool f16c = (ecx >> 29) & 1u;
    f.popcnt = (ecx >> 23) & 1u;
    if (!osxsave || !avx) return f;
    const std::uint64_t xcr0 = read_xcr0();
    // Bits 1-2: the OS saves XMM and YMM state; bits 5-7: opmask, ZMM0-15 high, ZMM16-31.
    const bool os_ymm = (xcr0 & 0x6u) == 0x6u;
    const bool os_zmm = (xcr0 & 0xE6u) == 0xE6u;
    const unsigned max_leaf = static_cast<unsigned>(__get_cpuid_max(0, nullptr));
    if (max_leaf < 7) return f;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    const unsigned max_subleaf = eax;
    const bool avx2 = (ebx >> 5) & 1u;
    const bool avx512f = (ebx >> 16) & 1u;
    f.avx2 = os_ymm && avx2 && fma;
    f.f16c = os_ymm && f16c;
    f.avx512f = os_zmm && avx512f && f.avx2;
    f.avx512vpopcntdq = f.avx512f && ((ecx >> 14) & 1u);
    f.avx512vnni = f.avx512f && ((ecx >> 11) & 1u);
    if (max_subleaf >= 1) {
        __cpuid_count(7, 1, eax, ebx, ecx, edx);
        f.avx512bf16 = f.avx512f && ((eax >> 5) & 1u);
    }
    return f;
}
#else
inline CpuFeatures detect_cpu() noexcept {
    CpuFeatures f;
    f.neon = EMBEDKIT_ARCH_NEON != 0;
    return f;
}
#endif

}  // namespace detail

/// The features of this CPU, detected once (thread-safe) and cached.
inline const CpuFeatures& cpu_features() noexcept {
    static const CpuFeatures features = detail::detect_cpu();
    return features;
}

}  // namespace embedkit
