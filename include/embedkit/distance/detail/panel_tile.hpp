// The matrix-product micro-kernel that linalg::PackedLinear and the float top_k share: R rows of
// x (1 to 6) times one panel of 16 packed columns, the 6 x 16 results in registers, handed to
// the caller's epilogue row by row (PackedLinear adds the bias and stores; top_k compares with
// each query's current k-th score and touches its lists only for candidates that pass).
//
// Panel layout: a matrix of n rows (k values each) is cut into panels of 16 rows; panel p
// holds, for kk = 0 .. k-1 in turn, the 16 values m[16p + j][kk] (j = 0 .. 15), zero past n.
// Each result is one multiply-add chain over kk in increasing order (one FMA per kk), so it
// depends only on its own row of x and column of the panel, never on R, on the row's place in
// a batch or on the other columns.
#pragma once

#include "../../core/config.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>

#if EMBEDKIT_ARCH_X86
#include <immintrin.h>
#endif

namespace embedkit::detail {

inline constexpr Eigen::Index panel_width = 16;  // columns per packed panel
inline constexpr Eigen::Index panel_rows = 6;    // rows of x per micro-kernel call

// Packs rows [0, n) of a row-major n x k matrix (row stride ld) into (n + 15) / 16 panels at
// dst, which holds (n + 15) / 16 * 16 * k floats.
inline void pack_panels(const float* m, Eigen::Index n, Eigen::Index ld, Eigen::Index k,
                        float* dst) noexcept {
    if (k == 0) return;
    const Eigen::Index panels = (n + panel_width - 1) / panel_width;
    std::fill(dst, dst + panels * panel_width * k, 0.0f);
    for (Eigen::Index o = 0; o < n; ++o) {
        float* d = dst + (o / panel_width) * panel_width * k + (o % panel_width);
        const float* src = m + o * ld;
        for (Eigen::Index kk = 0; kk < k; ++kk) d[kk * panel_width] = src[kk];
    }
}

#if EMBEDKIT_ARCH_X86
// R rows of x (row stride ldx) times one panel over k values; then out(r, lo, hi) for r = 0 ..
// R-1 in order, lo and hi holding the results of columns 0-7 and 8-15. `out` must be callable
// from AVX2 code (a class whose call operator is EMBEDKIT_TARGET_AVX2). Accumulators are named
// variables, not arrays: GCC keeps an array of __m256 in memory and stores it on every
// iteration, which halves the speed.
template <int R, class Out>
EMBEDKIT_TARGET_AVX2 inline void panel_tile_avx2(const float* x, Eigen::Index ldx,
                                                 const float* panel, Eigen::Index k,
                                                 Out& out) noexcept {
    static_assert(R >= 1 && R <= 6, "1 to 6 rows");
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    // Rows past R point at row 0 (never read): no pointer past the caller's rows is formed.
    const float* x0 = x;
    const float* x1 = R > 1 ? x + ldx : x;
    const float* x2 = R > 2 ? x + 2 * ldx : x;
    const float* x3 = R > 3 ? x + 3 * ldx : x;
    const float* x4 = R > 4 ? x + 4 * ldx : x;
    const float* x5 = R > 5 ? x + 5 * ldx : x;
#pragma GCC unroll 4
    for (Eigen::Index kk = 0; kk < k; ++kk) {
        const __m256 b0 = _mm256_loadu_ps(panel + kk * panel_width);
        const __m256 b1 = _mm256_loadu_ps(panel + kk * panel_width + 8);
        __m256 a = _mm256_broadcast_ss(x0 + kk);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        if constexpr (R > 1) {
            a = _mm256_broadcast_ss(x1 + kk);
            c10 = _mm256_fmadd_ps(a, b0, c10);
            c11 = _mm256_fmadd_ps(a, b1, c11);
        }
        if constexpr (R > 2) {
            a = _mm256_broadcast_ss(x2 + kk);
            c20 = _mm256_fmadd_ps(a, b0, c20);
            c21 = _mm256_fmadd_ps(a, b1, c21);
        }
        if constexpr (R > 3) {
            a = _mm256_broadcast_ss(x3 + kk);
            c30 = _mm256_fmadd_ps(a, b0, c30);
            c31 = _mm256_fmadd_ps(a, b1, c31);
        }
        if constexpr (R > 4) {
            a = _mm256_broadcast_ss(x4 + kk);
            c40 = _mm256_fmadd_ps(a, b0, c40);
            c41 = _mm256_fmadd_ps(a, b1, c41);
        }
        if constexpr (R > 5) {
            a = _mm256_broadcast_ss(x5 + kk);
            c50 = _mm256_fmadd_ps(a, b0, c50);
            c51 = _mm256_fmadd_ps(a, b1, c51);
        }
    }
    out(0, c00, c01);
    if constexpr (R > 1) out(1, c10, c11);
    if constexpr (R > 2) out(2, c20, c21);
    if constexpr (R > 3) out(3, c30, c31);
    if constexpr (R > 4) out(4, c40, c41);
    if constexpr (R > 5) out(5, c50, c51);
}

// The AVX-512 micro-kernel: R rows of x (1 to 12) times two panels (32 columns: panel0's 16,
// then panel1's), 24 accumulators of 16 floats; then out(r, lo, hi) for r = 0 .. R-1, lo
// holding panel0's columns and hi panel1's. Each result is the same FMA chain over kk as in
// panel_tile_avx2, so both kernels give the same bits. `out` must be callable from AVX-512 code.
template <int R, class Out>
EMBEDKIT_TARGET_AVX512 inline void panel_tile_avx512(const float* x, Eigen::Index ldx,
                                                     const float* panel0, const float* panel1,
                                                     Eigen::Index k, Out& out) noexcept {
    static_assert(R >= 1 && R <= 12, "1 to 12 rows");
    __m512 c0a = _mm512_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a,
           c3a = c0a, c3b = c0a;
    __m512 c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a, c6a = c0a, c6b = c0a, c7a = c0a, c7b = c0a;
    __m512 c8a = c0a, c8b = c0a, c9a = c0a, c9b = c0a, c10a = c0a, c10b = c0a, c11a = c0a,
           c11b = c0a;
    const float* x0 = x;
    const float* x1 = R > 1 ? x + 1 * ldx : x;
    const float* x2 = R > 2 ? x + 2 * ldx : x;
    const float* x3 = R > 3 ? x + 3 * ldx : x;
    const float* x4 = R > 4 ? x + 4 * ldx : x;
    const float* x5 = R > 5 ? x + 5 * ldx : x;
    const float* x6 = R > 6 ? x + 6 * ldx : x;
    const float* x7 = R > 7 ? x + 7 * ldx : x;
    const float* x8 = R > 8 ? x + 8 * ldx : x;
    const float* x9 = R > 9 ? x + 9 * ldx : x;
    const float* x10 = R > 10 ? x + 10 * ldx : x;
    const float* x11 = R > 11 ? x + 11 * ldx : x;
#pragma GCC unroll 2
    for (Eigen::Index kk = 0; kk < k; ++kk) {
        const __m512 b0 = _mm512_loadu_ps(panel0 + kk * panel_width);
        const __m512 b1 = _mm512_loadu_ps(panel1 + kk * panel_width);
        const __m512 a0 = _mm512_set1_ps(x0[kk]);
        c0a = _mm512_fmadd_ps(a0, b0, c0a);
        c0b = _mm512_fmadd_ps(a0, b1, c0b);
        if constexpr (R > 1) {
            const __m512 a1 = _mm512_set1_ps(x1[kk]);
            c1a = _mm512_fmadd_ps(a1, b0, c1a);
            c1b = _mm512_fmadd_ps(a1, b1, c1b);
        }
        if constexpr (R > 2) {
            const __m512 a2 = _mm512_set1_ps(x2[kk]);
            c2a = _mm512_fmadd_ps(a2, b0, c2a);
            c2b = _mm512_fmadd_ps(a2, b1, c2b);
        }
        if constexpr (R > 3) {
            const __m512 a3 = _mm512_set1_ps(x3[kk]);
            c3a = _mm512_fmadd_ps(a3, b0, c3a);
            c3b = _mm512_fmadd_ps(a3, b1, c3b);
        }
        if constexpr (R > 4) {
            const __m512 a4 = _mm512_set1_ps(x4[kk]);
            c4a = _mm512_fmadd_ps(a4, b0, c4a);
            c4b = _mm512_fmadd_ps(a4, b1, c4b);
        }
        if constexpr (R > 5) {
            const __m512 a5 = _mm512_set1_ps(x5[kk]);
            c5a = _mm512_fmadd_ps(a5, b0, c5a);
            c5b = _mm512_fmadd_ps(a5, b1, c5b);
        }
        if constexpr (R > 6) {
            const __m512 a6 = _mm512_set1_ps(x6[kk]);
            c6a = _mm512_fmadd_ps(a6, b0, c6a);
            c6b = _mm512_fmadd_ps(a6, b1, c6b);
        }
        if constexpr (R > 7) {
            const __m512 a7 = _mm512_set1_ps(x7[kk]);
            c7a = _mm512_fmadd_ps(a7, b0, c7a);
            c7b = _mm512_fmadd_ps(a7, b1, c7b);
        }
        if constexpr (R > 8) {
            const __m512 a8 = _mm512_set1_ps(x8[kk]);
            c8a = _mm512_fmadd_ps(a8, b0, c8a);
            c8b = _mm512_fmadd_ps(a8, b1, c8b);
        }
        if constexpr (R > 9) {
            const __m512 a9 = _mm512_set1_ps(x9[kk]);
            c9a = _mm512_fmadd_ps(a9, b0, c9a);
            c9b = _mm512_fmadd_ps(a9, b1, c9b);
        }
        if constexpr (R > 10) {
            const __m512 a10 = _mm512_set1_ps(x10[kk]);
            c10a = _mm512_fmadd_ps(a10, b0, c10a);
            c10b = _mm512_fmadd_ps(a10, b1, c10b);
        }
        if constexpr (R > 11) {
            const __m512 a11 = _mm512_set1_ps(x11[kk]);
            c11a = _mm512_fmadd_ps(a11, b0, c11a);
            c11b = _mm512_fmadd_ps(a11, b1, c11b);
        }
    }
    out(0, c0a, c0b);
    if constexpr (R > 1) out(1, c1a, c1b);
    if constexpr (R > 2) out(2, c2a, c2b);
    if constexpr (R > 3) out(3, c3a, c3b);
    if constexpr (R > 4) out(4, c4a, c4b);
    if constexpr (R > 5) out(5, c5a, c5b);
    if constexpr (R > 6) out(6, c6a, c6b);
    if constexpr (R > 7) out(7, c7a, c7b);
    if constexpr (R > 8) out(8, c8a, c8b);
    if constexpr (R > 9) out(9, c9a, c9b);
    if constexpr (R > 10) out(10, c10a, c10b);
    if constexpr (R > 11) out(11, c11a, c11b);
}
#endif

}  // namespace embedkit::detail
