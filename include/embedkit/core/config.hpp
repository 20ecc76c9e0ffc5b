// Compiler, architecture and feature macros shared by every embedkit header.
#pragma once

#include <cassert>

// Architecture. EMBEDKIT_NO_SIMD (defined by the consumer) keeps only the scalar kernels.
#if !defined(EMBEDKIT_NO_SIMD) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__x86_64__) || defined(_M_X64))
#define EMBEDKIT_ARCH_X86 1
#else
#define EMBEDKIT_ARCH_X86 0
#endif

#if !defined(EMBEDKIT_NO_SIMD) && (defined(__aarch64__) || defined(_M_ARM64)) && defined(__ARM_NEON)
#define EMBEDKIT_ARCH_NEON 1
#else
#define EMBEDKIT_ARCH_NEON 0
#endif

// Per-function instruction-set targets: one binary carries every level and runs on any
// x86-64; the dispatcher picks the level at run time. Never a global -march.
#if EMBEDKIT_ARCH_X86
#define EMBEDKIT_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define EMBEDKIT_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define EMBEDKIT_TARGET_AVX2
#define EMBEDKIT_TARGET_AVX512
#endif

// Branch hint for paths that are taken on every call in the common configuration.
#if defined(__GNUC__) || defined(__clang__)
#define EMBEDKIT_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define EMBEDKIT_LIKELY(x) (x)
#endif

// Checks inside hot loops: active only in debug builds (NDEBUG unset).
#define EMBEDKIT_ASSERT(cond) assert(cond)

// Optional features. CMake defines these on the embedkit target when the dependency is
// found; a consumer who copies include/ defines them by hand (see README).
#ifndef EMBEDKIT_HAS_ZLIB
#define EMBEDKIT_HAS_ZLIB 0
#endif
#ifndef EMBEDKIT_HAS_PNG
#define EMBEDKIT_HAS_PNG 0
#endif
