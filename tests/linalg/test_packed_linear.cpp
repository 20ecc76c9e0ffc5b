// linalg::PackedLinear: y = x W^T + b at every SIMD level this CPU supports (forced), against a
// long-double reference over many shapes, strides and misaligned starts; special values; the
// independence of a row's result from the rest of the batch; packing round trips.
#include <embedkit/linalg/packed_linear.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using embedkit::RowMatrixF;
using embedkit::VectorF;
using embedkit::linalg::PackedLinear;
namespace simd = embedkit::simd;
using Index = Eigen::Index;

constexpr float sentinel = -12345.0f;

struct LinearCase {
    Index m, k, n;
};

RowMatrixF random_matrix(Index rows, Index cols, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    RowMatrixF a(rows, cols);
    for (Index i = 0; i < a.size(); ++i) a.data()[i] = u(rng);
    return a;
}

// Runs the raw-pointer apply on x stored with row stride k + 3 starting one float past an
// aligned buffer, into y with row stride n + 5 (also one float in), and checks every output
// against long double within (k + 1) u (|b| + sum |x w|), and that the gaps are untouched.
void check_case(const LinearCase& c, std::mt19937& rng) {
    INFO("m ", c.m, " k ", c.k, " n ", c.n);
    const RowMatrixF x = random_matrix(c.m, c.k, rng);
    const RowMatrixF w = random_matrix(c.n, c.k, rng);
    const VectorF b = random_matrix(c.n, 1, rng);
    const PackedLinear lin(w, b);
    REQUIRE(lin.in() == c.k);
    REQUIRE(lin.out() == c.n);

    const Index ldx = c.k + 3;
    const Index ldy = c.n + 5;
    std::vector<float> xs(static_cast<std::size_t>(1 + c.m * ldx), sentinel);
    std::vector<float> ys(static_cast<std::size_t>(1 + c.m * ldy + 5), sentinel);
    for (Index i = 0; i < c.m; ++i)
        for (Index j = 0; j < c.k; ++j) xs[static_cast<std::size_t>(1 + i * ldx + j)] = x(i, j);
    lin.apply(xs.data() + 1, c.m, ldx, ys.data() + 1, ldy);

    const long double u = std::ldexp(1.0L, -24);
    int bad = 0;
    for (Index i = 0; i < c.m; ++i) {
        for (Index j = 0; j < ldy; ++j) {
            const float got = ys[static_cast<std::size_t>(1 + i * ldy + j)];
            if (j >= c.n) {
                if (got != sentinel && bad++ < 5) FAIL_CHECK("row ", i, " gap ", j, " written");
                continue;
            }
            long double ref = b(j), mag = std::fabs(static_cast<long double>(b(j)));
            for (Index q = 0; q < c.k; ++q) {
                const long double p = static_cast<long double>(x(i, q)) * w(j, q);
                ref += p;
                mag += std::fabs(p);
            }
            const long double bound = (c.k + 2) * u * mag * 1.01L + 1e-30L;
            if (!(std::fabs(got - ref) <= bound) && bad++ < 5)
                FAIL_CHECK("y(", i, ", ", j, ") = ", got, ", reference ", double(ref), ", bound ",
                           double(bound));
        }
    }
    CHECK(ys[0] == sentinel);
    CHECK(ys.back() == sentinel);
    CHECK(bad == 0);
}

std::vector<LinearCase> cases() {
    std::vector<LinearCase> out;
    for (Index m : {0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 25})
        for (Index k : {0, 1, 2, 3, 8, 9, 17, 64})
            for (Index n : {1, 2, 7, 8, 15, 16, 17, 31, 33, 48}) out.push_back({m, k, n});
    // The encoder's shapes (all-MiniLM-L6-v2: H 384, 3H 1152, I 1536), and a k whose row block
    // (linalg::detail::block_rows) does not divide m.
    // Few rows: the reference is long double, which aarch64 emulates in software (the neon
    // step runs this under qemu).
    out.push_back({13, 384, 1152});
    out.push_back({7, 1536, 384});
    out.push_back({8, 384, 1536});
    out.push_back({100, 1000, 40});
    return out;
}

}  // namespace

TEST_CASE("PackedLinear: every shape, stride and misaligned start, at every level") {
    std::string names;
    for (const simd::Level l : simd::supported()) names += " " + std::string(simd::level_name(l));
    MESSAGE("levels of this CPU:", names);
#if EMBEDKIT_ARCH_X86
    if (!simd::cpu_supports(simd::Level::avx2))
        MESSAGE("this CPU lacks AVX2+FMA: the AVX2 kernel is not run here");
#endif
    for (const simd::Level level : simd::supported()) {
        const simd::Scoped forced(level);
        INFO("level ", std::string(simd::level_name(level)));
        std::mt19937 rng(1234);
        for (const LinearCase& c : cases()) check_case(c, rng);
    }
}

TEST_CASE("PackedLinear: the AVX-512 and AVX2 kernels give the same bits") {
#if EMBEDKIT_ARCH_X86
    if (!simd::cpu_supports(simd::Level::avx512)) {
        MESSAGE("this CPU lacks AVX-512F: the AVX-512 kernel is not run here");
        return;
    }
    std::mt19937 rng(77);
    int compared = 0;
    // Odd and even panel counts (an odd last panel takes the AVX2 kernel at avx512), row counts
    // around the 12-row tile, the encoder's shapes.
    for (const Index m : {1, 11, 12, 13, 25, 40})
        for (const Index k : {1, 17, 384})
            for (const Index n : {5, 16, 17, 32, 33, 48, 1152}) {
                const RowMatrixF x = random_matrix(m, k, rng);
                const PackedLinear lin(random_matrix(n, k, rng), random_matrix(n, 1, rng));
                RowMatrixF y2, y5;
                {
                    const simd::Scoped forced(simd::Level::avx2);
                    lin.apply(x, y2);
                }
                {
                    const simd::Scoped forced(simd::Level::avx512);
                    lin.apply(x, y5);
                }
                INFO("m ", m, " k ", k, " n ", n);
                REQUIRE(y2.rows() == y5.rows());
                CHECK(std::memcmp(y2.data(), y5.data(), sizeof(float) * std::size_t(y2.size())) ==
                      0);
                ++compared;
            }
    CHECK(compared == 6 * 3 * 7);
#else
    MESSAGE("not an x86-64 build: no AVX-512 kernel");
#endif
}

TEST_CASE("PackedLinear: a row's result does not depend on the other rows, at every level") {
    // k = 1000: row blocks of 36 (linalg::detail::block_rows), so the 100 rows cross block
    // boundaries and take every position in a 6-row tile; each row is also computed alone and
    // at an offset inside a shifted copy of the batch.
    std::mt19937 rng(99);
    const Index k = 1000, n = 40;
    const RowMatrixF x = random_matrix(100, k, rng);
    const PackedLinear lin(random_matrix(n, k, rng), random_matrix(n, 1, rng));
    RowMatrixF shifted(103, k);
    shifted.topRows(3) = random_matrix(3, k, rng);
    shifted.bottomRows(100) = x;
    for (const simd::Level level : simd::supported()) {
        const simd::Scoped forced(level);
        INFO("level ", std::string(simd::level_name(level)));
        RowMatrixF all, all_shifted;
        lin.apply(x, all);
        lin.apply(shifted, all_shifted);
        for (Index i = 0; i < x.rows(); ++i) {
            CAPTURE(i);
            RowMatrixF one;
            lin.apply(RowMatrixF(x.row(i)), one);
            CHECK(std::memcmp(one.data(), all.row(i).data(), n * sizeof(float)) == 0);
            CHECK(std::memcmp(all_shifted.row(i + 3).data(), all.row(i).data(),
                              n * sizeof(float)) == 0);
        }
    }
}

TEST_CASE("PackedLinear: NaN and infinity stay in their row and column, at every level") {
    std::mt19937 rng(7);
    RowMatrixF x = random_matrix(9, 20, rng);
    RowMatrixF w = random_matrix(19, 20, rng);
    x(4, 3) = std::numeric_limits<float>::quiet_NaN();
    w(17, 0) = std::numeric_limits<float>::infinity();
    x.col(0).setConstant(0.5f);  // so column 17 is +inf in every row but row 4
    const PackedLinear lin(w, VectorF::Zero(19));
    for (const simd::Level level : simd::supported()) {
        const simd::Scoped forced(level);
        INFO("level ", std::string(simd::level_name(level)));
        RowMatrixF y;
        lin.apply(x, y);
        for (Index i = 0; i < y.rows(); ++i)
            for (Index j = 0; j < y.cols(); ++j) {
                INFO("y(", i, ", ", j, ") = ", y(i, j));
                if (i == 4)
                    CHECK(std::isnan(y(i, j)));
                else if (j == 17)
                    CHECK(y(i, j) == std::numeric_limits<float>::infinity());
                else
                    CHECK(std::isfinite(y(i, j)));
            }
    }
}

TEST_CASE("PackedLinear: weight() and bias() give back what was packed, bit for bit") {
    std::mt19937 rng(5);
    for (Index n : {1, 16, 21}) {
        RowMatrixF w = random_matrix(n, 7, rng);
        w(0, 0) = -0.0f;
        const VectorF b = random_matrix(n, 1, rng);
        const PackedLinear lin(w, b);
        const RowMatrixF w2 = lin.weight();
        const VectorF b2 = lin.bias();
        REQUIRE(w2.rows() == n);
        REQUIRE(b2.size() == n);
        CHECK(std::memcmp(w2.data(), w.data(), sizeof(float) * std::size_t(w.size())) == 0);
        CHECK(std::memcmp(b2.data(), b.data(), sizeof(float) * std::size_t(b.size())) == 0);
    }
    const PackedLinear empty;
    CHECK(empty.in() == 0);
    CHECK(empty.out() == 0);
}
