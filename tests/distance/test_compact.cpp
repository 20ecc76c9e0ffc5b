// Compact sets: the f16/bf16 conversions, encode/decode bounds, every compact kernel at every
// level against long-double references on the decoded values, and distances/pairwise/top_k.
#include "distance_test_util.hpp"

#include <embedkit/core/compact.hpp>
#include <embedkit/core/threads.hpp>
#include <embedkit/distance/compact.hpp>
#include <embedkit/distance/topk.hpp>

#if EMBEDKIT_ARCH_X86
#include <immintrin.h>
#endif

#include <cstring>
#include <string>

namespace {

using embedkit::BitMetric;
using embedkit::CompactSet;
using embedkit::Int8Scale;
using embedkit::Metric;
using embedkit::RowMatrixF;
using embedkit::Storage;
using embedkit::simd::Level;
namespace ekd = embedkit::detail;

float bits_float(std::uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}

#if EMBEDKIT_ARCH_X86
__attribute__((target("f16c"))) std::uint16_t hardware_half(float f) {
    return static_cast<std::uint16_t>(
        _mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0));
}
#endif

RowMatrixF random_set(ektest::Random& rng, Eigen::Index rows, Eigen::Index dim, double scale = 1) {
    RowMatrixF m(rows, dim);
    for (Eigen::Index r = 0; r < rows; ++r)
        for (Eigen::Index i = 0; i < dim; ++i)
            m(r, i) = static_cast<float>(rng.uniform(-scale, scale));
    return m;
}

constexpr Storage kFloatLike[] = {Storage::f16, Storage::bf16, Storage::int8};

}  // namespace

TEST_CASE("compact: float16 conversion round-trips every half and rounds ties to even") {
    for (std::uint32_t h = 0; h < 0x10000u; ++h) {
        const float f = ekd::half_bits_to_float(static_cast<std::uint16_t>(h));
        const std::uint16_t back = ekd::float_to_half_bits(f);
        if (std::isnan(f)) {
            REQUIRE((back & 0x7C00u) == 0x7C00u);
            REQUIRE((back & 0x3FFu) != 0);
            continue;
        }
        REQUIRE(back == h);
    }
    // The midpoint between consecutive finite halves goes to the one with an even fraction;
    // a hair above goes up, a hair below goes down.
    for (std::uint32_t h = 0; h < 0x7BFFu; ++h) {
        const double lo = ekd::half_bits_to_float(static_cast<std::uint16_t>(h));
        const double hi = ekd::half_bits_to_float(static_cast<std::uint16_t>(h + 1));
        const auto mid = static_cast<float>((lo + hi) / 2);  // exact in float
        REQUIRE(double(mid) == (lo + hi) / 2);
        const std::uint16_t even =
            (h & 1u) == 0 ? static_cast<std::uint16_t>(h) : static_cast<std::uint16_t>(h + 1);
        REQUIRE(ekd::float_to_half_bits(mid) == even);
        REQUIRE(ekd::float_to_half_bits(-mid) == (even | 0x8000u));
        REQUIRE(ekd::float_to_half_bits(std::nextafter(mid, 1e9f)) == h + 1);
        REQUIRE(ekd::float_to_half_bits(std::nextafter(mid, -1e9f)) == h);
    }
    CHECK(ekd::float_to_half_bits(65519.99f) == 0x7BFFu);
    CHECK(ekd::float_to_half_bits(65520.0f) == 0x7C00u);
    CHECK(ekd::float_to_half_bits(-1e30f) == 0xFC00u);
    CHECK(ekd::float_to_half_bits(bits_float(0x33000000u)) == 0);  // 2^-25: tie to 0
    CHECK(ekd::float_to_half_bits(bits_float(0x33000001u)) == 1);
#if EMBEDKIT_ARCH_X86
    if (embedkit::cpu_features().f16c) {
        ektest::Random rng(7);
        for (int i = 0; i < 2000000; ++i) {
            const float f = bits_float(static_cast<std::uint32_t>(rng.uniform01() * 4294967296.0));
            if (std::isnan(f)) continue;
            REQUIRE(ekd::float_to_half_bits(f) == hardware_half(f));
        }
    }
#endif
}

TEST_CASE("compact: bfloat16 conversion round-trips and rounds ties to even") {
    for (std::uint32_t b = 0; b < 0x10000u; ++b) {
        const float f = ekd::bf16_bits_to_float(static_cast<std::uint16_t>(b));
        if (std::isnan(f)) {
            REQUIRE(std::isnan(ekd::bf16_bits_to_float(ekd::float_to_bf16_bits(f))));
            continue;
        }
        REQUIRE(ekd::float_to_bf16_bits(f) == b);
        if ((b & 0x7FFFu) < 0x7F7Fu) {
            const std::uint32_t mid = (b << 16) | 0x8000u;  // halfway to the next bf16
            const std::uint16_t even =
                (b & 1u) == 0 ? static_cast<std::uint16_t>(b) : static_cast<std::uint16_t>(b + 1);
            REQUIRE(ekd::float_to_bf16_bits(bits_float(mid)) == even);
            REQUIRE(ekd::float_to_bf16_bits(bits_float(mid + 1)) == b + 1);
            REQUIRE(ekd::float_to_bf16_bits(bits_float(mid - 1)) == b);
        }
    }
    CHECK(ekd::float_to_bf16_bits(std::numeric_limits<float>::max()) == 0x7F80u);
}

TEST_CASE("compact: encode and decode stay within each format's bound") {
    ektest::Random rng(11);
    const RowMatrixF x = random_set(rng, 37, 101, 3.0);
    for (Storage st : {Storage::f16, Storage::bf16}) {
        const CompactSet c = embedkit::encode(x, st);
        CHECK(c.rows() == 37);
        CHECK(c.dim() == 101);
        CHECK(c.row_bytes() == 202);
        CHECK(reinterpret_cast<std::uintptr_t>(c.data()) % 64 == 0);
        const RowMatrixF d = embedkit::decode(c);
        const float rel = st == Storage::f16 ? 0x1p-11f : 0x1p-8f;
        for (Eigen::Index r = 0; r < x.rows(); ++r)
            for (Eigen::Index i = 0; i < x.cols(); ++i) {
                const float e = std::fabs(x(r, i) - d(r, i));
                // Half of an ulp, relative; f16 below 2^-14 keeps an absolute 2^-25.
                REQUIRE(e <= std::max(rel * std::fabs(x(r, i)), 0x1p-25f));
            }
    }
    for (Int8Scale kind : {Int8Scale::per_row, Int8Scale::per_dim}) {
        embedkit::CompactOptions o;
        o.int8_scale = kind;
        const CompactSet c = embedkit::encode(x, Storage::int8, o);
        REQUIRE(c.scales().size() == (kind == Int8Scale::per_row ? 37u : 101u));
        const RowMatrixF d = embedkit::decode(c);
        for (Eigen::Index r = 0; r < x.rows(); ++r)
            for (Eigen::Index i = 0; i < x.cols(); ++i) {
                const float s = c.scales()[std::size_t(kind == Int8Scale::per_row ? r : i)];
                REQUIRE(std::fabs(x(r, i) - d(r, i)) <=
                        0.5f * s * (1 + 1e-5f) + 1e-6f * std::fabs(x(r, i)));
                const auto code = static_cast<signed char>(c.row(r)[i]);
                REQUIRE(code >= -127);
            }
        // Norms are those of the decoded rows.
        for (Eigen::Index r = 0; r < x.rows(); ++r)
            CHECK(c.norms()[std::size_t(r)] == doctest::Approx(d.row(r).norm()).epsilon(1e-6));
    }
    // Trained per-dimension scales reused on other data saturate beyond the grid.
    embedkit::CompactOptions o;
    o.int8_scale = Int8Scale::per_dim;
    o.dim_scales = embedkit::train_int8_scales(x);
    RowMatrixF y = x * 2.0f;
    const CompactSet cy = embedkit::encode(y, Storage::int8, o);
    CHECK(cy.scales() == o.dim_scales);
    int saturated = 0;
    for (Eigen::Index i = 0; i < y.cols(); ++i)
        saturated += std::abs(static_cast<signed char>(cy.row(0)[i])) == 127;
    CHECK(saturated > 0);
}

TEST_CASE("compact: binary rows follow numpy packbits order") {
    RowMatrixF x(2, 11);
    x << 1, -1, 0, 2, 0.5f, -0.0f, 3, 4, 5, -6, 7,  //
        -1, -1, -1, -1, -1, -1, -1, -1, 1, -1, -1;
    const CompactSet c = embedkit::encode(x, Storage::binary);
    REQUIRE(c.row_bytes() == 2);
    CHECK(c.row(0)[0] == 0b10011011);
    CHECK(c.row(0)[1] == 0b10100000);
    CHECK(c.row(1)[0] == 0);
    CHECK(c.row(1)[1] == 0b10000000);
    CHECK(c.norms().empty());
    CHECK(c.value(0, 0) == 1.0f);
    CHECK(c.value(0, 1) == 0.0f);
}

TEST_CASE("compact: encode refuses values the format cannot hold") {
    RowMatrixF x = RowMatrixF::Ones(2, 3);
    x(1, 2) = 70000.0f;
    CHECK_THROWS_WITH_AS(embedkit::encode(x, Storage::f16),
                         doctest::Contains("row 1, column 2 is beyond f16's range"),
                         embedkit::ArgumentError);
    CHECK_NOTHROW(embedkit::encode(x, Storage::bf16));
    x(1, 2) = std::numeric_limits<float>::infinity();
    CHECK_NOTHROW(embedkit::encode(x, Storage::f16));
    CHECK_THROWS_WITH_AS(embedkit::encode(x, Storage::int8),
                         doctest::Contains("row 1, column 2 is inf"), embedkit::ArgumentError);
    x(1, 2) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(embedkit::encode(x, Storage::binary), embedkit::ArgumentError);
}

// ---- Kernels against long-double references on the decoded values.

namespace {

// Random rows in the storage, as raw bytes (the whole code range, -128 included), with the
// decoded values beside them.
struct RawRows {
    std::vector<unsigned char> bytes;  // offset + rows * row bytes
    std::size_t offset;
    std::vector<float> decoded;  // rows * n
    std::vector<float> scales;   // per row
};

RawRows raw_rows(ektest::Random& rng, Storage st, std::size_t rows, std::size_t n,
                 std::size_t offset) {
    RawRows out;
    out.offset = offset;
    const std::size_t rb = embedkit::storage_row_bytes(st, n);
    out.bytes.assign(offset + rows * rb + 1, 0);
    out.decoded.assign(rows * n, 0.0f);
    out.scales.assign(rows, 0.0f);
    for (std::size_t r = 0; r < rows; ++r) {
        out.scales[r] = static_cast<float>(rng.uniform(0.001, 0.02));
        unsigned char* p = out.bytes.data() + offset + r * rb;
        for (std::size_t i = 0; i < n; ++i) {
            if (st == Storage::int8) {
                const auto c = static_cast<signed char>(rng.integer(-128, 127));
                std::memcpy(p + i, &c, 1);
                out.decoded[r * n + i] = float(c);
            } else {
                const auto v = static_cast<float>(rng.uniform(-2, 2));
                const std::uint16_t h =
                    st == Storage::f16 ? ekd::float_to_half_bits(v) : ekd::float_to_bf16_bits(v);
                std::memcpy(p + 2 * i, &h, 2);
                out.decoded[r * n + i] =
                    st == Storage::f16 ? ekd::half_bits_to_float(h) : ekd::bf16_bits_to_float(h);
            }
        }
    }
    return out;
}

// Every kernel table this CPU can run: each supported level's, and at level avx512 one per
// combination of the sub-features it has (VPOPCNTDQ, VNNI, BF16), each forced off in turn.
std::vector<const ekd::CompactTable*> all_tables() {
    std::vector<const ekd::CompactTable*> out;
    const embedkit::CpuFeatures& cpu = embedkit::cpu_features();
    for (Level level : embedkit::simd::supported()) {
        if (level != Level::avx512) {
            out.push_back(&ekd::compact_table(level));
            continue;
        }
        for (const bool popcnt : {false, true})
            for (const bool vnni : {false, true})
                for (const bool bf16 : {false, true}) {
                    if ((popcnt && !cpu.avx512vpopcntdq) || (vnni && !cpu.avx512vnni) ||
                        (bf16 && !cpu.avx512bf16))
                        continue;
                    embedkit::CpuFeatures f = cpu;
                    f.avx512vpopcntdq = popcnt;
                    f.avx512vnni = vnni;
                    f.avx512bf16 = bf16;
                    out.push_back(&ekd::compact_table(level, f));
                }
    }
    return out;
}

embedkit::detail::CompactManyFn many_fn(const ekd::CompactTable& t, Storage st, bool dot) {
    if (st == Storage::f16) return dot ? t.f16_dot : t.f16_l2_squared;
    if (st == Storage::bf16) return dot ? t.bf16_dot : t.bf16_l2_squared;
    return dot ? t.int8_dot : t.int8_l2_squared;
}

}  // namespace

TEST_CASE("compact kernels: float query against stored rows at every level, length and offset") {
    ektest::Random rng(21);
    for (const ekd::CompactTable* table : all_tables()) {
        const ekd::CompactTable& t = *table;
        for (Storage st : kFloatLike)
            for (std::size_t n : ektest::grid_lengths()) {
                const std::size_t off = n % 7;  // misaligned rows and query
                const RawRows rr = raw_rows(rng, st, 3, n, off);
                std::vector<float> qbuf(n + 5);
                for (float& v : qbuf) v = static_cast<float>(rng.uniform(-1, 1));
                const float* q = qbuf.data() + n % 5;
                std::vector<float> dsc(n);
                for (float& v : dsc) v = static_cast<float>(rng.uniform(0.001, 0.02));
                const bool int8 = st == Storage::int8;
                // Scale modes: none (f16, bf16), per row, per dimension (int8).
                for (int mode = int8 ? 1 : 0; mode <= (int8 ? 2 : 0); ++mode) {
                    const float* rs = mode == 1 ? rr.scales.data() : nullptr;
                    const float* ds = mode == 2 ? dsc.data() : nullptr;
                    std::vector<float> qd(q, q + n);  // per-dimension dot: folded by the caller
                    if (mode == 2)
                        for (std::size_t i = 0; i < n; ++i) qd[i] = q[i] * dsc[i];
                    float dot[3], l2[3];
                    many_fn(t, st, true)(mode == 2 ? qd.data() : q, rr.bytes.data() + off, 3, n, rs,
                                         ds, dot);
                    many_fn(t, st, false)(q, rr.bytes.data() + off, 3, n, rs, ds, l2);
                    // Each row alone gives the same bits as among others (rows may be paired).
                    const std::size_t stride = int8 ? n : 2 * n;
                    for (std::size_t r = 0; r < 3; ++r) {
                        float one_dot = -1, one_l2 = -1;
                        const unsigned char* row = rr.bytes.data() + off + r * stride;
                        const float* rs1 = rs != nullptr ? rs + r : nullptr;
                        many_fn(t, st, true)(mode == 2 ? qd.data() : q, row, 1, n, rs1, ds,
                                             &one_dot);
                        many_fn(t, st, false)(q, row, 1, n, rs1, ds, &one_l2);
                        INFO(t.name, " ", embedkit::storage_name(st), " n=", n, " row=", r);
                        REQUIRE(std::memcmp(&one_dot, &dot[r], sizeof(float)) == 0);
                        REQUIRE(std::memcmp(&one_l2, &l2[r], sizeof(float)) == 0);
                    }
                    for (std::size_t r = 0; r < 3; ++r) {
                        long double ref_dot = 0, ref_l2 = 0, mag_dot = 0, mag_l2 = 0;
                        for (std::size_t i = 0; i < n; ++i) {
                            float m = 1.0f;
                            if (mode == 1) m = rr.scales[r];
                            if (mode == 2) m = dsc[i];
                            const long double d = (long double)m * rr.decoded[r * n + i];
                            ref_dot += (long double)q[i] * d;
                            mag_dot += std::fabs((long double)q[i] * d);
                            ref_l2 += ((long double)q[i] - d) * ((long double)q[i] - d);
                            mag_l2 += (std::fabs((long double)q[i]) + std::fabs(d)) *
                                      (std::fabs((long double)q[i]) + std::fabs(d));
                        }
                        const long double eps = 0x1p-24L * (n + 4);
                        INFO(t.name, " ", embedkit::storage_name(st), " n=", n, " mode=", mode,
                             " row=", r);
                        REQUIRE(std::fabs(dot[r] - ref_dot) <= eps * mag_dot + 1e-30L);
                        REQUIRE(std::fabs(l2[r] - ref_l2) <= eps * mag_l2 + 1e-30L);
                    }
                }
            }
    }
}

TEST_CASE("compact kernels: stored pairs, int8 sums and bit counts at every level") {
    ektest::Random rng(31);
    for (const ekd::CompactTable* table : all_tables()) {
        const ekd::CompactTable& t = *table;
        for (std::size_t n : ektest::grid_lengths()) {
            for (Storage st : {Storage::f16, Storage::bf16}) {
                const RawRows rr = raw_rows(rng, st, 2, n, n % 3);
                const unsigned char* a = rr.bytes.data() + rr.offset;
                const unsigned char* b = a + 2 * n;
                long double ref_dot = 0, ref_l2 = 0, mag_dot = 0, mag_l2 = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    const long double x = rr.decoded[i], y = rr.decoded[n + i];
                    ref_dot += x * y;
                    mag_dot += std::fabs(x * y);
                    ref_l2 += (x - y) * (x - y);
                    mag_l2 += (std::fabs(x) + std::fabs(y)) * (std::fabs(x) + std::fabs(y));
                }
                const long double eps = 0x1p-24L * (n + 4);
                INFO(t.name, " ", embedkit::storage_name(st), " n=", n);
                const bool f16 = st == Storage::f16;
                REQUIRE(std::fabs((f16 ? t.f16_pair_dot : t.bf16_pair_dot)(a, b, n) - ref_dot) <=
                        eps * mag_dot);
                if (!f16) {
                    bool small = false;
                    for (std::size_t i = 0; i < 2 * n; ++i)
                        small = small || ekd::bf16_is_small(ekd::float_to_bf16_bits(rr.decoded[i]));
                    if (!small)
                        REQUIRE(std::fabs(t.bf16_pair_dot_normal(a, b, n) - ref_dot) <=
                                eps * mag_dot);
                }
                REQUIRE(std::fabs((f16 ? t.f16_pair_l2_squared : t.bf16_pair_l2_squared)(a, b, n) -
                                  ref_l2) <= eps * mag_l2);
            }
            const RawRows ri = raw_rows(rng, Storage::int8, 2, n, n % 5);
            const unsigned char* a = ri.bytes.data() + ri.offset;
            std::int64_t ab = 0, aa = 0, bb = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const auto x = std::int64_t(ri.decoded[i]), y = std::int64_t(ri.decoded[n + i]);
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
            const ekd::Int8Sums s = t.int8_sums(a, a + n, n);
            REQUIRE(s.ab == ab);
            REQUIRE(s.aa == aa);
            REQUIRE(s.bb == bb);
            REQUIRE(t.int8_dot_codes(a, a + n, n) == ab);
            // Bits: any bytes.
            std::vector<unsigned char> bits(2 * n + 3);
            for (auto& v : bits) v = static_cast<unsigned char>(rng.integer(0, 255));
            const unsigned char* x = bits.data() + 1;
            const unsigned char* y = x + n;
            std::uint64_t differ = 0, both = 0, either = 0;
            for (std::size_t i = 0; i < n; ++i)
                for (int k = 0; k < 8; ++k) {
                    const int u = (x[i] >> k) & 1, v = (y[i] >> k) & 1;
                    differ += u != v;
                    both += u & v;
                    either += u | v;
                }
            const ekd::BitCounts c = t.bit_counts(x, y, n);
            REQUIRE(c.differ == differ);
            REQUIRE(c.both == both);
            REQUIRE(c.either == either);
            REQUIRE(t.jaccard(x, y, n) ==
                    (either == 0 ? 0.0f : 1.0f - float(both) / float(either)));
            REQUIRE(t.hamming(x, y, n) == differ);
            float h = -1;
            t.hamming_many(x, y, 1, n, &h);
            REQUIRE(h == float(differ));
        }
    }
}

TEST_CASE("compact kernels: int8 -128 everywhere and long rows stay exact") {
    // 2^20 + 3 codes of -128: a.b = 2^14 * n overflows int32 lanes without the flushes.
    const std::size_t n = (std::size_t(1) << 20) + 3;
    std::vector<unsigned char> a(n, 0x80);
    for (const ekd::CompactTable* t : all_tables()) {
        const ekd::Int8Sums s = t->int8_sums(a.data(), a.data(), n);
        CHECK(s.ab == std::int64_t(16384) * std::int64_t(n));
        CHECK(s.aa == s.ab);
        CHECK(t->int8_dot_codes(a.data(), a.data(), n) == s.ab);
    }
    // 127 against -128 over 2^22 + 3 codes: every kernel's int32 lanes would overflow without
    // their flushes (VNNI: (127 + 128) * -128 four times a step for 2^16 steps, 8.6e9 a lane),
    // and -128 alone is 0 in VNNI's offset form, so this is the case that tests its flush.
    const std::size_t m = (std::size_t(1) << 22) + 3;
    std::vector<unsigned char> x(m, 0x7F), y(m, 0x80);
    for (const ekd::CompactTable* t : all_tables()) {
        INFO(t->name);
        const ekd::Int8Sums s = t->int8_sums(x.data(), y.data(), m);
        CHECK(s.ab == std::int64_t(-16256) * std::int64_t(m));
        CHECK(s.aa == std::int64_t(16129) * std::int64_t(m));
        CHECK(s.bb == std::int64_t(16384) * std::int64_t(m));
        CHECK(t->int8_dot_codes(x.data(), y.data(), m) == s.ab);
    }
}

TEST_CASE("compact kernels: int8 sums at the edges of the single-block path") {
    // Rows of whole 64-byte steps below 2^16 bytes reduce once in int32 lanes: the largest
    // (65472 codes) with the largest sums, the first that flushes instead (65536), and
    // 127 against -128 (VNNI's offset form: (127 + 128) * -128 in every product).
    for (const std::size_t n : {std::size_t(64), std::size_t(65472), std::size_t(65536)}) {
        const std::vector<unsigned char> lo(n, 0x80), hi(n, 0x7F);
        for (const ekd::CompactTable* t : all_tables()) {
            INFO(t->name, " n=", n);
            const ekd::Int8Sums s = t->int8_sums(lo.data(), lo.data(), n);
            CHECK(s.ab == std::int64_t(16384) * std::int64_t(n));
            CHECK(s.aa == s.ab);
            CHECK(s.bb == s.ab);
            const ekd::Int8Sums m = t->int8_sums(hi.data(), lo.data(), n);
            CHECK(m.ab == std::int64_t(-16256) * std::int64_t(n));
            CHECK(m.aa == std::int64_t(16129) * std::int64_t(n));
            CHECK(m.bb == std::int64_t(16384) * std::int64_t(n));
        }
    }
}

TEST_CASE("compact kernels: bf16 pair dot for rows without small values, at the threshold") {
    CHECK(ekd::bf16_is_small(0x2B7F));        // just below 2^-40
    CHECK_FALSE(ekd::bf16_is_small(0x2B80));  // 2^-40
    CHECK_FALSE(ekd::bf16_is_small(0xAB80));  // -2^-40
    CHECK(ekd::bf16_is_small(0x8001));        // a negative subnormal
    CHECK(ekd::bf16_is_small(0x0001));
    CHECK_FALSE(ekd::bf16_is_small(0x0000));
    CHECK_FALSE(ekd::bf16_is_small(0x8000));
    CHECK_FALSE(ekd::bf16_is_small(0x7F80));  // inf
    CHECK_FALSE(ekd::bf16_is_small(0x7FC0));  // NaN
    // Values of magnitude in [2^-40, 2^-39): products near 2^-80, sums far from subnormal
    // only because of the threshold's argument. Every length with tails, every table.
    ektest::Random rng(57);
    for (const ekd::CompactTable* table : all_tables()) {
        for (std::size_t n : ektest::grid_lengths()) {
            std::vector<unsigned char> bytes(4 * n + 2);
            std::vector<long double> v(2 * n);
            for (std::size_t i = 0; i < 2 * n; ++i) {
                const auto mant = static_cast<std::uint16_t>(rng.integer(0, 127));
                const std::uint16_t sign = rng.integer(0, 1) ? 0x8000 : 0;
                const auto h = static_cast<std::uint16_t>(sign | 0x2B80 | mant);
                std::memcpy(bytes.data() + 1 + 2 * i, &h, 2);
                v[i] = ekd::bf16_bits_to_float(h);
            }
            long double ref = 0, mag = 0;
            for (std::size_t i = 0; i < n; ++i) {
                ref += v[i] * v[n + i];
                mag += std::fabs(v[i] * v[n + i]);
            }
            const unsigned char* a = bytes.data() + 1;  // misaligned
            INFO(table->name, " n=", n);
            REQUIRE(std::fabs(table->bf16_pair_dot_normal(a, a + 2 * n, n) - ref) <=
                    0x1p-24L * (n + 4) * mag);
        }
    }
}

TEST_CASE("compact kernels: f16 infinities and subnormals, NaN, zero rows") {
    for (const ekd::CompactTable* table : all_tables()) {
        const ekd::CompactTable& t = *table;
        INFO(t.name);
        for (std::size_t n : {1u, 7u, 8u, 9u, 33u, 64u}) {
            std::vector<unsigned char> row(2 * n, 0);
            std::vector<float> q(n, 1.0f);
            float v = -1;
            // Zero row.
            t.f16_dot(q.data(), row.data(), 1, n, nullptr, nullptr, &v);
            CHECK(v == 0.0f);
            // Smallest subnormal everywhere: 2^-24 each, exact sums.
            for (std::size_t i = 0; i < n; ++i) row[2 * i] = 1;
            t.f16_dot(q.data(), row.data(), 1, n, nullptr, nullptr, &v);
            CHECK(v == float(n) * 0x1p-24f);
            // +inf at the last position.
            row[2 * (n - 1)] = 0x00;
            row[2 * (n - 1) + 1] = 0x7C;
            t.f16_dot(q.data(), row.data(), 1, n, nullptr, nullptr, &v);
            CHECK(v == std::numeric_limits<float>::infinity());
            t.f16_l2_squared(q.data(), row.data(), 1, n, nullptr, nullptr, &v);
            CHECK(v == std::numeric_limits<float>::infinity());
            // NaN.
            row[2 * (n - 1)] = 0x01;
            t.f16_dot(q.data(), row.data(), 1, n, nullptr, nullptr, &v);
            CHECK(std::isnan(v));
        }
    }
    // Cosine of zero rows follows the float rules (both zero: 1, one zero: 0).
    RowMatrixF x = RowMatrixF::Zero(2, 16);
    x(1, 3) = 1.0f;
    for (Storage st : kFloatLike) {
        const CompactSet c = embedkit::encode(x, st);
        const Eigen::VectorXf zero = Eigen::VectorXf::Zero(16);
        const Eigen::VectorXf s = embedkit::distances(zero, c, Metric::cosine);
        CHECK(s(0) == 1.0f);
        CHECK(s(1) == 0.0f);
        const RowMatrixF p = embedkit::pairwise(c, c, Metric::cosine);
        CHECK(p(0, 0) == 1.0f);
        CHECK(p(0, 1) == 0.0f);
        CHECK(p(1, 1) == doctest::Approx(1.0f));
    }
}

// ---- distances, pairwise and top_k.

TEST_CASE("compact search: distances and pairwise agree with the float functions on decoded rows") {
    ektest::Random rng(41);
    const RowMatrixF x = random_set(rng, 50, 77);
    const RowMatrixF y = random_set(rng, 9, 77);
    for (Storage st : kFloatLike)
        for (Int8Scale kind : {Int8Scale::per_row, Int8Scale::per_dim}) {
            if (st != Storage::int8 && kind == Int8Scale::per_dim) continue;
            embedkit::CompactOptions o;
            o.int8_scale = kind;
            const CompactSet cx = embedkit::encode(x, st, o);
            const CompactSet cy = embedkit::encode(y, st, o);
            const RowMatrixF dx = embedkit::decode(cx);
            const RowMatrixF dy = embedkit::decode(cy);
            for (Metric m : {Metric::dot, Metric::l2, Metric::l2_squared, Metric::cosine}) {
                INFO(embedkit::storage_name(st), " ", int(kind), " ", embedkit::metric_name(m));
                const Eigen::VectorXf q = y.row(0).transpose();
                const Eigen::VectorXf got = embedkit::distances(q, cx, m);
                const Eigen::VectorXf want = embedkit::distances(q, dx, m);
                for (Eigen::Index r = 0; r < x.rows(); ++r)
                    REQUIRE(got(r) == doctest::Approx(want(r)).epsilon(1e-5).scale(1e-5));
                const RowMatrixF pg = embedkit::pairwise(cy, cx, m);
                const RowMatrixF pw = embedkit::pairwise(dy, dx, m);
                for (Eigen::Index i = 0; i < pg.rows(); ++i)
                    for (Eigen::Index j = 0; j < pg.cols(); ++j)
                        REQUIRE(pg(i, j) == doctest::Approx(pw(i, j)).epsilon(1e-5).scale(1));
            }
            CHECK_THROWS_AS(
                embedkit::distances(Eigen::VectorXf(y.row(0).transpose()), cx, Metric::l1),
                embedkit::ArgumentError);
        }
    // Mixed storages decode the left rows.
    const CompactSet a = embedkit::encode(y, Storage::f16);
    const CompactSet b = embedkit::encode(x, Storage::int8);
    const RowMatrixF p = embedkit::pairwise(a, b, Metric::dot);
    const RowMatrixF w = embedkit::pairwise(embedkit::decode(a), embedkit::decode(b), Metric::dot);
    CHECK((p - w).cwiseAbs().maxCoeff() < 1e-5f);
}

TEST_CASE("compact search: top_k equals a full sort of the compact scores") {
    ektest::Random rng(51);
    const RowMatrixF x = random_set(rng, 3000, 40);
    RowMatrixF queries = random_set(rng, 70, 40);
    queries.row(5) = x.row(17);
    for (Storage st : kFloatLike) {
        const CompactSet c = embedkit::encode(x, st);
        for (Metric m : {Metric::dot, Metric::l2, Metric::cosine}) {
            const embedkit::TopK<float> got = embedkit::top_k(queries, c, 12, m);
            REQUIRE(got.indices.cols() == 12);
            for (Eigen::Index i = 0; i < queries.rows(); ++i) {
                const Eigen::VectorXf s =
                    embedkit::distances(Eigen::VectorXf(queries.row(i).transpose()), c, m);
                std::vector<Eigen::Index> order(std::size_t(s.size()));
                for (std::size_t j = 0; j < order.size(); ++j) order[j] = Eigen::Index(j);
                const bool larger = embedkit::larger_is_closer(m);
                std::stable_sort(order.begin(), order.end(), [&](Eigen::Index u, Eigen::Index v) {
                    return larger ? s(u) > s(v) : s(u) < s(v);
                });
                for (Eigen::Index r = 0; r < 12; ++r) {
                    REQUIRE(got.indices(i, r) == order[std::size_t(r)]);
                    REQUIRE(got.scores(i, r) == s(order[std::size_t(r)]));
                }
            }
        }
    }
}

TEST_CASE(
    "compact search: re-ranking returns exact float scores, and all candidates give float top_k") {
    ektest::Random rng(61);
    const RowMatrixF x = random_set(rng, 2000, 48);
    const RowMatrixF queries = random_set(rng, 20, 48);
    for (Storage st : {Storage::f16, Storage::bf16, Storage::int8, Storage::binary}) {
        const CompactSet c = embedkit::encode(x, st);
        for (Metric m : {Metric::dot, Metric::l2_squared, Metric::cosine}) {
            INFO(embedkit::storage_name(st), " ", embedkit::metric_name(m));
            const embedkit::TopK<float> exact = embedkit::top_k(queries, x, 10, m);
            // factor * k = every row: the float result, bit for bit.
            const embedkit::TopK<float> all =
                embedkit::top_k(queries, c, 10, m, embedkit::rerank_with(x, 200));
            CHECK(all.indices == exact.indices);
            CHECK(all.scores == exact.scores);
            const embedkit::TopK<float> some =
                embedkit::top_k(queries, c, 10, m, embedkit::rerank_with(x, 4));
            for (Eigen::Index i = 0; i < queries.rows(); ++i)
                for (Eigen::Index r = 0; r < 10; ++r)
                    REQUIRE(some.scores(i, r) ==
                            embedkit::distances(Eigen::VectorXf(queries.row(i).transpose()), x,
                                                m)(some.indices(i, r)));
        }
    }
    const CompactSet b = embedkit::encode(x, Storage::binary);
    CHECK_THROWS_WITH_AS(embedkit::top_k(queries, b, 10, Metric::dot),
                         doctest::Contains("binary set is searched with BitMetric"),
                         embedkit::ArgumentError);
    CHECK_THROWS_AS(embedkit::top_k(queries, b, 10, Metric::dot, embedkit::rerank_with(x, 0)),
                    embedkit::ArgumentError);
    const RowMatrixF shorter = x.topRows(10);
    CHECK_THROWS_AS(embedkit::top_k(queries, b, 10, Metric::dot, embedkit::rerank_with(shorter, 2)),
                    embedkit::DimensionError);
}

TEST_CASE("compact search: bf16 sets with values below 2^-40 keep exact pair dot products") {
    // 2^-70 squared is a subnormal float, and 2^-130 a subnormal bf16: a kernel that flushes
    // subnormal inputs or results to zero (AVX-512 BF16's) would give 0 for both products.
    RowMatrixF x = RowMatrixF::Zero(2, 40), y = RowMatrixF::Zero(2, 40);
    x(0, 0) = std::ldexp(1.0f, -70);
    x(1, 33) = std::ldexp(1.0f, -130);
    y(0, 0) = std::ldexp(1.0f, -70);
    y(1, 33) = std::ldexp(1.0f, 97);
    const CompactSet a = embedkit::encode(x, Storage::bf16), b = embedkit::encode(y, Storage::bf16);
    CHECK(a.has_small_values());
    CHECK(b.has_small_values());
    y(0, 0) = 1.0f;
    const CompactSet c = embedkit::encode(y, Storage::bf16);
    CHECK_FALSE(c.has_small_values());
    const RowMatrixF halves = RowMatrixF::Constant(2, 3, 0.5f);
    CHECK_FALSE(embedkit::encode(halves, Storage::f16).has_small_values());
    const RowMatrixF got = embedkit::pairwise(a, b, Metric::dot);
    CHECK(got(0, 0) == std::ldexp(1.0f, -140));
    CHECK(got(1, 1) == std::ldexp(1.0f, -33));
    CHECK(got(0, 1) == 0.0f);
    CHECK(got(1, 0) == 0.0f);
    // Against a set without small values: the small side alone decides.
    const RowMatrixF mixed = embedkit::pairwise(a, c, Metric::dot);
    CHECK(mixed(1, 1) == std::ldexp(1.0f, -33));
    CHECK(mixed(0, 0) == std::ldexp(1.0f, -70));
}

TEST_CASE("compact search: the pair functions on binary rows match pairwise") {
    ektest::Random rng(43);
    for (Eigen::Index dim : {1, 7, 64, 384, 1000, 1536}) {
        const CompactSet set = embedkit::encode(random_set(rng, 3, dim), Storage::binary);
        const RowMatrixF h = embedkit::pairwise(set, set, BitMetric::hamming);
        const RowMatrixF j = embedkit::pairwise(set, set, BitMetric::jaccard);
        INFO("dim=", dim);
        for (Eigen::Index a = 0; a < 3; ++a)
            for (Eigen::Index b = 0; b < 3; ++b) {
                REQUIRE(float(embedkit::hamming(set.row(a), set.row(b), set.row_bytes())) ==
                        h(a, b));
                REQUIRE(embedkit::jaccard(set.row(a), set.row(b), set.row_bytes()) == j(a, b));
            }
    }
}

TEST_CASE("compact search: binary top_k by Hamming and Jaccard against a naive count") {
    ektest::Random rng(71);
    const RowMatrixF x = random_set(rng, 1500, 70);
    const RowMatrixF queries = random_set(rng, 9, 70);
    const CompactSet c = embedkit::encode(x, Storage::binary);
    for (BitMetric m : {BitMetric::hamming, BitMetric::jaccard}) {
        const embedkit::TopK<float> got = embedkit::top_k(queries, c, 7, m);
        for (Eigen::Index i = 0; i < queries.rows(); ++i) {
            std::vector<std::pair<float, Eigen::Index>> all;
            for (Eigen::Index r = 0; r < x.rows(); ++r) {
                int differ = 0, both = 0, either = 0;
                for (Eigen::Index d = 0; d < x.cols(); ++d) {
                    const bool u = queries(i, d) > 0, v = x(r, d) > 0;
                    differ += u != v;
                    both += u && v;
                    either += u || v;
                }
                const float s = m == BitMetric::hamming
                                    ? float(differ)
                                    : (either == 0 ? 0.0f : 1.0f - float(both) / float(either));
                all.emplace_back(s, r);
            }
            std::stable_sort(all.begin(), all.end(),
                             [](const auto& u, const auto& v) { return u.first < v.first; });
            for (Eigen::Index r = 0; r < 7; ++r) {
                REQUIRE(got.indices(i, r) == all[std::size_t(r)].second);
                REQUIRE(got.scores(i, r) == all[std::size_t(r)].first);
            }
        }
        const RowMatrixF p = embedkit::pairwise(c, c, m);
        CHECK(p.diagonal().maxCoeff() == 0.0f);
    }
    CHECK_THROWS_AS(
        embedkit::top_k(queries, embedkit::encode(x, Storage::f16), 3, BitMetric::hamming),
        embedkit::ArgumentError);
}

TEST_CASE("compact search: results do not depend on the thread count") {
    ektest::Random rng(81);
    const RowMatrixF x = random_set(rng, 20000, 32);
    const RowMatrixF queries = random_set(rng, 3, 32);
    const CompactSet c = embedkit::encode(x, Storage::int8);
    const int before = embedkit::num_threads();
    embedkit::set_num_threads(1);
    const embedkit::TopK<float> one = embedkit::top_k(queries, c, 25, Metric::l2);
    embedkit::set_num_threads(2);
    const embedkit::TopK<float> two = embedkit::top_k(queries, c, 25, Metric::l2);
    embedkit::set_num_threads(before);
    CHECK(one.indices == two.indices);
    CHECK(one.scores == two.scores);
}

TEST_CASE("compact search: binary re-ranking candidates come from q . (2b - 1)") {
    ektest::Random rng(101);
    const RowMatrixF x = random_set(rng, 500, 21);  // 3 bytes a row, 3 padding bits
    const RowMatrixF queries = random_set(rng, 3, 21);
    const CompactSet c = embedkit::encode(x, Storage::binary);
    for (Eigen::Index i = 0; i < queries.rows(); ++i) {
        std::vector<float> tables;
        ekd::sign_sum_tables(queries.row(i).data(), 21, c.row_bytes(), tables);
        std::vector<float> keys(500);
        ekd::sign_sum_keys(tables, c, 0, 500, keys.data());
        for (Eigen::Index r = 0; r < x.rows(); ++r) {
            double want = 0, mag = 0;
            for (Eigen::Index d = 0; d < 21; ++d)
                if (x(r, d) > 0) {
                    want += queries(i, d);
                    mag += std::fabs(queries(i, d));
                }
            REQUIRE(std::fabs(-keys[std::size_t(r)] - want) <= 1e-6 * (mag + 1));
        }
        // The candidates of a re-ranked search with factor 1 are the k best by that score.
        const embedkit::TopK<float> got =
            embedkit::top_k(Eigen::VectorXf(queries.row(i).transpose()), c, 5, Metric::dot,
                            embedkit::rerank_with(x, 1));
        std::vector<Eigen::Index> order(500);
        for (std::size_t j = 0; j < order.size(); ++j) order[j] = Eigen::Index(j);
        std::stable_sort(order.begin(), order.end(), [&](Eigen::Index u, Eigen::Index v) {
            return keys[std::size_t(u)] < keys[std::size_t(v)];
        });
        std::vector<Eigen::Index> want(order.begin(), order.begin() + 5);
        std::vector<Eigen::Index> have(got.indices.data(), got.indices.data() + 5);
        std::sort(want.begin(), want.end());
        std::sort(have.begin(), have.end());
        CHECK(have == want);
    }
}

TEST_CASE("compact kernels: each level's table follows the CPU's sub-features") {
    const embedkit::CpuFeatures& f = embedkit::cpu_features();
    CHECK(std::string(ekd::compact_table(Level::scalar).name) == "scalar");
    for (Level level : embedkit::simd::supported()) {
        const std::string name = ekd::compact_table(level).name;
        INFO(ektest::level_str(level), " -> ", name);
        if (level == Level::avx512)
            CHECK(name == std::string("avx512") + (f.avx512vpopcntdq ? "+vpopcntdq" : "") +
                              (f.avx512vnni ? "+vnni" : "") + (f.avx512bf16 ? "+bf16" : ""));
        else if (level == Level::avx2)
            CHECK(name == "avx2+f16c+popcnt");
        else if (level == Level::neon)
            CHECK(name == "neon");
        else
            CHECK(name == "scalar");
    }
#if EMBEDKIT_ARCH_X86
    // Without the sub-features the AVX-512 table keeps AVX2's bit counts and int8 sums (the
    // table only, not run: this CPU need not have AVX-512).
    embedkit::CpuFeatures no_vpopcnt = f;
    no_vpopcnt.avx512vpopcntdq = no_vpopcnt.avx512vnni = no_vpopcnt.avx512bf16 = false;
    no_vpopcnt.avx512f = true;
    no_vpopcnt.f16c = no_vpopcnt.popcnt = true;
    CHECK(std::string(ekd::compact_table(Level::avx512, no_vpopcnt).name) == "avx512");
    const ekd::CompactTable& plain = ekd::compact_table(Level::avx512, no_vpopcnt);
    const ekd::CompactTable& avx2 = ekd::compact_table(Level::avx2);
    const bool avx2_bits = plain.hamming_many == avx2.hamming_many &&
                           plain.hamming == avx2.hamming && plain.bit_counts == avx2.bit_counts &&
                           plain.jaccard == avx2.jaccard;
    const bool avx2_int8 =
        plain.int8_sums == avx2.int8_sums && plain.int8_dot_codes == avx2.int8_dot_codes;
    CHECK(avx2_bits);
    CHECK(avx2_int8);
    CHECK((plain.bf16_pair_dot_normal == plain.bf16_pair_dot));
#endif
}

TEST_CASE("compact kernels: Hamming of many rows at every row size, against a bit count") {
    ektest::Random rng(111);
    for (const ekd::CompactTable* table : all_tables()) {
        const ekd::CompactTable& t = *table;
        // The sizes with loops of their own (16 to 192 bytes) and some without.
        for (std::size_t bytes : {1u, 8u, 16u, 24u, 32u, 40u, 48u, 64u, 96u, 128u, 192u, 200u}) {
            const std::size_t rows = 19;  // groups of 8 rows and a tail
            std::vector<unsigned char> data(bytes * (rows + 1) + 1);
            for (auto& v : data) v = static_cast<unsigned char>(rng.integer(0, 255));
            const unsigned char* q = data.data() + 1;  // misaligned
            const unsigned char* set = q + bytes;
            std::vector<float> got(rows, -1.0f);
            t.hamming_many(q, set, rows, bytes, got.data());
            for (std::size_t r = 0; r < rows; ++r) {
                int want = 0;
                for (std::size_t b = 0; b < bytes; ++b)
                    for (int k = 0; k < 8; ++k) want += ((q[b] ^ set[r * bytes + b]) >> k) & 1;
                INFO(t.name, " bytes=", bytes, " row=", r);
                REQUIRE(got[r] == float(want));
            }
        }
    }
}

TEST_CASE("compact search: a re-ranking factor whose product with k overflows keeps every row") {
    ektest::Random rng(121);
    const RowMatrixF x = random_set(rng, 50, 16);
    const CompactSet c = embedkit::encode(x, Storage::int8);
    const Eigen::VectorXf q = x.row(3).transpose();
    const embedkit::TopK<float> got =
        embedkit::top_k(q, c, Eigen::Index(1) << 62, Metric::dot, embedkit::rerank_with(x, 4));
    const embedkit::TopK<float> want = embedkit::top_k(q, x, 50, Metric::dot);
    CHECK(got.indices == want.indices);
    CHECK(got.scores == want.scores);
}
