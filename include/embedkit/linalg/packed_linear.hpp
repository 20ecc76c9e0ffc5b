// embedkit::linalg::PackedLinear: the weights of a linear layer y = x W^T + b packed once for a
// matrix-product kernel chosen at run time (AVX-512 or AVX2+FMA where the CPU has it, whatever
// the build's -march), and the product itself.
//
// Why not Eigen's product: Eigen chooses its instruction set when the user's program is
// compiled (SSE2 without -march), packs both operands on every call, and reaches about 75 % of
// one core's FMA peak on the encoder's shapes here; this kernel packs the weights once and
// follows embedkit::simd's run-time level like the distance kernels.
//
// Layout of the packed fp32 weights (bf16 and int8: linalg/detail/low_precision.hpp): the N
// outputs are cut into panels of 16; panel p holds, for
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
#include "detail/low_precision.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#if EMBEDKIT_ARCH_X86
#include <immintrin.h>
#endif

namespace embedkit::linalg {

/// The number format a PackedLinear computes in. fp32: float weights and activations, every
/// output the same float chain at every level. bf16: weights and activations rounded to
/// bfloat16, products summed in float. int8: weights as 8-bit codes with one scale per output
/// and group of 64 inputs, activations quantised per row and group of 64 (8-bit codes with a
/// scale and a zero point, computed on every call), integer sums scaled and summed in float.
/// The layout and the quantisation rules: linalg/detail/low_precision.hpp.
enum class Precision { fp32, bf16, int8 };

/// "fp32", "bf16", "int8".
inline const char* precision_name(Precision p) noexcept {
    switch (p) {
        case Precision::bf16:
            return "bf16";
        case Precision::int8:
            return "int8";
        case Precision::fp32:
            break;
    }
    return "fp32";
}

/// The precision named `name` ("fp32", "bf16", "int8"); ArgumentError for another name.
inline Precision parse_precision(const std::string& name) {
    for (Precision p : {Precision::fp32, Precision::bf16, Precision::int8})
        if (name == precision_name(p)) return p;
    throw ArgumentError("embedkit::linalg::parse_precision: unknown precision '" + name +
                        "' (fp32, bf16 or int8)");
}

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

// y = x P + bias for `rows` rows of x through the fp32 kernels of `level`: `panels` holds
// `count` consecutive panels ([k][16] floats each, as pack_panels writes them) of a layer with
// `n` outputs, the first being its panel p0; bias has whole panels' values (zero-padded).
inline void run_panels(simd::Level level, const float* panels, Eigen::Index k, Eigen::Index n,
                       Eigen::Index p0, Eigen::Index count, const float* bias, const float* x,
                       Eigen::Index rows, Eigen::Index ldx, float* y, Eigen::Index ldy) {
    const PanelKernels& kern = panel_kernels(level);
    const PairKernels& pairs = pair_kernels(level);
    const Eigen::Index w = panel_width;
    Eigen::Index p = 0;
    if (pairs.rows[1] != nullptr) {
        // AVX-512: two panels (32 outputs) and up to 12 rows a call; an odd last panel goes to
        // the AVX2 kernel below (the same multiply-add chains).
        for (; p + 1 < count && (p0 + p + 1) * w < n; p += 2) {
            const float* panel = panels + p * w * k;
            const Eigen::Index outs = std::min(2 * w, n - (p0 + p) * w);
            for (Eigen::Index r = 0; r < rows; r += wide_rows) {
                const Eigen::Index take = std::min(wide_rows, rows - r);
                pairs.rows[take](x + r * ldx, ldx, panel, k, bias + (p0 + p) * w, outs,
                                 y + r * ldy + (p0 + p) * w, ldy);
            }
        }
    }
    for (; p < count && (p0 + p) * w < n; ++p) {
        const float* panel = panels + p * w * k;
        const Eigen::Index outs = std::min(w, n - (p0 + p) * w);
        for (Eigen::Index r = 0; r < rows; r += micro_rows) {
            const Eigen::Index take = std::min(micro_rows, rows - r);
            kern.rows[take](x + r * ldx, ldx, panel, k, bias + (p0 + p) * w, outs,
                            y + r * ldy + (p0 + p) * w, ldy);
        }
    }
}

}  // namespace detail

/// A linear layer's weight [out, in] (PyTorch's layout: row-major, one row per output) and
/// bias, packed for apply() in the precision asked for. Immutable after construction; apply()
/// is const and thread-safe.
class PackedLinear {
public:
    PackedLinear() = default;

    /// Packs `weight` ([out, in], row-major) and `bias` (out values) in `precision` (bf16 and
    /// int8 round or quantise the weight once, here). Throws DimensionError if the bias has
    /// another length than weight.rows(), ArgumentError for int8 with a NaN or infinite weight
    /// (its codes would stand for finite values).
    PackedLinear(const RowMatrixF& weight, const VectorF& bias,
                 Precision precision = Precision::fp32)
        : in_(weight.cols()), out_(weight.rows()), precision_(precision) {
        if (bias.size() != weight.rows())
            throw DimensionError("embedkit::linalg::PackedLinear: the bias has " +
                                 std::to_string(bias.size()) + " values, the weight " +
                                 std::to_string(weight.rows()) + " rows");
        const Eigen::Index np = detail::padded_outputs(out_);
        bias_.assign(static_cast<std::size_t>(np), 0.0f);
        for (Eigen::Index o = 0; o < out_; ++o) bias_[static_cast<std::size_t>(o)] = bias(o);
        switch (precision_) {
            case Precision::fp32:
                packed_.assign(static_cast<std::size_t>(np * in_), 0.0f);
                embedkit::detail::pack_panels(weight.data(), out_, in_, in_, packed_.data());
                break;
            case Precision::bf16:
                words_.resize(static_cast<std::size_t>(np * detail::bf16_words(in_)));
                detail::pack_bf16(weight.data(), out_, in_, in_, words_.data());
                break;
            case Precision::int8: {
                for (Eigen::Index o = 0; o < out_; ++o)
                    if (!weight.row(o).allFinite())
                        throw ArgumentError(
                            "embedkit::linalg::PackedLinear: int8 needs finite weights; row " +
                            std::to_string(o) + " of the weight holds NaN or infinity");
                const Eigen::Index groups = detail::int8_groups(in_);
                codes_.resize(static_cast<std::size_t>(np * groups * detail::int8_group));
                qscale_.resize(static_cast<std::size_t>(np * groups));
                qsum_.resize(static_cast<std::size_t>(np * groups));
                detail::pack_int8(weight.data(), out_, in_, in_, codes_.data(), qscale_.data(),
                                  qsum_.data());
                break;
            }
        }
    }

    Eigen::Index in() const noexcept { return in_; }
    Eigen::Index out() const noexcept { return out_; }
    Precision precision() const noexcept { return precision_; }
    /// Bytes of packed weights, scales and bias held.
    std::size_t bytes() const noexcept {
        return packed_.size() * sizeof(float) + words_.size() * sizeof(std::uint32_t) +
               codes_.size() + (qscale_.size() + qsum_.size() + bias_.size()) * sizeof(float);
    }

    /// The weight the layer computes with, unpacked: [out, in] row-major. In fp32 the weight
    /// as given; in bf16 and int8 its rounded or quantised values (code x scale).
    RowMatrixF weight() const {
        RowMatrixF m(out_, in_);
        const Eigen::Index w = detail::panel_width;
        std::vector<float> panel(static_cast<std::size_t>(in_ * w));
        for (Eigen::Index p = 0; p * w < out_; ++p) {
            const float* src = panel_floats(p, panel.data());
            for (Eigen::Index o = p * w; o < std::min(out_, (p + 1) * w); ++o)
                for (Eigen::Index k = 0; k < in_; ++k) m(o, k) = src[k * w + o % w];
        }
        return m;
    }
    /// The bias as given.
    VectorF bias() const { return Eigen::Map<const VectorF>(bias_.data(), out_); }

    /// y = x W^T + b for `rows` rows: x is rows x in() floats with row stride ldx >= in(), y
    /// rows x out() with row stride ldy >= out(); any alignment; x and y must not overlap. No
    /// checks (see the Eigen overload); the kernels are those of embedkit::simd's active level
    /// and this CPU's features (see apply_using).
    void apply(const float* x, Eigen::Index rows, Eigen::Index ldx, float* y,
               Eigen::Index ldy) const {
        apply_using(simd::active(), cpu_features(), x, rows, ldx, y, ldy);
    }

    /// apply() with the kernels that `level` and `features` select, for tests and benchmarks
    /// (both must be what this CPU has: no check). fp32: AVX-512 over pairs of panels at
    /// avx512, AVX2+FMA at avx2 and for an odd last panel, the portable kernel otherwise.
    /// bf16 and int8: the AVX-512 BF16 or AVX-512 VNNI kernel at avx512 when `features` has
    /// it; otherwise activations and weights are decoded to float (the rounded or quantised
    /// values) and run through the fp32 kernels of the level. In int8 a row of x holding NaN
    /// or infinity gives a row of NaN.
    void apply_using(simd::Level level, [[maybe_unused]] const CpuFeatures& features,
                     const float* x, Eigen::Index rows, Eigen::Index ldx, float* y,
                     Eigen::Index ldy) const {
        if (rows <= 0 || out_ == 0) return;
#if EMBEDKIT_ARCH_X86
        if (level == simd::Level::avx512) {
            if (precision_ == Precision::bf16 && features.avx512bf16)
                return apply_bf16_avx512(x, rows, ldx, y, ldy);
            if (precision_ == Precision::int8 && features.avx512vnni)
                return apply_int8_avx512(x, rows, ldx, y, ldy);
        }
#endif
        if (precision_ == Precision::fp32) return apply_float(level, x, rows, ldx, y, ldy);
        apply_decoded(level, x, rows, ldx, y, ldy);
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
    // Panel p (16 outputs) as floats [in][16]: the packed fp32 panel itself, or the bf16/int8
    // one decoded into `scratch` (in x 16 floats).
    const float* panel_floats(Eigen::Index p, float* scratch) const {
        const Eigen::Index w = detail::panel_width;
        switch (precision_) {
            case Precision::fp32:
                return packed_.data() + p * w * in_;
            case Precision::bf16:
                detail::bf16_panel_to_float(words_.data() + p * w * detail::bf16_words(in_), in_,
                                            scratch);
                return scratch;
            case Precision::int8: {
                const Eigen::Index groups = detail::int8_groups(in_);
                detail::int8_panel_to_float(codes_.data() + p * w * groups * detail::int8_group,
                                            qscale_.data() + p * groups * w, in_, scratch);
                return scratch;
            }
        }
        return scratch;
    }

    void float_panels(simd::Level level, const float* panels, Eigen::Index p0, Eigen::Index count,
                      const float* x, Eigen::Index rows, Eigen::Index ldx, float* y,
                      Eigen::Index ldy) const {
        detail::run_panels(level, panels, in_, out_, p0, count, bias_.data(), x, rows, ldx, y, ldy);
    }

    void apply_float(simd::Level level, const float* x, Eigen::Index rows, Eigen::Index ldx,
                     float* y, Eigen::Index ldy) const {
        const Eigen::Index panels = (out_ + detail::panel_width - 1) / detail::panel_width;
        const Eigen::Index block = detail::block_rows(in_);
        for (Eigen::Index r0 = 0; r0 < rows; r0 += block)
            float_panels(level, packed_.data(), 0, panels, x + r0 * ldx, std::min(block, rows - r0),
                         ldx, y + r0 * ldy, ldy);
    }

    // bf16 or int8 at a level without their kernel: each block of rows decoded to the float
    // values it stands for, each pair of panels decoded, the fp32 kernels.
    void apply_decoded(simd::Level level, const float* x, Eigen::Index rows, Eigen::Index ldx,
                       float* y, Eigen::Index ldy) const {
        const Eigen::Index w = detail::panel_width;
        // Rows per block: a pair of panels is decoded once per block, so blocks are longer
        // than the fp32 path's (x's decoded block, 512 KiB, still fits a core's L2 here).
        const Eigen::Index block = std::max(
            detail::micro_rows * 2, 512 * 1024 / static_cast<Eigen::Index>(sizeof(float)) /
                                        std::max<Eigen::Index>(in_, 1) / (detail::micro_rows * 2) *
                                        (detail::micro_rows * 2));
        const Eigen::Index groups = detail::int8_groups(in_);
        thread_local std::vector<float> xs, ws, qs;
        thread_local std::vector<std::uint8_t> codes, bad;
        xs.resize(static_cast<std::size_t>(block * in_));
        ws.resize(static_cast<std::size_t>(2 * w * in_));
        if (precision_ == Precision::int8) {
            codes.resize(static_cast<std::size_t>(groups * detail::int8_group));
            qs.resize(static_cast<std::size_t>(2 * groups));
            bad.resize(static_cast<std::size_t>(block));
        }
        for (Eigen::Index r0 = 0; r0 < rows; r0 += block) {
            const Eigen::Index r1 = std::min(rows, r0 + block);
            for (Eigen::Index r = r0; r < r1; ++r) {
                float* dst = xs.data() + (r - r0) * in_;
                if (precision_ == Precision::bf16) {
                    for (Eigen::Index k = 0; k < in_; ++k)
                        dst[k] = embedkit::detail::bf16_bits_to_float(
                            embedkit::detail::float_to_bf16_bits(x[r * ldx + k]));
                } else {
                    bad[static_cast<std::size_t>(r - r0)] = !detail::quantize_row_int8(
                        x + r * ldx, in_, codes.data(), qs.data(), qs.data() + groups);
                    detail::int8_row_to_float(codes.data(), qs.data(), qs.data() + groups, in_,
                                              dst);
                }
            }
            for (Eigen::Index p = 0; p * w < out_; p += 2) {
                panel_floats(p, ws.data());
                const Eigen::Index count = (p + 1) * w < out_ ? 2 : 1;
                if (count == 2) panel_floats(p + 1, ws.data() + w * in_);
                float_panels(level, ws.data(), p, count, xs.data(), r1 - r0, in_, y + r0 * ldy,
                             ldy);
            }
            if (precision_ == Precision::int8)
                mark_bad_rows(bad.data(), r1 - r0, y + r0 * ldy, ldy);
        }
    }

    // Rows of y whose x held NaN or infinity (int8): NaN.
    void mark_bad_rows(const std::uint8_t* bad, Eigen::Index rows, float* y,
                       Eigen::Index ldy) const {
        for (Eigen::Index r = 0; r < rows; ++r)
            if (bad[r])
                std::fill(y + r * ldy, y + r * ldy + out_, std::numeric_limits<float>::quiet_NaN());
    }

#if EMBEDKIT_ARCH_X86
    void apply_bf16_avx512(const float* x, Eigen::Index rows, Eigen::Index ldx, float* y,
                           Eigen::Index ldy) const {
        const Eigen::Index words = detail::bf16_words(in_);
        const Eigen::Index np = detail::padded_outputs(out_);
        const Eigen::Index mr = 12;
        const Eigen::Index block =
            std::max(mr, 160 * 1024 / (4 * std::max<Eigen::Index>(words, 1)) / mr * mr);
        thread_local std::vector<std::uint32_t> xs;
        xs.resize(static_cast<std::size_t>(block * words));
        using Tile =
            void (*)(const std::uint32_t*, Eigen::Index, const std::uint32_t*, const std::uint32_t*,
                     Eigen::Index, const float*, Eigen::Index, float*, Eigen::Index) noexcept;
        static constexpr Tile tiles[13] = {nullptr,
                                           &detail::bf16_tile512<1>,
                                           &detail::bf16_tile512<2>,
                                           &detail::bf16_tile512<3>,
                                           &detail::bf16_tile512<4>,
                                           &detail::bf16_tile512<5>,
                                           &detail::bf16_tile512<6>,
                                           &detail::bf16_tile512<7>,
                                           &detail::bf16_tile512<8>,
                                           &detail::bf16_tile512<9>,
                                           &detail::bf16_tile512<10>,
                                           &detail::bf16_tile512<11>,
                                           &detail::bf16_tile512<12>};
        for (Eigen::Index r0 = 0; r0 < rows; r0 += block) {
            const Eigen::Index r1 = std::min(rows, r0 + block);
            detail::rows_to_bf16_avx512(x + r0 * ldx, r1 - r0, in_, ldx, xs.data(), words);
            for (Eigen::Index o = 0; o < np; o += detail::q_pair) {
                const std::uint32_t* p0 = words_.data() + o * words;
                const Eigen::Index n = std::min(detail::q_pair, out_ - o);
                if (n <= 0) break;
                for (Eigen::Index r = r0; r < r1; r += mr) {
                    const Eigen::Index take = std::min(mr, r1 - r);
                    tiles[take](xs.data() + (r - r0) * words, words, p0,
                                p0 + detail::q_panel * words, words, bias_.data() + o, n,
                                y + r * ldy + o, ldy);
                }
            }
        }
    }

    void apply_int8_avx512(const float* x, Eigen::Index rows, Eigen::Index ldx, float* y,
                           Eigen::Index ldy) const {
        const Eigen::Index groups = detail::int8_groups(in_);
        const Eigen::Index kp = groups * detail::int8_group;
        const Eigen::Index np = detail::padded_outputs(out_);
        const Eigen::Index mr = 6;
        const Eigen::Index block =
            std::max(mr, 160 * 1024 / std::max<Eigen::Index>(kp, 1) / mr * mr);
        thread_local std::vector<std::uint8_t> us, bad;
        thread_local std::vector<float> scales, zeros;
        us.resize(static_cast<std::size_t>(block * kp));
        bad.resize(static_cast<std::size_t>(block));
        scales.resize(static_cast<std::size_t>(block * groups));
        zeros.resize(static_cast<std::size_t>(block * groups));
        using Tile = void (*)(const std::uint8_t*, Eigen::Index, const float*, const float*,
                              Eigen::Index, const std::int8_t*, const std::int8_t*, const float*,
                              const float*, const float*, const float*, const float*, Eigen::Index,
                              float*, Eigen::Index) noexcept;
        static constexpr Tile tiles[7] = {nullptr,
                                          &detail::int8_tile512<1>,
                                          &detail::int8_tile512<2>,
                                          &detail::int8_tile512<3>,
                                          &detail::int8_tile512<4>,
                                          &detail::int8_tile512<5>,
                                          &detail::int8_tile512<6>};
        const Eigen::Index w = detail::q_panel;
        for (Eigen::Index r0 = 0; r0 < rows; r0 += block) {
            const Eigen::Index r1 = std::min(rows, r0 + block);
            for (Eigen::Index r = r0; r < r1; ++r) {
                const Eigen::Index i = r - r0;
                bad[static_cast<std::size_t>(i)] = !detail::quantize_row_int8_avx512(
                    x + r * ldx, in_, us.data() + i * kp, scales.data() + i * groups,
                    zeros.data() + i * groups);
            }
            for (Eigen::Index o = 0; o < np; o += detail::q_pair) {
                const Eigen::Index n = std::min(detail::q_pair, out_ - o);
                if (n <= 0) break;
                const std::int8_t* p0 = codes_.data() + o * kp;
                const float* ws0 = qscale_.data() + o * groups;
                const float* cs0 = qsum_.data() + o * groups;
                for (Eigen::Index r = r0; r < r1; r += mr) {
                    const Eigen::Index take = std::min(mr, r1 - r);
                    const Eigen::Index i = r - r0;
                    tiles[take](us.data() + i * kp, kp, scales.data() + i * groups,
                                zeros.data() + i * groups, groups, p0, p0 + w * kp, ws0,
                                ws0 + w * groups, cs0, cs0 + w * groups, bias_.data() + o, n,
                                y + r * ldy + o, ldy);
                }
            }
            mark_bad_rows(bad.data(), r1 - r0, y + r0 * ldy, ldy);
        }
    }
#endif

    Eigen::Index in_ = 0;
    Eigen::Index out_ = 0;
    Precision precision_ = Precision::fp32;
    std::vector<float> packed_;         // fp32: panels, see the header comment
    std::vector<std::uint32_t> words_;  // bf16: panels of bf16 pairs (detail/low_precision.hpp)
    std::vector<std::int8_t> codes_;    // int8: panels of codes
    std::vector<float> qscale_, qsum_;  // int8: per panel, group and output: scale, code sum
    std::vector<float> bias_;           // out() values, zero-padded to whole pairs of panels
};

}  // namespace embedkit::linalg
