// linalg::PackedLinear in bf16 and int8: at every SIMD level this CPU supports and, at avx512,
// with its BF16 and VNNI kernels each switched off in turn (the decoded float path), against a
// long-double product of the rounded or quantised operands; the quantiser's rules; NaN rows;
// linalg::gemm at every level.
#include <embedkit/linalg/gemm.hpp>
#include <embedkit/linalg/packed_linear.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace lowp {

using embedkit::CpuFeatures;
using embedkit::RowMatrixF;
using embedkit::VectorF;
using embedkit::linalg::PackedLinear;
using embedkit::linalg::Precision;
namespace simd = embedkit::simd;
namespace lin = embedkit::linalg::detail;
using Index = Eigen::Index;

RowMatrixF uniform(Index rows, Index cols, std::mt19937& rng, float scale = 1.0f) {
    std::uniform_real_distribution<float> u(-scale, scale);
    RowMatrixF a(rows, cols);
    for (Index i = 0; i < a.size(); ++i) a.data()[i] = u(rng);
    return a;
}

// Every (level, features) the CPU can run: each level, and at avx512 the BF16 and VNNI kernels
// on and off.
struct Setting {
    simd::Level level;
    CpuFeatures features;
    std::string name;
};

std::vector<Setting> settings() {
    std::vector<Setting> out;
    const CpuFeatures cpu = embedkit::cpu_features();
    for (const simd::Level level : simd::supported()) {
        const std::string name(simd::level_name(level));
        if (level != simd::Level::avx512) {
            out.push_back({level, cpu, name});
            continue;
        }
        for (const bool bf16 : {false, true})
            for (const bool vnni : {false, true}) {
                if ((bf16 && !cpu.avx512bf16) || (vnni && !cpu.avx512vnni)) continue;
                CpuFeatures f = cpu;
                f.avx512bf16 = bf16;
                f.avx512vnni = vnni;
                out.push_back({level, f, name + (bf16 ? "+bf16" : "") + (vnni ? "+vnni" : "")});
            }
    }
    return out;
}

// The values an int8 row stands for, by the scalar quantiser, in long double.
std::vector<long double> dequantized_row(const float* x, Index k) {
    const Index groups = lin::int8_groups(k);
    std::vector<std::uint8_t> u(static_cast<std::size_t>(groups * lin::int8_group));
    std::vector<float> s(static_cast<std::size_t>(groups)), z(static_cast<std::size_t>(groups));
    lin::quantize_row_int8(x, k, u.data(), s.data(), z.data());
    std::vector<long double> out(static_cast<std::size_t>(k));
    for (Index i = 0; i < k; ++i) {
        const auto g = static_cast<std::size_t>(i / lin::int8_group);
        out[static_cast<std::size_t>(i)] =
            (static_cast<long double>(u[static_cast<std::size_t>(i)]) - z[g]) * s[g];
    }
    return out;
}

// y = x W^T + b at one setting against long double on the operands as the precision rounds
// them: x rounded to bf16, or quantised by the scalar quantiser; W as weight() gives it back.
// Bound: (k + 4) u (|b| + sum |x w|), the float kernels' bound with room for the scale
// products of int8. x with row stride k + 3, y with n + 5, both one float into their buffers.
int check_product(const PackedLinear& layer, const RowMatrixF& x, const Setting& s) {
    const Index m = x.rows(), k = layer.in(), n = layer.out();
    const Index ldx = k + 3, ldy = n + 5;
    std::vector<float> xs(static_cast<std::size_t>(1 + m * ldx), 0.0f);
    std::vector<float> ys(static_cast<std::size_t>(1 + m * ldy + 5), -7.0f);
    for (Index i = 0; i < m; ++i)
        for (Index j = 0; j < k; ++j) xs[static_cast<std::size_t>(1 + i * ldx + j)] = x(i, j);
    layer.apply_using(s.level, s.features, xs.data() + 1, m, ldx, ys.data() + 1, ldy);
    const RowMatrixF w = layer.weight();
    const VectorF b = layer.bias();
    const long double u = std::ldexp(1.0L, -24);
    int bad = 0;
    for (Index i = 0; i < m; ++i) {
        std::vector<long double> xr(static_cast<std::size_t>(k));
        if (layer.precision() == Precision::int8) {
            xr = dequantized_row(x.row(i).data(), k);
        } else {
            for (Index j = 0; j < k; ++j)
                xr[static_cast<std::size_t>(j)] = embedkit::detail::bf16_bits_to_float(
                    embedkit::detail::float_to_bf16_bits(x(i, j)));
        }
        for (Index o = 0; o < ldy; ++o) {
            const float got = ys[static_cast<std::size_t>(1 + i * ldy + o)];
            if (o >= n) {
                if (got != -7.0f && bad++ < 5) FAIL_CHECK("row ", i, " gap ", o, " written");
                continue;
            }
            long double ref = b(o), mag = std::fabs(static_cast<long double>(b(o)));
            for (Index j = 0; j < k; ++j) {
                const long double p = xr[static_cast<std::size_t>(j)] * w(o, j);
                ref += p;
                mag += std::fabs(p);
            }
            const long double bound = (k + 4) * u * mag * 1.01L + 1e-30L;
            if (!(std::fabs(got - ref) <= bound) && bad++ < 5)
                FAIL_CHECK("y(", i, ", ", o, ") = ", got, ", reference ", double(ref), ", bound ",
                           double(bound));
        }
    }
    CHECK(ys[0] == -7.0f);
    CHECK(ys.back() == -7.0f);
    return bad;
}

}  // namespace lowp

using namespace lowp;

TEST_CASE(
    "PackedLinear bf16 and int8: every shape at every level and kernel, against the "
    "rounded operands") {
    std::string names;
    for (const Setting& s : settings()) names += " " + s.name;
    MESSAGE("settings run:", names);
    struct Shape {
        Index m, k, n;
    };
    std::vector<Shape> shapes;
    for (Index m : {1, 2, 5, 6, 7, 12, 13, 19})
        for (Index k : {1, 2, 3, 63, 64, 65, 130})
            for (Index n : {1, 15, 16, 17, 33, 64}) shapes.push_back({m, k, n});
    // The encoder's shapes (few rows: the long-double reference is emulated under qemu), and
    // enough rows to cross the row blocks of every path.
    shapes.push_back({13, 384, 1152});
    shapes.push_back({7, 1536, 384});
    shapes.push_back({3, 384, 1536});
    shapes.push_back({120, 1000, 40});
    for (const Precision p : {Precision::bf16, Precision::int8})
        for (const Setting& s : settings()) {
            INFO(embedkit::linalg::precision_name(p), " at ", s.name);
            std::mt19937 rng(31);
            int bad = 0;
            for (const Shape& c : shapes) {
                INFO("m ", c.m, " k ", c.k, " n ", c.n);
                const PackedLinear layer(uniform(c.n, c.k, rng, 0.1f), uniform(c.n, 1, rng), p);
                REQUIRE(layer.precision() == p);
                RowMatrixF x = uniform(c.m, c.k, rng);
                if (c.k > 20) x(0, 17) = 40.0f;  // an outlier in row 0's first group
                bad += check_product(layer, x, s);
            }
            CHECK(bad == 0);
        }
}

TEST_CASE("PackedLinear bf16 and int8: the kernels agree with the decoded path") {
    // The same rounded operands through VDPBF16PS / VPDPBUSD and through the float kernels:
    // equal within the float sums' rounding (the bound above), on the encoder's shapes.
    std::mt19937 rng(8);
    const std::vector<Setting> all = settings();
    for (const Precision p : {Precision::bf16, Precision::int8}) {
        const PackedLinear layer(uniform(1152, 384, rng, 0.05f), uniform(1152, 1, rng), p);
        const RowMatrixF x = uniform(40, 384, rng);
        RowMatrixF first;
        for (const Setting& s : all) {
            INFO(embedkit::linalg::precision_name(p), " at ", s.name);
            RowMatrixF y(40, 1152);
            layer.apply_using(s.level, s.features, x.data(), 40, 384, y.data(), 1152);
            if (first.size() == 0) {
                first = y;
                continue;
            }
            const float diff = (y - first).cwiseAbs().maxCoeff();
            CHECK(diff <= 1e-4f);
        }
    }
}

TEST_CASE("int8 quantiser: scales, zero points and codes as documented, the AVX-512 one the same") {
    std::mt19937 rng(3);
    std::vector<std::vector<float>> rows;
    for (Index k : {1, 5, 63, 64, 65, 200, 384}) {
        const RowMatrixF r = uniform(1, k, rng);
        rows.emplace_back(r.data(), r.data() + k);
    }
    rows.push_back(std::vector<float>(70, 0.0f));    // all zero
    rows.push_back(std::vector<float>(70, 2.5f));    // all positive, one value
    rows.push_back(std::vector<float>(70, -1e-3f));  // all negative
    std::vector<float> outlier(130, 0.01f);
    outlier[5] = 300.0f;
    rows.push_back(outlier);
    std::vector<float> subnormal(64, 1e-41f);
    subnormal[1] = -3e-42f;
    rows.push_back(subnormal);
    for (const std::vector<float>& row : rows) {
        const Index k = static_cast<Index>(row.size());
        const Index groups = lin::int8_groups(k);
        INFO("k ", k, " first ", row[0]);
        std::vector<std::uint8_t> u(static_cast<std::size_t>(groups * 64), 1);
        std::vector<float> s(static_cast<std::size_t>(groups)), z(s.size());
        REQUIRE(lin::quantize_row_int8(row.data(), k, u.data(), s.data(), z.data()));
        for (Index g = 0; g < groups; ++g) {
            const auto gi = static_cast<std::size_t>(g);
            float lo = 0.0f, hi = 0.0f;
            for (Index i = g * 64; i < std::min(k, g * 64 + 64); ++i) {
                lo = std::min(lo, row[static_cast<std::size_t>(i)]);
                hi = std::max(hi, row[static_cast<std::size_t>(i)]);
            }
            const bool tiny = (hi - lo) / 255.0f < lin::int8_tiny_scale;
            CHECK(s[gi] == (tiny ? 1.0f : (hi - lo) / 255.0f));
            CHECK(z[gi] >= 0.0f);
            CHECK(z[gi] <= 255.0f);
            for (Index i = g * 64; i < g * 64 + 64; ++i) {
                const auto ii = static_cast<std::size_t>(i);
                if (i >= k) {
                    CHECK(u[ii] == z[gi]);  // padding stands for 0
                    continue;
                }
                const float back = (static_cast<float>(u[ii]) - z[gi]) * s[gi];
                if (tiny)
                    CHECK(back == 0.0f);  // a group of (near) zeros stands for zeros
                else
                    CHECK(std::fabs(back - row[ii]) <= 0.5f * s[gi] * 1.0001f);
            }
        }
#if EMBEDKIT_ARCH_X86
        if (embedkit::cpu_features().avx512f) {
            std::vector<std::uint8_t> u2(u.size(), 2);
            std::vector<float> s2(s.size()), z2(z.size());
            REQUIRE(lin::quantize_row_int8_avx512(row.data(), k, u2.data(), s2.data(), z2.data()));
            CHECK(u2 == u);
            CHECK(s2 == s);
            CHECK(z2 == z);
        }
#endif
    }
}

TEST_CASE("PackedLinear int8 and bf16: NaN and infinity in a row give NaN in that row only") {
    std::mt19937 rng(12);
    const RowMatrixF w = uniform(40, 100, rng, 0.1f);
    for (const Precision p : {Precision::bf16, Precision::int8}) {
        const PackedLinear layer(w, VectorF::Zero(40), p);
        RowMatrixF x = uniform(9, 100, rng);
        x(2, 70) = std::numeric_limits<float>::quiet_NaN();
        x(5, 3) = std::numeric_limits<float>::infinity();
        for (const Setting& s : settings()) {
            INFO(embedkit::linalg::precision_name(p), " at ", s.name);
            RowMatrixF y(9, 40);
            layer.apply_using(s.level, s.features, x.data(), 9, 100, y.data(), 40);
            for (Index i = 0; i < 9; ++i) {
                INFO("row ", i);
                if (i == 2) {
                    CHECK(y.row(i).array().isNaN().all());
                } else if (i == 5) {
                    // int8: the whole row is NaN; bf16: inf times weights of both signs.
                    if (p == Precision::int8)
                        CHECK(y.row(i).array().isNaN().all());
                    else
                        CHECK(!y.row(i).array().isFinite().any());
                } else {
                    CHECK(y.row(i).array().isFinite().all());
                }
            }
        }
    }
}

TEST_CASE(
    "PackedLinear int8: a row whose range overflows floats gives NaN, no inputs give the "
    "bias") {
    std::mt19937 rng(13);
    const PackedLinear layer(uniform(20, 70, rng, 0.1f), uniform(20, 1, rng), Precision::int8);
    RowMatrixF x = uniform(3, 70, rng);
    x(1, 2) = 3e38f;  // max - min overflows to infinity: no scale fits
    x(1, 9) = -3e38f;
    const PackedLinear empty(RowMatrixF(5, 0), uniform(5, 1, rng), Precision::int8);
    for (const Setting& s : settings()) {
        INFO(s.name);
        RowMatrixF y(3, 20);
        layer.apply_using(s.level, s.features, x.data(), 3, 70, y.data(), 20);
        CHECK(y.row(0).array().isFinite().all());
        CHECK(y.row(1).array().isNaN().all());
        CHECK(y.row(2).array().isFinite().all());
        RowMatrixF e(2, 5);
        const float none = 0.0f;
        empty.apply_using(s.level, s.features, &none, 2, 0, e.data(), 5);
        CHECK((e.row(0) - empty.bias().transpose()).cwiseAbs().maxCoeff() == 0.0f);
        CHECK((e.row(1) - empty.bias().transpose()).cwiseAbs().maxCoeff() == 0.0f);
    }
}

TEST_CASE("PackedLinear bf16 and int8: weight() gives the rounded weights, bytes() shrinks") {
    std::mt19937 rng(4);
    RowMatrixF w = uniform(21, 130, rng);
    w(3, 100) = 9.0f;  // a large weight: coarser codes in its group only
    const VectorF b = uniform(21, 1, rng);
    const PackedLinear f32(w, b), bf(w, b, Precision::bf16), q(w, b, Precision::int8);
    const RowMatrixF wb = bf.weight(), wq = q.weight();
    for (Index o = 0; o < 21; ++o)
        for (Index k = 0; k < 130; ++k) {
            INFO("w(", o, ", ", k, ") = ", w(o, k));
            CHECK(wb(o, k) == embedkit::detail::bf16_bits_to_float(
                                  embedkit::detail::float_to_bf16_bits(w(o, k))));
            float m = 0.0f;  // the group's largest magnitude
            for (Index j = k / 64 * 64; j < std::min<Index>(130, k / 64 * 64 + 64); ++j)
                m = std::max(m, std::fabs(w(o, j)));
            CHECK(std::fabs(wq(o, k) - w(o, k)) <= 0.5f * m / 127.0f * 1.0001f);
        }
    CHECK((bf.bias() - b).cwiseAbs().maxCoeff() == 0.0f);
    CHECK((q.bias() - b).cwiseAbs().maxCoeff() == 0.0f);
    // Held bytes on an encoder shape: bf16 half of fp32, int8 a quarter plus 1/32 (a scale
    // and a code sum per 64 codes).
    const RowMatrixF big = uniform(384, 1536, rng);
    const VectorF zb = VectorF::Zero(384);
    const PackedLinear big32(big, zb), big16(big, zb, Precision::bf16),
        big8(big, zb, Precision::int8);
    CHECK(big16.bytes() < big32.bytes() * 51 / 100);
    CHECK(big8.bytes() < big32.bytes() * 29 / 100);
}

TEST_CASE("parse_precision: the three names, and a clear error for another") {
    using embedkit::linalg::parse_precision;
    for (const Precision p : {Precision::fp32, Precision::bf16, Precision::int8})
        CHECK(parse_precision(embedkit::linalg::precision_name(p)) == p);
    CHECK_THROWS_WITH_AS(parse_precision("fp16"),
                         "embedkit::linalg::parse_precision: unknown precision 'fp16' (fp32, "
                         "bf16 or int8)",
                         embedkit::ArgumentError);
}

TEST_CASE("linalg::gemm: A B and A B^T at every level, against long double") {
    std::mt19937 rng(21);
    const long double u = std::ldexp(1.0L, -24);
    for (const simd::Level level : simd::supported()) {
        const simd::Scoped forced(level);
        INFO("level ", std::string(simd::level_name(level)));
        for (const bool transposed : {false, true})
            for (Index m : {1, 5, 13, 40})
                for (Index n : {1, 16, 17, 32, 33, 130})
                    for (Index k : {0, 1, 7, 32, 129}) {
                        INFO("m ", m, " n ", n, " k ", k, " transposed ", transposed);
                        const Index lda = k + 2, ldb = (transposed ? k : n) + 3, ldc = n + 1;
                        const RowMatrixF a = uniform(m, lda, rng);
                        const RowMatrixF b = uniform(transposed ? n : k, ldb, rng);
                        RowMatrixF c = RowMatrixF::Constant(m, ldc, -7.0f);
                        embedkit::linalg::gemm(m, n, k, a.data(), lda, b.data(), ldb, transposed,
                                               c.data(), ldc);
                        int bad = 0;
                        for (Index i = 0; i < m; ++i) {
                            CHECK(c(i, n) == -7.0f);
                            for (Index j = 0; j < n; ++j) {
                                long double ref = 0, mag = 0;
                                for (Index q = 0; q < k; ++q) {
                                    const long double p = static_cast<long double>(a(i, q)) *
                                                          (transposed ? b(j, q) : b(q, j));
                                    ref += p;
                                    mag += std::fabs(p);
                                }
                                if (!(std::fabs(c(i, j) - ref) <= (k + 1) * u * mag * 1.01L) &&
                                    bad++ < 3)
                                    FAIL_CHECK("c(", i, ", ", j, ") = ", c(i, j), ", reference ",
                                               double(ref));
                            }
                        }
                        CHECK(bad == 0);
                    }
    }
}
