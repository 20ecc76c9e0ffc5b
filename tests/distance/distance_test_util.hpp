// Helpers shared by the distance tests: seeded data, guarded misaligned buffers, long-double
// references, the rounding-error bounds of the kernel tests and a compact failure log.
#pragma once

#include <embedkit/distance/dispatch.hpp>
#include <embedkit/distance/metric.hpp>
#include <embedkit/distance/pair.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ektest {

using embedkit::simd::Level;

inline std::string level_str(Level level) { return std::string(embedkit::simd::level_name(level)); }

template <class Scalar>
constexpr const char* scalar_str() {
    return std::is_same_v<Scalar, float> ? "float" : "double";
}

// ---- Lengths and offsets of the kernel grid (STYLE.md section 7).

// Every n in [0, 300] hits every remainder of every vector width (4 to 16 lanes) and of every
// unrolled step (up to 4 x 16 = 64 elements) several times; the groups around 512, 1024 and
// 4096 cross the same boundaries at the lengths of real embeddings.
inline std::vector<std::size_t> grid_lengths() {
    std::vector<std::size_t> out;
    for (std::size_t n = 0; n <= 300; ++n) out.push_back(n);
    for (std::size_t n : {511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097, 4098, 4099})
        out.push_back(n);
    return out;
}

// Offsets in elements from a 64-byte boundary (0..15): float pointers visit every 4-byte
// position in a cache line, double pointers every 8-byte position twice. Every length gets
// all 16 offsets for a, each paired with a different offset for b (k -> 7k + 5 mod 16 is a
// permutation); the whole grid runs in well under a second, so no length is thinned out.
struct Offsets {
    std::size_t a;
    std::size_t b;
};

inline std::vector<Offsets> grid_offsets() {
    std::vector<Offsets> out;
    for (std::size_t k = 0; k < 16; ++k) out.push_back({k, (7 * k + 5) % 16});
    return out;
}

// ---- Random data. std::mt19937_64 is specified bit for bit by the standard; the transforms
// are ours because the std distributions differ between standard libraries.
class Random {
public:
    explicit Random(std::uint64_t seed) : engine_(seed) {}

    /// Uniform in [0, 1), 53 random bits.
    double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1p-53; }
    /// Uniform in [lo, hi).
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }
    /// Uniform integer in [lo, hi] (the modulo bias of a 64-bit draw is negligible here).
    int integer(int lo, int hi) {
        return lo + static_cast<int>(engine_() % static_cast<std::uint64_t>(hi - lo + 1));
    }
    bool chance(double p) { return uniform01() < p; }
    double sign() { return (engine_() >> 63) != 0 ? -1.0 : 1.0; }

private:
    std::mt19937_64 engine_;
};

/// Small non-zero integers in [-8, 8] with b_i != a_i: every element contributes a non-zero
/// term to a.b, |a - b|, (a - b)^2, a.a and b.b, so a skipped element changes every sum.
/// With |terms| <= 256 and n <= 4099, every partial sum is an integer below 2^24, exactly
/// representable in float: any correct summation order gives the exact result.
template <class Scalar>
void small_integers(Random& rng, std::size_t n, std::vector<Scalar>& a, std::vector<Scalar>& b) {
    a.resize(n);
    b.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        int x = rng.integer(1, 8) * (rng.chance(0.5) ? -1 : 1);
        int y = rng.integer(1, 8) * (rng.chance(0.5) ? -1 : 1);
        if (y == x) y = -x;
        a[i] = static_cast<Scalar>(x);
        b[i] = static_cast<Scalar>(y);
    }
}

// ---- Real-valued data families of the bound and property tests.

enum class Family { uniform, wide, near_duplicate, common_offset, orthogonal_pairs };

inline const char* family_name(Family f) {
    switch (f) {
        case Family::uniform:
            return "uniform";
        case Family::wide:
            return "wide";
        case Family::near_duplicate:
            return "near-duplicate";
        case Family::common_offset:
            return "common-offset";
        case Family::orthogonal_pairs:
            return "orthogonal-pairs";
    }
    return "?";
}

// sign * [1, 2) * 2^e, e uniform in [-span, span], or (5%) zero; draws in a fixed order.
template <class Scalar>
Scalar wide_value(Random& rng, int span) {
    if (rng.chance(0.05)) return Scalar(0);
    const double sign = rng.sign();
    const double mantissa = rng.uniform(1, 2);
    const int exponent = rng.integer(-span, span);
    return static_cast<Scalar>(sign * std::ldexp(mantissa, exponent));
}

template <class Scalar>
void make_family(Family f, Random& rng, std::size_t n, std::vector<Scalar>& a,
                 std::vector<Scalar>& b) {
    a.assign(n, Scalar(0));
    b.assign(n, Scalar(0));
    // Exponent span of the wide family: products and squares stay normal and finite,
    // 2^(+-2E+2) times n (float: 2^-60 .. 2^74; double: 2^-480 .. 2^494).
    const int span = std::is_same_v<Scalar, float> ? 30 : 240;
    for (std::size_t i = 0; i < n; ++i) {
        switch (f) {
            case Family::uniform:  // mixed signs, ~10% exact zeros on each side
                a[i] = rng.chance(0.1) ? Scalar(0) : static_cast<Scalar>(rng.uniform(-1, 1));
                b[i] = rng.chance(0.1) ? Scalar(0) : static_cast<Scalar>(rng.uniform(-1, 1));
                break;
            case Family::wide:  // magnitudes 2^-30 .. 2^31 (float) in one vector, ~5% zeros
                a[i] = wide_value<Scalar>(rng, span);
                b[i] = wide_value<Scalar>(rng, span);
                break;
            case Family::near_duplicate: {
                // b = a + tiny noise: (a - b)^2 is ~2^-24 of a^2 + b^2, so a kernel that
                // expanded (a - b)^2 = a^2 - 2ab + b^2 would miss the bound by far.
                const double sign = rng.sign();
                const double mantissa = rng.uniform(0.5, 2);
                a[i] = static_cast<Scalar>(sign * std::ldexp(mantissa, rng.integer(-3, 3)));
                const double kind = rng.uniform01();
                if (kind < 0.2) {
                    b[i] = a[i];
                } else if (kind < 0.4) {  // one ulp away
                    b[i] = std::nextafter(a[i], static_cast<Scalar>(rng.sign()) *
                                                    std::numeric_limits<Scalar>::infinity());
                } else {
                    const double noise = 0x1p-12 * rng.uniform(-1, 1);
                    b[i] = static_cast<Scalar>(static_cast<double>(a[i]) * (1 + noise));
                }
                break;
            }
            case Family::common_offset:  // a large shared component: cosine close to 1
                a[i] = static_cast<Scalar>(100 + rng.uniform(-1, 1));
                b[i] = static_cast<Scalar>(100 + rng.uniform(-1, 1));
                break;
            case Family::orthogonal_pairs:  // (x, y).(y, -x) = 0: a.b cancels to exactly 0
                if (i % 2 == 1) {
                    a[i] = b[i - 1];
                    b[i] = -a[i - 1];
                } else {
                    a[i] = static_cast<Scalar>(rng.uniform(-1, 1));
                    b[i] = static_cast<Scalar>(rng.uniform(-1, 1));
                }
                break;
        }
    }
}

// ---- Buffers.

/// `values` copied to `offset` elements past a 64-byte boundary, with at least 16 NaN elements
/// on both sides: a kernel that reads and uses any element outside [data(), data() + n)
/// returns NaN, which every exact comparison rejects.
template <class Scalar>
class GuardedVector {
public:
    static constexpr std::size_t guard = 16;
    static constexpr std::size_t per_line = 64 / sizeof(Scalar);

    GuardedVector(const std::vector<Scalar>& values, std::size_t offset)
        : storage_(per_line + guard + offset + values.size() + guard,
                   std::numeric_limits<Scalar>::quiet_NaN()) {
        const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
        const std::size_t skip = ((64 - address % 64) % 64) / sizeof(Scalar);
        begin_ = skip + guard + offset;
        for (std::size_t i = 0; i < values.size(); ++i) storage_[begin_ + i] = values[i];
    }
    const Scalar* data() const { return storage_.data() + begin_; }
    Scalar* data() { return storage_.data() + begin_; }

private:
    std::vector<Scalar> storage_;
    std::size_t begin_ = 0;
};

/// `values` at the very end of a heap block of offset + n elements: under AddressSanitizer any
/// read past the last element is reported (the NaN guards of GuardedVector hide such reads
/// from ASan because they are inside the block).
template <class Scalar>
class TightVector {
public:
    TightVector(const std::vector<Scalar>& values, std::size_t offset)
        : storage_(new Scalar[offset + values.size() + (offset + values.size() == 0 ? 1 : 0)]),
          begin_(offset) {
        for (std::size_t i = 0; i < offset; ++i)
            storage_[i] = std::numeric_limits<Scalar>::quiet_NaN();
        for (std::size_t i = 0; i < values.size(); ++i) storage_[offset + i] = values[i];
    }
    const Scalar* data() const { return storage_.get() + begin_; }

private:
    std::unique_ptr<Scalar[]> storage_;
    std::size_t begin_;
};

// ---- Reference sums in long double (64-bit significand on x86, 113 on aarch64).

struct Reference {
    long double dot = 0;         ///< sum a_i b_i
    long double dot_abs = 0;     ///< sum |a_i b_i|: the S of dot (and of a.b in cosine)
    long double l2_squared = 0;  ///< sum (a_i - b_i)^2: all terms >= 0, its own S
    long double l1 = 0;          ///< sum |a_i - b_i|: its own S
    long double aa = 0;          ///< sum a_i^2
    long double bb = 0;          ///< sum b_i^2
};

template <class Scalar>
Reference reference(const Scalar* a, const Scalar* b, std::size_t n) {
    Reference r;
    for (std::size_t i = 0; i < n; ++i) {
        const long double x = a[i];
        const long double y = b[i];
        const long double d = x - y;
        r.dot += x * y;
        r.dot_abs += std::fabs(x * y);
        r.l2_squared += d * d;
        r.l1 += std::fabs(d);
        r.aa += x * x;
        r.bb += y * y;
    }
    return r;
}

/// The cosine rules of metric.hpp on exact sums: zero vectors, then a.b / (|a| |b|) clamped.
inline long double cosine_similarity_ref(const Reference& r) {
    if (r.aa == 0 && r.bb == 0) return 1;
    if (r.aa == 0 || r.bb == 0) return 0;
    const long double s = r.dot / (std::sqrt(r.aa) * std::sqrt(r.bb));
    return s > 1 ? 1 : (s < -1 ? -1 : s);
}

// ---- Rounding-error bounds.
//
// Model (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., ch. 2-4):
// fl(x op y) = (x op y)(1 + d), |d| <= u = eps/2. A sum evaluated along any tree in which term
// i passes through at most m roundings (its product, then every addition on its way to the
// result) has |computed - exact| <= gamma_m * S with gamma_m = m u / (1 - m u) and
// S = sum |terms| (Higham eq. (4.3) and section 3.1). Subnormal products add at most half a
// subnormal ulp each (the absolute part of the underflow model), hence the n * denorm_min
// terms below; additions never underflow inexactly.
//
// The depth m. Every kernel spreads the terms over k >= 2 independent partial sums (the scalar
// cosine kernel has exactly two; every other kernel at least four, the SIMD ones four vector
// accumulators of 4 to 16 lanes), so a term meets at most ceil(n / 2) additions in its
// accumulator. On top come at most 12 more roundings: the product (none with FMA), the
// difference a_i - b_i (one, squared: two) in l2_squared and l1, the pairwise combination of
// accumulators and lanes (log2(64) = 6 for AVX-512 float), a few remainder vectors and a short
// scalar tail. So m = n/2 + 16, which in units of eps is the c = n/4 + 8 of the issue, one
// bound applied unchanged at every level. Typical errors are far smaller (~sqrt(n) u S); the
// exact small-integer tests, not this bound, are what catch a skipped or repeated element.
template <class Scalar>
long double unit_roundoff() {
    return static_cast<long double>(std::numeric_limits<Scalar>::epsilon()) / 2;
}

template <class Scalar>
long double sum_error_bound(std::size_t n) {
    const long double m = static_cast<long double>(n) / 2 + 16;
    const long double mu = m * unit_roundoff<Scalar>();
    return mu / (1 - mu);
}

/// The long-double reference's own relative error: n + 4 roundings of at most eps_ld.
inline long double reference_error_bound(std::size_t n) {
    return static_cast<long double>(n + 4) * std::numeric_limits<long double>::epsilon();
}

template <class Scalar>
long double underflow_allowance(std::size_t n) {
    return static_cast<long double>(n) *
           static_cast<long double>(std::numeric_limits<Scalar>::denorm_min());
}

/// |computed - exact| for a sum of n terms whose absolute values sum to S.
template <class Scalar>
long double sum_tolerance(std::size_t n, long double s) {
    return (sum_error_bound<Scalar>(n) + reference_error_bound(n)) * s +
           underflow_allowance<Scalar>(n);
}

/// |l2^2 - ref.l2_squared| allowed for a computed l2 = fl(sqrt(R')), with R' the computed
/// l2_squared: |R' - R| <= T (sum_tolerance), and l2^2 = R'(1 + d)^2 with |d| <= u, so
/// |l2^2 - R| <= T + (2u + u^2)(R + T); 1.01 eps covers 2u + u^2, plus the long-double
/// rounding of l2^2 itself.
template <class Scalar>
long double l2_squared_of_l2_tolerance(std::size_t n, long double r, long double got) {
    const long double t = sum_tolerance<Scalar>(n, r);
    const long double eps = std::numeric_limits<Scalar>::epsilon();
    return t + 1.01L * eps * (r + t) + 4 * std::numeric_limits<long double>::epsilon() * got * got;
}

/// |l2 - sqrt(R)| from |l2^2 - R| <= T: |x - y| = |x^2 - y^2| / (x + y) <= T / y, and also
/// |x - y| <= sqrt(|x^2 - y^2|) for x, y >= 0.
inline long double l2_tolerance_from_squared(long double r, long double t) {
    const long double root = std::sqrt(t);
    if (r <= 0) return root;
    return std::min(t / std::sqrt(r), root);
}

/// Bound on |computed cosine similarity - exact| for non-zero vectors.
///
/// The kernel returns ab' = ab + e with |e| <= G S_ab (+ underflow), aa' = aa (1 + ta),
/// bb' = bb (1 + tb) with |ta|, |tb| <= G (all terms of aa, bb are >= 0, so S = aa, bb), where
/// G = sum_tolerance's relative part. The finish computes ab' / (sqrt(aa') sqrt(bb')) with four
/// more roundings (two square roots, one product, one division). With r = sqrt(aa bb):
///   s' = (ab + e) / r * (1 + ta)^(-1/2) (1 + tb)^(-1/2) (1 + d1 d2 d3 d4 terms)
///   |s' - s| <= G S_ab / r + |s| (G + 4u), to first order,
/// where S_ab / r <= 1 (Cauchy-Schwarz): the error is absolute, relative to the norms, not to
/// |s| (nearly orthogonal vectors have a large relative error and a small absolute one).
/// The factor 1.01 covers the second-order terms (G <= 1.3e-4 for float at n = 4099).
/// Clamping to [-1, 1] only moves the result towards the exact value.
template <class Scalar>
long double cosine_similarity_tolerance(const Reference& r, std::size_t n) {
    const long double g = sum_error_bound<Scalar>(n) + reference_error_bound(n);
    const long double u = unit_roundoff<Scalar>();
    const long double root = std::sqrt(r.aa) * std::sqrt(r.bb);
    const long double s = std::fabs(r.dot) / root;
    return 1.01L *
               (g * (r.dot_abs / root + s) + 4 * u * s + underflow_allowance<Scalar>(n) / root) +
           8 * std::numeric_limits<long double>::epsilon();
}

/// The distance is fl(1 - s') with |1 - s'| <= 2: one more rounding of at most 2u = eps.
template <class Scalar>
long double cosine_distance_tolerance(const Reference& r, std::size_t n) {
    return cosine_similarity_tolerance<Scalar>(r, n) +
           static_cast<long double>(std::numeric_limits<Scalar>::epsilon());
}

// ---- All six results of one pair, through the public pointer API at the active level.

template <class Scalar>
struct Results {
    Scalar dot, l2_squared, l2, l1, cosine_similarity, cosine_distance;
};

template <class Scalar>
Results<Scalar> all_metrics(const Scalar* a, const Scalar* b, std::size_t n) {
    return {embedkit::dot(a, b, n),
            embedkit::l2_squared(a, b, n),
            embedkit::l2(a, b, n),
            embedkit::l1(a, b, n),
            embedkit::cosine_similarity(a, b, n),
            embedkit::cosine_distance(a, b, n)};
}

template <class Scalar>
bool same_value(Scalar x, Scalar y) {
    return (std::isnan(x) && std::isnan(y)) || x == y;
}

// ---- Failure log: long grids record mismatches here and report them once, so a passing
// grid costs no per-comparison doctest bookkeeping and a failing one prints its first few
// cases in full (level, scalar, metric, n, offsets, got, expected, tolerance).

template <class... Parts>
std::string cat(const Parts&... parts) {
    std::ostringstream out;
    out << std::setprecision(std::numeric_limits<long double>::max_digits10);
    (out << ... << parts);
    return out.str();
}

class Log {
public:
    /// Records one comparison; `describe` builds the message only on failure.
    template <class Describe>
    void expect(bool ok, Describe&& describe) {
        ++checks_;
        if (ok) return;
        ++failures_;
        if (messages_.size() < max_messages) messages_.push_back(describe());
    }

    std::size_t checks() const { return checks_; }
    std::size_t failures() const { return failures_; }

    /// Turns the log into doctest results: every kept message is a failure, and the grid must
    /// have made at least `min_checks` comparisons (so an empty loop cannot pass). With
    /// EKTEST_VERBOSE set in the environment, each grid also prints how many comparisons it made.
    void report(std::size_t min_checks) const {
        if (std::getenv("EKTEST_VERBOSE") != nullptr) MESSAGE(checks_ << " comparisons");
        for (const std::string& m : messages_) FAIL_CHECK(m);
        if (failures_ > messages_.size())
            FAIL_CHECK(cat(failures_ - messages_.size(), " further mismatches not shown"));
        CHECK_MESSAGE(failures_ == 0, failures_ << " of " << checks_ << " comparisons failed");
        CHECK_MESSAGE(checks_ >= min_checks,
                      "only " << checks_ << " comparisons ran, expected >= " << min_checks);
    }

private:
    static constexpr std::size_t max_messages = 25;
    std::size_t checks_ = 0;
    std::size_t failures_ = 0;
    std::vector<std::string> messages_;
};

}  // namespace ektest
