// embedkit::linalg::PackedLinear: the weights of a linear layer y = x W^T + b packed once for a
// matrix-product kernel chosen at run time (AVX-512 or AVX2+FMA where the CPU has it, whatever
// the build's -march), and the product itself.
//
// Why not Eigen's product: Eigen chooses its instruction set when the user's program is
// compiled (SSE2 without -march), packs both operands on every call, and reaches about 75 % of
// one core's FMA peak on the encoder's shapes here; this kernel packs the weights once and
// follows embedkit::simd's run-time level like the distance kernels.
//
// Layout of the packed weights: the N outputs are cut into panels of 16; panel p holds, for
// k = 0 .. K-1 in turn, the 16 values W[16p + j][k] (j = 0 .. 15), zero past N. The AVX2 kernel
// (level avx2) takes 6 rows of x at a time against one panel: 12 accumulators of 8 floats; the
// AVX-512 kernel (level avx512) 12 rows against two panels: 24 accumulators of 16 (an odd last
// panel goes to the AVX2 kernel). Each output is the sum over k in increasing order (one FMA
// per k and output) in both, so an output depends only on its own row of x and column of W:
// never on the level, the number of rows or their position in the batch (the micro-kernels
// are distance/detail/panel_tile.hpp, which the float top_k shares). The scalar and NEON levels run
// a portable kernel of the same shape on the compiler's 4-float vectors (SSE2 on x86-64, Advanced
// SIMD on aarch64).
#pragma once

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/types.hpp"
#include "../distance/dispatch.hpp"
#include "../distance/detail/panel_tile.hpp"

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

inline constexpr Eigen::Index panel_width = embedkit::detail::panel_width;  // outputs per panel
inline constexpr Eigen::Index micro_rows = embedkit::detail::panel_rows;    // rows of x per call

// Rows of x per block, so a block of x (rows x K floats) stays in a core's L2 cache while
// every panel of W passes over it.
inline Eigen::Index block_rows(Eigen::Index k) noexcept {
    const Eigen::Index budget = 160 * 1024 / static_cast<Eigen::Index>(sizeof(float));
    const Eigen::Index rows = budget / std::max<Eigen::Index>(k, 1);
    return std::max(micro_rows, rows / micro_rows * micro_rows);
}

// The portable kernel (levels scalar and neon): rows two at a time against one panel, the 16
// outputs as four 4-float vectors of the compiler's vector extension (SSE2 on x86-64, Advanced
// SIMD on aarch64), accumulators as named variables so they stay in registers. Each output is
// the same chain over k in increasing order whatever its row's position, as in the AVX2
// kernel (whether multiply and add are fused is the compiler's choice, the same for every
// row). Compilers without the extension get plain loops with the same order of operations.
#if defined(__GNUC__) || defined(__clang__)
typedef float linalg_v4 __attribute__((vector_size(16)));

inline linalg_v4 linalg_load4(const float* p) noexcept {
    linalg_v4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

template <int R>  // 1 or 2 rows
inline void panel_pair(const float* x, Eigen::Index ldx, const float* panel, Eigen::Index k,
                       const float* bias, Eigen::Index n, float* y, Eigen::Index ldy) noexcept {
    const linalg_v4 zero = {0.0f, 0.0f, 0.0f, 0.0f};
    linalg_v4 c00 = zero, c01 = zero, c02 = zero, c03 = zero;
    linalg_v4 c10 = zero, c11 = zero, c12 = zero, c13 = zero;
    const float* x1 = R > 1 ? x + ldx : x;
    for (Eigen::Index kk = 0; kk < k; ++kk) {
        const float* b = panel + kk * panel_width;
        const linalg_v4 b0 = linalg_load4(b), b1 = linalg_load4(b + 4);
        const linalg_v4 b2 = linalg_load4(b + 8), b3 = linalg_load4(b + 12);
        const float s0 = x[kk];
        const linalg_v4 a0 = {s0, s0, s0, s0};
        c00 += a0 * b0;
        c01 += a0 * b1;
        c02 += a0 * b2;
        c03 += a0 * b3;
        if constexpr (R > 1) {
            const float s1 = x1[kk];
            const linalg_v4 a1 = {s1, s1, s1, s1};
            c10 += a1 * b0;
            c11 += a1 * b1;
            c12 += a1 * b2;
            c13 += a1 * b3;
        }
    }
    const linalg_v4 acc[2][4] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}};
    for (int r = 0; r < R; ++r) {
        float tile[16];
        std::memcpy(tile, acc[r], sizeof tile);
        for (Eigen::Index j = 0; j < n; ++j) y[r * ldy + j] = tile[j] + bias[j];
    }
}
#else
template <int R>  // 1 or 2 rows
inline void panel_pair(const float* x, Eigen::Index ldx, const float* panel, Eigen::Index k,
                       const float* bias, Eigen::Index n, float* y, Eigen::Index ldy) noexcept {
    float acc[R][16] = {};
    for (Eigen::Index kk = 0; kk < k; ++kk)
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < 16; ++j) acc[r][j] += x[r * ldx + kk] * panel[kk * panel_width + j];
    for (int r = 0; r < R; ++r)
        for (Eigen::Index j = 0; j < n; ++j) y[r * ldy + j] = acc[r][j] + bias[j];
}
#endif

template <int R>  // 1 to 6 rows, in pairs
inline void panel_portable(const float* x, Eigen::Index ldx, const float* panel, Eigen::Index k,
                           const float* bias, Eigen::Index n, float* y, Eigen::Index ldy) noexcept {
    for (int r = 0; r + 1 < R; r += 2)
        panel_pair<2>(x + r * ldx, ldx, panel, k, bias, n, y + r * ldy, ldy);
    if constexpr (R % 2 == 1)
        panel_pair<1>(x + (R - 1) * ldx, ldx, panel, k, bias, n, y + (R - 1) * ldy, ldy);
}

#if EMBEDKIT_ARCH_X86
// The store epilogue of the shared micro-kernel (distance/detail/panel_tile.hpp): bias added,
// n of the panel's 16 outputs written.
struct PanelStore {
    const float* bias;
    Eigen::Index n;
    float* y;
    Eigen::Index ldy;
    EMBEDKIT_TARGET_AVX2 void operator()(int r, __m256 lo, __m256 hi) const noexcept {
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(bias));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8));
        float* row = y + r * ldy;
        if (n == panel_width) {
            _mm256_storeu_ps(row, lo);
            _mm256_storeu_ps(row + 8, hi);
        } else {
            alignas(32) float tile[16];
            _mm256_store_ps(tile, lo);
            _mm256_store_ps(tile + 8, hi);
            std::memcpy(row, tile, static_cast<std::size_t>(n) * sizeof(float));
        }
    }
};

template <int R>
EMBEDKIT_TARGET_AVX2 inline void panel_avx2(const float* x, Eigen::Index ldx, const float* panel,
                                            Eigen::Index k, const float* bias, Eigen::Index n,
                                            float* y, Eigen::Index ldy) noexcept {
    PanelStore out{bias, n, y, ldy};
    embedkit::detail::panel_tile_avx2<R>(x, ldx, panel, k, out);
}

// The AVX-512 kernel's store: a pair of panels (32 outputs, n of them real), bias added.
struct PanelStore512 {
    const float* bias;  // 32 values (the bias is zero-padded to whole panels)
    Eigen::Index n;
    float* y;
    Eigen::Index ldy;
    EMBEDKIT_TARGET_AVX512 void operator()(int r, __m512 lo, __m512 hi) const noexcept {
        lo = _mm512_add_ps(lo, _mm512_loadu_ps(bias));
        hi = _mm512_add_ps(hi, _mm512_loadu_ps(bias + 16));
        float* row = y + r * ldy;
        if (n == 2 * panel_width) {
            _mm512_storeu_ps(row, lo);
            _mm512_storeu_ps(row + 16, hi);
        } else {
            alignas(64) float tile[32];
            _mm512_store_ps(tile, lo);
            _mm512_store_ps(tile + 16, hi);
            std::memcpy(row, tile, static_cast<std::size_t>(n) * sizeof(float));
        }
    }
};

template <int R>
EMBEDKIT_TARGET_AVX512 inline void panel_pair_avx512(const float* x, Eigen::Index ldx,
                                                     const float* panel, Eigen::Index k,
                                                     const float* bias, Eigen::Index n, float* y,
                                                     Eigen::Index ldy) noexcept {
    PanelStore512 out{bias, n, y, ldy};
    embedkit::detail::panel_tile_avx512<R>(x, ldx, panel, panel + panel_width * k, k, out);
}
#endif

using PanelFn = void (*)(const float*, Eigen::Index, const float*, Eigen::Index, const float*,
                         Eigen::Index, float*, Eigen::Index) noexcept;

struct PanelKernels {
    PanelFn rows[micro_rows + 1];  // rows[r]: r rows at once (rows[0] unused)
};

inline constexpr Eigen::Index wide_rows = 12;  // rows of x per AVX-512 kernel call

// The AVX-512 kernels take two panels at once (panel, then the next one k * 16 floats on);
// null where the level has none.
struct PairKernels {
    PanelFn rows[wide_rows + 1];
};

inline const PairKernels& pair_kernels([[maybe_unused]] simd::Level level) noexcept {
    static const PairKernels none = {};
#if EMBEDKIT_ARCH_X86
    static const PairKernels avx512 = {
        {nullptr, &panel_pair_avx512<1>, &panel_pair_avx512<2>, &panel_pair_avx512<3>,
         &panel_pair_avx512<4>, &panel_pair_avx512<5>, &panel_pair_avx512<6>, &panel_pair_avx512<7>,
         &panel_pair_avx512<8>, &panel_pair_avx512<9>, &panel_pair_avx512<10>,
         &panel_pair_avx512<11>, &panel_pair_avx512<12>}};
    if (level == simd::Level::avx512) return avx512;
#endif
    return none;
}

// The kernels for `level`: AVX2+FMA at avx2 and avx512, the portable ones otherwise.
inline const PanelKernels& panel_kernels([[maybe_unused]] simd::Level level) noexcept {
    static const PanelKernels portable = {{nullptr, &panel_portable<1>, &panel_portable<2>,
                                           &panel_portable<3>, &panel_portable<4>,
                                           &panel_portable<5>, &panel_portable<6>}};
#if EMBEDKIT_ARCH_X86
    static const PanelKernels avx2 = {{nullptr, &panel_avx2<1>, &panel_avx2<2>, &panel_avx2<3>,
                                       &panel_avx2<4>, &panel_avx2<5>, &panel_avx2<6>}};
    if (level == simd::Level::avx2 || level == simd::Level::avx512) return avx2;
#endif
    return portable;
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
        for (Eigen::Index o = 0; o < out_; ++o) bias_[static_cast<std::size_t>(o)] = bias(o);
        embedkit::detail::pack_panels(weight.data(), out_, in_, in_, packed_.data());
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
    /// level (AVX-512 over pairs of panels at avx512, AVX2+FMA at avx2 and for an odd last
    /// panel, the portable kernel otherwise).
    void apply(const float* x, Eigen::Index rows, Eigen::Index ldx, float* y,
               Eigen::Index ldy) const {
        const simd::Level level = simd::active();
        const detail::PanelKernels& kern = detail::panel_kernels(level);
        const detail::PairKernels& pairs = detail::pair_kernels(level);
        const Eigen::Index w = detail::panel_width;
        const Eigen::Index mr = detail::micro_rows;
        const Eigen::Index block = detail::block_rows(in_);
        for (Eigen::Index r0 = 0; r0 < rows; r0 += block) {
            const Eigen::Index r1 = std::min(rows, r0 + block);
            Eigen::Index p = 0;
            if (pairs.rows[1] != nullptr) {
                // AVX-512: two panels (32 outputs) and up to 12 rows a call; an odd last panel
                // goes to the AVX2 kernel below (the same multiply-add chains).
                for (; (p + 1) * w < out_; p += 2) {
                    const float* panel = packed_.data() + p * w * in_;
                    const float* b = bias_.data() + p * w;
                    const Eigen::Index n = std::min(2 * w, out_ - p * w);
                    for (Eigen::Index r = r0; r < r1; r += detail::wide_rows) {
                        const Eigen::Index take = std::min(detail::wide_rows, r1 - r);
                        pairs.rows[take](x + r * ldx, ldx, panel, in_, b, n, y + r * ldy + p * w,
                                         ldy);
                    }
                }
            }
            for (; p * w < out_; ++p) {
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
