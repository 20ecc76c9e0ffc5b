// embedkit::linalg::detail elementwise kernels: the float loops of training and of the encoder
// that would otherwise be Eigen expressions compiled at the build's -march (SSE2 without it),
// run at embedkit::simd's run-time level instead: the logistic loss with its gradient, the
// Adam update, Dense's bias, ReLU and bias-gradient loops, and the encoder's GELU and softmax.
//
// Each kernel exists at the avx512 and avx2 levels; elementwise_kernels(level) returns null at
// the others (scalar, NEON), where the callers keep their Eigen expressions. The vector exp,
// log1p and erf below are polynomial approximations written for these kernels:
//   exp(x):   n = round(x / ln 2), r = x - n ln 2 (two-part ln 2 through FMA), Taylor series of
//             degree 7 on |r| <= ln(2)/2 (truncation 5e-9 relative), scaled by 2^n. Inputs
//             below -87.3365 (results under the smallest normal float) give 0, above 88.7228
//             infinity, NaN gives NaN (the kernels pass it only arguments <= 0).
//   log1p(e): for e in [0, 1] only: 2 atanh(s) with s = e / (2 + e) <= 1/3, odd series to
//             s^15 (truncation 1.5e-9 relative).
//   erf:      |u| < 1/2: u P(u^2), P of degree 4; |u| >= 1/2: erfc(|u|) = exp(-u^2) R(1/(1+|u|)),
//             R of degree 10 fitted on [1/2, 11.5]; both least-squares fits made for embedkit
//             (relative error under 2e-7 in float arithmetic). u^2 is carried as a sum of two
//             floats so exp(-u^2) keeps its relative accuracy in the far tail, and GELU's
//             1 + erf(u) is formed as 2 - erfc, erfc, or 1 -/+ erf below 1/2, never a strongly
//             cancelling difference: within 1e-6 relative of long double everywhere.
// tests/linalg/test_elementwise.cpp checks every kernel against long double at every level.
#pragma once

#include "../core/config.hpp"
#include "../distance/dispatch.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <limits>

#if EMBEDKIT_ARCH_X86
#include <immintrin.h>
#endif

namespace embedkit::linalg::detail {

/// One Adam step's constants (nn::Adam computes them):
///   m = b1 m + a1 g;  v = b2 v + a2 g^2;  p = decay p (when decay != 1);  p -= lr m / (sqrt v +
///   eps).
struct AdamConstants {
    float b1, a1, b2, a2, lr, eps, decay;
};

/// The elementwise kernels of one level; every pointer may point anywhere (no alignment).
struct ElementwiseKernels {
    /// x = x/2 (1 + erf(x / sqrt 2)) in place, n values (NaN and -inf give NaN, +inf gives +inf).
    void (*gelu_erf)(float* x, Eigen::Index n) noexcept;
    /// row = softmax(scale row) in place: exp(scale x - max) / sum. A row holding NaN or +inf,
    /// or only -inf, becomes NaN (as the Eigen form does).
    void (*softmax)(float* row, Eigen::Index n, float scale) noexcept;
    /// Binary cross-entropy from logits for n (logit, target) pairs: returns the sum over the
    /// pairs of max(x, 0) - x t + log1p(exp(-|x|)) and writes (sigmoid(x) - t) * grad_scale.
    double (*bce_with_logits)(const float* x, const float* t, Eigen::Index n, float grad_scale,
                              float* grad) noexcept;
    /// The Adam update of n parameters.
    void (*adam)(const AdamConstants& c, float* p, const float* g, float* m, float* v,
                 Eigen::Index n) noexcept;
    /// Each row of x (rows x cols, contiguous) += b (cols values).
    void (*add_row)(float* x, Eigen::Index rows, Eigen::Index cols, const float* b) noexcept;
    /// x = max(x, 0) in place (NaN stays NaN).
    void (*relu)(float* x, Eigen::Index n) noexcept;
    /// g = g where y > 0, else 0 (the ReLU's backward pass from its output y).
    void (*relu_backward)(float* g, const float* y, Eigen::Index n) noexcept;
    /// out[j] = the sum over i = 0, 1, ... of x[i][j] (rows x cols, contiguous), in row order.
    void (*column_sums)(const float* x, Eigen::Index rows, Eigen::Index cols, float* out) noexcept;
};

#if EMBEDKIT_ARCH_X86

// ---- AVX-512 ------------------------------------------------------------------------------
// The maskz forms of min/max/roundscale/scalef/div/sqrt avoid GCC 12's spurious
// -Wmaybe-uninitialized on their plain forms (GCC bug 105593).

// exp's range: a float just below ln(smallest normal float), one just above ln(largest float).
inline constexpr float exp_low = -87.3365478515625f;
inline constexpr float exp_high = 88.72283935546875f;
inline constexpr float ln2_hi = 0.693147182464599609375f;
inline constexpr float ln2_lo = -1.904654323148236e-09f;
inline constexpr float log2e = 1.44269504088896340736f;

// Taylor coefficients 1/k! of exp, k = 7 down to 0.
inline constexpr float exp_poly[8] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24,
                                      1.0f / 6,    0.5f,       1.0f,       1.0f};
// erf(u) / u = P(u^2) on |u| < 1/2, highest power first.
inline constexpr float erf_small[5] = {0.0047277482226490974f, -0.02676243893802166f,
                                       0.11282914876937866f, -0.37612614035606384f,
                                       1.128379225730896f};
// erfc(a) exp(a^2) = R(1 / (1 + a)) on 1/2 <= a <= 11.5 (beyond, exp(-a^2) is 0), highest
// power first.
inline constexpr float erfc_large[11] = {
    -1.6030988693237305f,  5.741006374359131f,   -8.124402046203613f,    5.04443359375f,
    -0.34156057238578796f, -0.9174417853355408f, -0.2042338103055954f,   0.26889434456825256f,
    0.5654283165931702f,   0.5641278624534607f,  1.2727736020679004e-06f};

EMBEDKIT_TARGET_AVX512 inline __m512 exp16(__m512 x) noexcept {
    const __mmask16 all = 0xFFFF;
    // max(low, x) then min(high, .): a NaN x comes through both (the second operand wins).
    const __m512 xc = _mm512_maskz_min_ps(all, _mm512_set1_ps(exp_high),
                                          _mm512_maskz_max_ps(all, _mm512_set1_ps(exp_low), x));
    const __m512 n = _mm512_maskz_roundscale_ps(all, _mm512_mul_ps(xc, _mm512_set1_ps(log2e)),
                                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(ln2_hi), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(ln2_lo), r);
    __m512 p = _mm512_set1_ps(exp_poly[0]);
    for (int i = 1; i < 8; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_poly[i]));
    const __m512 y = _mm512_maskz_scalef_ps(all, p, n);
    // Below exp_low the result would be subnormal: 0 (as flush-to-zero would give).
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(exp_low), _CMP_NLT_UQ), y);
}

// log1p(e) for e in [0, 1].
EMBEDKIT_TARGET_AVX512 inline __m512 log1p01_16(__m512 e) noexcept {
    const __m512 s = _mm512_maskz_div_ps(0xFFFF, e, _mm512_add_ps(_mm512_set1_ps(2.0f), e));
    const __m512 z = _mm512_mul_ps(s, s);
    __m512 p = _mm512_set1_ps(1.0f / 15);
    for (int k = 13; k >= 1; k -= 2)
        p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.0f / static_cast<float>(k)));
    return _mm512_mul_ps(_mm512_add_ps(s, s), p);
}

EMBEDKIT_TARGET_AVX512 inline __m512 gelu16(__m512 x) noexcept {
    const __mmask16 all = 0xFFFF;
    const __m512 ax = _mm512_abs_ps(x);
    const __m512 a = _mm512_mul_ps(ax, _mm512_set1_ps(0.70710678118654752f));
    // Small: erf(a) = a P(a^2).
    const __m512 z = _mm512_mul_ps(a, a);
    __m512 ps = _mm512_set1_ps(erf_small[0]);
    for (int i = 1; i < 5; ++i) ps = _mm512_fmadd_ps(ps, z, _mm512_set1_ps(erf_small[i]));
    const __m512 erf_a = _mm512_mul_ps(a, ps);
    // Large: erfc(a) = exp(-a^2) R(1/a), a^2 = (x^2 / 2) as hi + lo, exp(-hi - lo) ~ exp(-hi) (1 -
    // lo). |x| capped at 16 (exp(-128) is 0 in float) keeps x^2 and its rounding error finite.
    const __m512 xa = _mm512_maskz_min_ps(all, ax, _mm512_set1_ps(16.0f));
    const __m512 xx = _mm512_mul_ps(xa, xa);
    const __m512 xx_lo = _mm512_fmsub_ps(xa, xa, xx);
    const __m512 half = _mm512_set1_ps(0.5f);
    const __m512 e = _mm512_mul_ps(exp16(_mm512_mul_ps(xx, _mm512_set1_ps(-0.5f))),
                                   _mm512_fnmadd_ps(xx_lo, half, _mm512_set1_ps(1.0f)));
    const __m512 t =
        _mm512_maskz_div_ps(all, _mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), a));
    __m512 pl = _mm512_set1_ps(erfc_large[0]);
    for (int i = 1; i < 11; ++i) pl = _mm512_fmadd_ps(pl, t, _mm512_set1_ps(erfc_large[i]));
    const __m512 erfc_a = _mm512_mul_ps(e, pl);
    // 1 + erf(x/sqrt 2): x >= 0: 1 + erf(a) = 2 - erfc(a); x < 0: 1 - erf(a) = erfc(a).
    const __m512 one = _mm512_set1_ps(1.0f);
    const __mmask16 small = _mm512_cmp_ps_mask(a, half, _CMP_LT_OQ);
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 pos_sum = _mm512_mask_blend_ps(small, _mm512_sub_ps(_mm512_set1_ps(2.0f), erfc_a),
                                                _mm512_add_ps(one, erf_a));
    const __m512 neg_sum = _mm512_mask_blend_ps(small, erfc_a, _mm512_sub_ps(one, erf_a));
    const __m512 sum = _mm512_mask_blend_ps(neg, pos_sum, neg_sum);
    return _mm512_mul_ps(_mm512_mul_ps(half, x), sum);
}

inline __mmask16 tail_mask16(Eigen::Index left) noexcept {
    return static_cast<__mmask16>(left >= 16 ? 0xFFFFu : (1u << left) - 1u);
}

// Horizontal sum and maximum through memory (the reduce intrinsics trip GCC bug 105593).
EMBEDKIT_TARGET_AVX512 inline float hsum16(__m512 v) noexcept {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, v);
    for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; ++j) lanes[j] += lanes[j + w];
    return lanes[0];
}

EMBEDKIT_TARGET_AVX512 inline float hmax16(__m512 v) noexcept {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, v);
    return *std::max_element(lanes, lanes + 16);
}

EMBEDKIT_TARGET_AVX512 inline void gelu_erf_avx512(float* x, Eigen::Index n) noexcept {
    for (Eigen::Index i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask16(n - i);
        _mm512_mask_storeu_ps(x + i, m, gelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

EMBEDKIT_TARGET_AVX512 inline void softmax_avx512(float* row, Eigen::Index n,
                                                  float scale) noexcept {
    if (n <= 0) return;
    const __m512 s = _mm512_set1_ps(scale);
    const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __m512 mx = lowest;
    for (Eigen::Index i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask16(n - i);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + i), s);
        mx = _mm512_mask_max_ps(mx, m, mx, v);
    }
    const __m512 top = _mm512_set1_ps(hmax16(mx));
    __m512 sum = _mm512_setzero_ps();
    for (Eigen::Index i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask16(n - i);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + i), s);
        const __m512 e = exp16(_mm512_sub_ps(v, top));
        sum = _mm512_mask_add_ps(sum, m, sum, e);
        _mm512_mask_storeu_ps(row + i, m, e);
    }
    const __m512 total = _mm512_set1_ps(hsum16(sum));
    for (Eigen::Index i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask16(n - i);
        _mm512_mask_storeu_ps(row + i, m,
                              _mm512_maskz_div_ps(m, _mm512_maskz_loadu_ps(m, row + i), total));
    }
}

EMBEDKIT_TARGET_AVX512 inline double bce_with_logits_avx512(const float* x, const float* t,
                                                            Eigen::Index n, float grad_scale,
                                                            float* grad) noexcept {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 gs = _mm512_set1_ps(grad_scale);
    double total = 0;
    // Float partial sums per block of 1024 values, added into a double.
    for (Eigen::Index b = 0; b < n; b += 1024) {
        const Eigen::Index end = std::min<Eigen::Index>(n, b + 1024);
        __m512 acc = _mm512_setzero_ps();
        for (Eigen::Index i = b; i < end; i += 16) {
            const __mmask16 m = tail_mask16(end - i);
            const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
            const __m512 tv = _mm512_maskz_loadu_ps(m, t + i);
            const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(xv)));
            const __m512 term = _mm512_add_ps(
                _mm512_fnmadd_ps(xv, tv, _mm512_maskz_max_ps(0xFFFF, xv, _mm512_setzero_ps())),
                log1p01_16(e));
            acc = _mm512_mask_add_ps(acc, m, acc, term);
            // sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) below.
            const __m512 r = _mm512_maskz_div_ps(0xFFFF, one, _mm512_add_ps(one, e));
            const __mmask16 nonneg = _mm512_cmp_ps_mask(xv, _mm512_setzero_ps(), _CMP_GE_OQ);
            const __m512 sig = _mm512_mask_blend_ps(nonneg, _mm512_mul_ps(e, r), r);
            _mm512_mask_storeu_ps(grad + i, m, _mm512_mul_ps(_mm512_sub_ps(sig, tv), gs));
        }
        total += static_cast<double>(hsum16(acc));
    }
    return total;
}

EMBEDKIT_TARGET_AVX512 inline void adam_avx512(const AdamConstants& c, float* p, const float* g,
                                               float* m, float* v, Eigen::Index n) noexcept {
    const __m512 b1 = _mm512_set1_ps(c.b1), a1 = _mm512_set1_ps(c.a1);
    const __m512 b2 = _mm512_set1_ps(c.b2), a2 = _mm512_set1_ps(c.a2);
    const __m512 lr = _mm512_set1_ps(c.lr), eps = _mm512_set1_ps(c.eps);
    const __m512 decay = _mm512_set1_ps(c.decay);
    const bool decays = c.decay != 1.0f;
    for (Eigen::Index i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask16(n - i);
        const __m512 gv = _mm512_maskz_loadu_ps(k, g + i);
        const __m512 mv =
            _mm512_fmadd_ps(a1, gv, _mm512_mul_ps(b1, _mm512_maskz_loadu_ps(k, m + i)));
        const __m512 vv = _mm512_fmadd_ps(_mm512_mul_ps(a2, gv), gv,
                                          _mm512_mul_ps(b2, _mm512_maskz_loadu_ps(k, v + i)));
        __m512 pv = _mm512_maskz_loadu_ps(k, p + i);
        if (decays) pv = _mm512_mul_ps(pv, decay);
        const __m512 den = _mm512_add_ps(_mm512_maskz_sqrt_ps(0xFFFF, vv), eps);
        pv = _mm512_sub_ps(pv, _mm512_maskz_div_ps(0xFFFF, _mm512_mul_ps(lr, mv), den));
        _mm512_mask_storeu_ps(m + i, k, mv);
        _mm512_mask_storeu_ps(v + i, k, vv);
        _mm512_mask_storeu_ps(p + i, k, pv);
    }
}

EMBEDKIT_TARGET_AVX512 inline void add_row_avx512(float* x, Eigen::Index rows, Eigen::Index cols,
                                                  const float* b) noexcept {
    for (Eigen::Index r = 0; r < rows; ++r) {
        float* row = x + r * cols;
        for (Eigen::Index j = 0; j < cols; j += 16) {
            const __mmask16 k = tail_mask16(cols - j);
            _mm512_mask_storeu_ps(
                row + j, k,
                _mm512_add_ps(_mm512_maskz_loadu_ps(k, row + j), _mm512_maskz_loadu_ps(k, b + j)));
        }
    }
}

EMBEDKIT_TARGET_AVX512 inline void relu_avx512(float* x, Eigen::Index n) noexcept {
    for (Eigen::Index i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask16(n - i);
        // max(0, x): a NaN x is the second operand and comes through.
        _mm512_mask_storeu_ps(
            x + i, k,
            _mm512_maskz_max_ps(0xFFFF, _mm512_setzero_ps(), _mm512_maskz_loadu_ps(k, x + i)));
    }
}

EMBEDKIT_TARGET_AVX512 inline void relu_backward_avx512(float* g, const float* y,
                                                        Eigen::Index n) noexcept {
    for (Eigen::Index i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask16(n - i);
        const __mmask16 pos =
            _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(k, y + i), _mm512_setzero_ps(), _CMP_GT_OQ);
        _mm512_mask_storeu_ps(g + i, k, _mm512_maskz_loadu_ps(pos & k, g + i));
    }
}

EMBEDKIT_TARGET_AVX512 inline void column_sums_avx512(const float* x, Eigen::Index rows,
                                                      Eigen::Index cols, float* out) noexcept {
    for (Eigen::Index j = 0; j < cols; j += 16) {
        const __mmask16 k = tail_mask16(cols - j);
        __m512 acc = _mm512_setzero_ps();
        for (Eigen::Index r = 0; r < rows; ++r)
            acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(k, x + r * cols + j));
        _mm512_mask_storeu_ps(out + j, k, acc);
    }
}

// ---- AVX2+FMA -----------------------------------------------------------------------------
// Eight lanes; the last (n mod 8) values go through a zero-padded copy on the stack.

EMBEDKIT_TARGET_AVX2 inline __m256 exp8(__m256 x) noexcept {
    const __m256 xc =
        _mm256_min_ps(_mm256_set1_ps(exp_high), _mm256_max_ps(_mm256_set1_ps(exp_low), x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(log2e)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(ln2_hi), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(ln2_lo), r);
    __m256 p = _mm256_set1_ps(exp_poly[0]);
    for (int i = 1; i < 8; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_poly[i]));
    // 2^n as two factors 2^(n/2) 2^(n - n/2), each with a normal exponent for n in [-126, 128].
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    const __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    return _mm256_and_ps(y, _mm256_cmp_ps(x, _mm256_set1_ps(exp_low), _CMP_NLT_UQ));
}

EMBEDKIT_TARGET_AVX2 inline __m256 log1p01_8(__m256 e) noexcept {
    const __m256 s = _mm256_div_ps(e, _mm256_add_ps(_mm256_set1_ps(2.0f), e));
    const __m256 z = _mm256_mul_ps(s, s);
    __m256 p = _mm256_set1_ps(1.0f / 15);
    for (int k = 13; k >= 1; k -= 2)
        p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.0f / static_cast<float>(k)));
    return _mm256_mul_ps(_mm256_add_ps(s, s), p);
}

EMBEDKIT_TARGET_AVX2 inline __m256 gelu8(__m256 x) noexcept {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 a = _mm256_mul_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(0.70710678118654752f));
    const __m256 z = _mm256_mul_ps(a, a);
    __m256 ps = _mm256_set1_ps(erf_small[0]);
    for (int i = 1; i < 5; ++i) ps = _mm256_fmadd_ps(ps, z, _mm256_set1_ps(erf_small[i]));
    const __m256 erf_a = _mm256_mul_ps(a, ps);
    const __m256 xa = _mm256_min_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(16.0f));
    const __m256 xx = _mm256_mul_ps(xa, xa);
    const __m256 xx_lo = _mm256_fmsub_ps(xa, xa, xx);
    const __m256 half = _mm256_set1_ps(0.5f);
    const __m256 e = _mm256_mul_ps(exp8(_mm256_mul_ps(xx, _mm256_set1_ps(-0.5f))),
                                   _mm256_fnmadd_ps(xx_lo, half, _mm256_set1_ps(1.0f)));
    const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), a));
    __m256 pl = _mm256_set1_ps(erfc_large[0]);
    for (int i = 1; i < 11; ++i) pl = _mm256_fmadd_ps(pl, t, _mm256_set1_ps(erfc_large[i]));
    const __m256 erfc_a = _mm256_mul_ps(e, pl);
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 small = _mm256_cmp_ps(a, half, _CMP_LT_OQ);
    const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 pos_sum = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), erfc_a),
                                            _mm256_add_ps(one, erf_a), small);
    const __m256 neg_sum = _mm256_blendv_ps(erfc_a, _mm256_sub_ps(one, erf_a), small);
    return _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_blendv_ps(pos_sum, neg_sum, neg));
}

EMBEDKIT_TARGET_AVX2 inline __m256 load8_padded(const float* p, Eigen::Index count) noexcept {
    if (count == 8) return _mm256_loadu_ps(p);
    alignas(32) float buf[8] = {};
    std::copy(p, p + count, buf);
    return _mm256_load_ps(buf);
}

EMBEDKIT_TARGET_AVX2 inline void store8_partial(float* p, __m256 v, Eigen::Index count) noexcept {
    if (count == 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    alignas(32) float buf[8];
    _mm256_store_ps(buf, v);
    std::copy(buf, buf + count, p);
}

EMBEDKIT_TARGET_AVX2 inline float hsum8(__m256 v) noexcept {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

EMBEDKIT_TARGET_AVX2 inline void gelu_erf_avx2(float* x, Eigen::Index n) noexcept {
    for (Eigen::Index i = 0; i < n; i += 8) {
        const Eigen::Index c = std::min<Eigen::Index>(8, n - i);
        store8_partial(x + i, gelu8(load8_padded(x + i, c)), c);
    }
}

EMBEDKIT_TARGET_AVX2 inline void softmax_avx2(float* row, Eigen::Index n, float scale) noexcept {
    if (n <= 0) return;
    const __m256 s = _mm256_set1_ps(scale);
    const __m256 lowest = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    __m256 mx = lowest;
    for (Eigen::Index i = 0; i < n; i += 8) {
        const Eigen::Index c = std::min<Eigen::Index>(8, n - i);
        const __m256 v = _mm256_mul_ps(load8_padded(row + i, c), s);
        const __m256 valid = _mm256_cmp_ps(_mm256_set1_ps(static_cast<float>(c)),
                                           _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), _CMP_GT_OQ);
        mx = _mm256_max_ps(mx, _mm256_blendv_ps(lowest, v, valid));
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, mx);
    const float top_value = *std::max_element(lanes, lanes + 8);
    const __m256 top = _mm256_set1_ps(top_value);
    __m256 sum = _mm256_setzero_ps();
    for (Eigen::Index i = 0; i < n; i += 8) {
        const Eigen::Index c = std::min<Eigen::Index>(8, n - i);
        const __m256 v = _mm256_mul_ps(load8_padded(row + i, c), s);
        __m256 e = exp8(_mm256_sub_ps(v, top));
        if (c < 8) {
            const __m256 valid = _mm256_cmp_ps(_mm256_set1_ps(static_cast<float>(c)),
                                               _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), _CMP_GT_OQ);
            e = _mm256_and_ps(e, valid);
        }
        sum = _mm256_add_ps(sum, e);
        store8_partial(row + i, e, c);
    }
    const __m256 total = _mm256_set1_ps(hsum8(sum));
    for (Eigen::Index i = 0; i < n; i += 8) {
        const Eigen::Index c = std::min<Eigen::Index>(8, n - i);
        store8_partial(row + i, _mm256_div_ps(load8_padded(row + i, c), total), c);
    }
}

EMBEDKIT_TARGET_AVX2 inline double bce_with_logits_avx2(const float* x, const float* t,
                                                        Eigen::Index n, float grad_scale,
                                                        float* grad) noexcept {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 gs = _mm256_set1_ps(grad_scale);
    const __m256 zero = _mm256_setzero_ps();
    double total = 0;
    for (Eigen::Index b = 0; b < n; b += 1024) {
        const Eigen::Index end = std::min<Eigen::Index>(n, b + 1024);
        __m256 acc = zero;
        for (Eigen::Index i = b; i < end; i += 8) {
            const Eigen::Index c = std::min<Eigen::Index>(8, end - i);
            const __m256 xv = load8_padded(x + i, c);
            const __m256 tv = load8_padded(t + i, c);
            const __m256 e = exp8(_mm256_or_ps(xv, _mm256_set1_ps(-0.0f)));
            __m256 term =
                _mm256_add_ps(_mm256_fnmadd_ps(xv, tv, _mm256_max_ps(xv, zero)), log1p01_8(e));
            if (c < 8) {
                const __m256 valid =
                    _mm256_cmp_ps(_mm256_set1_ps(static_cast<float>(c)),
                                  _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), _CMP_GT_OQ);
                term = _mm256_and_ps(term, valid);
            }
            acc = _mm256_add_ps(acc, term);
            const __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e));
            const __m256 nonneg = _mm256_cmp_ps(xv, zero, _CMP_GE_OQ);
            const __m256 sig = _mm256_blendv_ps(_mm256_mul_ps(e, r), r, nonneg);
            store8_partial(grad + i, _mm256_mul_ps(_mm256_sub_ps(sig, tv), gs), c);
        }
        total += static_cast<double>(hsum8(acc));
    }
    return total;
}

EMBEDKIT_TARGET_AVX2 inline void adam_avx2(const AdamConstants& c, float* p, const float* g,
                                           float* m, float* v, Eigen::Index n) noexcept {
    const __m256 b1 = _mm256_set1_ps(c.b1), a1 = _mm256_set1_ps(c.a1);
    const __m256 b2 = _mm256_set1_ps(c.b2), a2 = _mm256_set1_ps(c.a2);
    const __m256 lr = _mm256_set1_ps(c.lr), eps = _mm256_set1_ps(c.eps);
    const __m256 decay = _mm256_set1_ps(c.decay);
    const bool decays = c.decay != 1.0f;
    for (Eigen::Index i = 0; i < n; i += 8) {
        const Eigen::Index k = std::min<Eigen::Index>(8, n - i);
        const __m256 gv = load8_padded(g + i, k);
        const __m256 mv = _mm256_fmadd_ps(a1, gv, _mm256_mul_ps(b1, load8_padded(m + i, k)));
        const __m256 vv =
            _mm256_fmadd_ps(_mm256_mul_ps(a2, gv), gv, _mm256_mul_ps(b2, load8_padded(v + i, k)));
        __m256 pv = load8_padded(p + i, k);
        if (decays) pv = _mm256_mul_ps(pv, decay);
        const __m256 den = _mm256_add_ps(_mm256_sqrt_ps(vv), eps);
        pv = _mm256_sub_ps(pv, _mm256_div_ps(_mm256_mul_ps(lr, mv), den));
        store8_partial(m + i, mv, k);
        store8_partial(v + i, vv, k);
        store8_partial(p + i, pv, k);
    }
}

EMBEDKIT_TARGET_AVX2 inline void add_row_avx2(float* x, Eigen::Index rows, Eigen::Index cols,
                                              const float* b) noexcept {
    for (Eigen::Index r = 0; r < rows; ++r) {
        float* row = x + r * cols;
        Eigen::Index j = 0;
        for (; j + 8 <= cols; j += 8)
            _mm256_storeu_ps(row + j,
                             _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(b + j)));
        for (; j < cols; ++j) row[j] += b[j];
    }
}

EMBEDKIT_TARGET_AVX2 inline void relu_avx2(float* x, Eigen::Index n) noexcept {
    Eigen::Index i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_max_ps(_mm256_setzero_ps(), _mm256_loadu_ps(x + i)));
    for (; i < n; ++i) x[i] = x[i] < 0.0f ? 0.0f : x[i];
}

EMBEDKIT_TARGET_AVX2 inline void relu_backward_avx2(float* g, const float* y,
                                                    Eigen::Index n) noexcept {
    Eigen::Index i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(y + i), _mm256_setzero_ps(), _CMP_GT_OQ);
        _mm256_storeu_ps(g + i, _mm256_and_ps(pos, _mm256_loadu_ps(g + i)));
    }
    for (; i < n; ++i) g[i] = y[i] > 0.0f ? g[i] : 0.0f;
}

EMBEDKIT_TARGET_AVX2 inline void column_sums_avx2(const float* x, Eigen::Index rows,
                                                  Eigen::Index cols, float* out) noexcept {
    Eigen::Index j = 0;
    for (; j + 8 <= cols; j += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (Eigen::Index r = 0; r < rows; ++r)
            acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + r * cols + j));
        _mm256_storeu_ps(out + j, acc);
    }
    for (; j < cols; ++j) {
        float acc = 0.0f;
        for (Eigen::Index r = 0; r < rows; ++r) acc += x[r * cols + j];
        out[j] = acc;
    }
}

#endif  // EMBEDKIT_ARCH_X86

/// The kernels of `level`, or null where the level has none (scalar, NEON: the callers'
/// portable Eigen expressions run there).
inline const ElementwiseKernels* elementwise_kernels([[maybe_unused]] simd::Level level) noexcept {
#if EMBEDKIT_ARCH_X86
    static constexpr ElementwiseKernels avx512{
        &gelu_erf_avx512, &softmax_avx512, &bce_with_logits_avx512, &adam_avx512,
        &add_row_avx512,  &relu_avx512,    &relu_backward_avx512,   &column_sums_avx512};
    static constexpr ElementwiseKernels avx2{
        &gelu_erf_avx2, &softmax_avx2, &bce_with_logits_avx2, &adam_avx2,
        &add_row_avx2,  &relu_avx2,    &relu_backward_avx2,   &column_sums_avx2};
    if (level == simd::Level::avx512) return &avx512;
    if (level == simd::Level::avx2) return &avx2;
#endif
    return nullptr;
}

}  // namespace embedkit::linalg::detail
