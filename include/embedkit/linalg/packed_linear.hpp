// embedkit::linalg::PackedLinear: the weights of a linear layer y = x W^T + b packed once for a
// matrix-product kernel chosen at run time (AVX2+FMA where the CPU has it, whatever the build's
// -march), and the product itself.
//
// Why not Eigen's product: Eigen chooses its instruction set when the user's program is
// compiled (SSE2 without -march), packs both operands on every call, and reaches about 75 % of
// one core's FMA peak on the encoder's shapes here; this kernel packs the weights once and
// follows embedkit::simd's run-time level like the distance kernels.
//
// Layout of the packed weights: the N outputs are cut into panels of 16; panel p holds, for
// k = 0 .. K-1 in turn, the 16 values W[16p + j][k] (j = 0 .. 15), zero past N. The kernel
// takes 6 rows of x at a time against one panel: 12 accumulators of 8 floats, each output the
// sum over k in increasing order (one FMA per k and output), so an output depends only on its
// own row of x and column of W: never on the number of rows or their position in the batch.
#pragma once

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/types.hpp"
#include "../distance/dispatch.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#if EMBEDKIT_ARCH_X86
#include <immintrin.h>
#endif

namespace embedkit::linalg {

namespace detail {

inline constexpr Eigen::Index panel_width = 16;  // outputs per packed panel
inline constexpr Eigen::Index micro_rows = 6;    // rows of x per kernel call

// Rows of x per block, so a block of x (rows x K floats) stays in a core's L2 cache while
// every panel of W passes over it.
inline Eigen::Index block_rows(Eigen::Index k) noexcept {
    const Eigen::Index budget = 160 * 1024 / static_cast<Eigen::Index>(sizeof(float));
    const Eigen::Index rows = budget / std::max<Eigen::Index>(k, 1);
    return std::max(micro_rows, rows / micro_rows * micro_rows);
}

// y[r][0 .. n) = x[r] . panel + bias, for R rows; n <= 16 valid outputs of the panel. Portable
// C++ (the compiler vectorises it at the build's own level); the same order of operations per
// output as the SIMD kernel, except that it may not fuse multiply and add.
template <int R>
inline void panel_generic(const float* x, Eigen::Index ldx, const float* panel, Eigen::Index k,
                          const float* bias, Eigen::Index n, float* y, Eigen::Index ldy) noexcept {
    float acc[R][16] = {};
    for (Eigen::Index kk = 0; kk < k; ++kk) {
        const float* b = panel + kk * panel_width;
        for (int r = 0; r < R; ++r) {
            const float a = x[r * ldx + kk];
            for (int j = 0; j < 16; ++j) acc[r][j] += a * b[j];
        }
    }
    for (int r = 0; r < R; ++r)
        for (Eigen::Index j = 0; j < n; ++j) y[r * ldy + j] = acc[r][j] + bias[j];
}

#if EMBEDKIT_ARCH_X86
// Accumulators are named variables, not arrays: GCC keeps an array of __m256 in memory and
// stores it on every iteration, which halves the speed.
template <int R>
EMBEDKIT_TARGET_AVX2 inline void panel_avx2(const float* x, Eigen::Index ldx, const float* panel,
                                            Eigen::Index k, const float* bias, Eigen::Index n,
                                            float* y, Eigen::Index ldy) noexcept {
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
    const __m256 bias0 = _mm256_loadu_ps(bias);
    const __m256 bias1 = _mm256_loadu_ps(bias + 8);
    const __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                              {c30, c31}, {c40, c41}, {c50, c51}};
    alignas(32) float tile[16];
    for (int r = 0; r < R; ++r) {
        const __m256 lo = _mm256_add_ps(acc[r][0], bias0);
        const __m256 hi = _mm256_add_ps(acc[r][1], bias1);
        if (n == panel_width) {
            _mm256_storeu_ps(y + r * ldy, lo);
            _mm256_storeu_ps(y + r * ldy + 8, hi);
        } else {
            _mm256_store_ps(tile, lo);
            _mm256_store_ps(tile + 8, hi);
            std::memcpy(y + r * ldy, tile, static_cast<std::size_t>(n) * sizeof(float));
        }
    }
}
#endif

using PanelFn = void (*)(const float*, Eigen::Index, const float*, Eigen::Index, const float*,
                         Eigen::Index, float*, Eigen::Index) noexcept;

struct PanelKernels {
    PanelFn rows[micro_rows + 1];  // rows[r]: r rows at once (rows[0] unused)
};

inline const PanelKernels& panel_kernels(simd::Level level) noexcept {
    static const PanelKernels generic = {{nullptr, &panel_generic<1>, &panel_generic<2>,
                                          &panel_generic<3>, &panel_generic<4>, &panel_generic<5>,
                                          &panel_generic<6>}};
#if EMBEDKIT_ARCH_X86
    static const PanelKernels avx2 = {{nullptr, &panel_avx2<1>, &panel_avx2<2>, &panel_avx2<3>,
                                       &panel_avx2<4>, &panel_avx2<5>, &panel_avx2<6>}};
    if (level == simd::Level::avx2 || level == simd::Level::avx512) return avx2;
#endif
    (void)level;
    return generic;
}

}  // namespace detail

/// A linear layer's weight [out, in] (PyTorch's layout: row-major, one row per output) and
/// bias, packed for apply(). Immutable after construction; apply() is const and thread-safe.
class PackedLinear {
public:
    PackedLinear() = default;

    /// Packs `weight` ([out, in], row-major) and `bias` (out values). Throws DimensionError if
    /// the bias has another length than weight.rows().
    PackedLinear(const RowMatrixF& weight, const VectorF& bias)
        : in_(weight.cols()), out_(weight.rows()) {
        if (bias.size() != weight.rows())
            throw DimensionError("embedkit::linalg::PackedLinear: the bias has " +
                                 std::to_string(bias.size()) + " values, the weight " +
                                 std::to_string(weight.rows()) + " rows");
        const Eigen::Index w = detail::panel_width;
        const Eigen::Index panels = (out_ + w - 1) / w;
        packed_.assign(static_cast<std::size_t>(panels * w * in_), 0.0f);
        bias_.assign(static_cast<std::size_t>(panels * w), 0.0f);
        for (Eigen::Index o = 0; o < out_; ++o) {
            float* dst = packed_.data() + (o / w) * w * in_ + (o % w);
            for (Eigen::Index k = 0; k < in_; ++k) dst[k * w] = weight(o, k);
            bias_[static_cast<std::size_t>(o)] = bias(o);
        }
    }

    Eigen::Index in() const noexcept { return in_; }
    Eigen::Index out() const noexcept { return out_; }

    /// The weight as given, unpacked: [out, in] row-major.
    RowMatrixF weight() const {
        RowMatrixF m(out_, in_);
        const Eigen::Index w = detail::panel_width;
        for (Eigen::Index o = 0; o < out_; ++o)
            for (Eigen::Index k = 0; k < in_; ++k)
                m(o, k) = packed_[static_cast<std::size_t>((o / w) * w * in_ + k * w + o % w)];
        return m;
    }
    /// The bias as given.
    VectorF bias() const { return Eigen::Map<const VectorF>(bias_.data(), out_); }

    /// y = x W^T + b for `rows` rows: x is rows x in() floats with row stride ldx >= in(), y
    /// rows x out() with row stride ldy >= out(); any alignment; x and y must not overlap. No
    /// checks (see the Eigen overload); the kernel is the one of embedkit::simd's active
    /// level (AVX2+FMA at levels avx2 and avx512, portable C++ otherwise).
    void apply(const float* x, Eigen::Index rows, Eigen::Index ldx, float* y,
               Eigen::Index ldy) const noexcept {
        const detail::PanelKernels& kern = detail::panel_kernels(simd::active());
        const Eigen::Index w = detail::panel_width;
        const Eigen::Index mr = detail::micro_rows;
        const Eigen::Index block = detail::block_rows(in_);
        for (Eigen::Index r0 = 0; r0 < rows; r0 += block) {
            const Eigen::Index r1 = std::min(rows, r0 + block);
            for (Eigen::Index p = 0; p * w < out_; ++p) {
                const float* panel = packed_.data() + p * w * in_;
                const float* b = bias_.data() + p * w;
                const Eigen::Index n = std::min(w, out_ - p * w);
                for (Eigen::Index r = r0; r < r1; r += mr) {
                    const Eigen::Index take = std::min(mr, r1 - r);
                    kern.rows[take](x + r * ldx, ldx, panel, in_, b, n, y + r * ldy + p * w, ldy);
                }
            }
        }
    }

    /// y = x W^T + b (y is resized to x.rows() x out()). Throws DimensionError if x has
    /// another number of columns than in(), ArgumentError if x and y are one matrix.
    void apply(const RowMatrixF& x, RowMatrixF& y) const {
        if (&x == &y)
            throw ArgumentError(
                "embedkit::linalg::PackedLinear::apply: x and y must be different matrices");
        if (x.cols() != in_)
            throw DimensionError("embedkit::linalg::PackedLinear::apply: x has " +
                                 std::to_string(x.cols()) + " columns, the layer takes " +
                                 std::to_string(in_));
        y.resize(x.rows(), out_);
        apply(x.data(), x.rows(), in_, y.data(), out_);
    }

private:
    Eigen::Index in_ = 0;
    Eigen::Index out_ = 0;
    std::vector<float> packed_;  // panels, see the header comment
    std::vector<float> bias_;    // out() values, zero-padded to whole panels
};

}  // namespace embedkit::linalg
