// embedkit::linalg::gemm: C = A B or C = A B^T for row-major float matrices, through the
// matrix-product kernels of PackedLinear at embedkit::simd's active level (AVX-512, AVX2+FMA or
// the portable kernel, whatever the build's -march). B is packed into panels on every call,
// in a buffer of the calling thread; for a matrix used many times, pack it once in a
// PackedLinear instead.
//
// Each element of C is one multiply-add chain over k in increasing order, so it depends only
// on its row of A and its column of B: never on the level, on m, or on where the row sits.
#pragma once

#include "packed_linear.hpp"

#include <Eigen/Core>

#include <algorithm>
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

}  // namespace embedkit::linalg
