// linalg's elementwise kernels (GELU, softmax, the logistic loss, Adam) at every level that has
// them (forced), against long double, over many lengths and misaligned starts, with special
// values. The bounds are the ones documented in linalg/elementwise.hpp.
#include <embedkit/linalg/elementwise.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace ek = embedkit;
namespace simd = embedkit::simd;
using ek::linalg::detail::ElementwiseKernels;

namespace {

using LD = long double;

struct LevelKernels {
    simd::Level level;
    const ElementwiseKernels* kernels;
};

// The levels of this CPU that have kernels; on x86-64 with AVX2+FMA there must be some.
std::vector<LevelKernels> kernel_levels() {
    std::vector<LevelKernels> out;
    for (const simd::Level l : simd::supported())
        if (const auto* k = ek::linalg::detail::elementwise_kernels(l)) out.push_back({l, k});
#if EMBEDKIT_ARCH_X86
    if (simd::cpu_supports(simd::Level::avx2)) REQUIRE(!out.empty());
#endif
    if (out.empty()) MESSAGE("no elementwise kernels at this CPU's levels: callers run Eigen");
    return out;
}

LD gelu_ref(float x) {
    const LD v = x;
    return LD(0.5) * v * std::erfc(-v / std::sqrt(LD(2)));
}

// Values over the whole range GELU sees: a dense sweep of [-12, 12], the erf pieces' boundary
// (|x| / sqrt 2 = 1), the far tails, and tiny values.
std::vector<float> gelu_inputs() {
    std::vector<float> v;
    for (int i = -24000; i <= 24000; ++i) v.push_back(static_cast<float>(i) * 0.0005f);
    for (float x :
         {1.41421354f, 1.41421366f, -1.41421354f, -1.41421366f, 13.0f, -13.0f, 14.5f, -14.5f, 20.0f,
          -20.0f, 1e3f, -1e3f, 1e30f, 1e-30f, -1e-30f, 1e-40f, 0.0f, -0.0f})
        v.push_back(x);
    // Every float within 0.01 of the erf pieces' boundary (|x| = sqrt(2) / 2) and of
    // |x| = sqrt(2), both signs: where 1 -/+ erf could cancel.
    for (const float centre : {0.70710678f, 1.41421356f})
        for (const float sign : {1.0f, -1.0f})
            for (float x = centre - 0.01f; x <= centre + 0.01f; x = std::nextafter(x, 2.0f))
                v.push_back(sign * x);
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    for (int i = 0; i < 20000; ++i) v.push_back(normal(rng));
    return v;
}

}  // namespace

TEST_CASE("elementwise: GELU (erf form) is within 1e-6 relative of long double, NaN stays NaN") {
    const std::vector<float> in = gelu_inputs();
    for (const LevelKernels& lk : kernel_levels()) {
        INFO("level ", std::string(simd::level_name(lk.level)));
        std::vector<float> x = in;
        lk.kernels->gelu_erf(x.data(), static_cast<Eigen::Index>(x.size()));
        double worst = 0;
        for (std::size_t i = 0; i < in.size(); ++i) {
            const LD ref = gelu_ref(in[i]);
            // Relative bound, plus the smallest normal float: results below it may flush to 0.
            const LD bound = LD(1e-6) * std::fabs(ref) + LD(std::numeric_limits<float>::min());
            const LD err = std::fabs(LD(x[i]) - ref);
            if (!(err <= bound)) {
                INFO("x = ", in[i], " got ", x[i], " want ", static_cast<double>(ref));
                CHECK(err <= bound);
            }
            if (std::fabs(ref) > 1e-30L)
                worst = std::max(worst, static_cast<double>(err / std::fabs(ref)));
        }
        MESSAGE(simd::level_name(lk.level), ": worst relative error ", worst);
        // NaN stays NaN, +inf gives +inf; -inf gives NaN, as x/2 (1 + erf(x / sqrt 2))
        // evaluates in floating point (and as Eigen's and PyTorch's float GELU do).
        float specials[5] = {std::numeric_limits<float>::quiet_NaN(),
                             std::numeric_limits<float>::infinity(),
                             -std::numeric_limits<float>::infinity(), -20.0f, 5.0f};
        lk.kernels->gelu_erf(specials, 5);
        CHECK(std::isnan(specials[0]));
        CHECK(specials[1] == std::numeric_limits<float>::infinity());
        CHECK(std::isnan(specials[2]));
        CHECK(specials[3] == 0.0f);  // 0.5 x erfc(20 / sqrt 2): far below the smallest float
        CHECK(std::fabs(LD(specials[4]) - gelu_ref(5.0f)) <= LD(1e-6) * gelu_ref(5.0f));
        // Every length and start: the values do not depend on where they sit.
        for (int start = 0; start < 3; ++start)
            for (int n = 0; n <= 40; ++n) {
                std::vector<float> buf(static_cast<std::size_t>(start + n + 1), 7.0f);
                for (int i = 0; i < n; ++i)
                    buf[static_cast<std::size_t>(start + i)] =
                        in[static_cast<std::size_t>(i * 997)];
                lk.kernels->gelu_erf(buf.data() + start, n);
                for (int i = 0; i < n; ++i)
                    CHECK(buf[static_cast<std::size_t>(start + i)] ==
                          x[static_cast<std::size_t>(i * 997)]);
                CHECK(buf[static_cast<std::size_t>(start + n)] == 7.0f);
                if (start > 0) CHECK(buf[static_cast<std::size_t>(start - 1)] == 7.0f);
            }
    }
}

TEST_CASE("elementwise: softmax rows are within the float bound of long double at every length") {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 4.0f);
    for (const LevelKernels& lk : kernel_levels()) {
        INFO("level ", std::string(simd::level_name(lk.level)));
        double worst = 0;
        for (int n = 1; n <= 300; n += (n < 40 ? 1 : 13))
            for (int start = 0; start < 2; ++start) {
                const float scale = 0.125f + 0.5f * static_cast<float>(start);
                std::vector<float> row(static_cast<std::size_t>(n + start + 1));
                for (float& v : row) v = normal(rng);
                if (n > 5) row[static_cast<std::size_t>(start + 3)] = -300.0f;  // exp underflows
                const std::vector<float> in = row;
                lk.kernels->softmax(row.data() + start, n, scale);
                LD mx = -1e30L, sum = 0;
                for (int i = 0; i < n; ++i)
                    mx = std::max(mx, LD(scale) * LD(in[static_cast<std::size_t>(start + i)]));
                for (int i = 0; i < n; ++i)
                    sum += std::exp(LD(scale) * LD(in[static_cast<std::size_t>(start + i)]) - mx);
                for (int i = 0; i < n; ++i) {
                    const LD ref =
                        std::exp(LD(scale) * LD(in[static_cast<std::size_t>(start + i)]) - mx) /
                        sum;
                    const LD err = std::fabs(LD(row[static_cast<std::size_t>(start + i)]) - ref);
                    // scale x and its difference to the maximum are rounded to float (as in any
                    // float softmax): relative error up to 2 u (|scale x| + |max|) in the
                    // result, then 8 u for exp, the sum and the division (u = 2^-24).
                    const LD u = LD(std::numeric_limits<float>::epsilon()) / 2;
                    const LD v = std::fabs(LD(scale) * in[static_cast<std::size_t>(start + i)]);
                    const LD bound = ref * u * (8 + 2 * (v + std::fabs(mx)));
                    CHECK(err <= bound + LD(std::numeric_limits<float>::min()));
                    if (ref > 1e-30L) worst = std::max(worst, static_cast<double>(err / ref));
                }
                CHECK(row.back() == in.back());  // nothing written past the row
                if (start > 0) CHECK(row[0] == in[0]);
            }
        MESSAGE(simd::level_name(lk.level), ": worst relative error ", worst);
        // A NaN anywhere makes the row NaN; so do +inf and a row of -inf only (inf - inf),
        // as in the Eigen form; -inf beside finite values gives 0.
        const float inf = std::numeric_limits<float>::infinity();
        float nan_row[3] = {1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f};
        lk.kernels->softmax(nan_row, 3, 1.0f);
        CHECK(std::isnan(nan_row[0]));
        CHECK(std::isnan(nan_row[2]));
        float inf_row[2] = {1.0f, inf};
        lk.kernels->softmax(inf_row, 2, 1.0f);
        CHECK(std::isnan(inf_row[1]));
        float low_row[2] = {-inf, -inf};
        lk.kernels->softmax(low_row, 2, 1.0f);
        CHECK(std::isnan(low_row[0]));
        float mixed_row[3] = {-inf, 0.0f, 0.0f};
        lk.kernels->softmax(mixed_row, 3, 1.0f);
        CHECK(mixed_row[0] == 0.0f);
        CHECK(mixed_row[1] == 0.5f);
    }
}

TEST_CASE(
    "elementwise: the logistic loss and its gradient match long double, saturated logits "
    "included") {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 6.0f);
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    for (const LevelKernels& lk : kernel_levels()) {
        INFO("level ", std::string(simd::level_name(lk.level)));
        for (int n : {1, 7, 8, 15, 16, 17, 31, 100, 1023, 1024, 1025, 5000}) {
            std::vector<float> x(static_cast<std::size_t>(n)), t(x.size()), g(x.size() + 1, 9.0f);
            for (std::size_t i = 0; i < x.size(); ++i) {
                x[i] = normal(rng);
                t[i] = i % 3 == 0 ? unit(rng) : static_cast<float>(i % 2);
            }
            if (n > 4) {
                x[1] = 90.0f;  // exp(-|x|) underflows
                x[2] = -95.0f;
                x[3] = 0.0f;
                x[4] = -1e-20f;
            }
            const float scale = 0.01f;
            const double loss = lk.kernels->bce_with_logits(x.data(), t.data(), n, scale, g.data());
            LD want = 0;
            for (std::size_t i = 0; i < x.size(); ++i) {
                const LD xv = x[i], tv = t[i];
                want += std::max(xv, LD(0)) - xv * tv + std::log1p(std::exp(-std::fabs(xv)));
                const LD sig = LD(1) / (LD(1) + std::exp(-xv));
                const LD grad = (sig - tv) * LD(scale);
                // A few roundings of values up to 1, times the scale.
                CHECK(std::fabs(LD(g[i]) - grad) <= LD(4e-7) * LD(scale));
            }
            CHECK(g.back() == 9.0f);
            CHECK(std::fabs(LD(loss) - want) <= LD(1e-6) * std::fabs(want) + LD(1e-7) * n);
        }
        float x[2] = {std::numeric_limits<float>::quiet_NaN(), 1.0f}, t[2] = {1.0f, 1.0f}, g[2];
        CHECK(std::isnan(lk.kernels->bce_with_logits(x, t, 2, 1.0f, g)));
        CHECK(std::isnan(g[0]));
    }
}

TEST_CASE("elementwise: the Adam update matches long double at every length") {
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (const LevelKernels& lk : kernel_levels()) {
        INFO("level ", std::string(simd::level_name(lk.level)));
        for (const float decay : {1.0f, 0.999f})
            for (int n : {1, 5, 8, 9, 16, 17, 33, 1000}) {
                const ek::linalg::detail::AdamConstants c{0.9f,   0.1f,  0.999f, 0.001f,
                                                          0.003f, 1e-7f, decay};
                std::vector<float> p(static_cast<std::size_t>(n + 1)), g(p.size()), m(p.size()),
                    v(p.size());
                for (std::size_t i = 0; i < p.size(); ++i) {
                    p[i] = normal(rng);
                    g[i] = normal(rng) * (i % 4 == 0 ? 1e-4f : 1.0f);
                    m[i] = normal(rng) * 0.1f;
                    v[i] = std::fabs(normal(rng)) * 0.01f;
                }
                const auto p0 = p, m0 = m, v0 = v;
                lk.kernels->adam(c, p.data(), g.data(), m.data(), v.data(), n);
                for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
                    const LD mv = LD(c.b1) * m0[i] + LD(c.a1) * g[i];
                    const LD vv = LD(c.b2) * v0[i] + LD(c.a2) * LD(g[i]) * g[i];
                    const LD pv = LD(decay) * p0[i] - LD(c.lr) * mv / (std::sqrt(vv) + LD(c.eps));
                    CHECK(std::fabs(LD(m[i]) - mv) <=
                          LD(3e-7) * (std::fabs(mv) + LD(c.a1) * std::fabs(g[i])));
                    CHECK(std::fabs(LD(v[i]) - vv) <= LD(3e-7) * vv);
                    // Roundings of p and of the step: relative to each.
                    const LD step = LD(c.lr) * std::fabs(mv) / (std::sqrt(vv) + LD(c.eps));
                    CHECK(std::fabs(LD(p[i]) - pv) <= LD(3e-7) * (std::fabs(p0[i]) + step));
                }
                const std::size_t last = static_cast<std::size_t>(n);
                CHECK(p[last] == p0[last]);
                CHECK(m[last] == m0[last]);
                CHECK(v[last] == v0[last]);
            }
    }
}

TEST_CASE("elementwise: bias rows, ReLU forward and backward, and column sums are exact") {
    std::mt19937 rng(21);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (const LevelKernels& lk : kernel_levels()) {
        INFO("level ", std::string(simd::level_name(lk.level)));
        for (Eigen::Index rows : {1, 3, 17})
            for (Eigen::Index cols : {1, 7, 8, 9, 16, 17, 33, 784}) {
                const auto size = static_cast<std::size_t>(rows * cols);
                std::vector<float> x(size + 1), b(static_cast<std::size_t>(cols)), g(size + 1);
                for (float& v : x) v = normal(rng);
                for (float& v : b) v = normal(rng);
                for (float& v : g) v = normal(rng);
                x[0] = std::numeric_limits<float>::quiet_NaN();
                const auto x0 = x, g0 = g;
                lk.kernels->add_row(x.data(), rows, cols, b.data());
                for (std::size_t i = 1; i < size; ++i) CHECK(x[i] == x0[i] + b[i % b.size()]);
                CHECK(std::isnan(x[0]));
                CHECK(x[size] == x0[size]);
                const auto added = x;
                lk.kernels->relu(x.data(), rows * cols);
                for (std::size_t i = 1; i < size; ++i)
                    CHECK(x[i] == (added[i] < 0.0f ? 0.0f : added[i]));
                CHECK(std::isnan(x[0]));  // NaN stays NaN
                CHECK(x[size] == added[size]);
                lk.kernels->relu_backward(g.data(), x.data(), rows * cols);
                for (std::size_t i = 1; i < size; ++i) CHECK(g[i] == (x[i] > 0.0f ? g0[i] : 0.0f));
                CHECK(g[0] == 0.0f);  // y = NaN is not > 0
                CHECK(g[size] == g0[size]);
                std::vector<float> sums(static_cast<std::size_t>(cols) + 1, 5.0f);
                lk.kernels->column_sums(g0.data(), rows, cols, sums.data());
                for (Eigen::Index j = 0; j < cols; ++j) {
                    float want = 0.0f;  // in row order, as documented
                    for (Eigen::Index r = 0; r < rows; ++r)
                        want += g0[static_cast<std::size_t>(r * cols + j)];
                    CHECK(sums[static_cast<std::size_t>(j)] == want);
                }
                CHECK(sums.back() == 5.0f);
            }
    }
}
