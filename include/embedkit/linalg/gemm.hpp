// embedkit::linalg::gemm: C = A B or C = A B^T for row-major float matrices, through the
// matrix-product kernels of PackedLinear at embedkit::simd's active level (AVX-512, AVX2+FMA or
// the portable kernel, whatever the build's -march). B is packed into panels on every call,
// in a buffer of the calling thread; for a matrix used many times, pack it once in a
// PackedLinear instead.
//
// Each element of C is one multiply-add chain over k in increasing order, so it depends only
// on its row of A and its column of B, never on m or on where the row sits; the avx2 and
// avx512 kernels give the same bits (fused multiply-adds), the portable kernel may differ in
// the last bits (fusing is the compiler's choice there).
#pragma once

#include "packed_linear.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace embedkit::linalg {

/// C (m x n, row stride ldc) = A (m x k, row stride lda) times B, where B is k x n (row stride
/// ldb) or, with `b_transposed`, n x k (row stride ldb) and C = A B^T. Any alignment; C must
/// not overlap A or B. No checks (strides must be at least the row lengths).
inline void gemm(Eigen::Index m, Eigen::Index n, Eigen::Index k, const float* a, Eigen::Index lda,
                 const float* b, Eigen::Index ldb, bool b_transposed, float* c, Eigen::Index ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (Eigen::Index i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
        return;
    }
    const Eigen::Index w = detail::panel_width;
    const Eigen::Index panels = (n + w - 1) / w;
    thread_local std::vector<float> packed, zeros;
    packed.resize(static_cast<std::size_t>(panels * w * k));
    if (zeros.size() < static_cast<std::size_t>((panels + 1) * w))
        zeros.assign(static_cast<std::size_t>((panels + 1) * w), 0.0f);
    if (b_transposed) {
        embedkit::detail::pack_panels(b, n, ldb, k, packed.data());
    } else {
        for (Eigen::Index p = 0; p < panels; ++p) {
            const Eigen::Index o0 = p * w, outs = std::min(w, n - o0);
            float* dst = packed.data() + p * w * k;
            for (Eigen::Index kk = 0; kk < k; ++kk) {
                const float* src = b + kk * ldb + o0;
                std::copy(src, src + outs, dst + kk * w);
                std::fill(dst + kk * w + outs, dst + (kk + 1) * w, 0.0f);
            }
        }
    }
    const simd::Level level = simd::active();
    const Eigen::Index block = detail::block_rows(k);
    for (Eigen::Index r0 = 0; r0 < m; r0 += block)
        detail::run_panels(level, packed.data(), k, n, 0, panels, zeros.data(), a + r0 * lda,
                           std::min(block, m - r0), lda, c + r0 * ldc, ldc);
}

namespace detail {

// out[c] = init[c] (or 0 without init) + sum over p in [begin, end) of values[p] x
// base[index[p] * stride + c], for c in [0, width): the sums of a sparse row times a dense
// matrix (Dense's input-sparse path). Each output is one chain over p in order.
inline void sparse_rows_portable(const float* init, const float* values, const std::uint32_t* index,
                                 std::uint32_t begin, std::uint32_t end, const float* base,
                                 Eigen::Index stride, float* out, Eigen::Index width) noexcept {
    for (Eigen::Index c = 0; c < width; ++c) out[c] = init != nullptr ? init[c] : 0.0f;
    for (std::uint32_t p = begin; p < end; ++p) {
        const float v = values[p];
        const float* row = base + static_cast<Eigen::Index>(index[p]) * stride;
        for (Eigen::Index c = 0; c < width; ++c) out[c] += v * row[c];
    }
}

#if EMBEDKIT_ARCH_X86
// AVX-512: 64 columns (four registers) per pass over the list, then 16 at a time, the last
// masked.
EMBEDKIT_TARGET_AVX512 inline void sparse_rows_avx512(const float* init, const float* values,
                                                      const std::uint32_t* index,
                                                      std::uint32_t begin, std::uint32_t end,
                                                      const float* base, Eigen::Index stride,
                                                      float* out, Eigen::Index width) noexcept {
    Eigen::Index c = 0;
    for (; c + 64 <= width; c += 64) {
        __m512 a0 = init ? _mm512_loadu_ps(init + c) : _mm512_setzero_ps();
        __m512 a1 = init ? _mm512_loadu_ps(init + c + 16) : _mm512_setzero_ps();
        __m512 a2 = init ? _mm512_loadu_ps(init + c + 32) : _mm512_setzero_ps();
        __m512 a3 = init ? _mm512_loadu_ps(init + c + 48) : _mm512_setzero_ps();
        for (std::uint32_t p = begin; p < end; ++p) {
            const __m512 v = _mm512_set1_ps(values[p]);
            const float* row = base + static_cast<Eigen::Index>(index[p]) * stride + c;
            a0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(row), a0);
            a1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(row + 16), a1);
            a2 = _mm512_fmadd_ps(v, _mm512_loadu_ps(row + 32), a2);
            a3 = _mm512_fmadd_ps(v, _mm512_loadu_ps(row + 48), a3);
        }
        _mm512_storeu_ps(out + c, a0);
        _mm512_storeu_ps(out + c + 16, a1);
        _mm512_storeu_ps(out + c + 32, a2);
        _mm512_storeu_ps(out + c + 48, a3);
    }
    for (; c < width; c += 16) {
        const Eigen::Index left = std::min<Eigen::Index>(16, width - c);
        const auto m = static_cast<__mmask16>(left == 16 ? 0xFFFFu : (1u << left) - 1u);
        __m512 a = init ? _mm512_maskz_loadu_ps(m, init + c) : _mm512_setzero_ps();
        for (std::uint32_t p = begin; p < end; ++p) {
            const float* row = base + static_cast<Eigen::Index>(index[p]) * stride + c;
            a = _mm512_fmadd_ps(_mm512_set1_ps(values[p]), _mm512_maskz_loadu_ps(m, row), a);
        }
        _mm512_mask_storeu_ps(out + c, m, a);
    }
}

// AVX2+FMA: 32 columns per pass, the last columns through the portable loop.
EMBEDKIT_TARGET_AVX2 inline void sparse_rows_avx2(const float* init, const float* values,
                                                  const std::uint32_t* index, std::uint32_t begin,
                                                  std::uint32_t end, const float* base,
                                                  Eigen::Index stride, float* out,
                                                  Eigen::Index width) noexcept {
    Eigen::Index c = 0;
    for (; c + 32 <= width; c += 32) {
        __m256 a0 = init ? _mm256_loadu_ps(init + c) : _mm256_setzero_ps();
        __m256 a1 = init ? _mm256_loadu_ps(init + c + 8) : _mm256_setzero_ps();
        __m256 a2 = init ? _mm256_loadu_ps(init + c + 16) : _mm256_setzero_ps();
        __m256 a3 = init ? _mm256_loadu_ps(init + c + 24) : _mm256_setzero_ps();
        for (std::uint32_t p = begin; p < end; ++p) {
            const __m256 v = _mm256_set1_ps(values[p]);
            const float* row = base + static_cast<Eigen::Index>(index[p]) * stride + c;
            a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(row), a0);
            a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(row + 8), a1);
            a2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(row + 16), a2);
            a3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(row + 24), a3);
        }
        _mm256_storeu_ps(out + c, a0);
        _mm256_storeu_ps(out + c + 8, a1);
        _mm256_storeu_ps(out + c + 16, a2);
        _mm256_storeu_ps(out + c + 24, a3);
    }
    if (c < width)
        sparse_rows_portable(init ? init + c : nullptr, values, index, begin, end, base + c, stride,
                             out + c, width - c);
}
#endif

using SparseRowsFn = void (*)(const float*, const float*, const std::uint32_t*, std::uint32_t,
                              std::uint32_t, const float*, Eigen::Index, float*,
                              Eigen::Index) noexcept;

// The kernel of `level` (AVX-512, AVX2+FMA, or the portable loop).
inline SparseRowsFn sparse_rows_kernel([[maybe_unused]] simd::Level level) noexcept {
#if EMBEDKIT_ARCH_X86
    if (level == simd::Level::avx512) return &sparse_rows_avx512;
    if (level == simd::Level::avx2) return &sparse_rows_avx2;
#endif
    return &sparse_rows_portable;
}

}  // namespace detail

}  // namespace embedkit::linalg
