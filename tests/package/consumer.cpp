// A user's program: includes the umbrella header the way an installed copy is used and checks
// a few distances with exact answers at every SIMD level, the version and the feature macros.
//
// Built by tests/package/driver.cmake three ways (add_subdirectory, find_package against an
// install, plain -I compile) with g++ and clang++. Returns non-zero on any wrong result.
#include <embedkit/embedkit.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#if EMBEDKIT_HAS_ZLIB
#include <zlib.h>
#endif
#if EMBEDKIT_HAS_PNG
#include <png.h>
#endif

// The driver states what this build must see; a build that forgets to say is an error, so
// the checks below can never be skipped silently.
#if !defined(EMBEDKIT_EXPECT_VERSION_MAJOR) || !defined(EMBEDKIT_EXPECT_VERSION_MINOR) || \
    !defined(EMBEDKIT_EXPECT_VERSION_PATCH)
#error "define EMBEDKIT_EXPECT_VERSION_{MAJOR,MINOR,PATCH} (the version the consumer expects)"
#endif
#if !defined(EMBEDKIT_EXPECT_HAS_ZLIB) || !defined(EMBEDKIT_EXPECT_HAS_PNG)
#error "define EMBEDKIT_EXPECT_HAS_ZLIB and EMBEDKIT_EXPECT_HAS_PNG to 0 or 1"
#endif

// Defined in consumer_helper.cpp, a second translation unit that includes embedkit too: the
// program links only if every non-template function in the headers is inline, and the
// dispatch state must be one per program, not one per translation unit.
embedkit::simd::Level helper_active_level();
double helper_l1(const std::vector<double>& a, const std::vector<double>& b);

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    if (!ok) {
        std::printf("FAIL: %s\n", what.c_str());
        ++failures;
    }
}

// Exact for the small integer inputs used here, except the square roots of cosine, which are
// correctly rounded: allow a few ulps of the scalar type.
template <class Scalar>
void check_near(Scalar got, double want, const std::string& what) {
    const double tol = 4.0 * static_cast<double>(std::numeric_limits<Scalar>::epsilon()) *
                       (1.0 + std::fabs(want));
    const double g = static_cast<double>(got);
    if (!(std::fabs(g - want) <= tol)) {
        std::printf("FAIL: %s: got %.17g, want %.17g\n", what.c_str(), g, want);
        ++failures;
    }
}

// Known answers on tiny Eigen vectors (any level).
template <class Scalar>
void check_eigen_small(const std::string& tag) {
    using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
    Vec o(2), p(2);
    o << 0, 0;
    p << 3, 4;
    check_near(embedkit::l2(o, p), 5.0, tag + " l2((0,0),(3,4))");
    check_near(embedkit::l2_squared(o, p), 25.0, tag + " l2_squared((0,0),(3,4))");
    check_near(embedkit::l1(o, p), 7.0, tag + " l1((0,0),(3,4))");

    Vec a(3), b(3);
    a << 1, 2, 3;
    b << 4, -5, 6;
    check_near(embedkit::dot(a, b), 12.0, tag + " dot((1,2,3),(4,-5,6))");
    check_near(embedkit::l1(a, b), 13.0, tag + " l1((1,2,3),(4,-5,6))");
    check_near(embedkit::l2_squared(a, b), 67.0, tag + " l2_squared((1,2,3),(4,-5,6))");

    Vec e1(2), e2(2), q(2);
    e1 << 1, 0;
    e2 << 0, 1;
    q << 6, 8;
    check_near(embedkit::cosine_similarity(e1, e2), 0.0, tag + " cosine_similarity(e1,e2)");
    check_near(embedkit::cosine_distance(e1, e2), 1.0, tag + " cosine_distance(e1,e2)");
    check_near(embedkit::cosine_similarity(p, q), 1.0, tag + " cosine_similarity(p,2p)");
    check_near(embedkit::cosine_distance(p, -q), 2.0, tag + " cosine_distance(p,-2p)");
    // Both zero: distance 0 by the documented rule, never NaN.
    check_near(embedkit::cosine_distance(o, o), 0.0, tag + " cosine_distance(0,0)");

    // An expression and a row of a row-major matrix work as vectors.
    embedkit::RowMatrix<Scalar> m(2, 2);
    m << 0, 0, 3, 4;
    check_near(embedkit::l2(m.row(0), m.row(1)), 5.0, tag + " l2(row0,row1)");
    check_near(embedkit::l2(o, p * Scalar(2)), 10.0, tag + " l2(o,2p)");
}

// Long vectors through the pointer forms, so the vector loops and the tails of the active
// level run. The inputs are small integers: every partial sum is an exact integer below
// 2^24, so the answers are exact in float and double whatever the summation order.
template <class Scalar>
void check_pointers_long(const std::string& tag) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{17}, std::size_t{1000}}) {
        std::vector<Scalar> a(n), b(n);
        long long dot = 0, l1 = 0, l2sq = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const long long x = static_cast<long long>(i % 7) - 3;
            const long long y = static_cast<long long>((i * 5) % 11) - 5;
            a[i] = static_cast<Scalar>(x);
            b[i] = static_cast<Scalar>(y);
            dot += x * y;
            l1 += (x > y) ? x - y : y - x;
            l2sq += (x - y) * (x - y);
        }
        const std::string at = tag + " n=" + std::to_string(n);
        check_near(embedkit::dot(a.data(), b.data(), n), static_cast<double>(dot), at + " dot");
        check_near(embedkit::l1(a.data(), b.data(), n), static_cast<double>(l1), at + " l1");
        check_near(embedkit::l2_squared(a.data(), b.data(), n), static_cast<double>(l2sq),
                   at + " l2_squared");
        check_near(embedkit::l2(a.data(), b.data(), n), std::sqrt(static_cast<double>(l2sq)),
                   at + " l2");
        // a against 3a: similarity 1 (0 distance) unless a is all zeros (n == 0: both empty,
        // similarity 1 by the zero-vector rule).
        std::vector<Scalar> a3(a);
        for (Scalar& v : a3) v *= Scalar(3);
        check_near(embedkit::cosine_similarity(a.data(), a3.data(), n), 1.0,
                   at + " cosine_similarity(a,3a)");
        check_near(embedkit::cosine_distance(a.data(), a3.data(), n), 0.0,
                   at + " cosine_distance(a,3a)");
    }
}

}  // namespace

int main() {
    const std::string version = embedkit::version();
    std::printf("embedkit %s, SIMD level %s, zlib %d, png %d\n", version.c_str(),
                std::string(embedkit::simd::level_name(embedkit::simd::active())).c_str(),
                EMBEDKIT_HAS_ZLIB, EMBEDKIT_HAS_PNG);

    const std::string want_version = std::to_string(EMBEDKIT_EXPECT_VERSION_MAJOR) + "." +
                                     std::to_string(EMBEDKIT_EXPECT_VERSION_MINOR) + "." +
                                     std::to_string(EMBEDKIT_EXPECT_VERSION_PATCH);
    check(version == want_version, "embedkit::version() is " + version + ", want " + want_version);
    check(EMBEDKIT_VERSION_MAJOR == EMBEDKIT_EXPECT_VERSION_MAJOR &&
              EMBEDKIT_VERSION_MINOR == EMBEDKIT_EXPECT_VERSION_MINOR &&
              EMBEDKIT_VERSION_PATCH == EMBEDKIT_EXPECT_VERSION_PATCH,
          "EMBEDKIT_VERSION_{MAJOR,MINOR,PATCH} macros");

    // The feature macros the build system propagates, and proof that the dependency's headers
    // and library came along with them (these calls need include path and link line).
    check(EMBEDKIT_HAS_ZLIB == EMBEDKIT_EXPECT_HAS_ZLIB, "EMBEDKIT_HAS_ZLIB has the expected value");
    check(EMBEDKIT_HAS_PNG == EMBEDKIT_EXPECT_HAS_PNG, "EMBEDKIT_HAS_PNG has the expected value");
#if EMBEDKIT_HAS_ZLIB
    std::printf("zlib %s\n", zlibVersion());
#endif
#if EMBEDKIT_HAS_PNG
    std::printf("libpng %lu\n", static_cast<unsigned long>(png_access_version_number()));
#endif

    const std::vector<embedkit::simd::Level> levels = embedkit::simd::supported();
    check(!levels.empty() && levels.front() == embedkit::simd::Level::scalar,
          "simd::supported() starts with scalar");
    for (embedkit::simd::Level level : levels) {
        embedkit::simd::Scoped scoped(level);
        const std::string name(embedkit::simd::level_name(level));
        check(embedkit::simd::active() == level, name + ": simd::active() after Scoped");
        check(helper_active_level() == level,
              name + ": the other translation unit sees the forced level");
        check_eigen_small<float>(name + " float");
        check_eigen_small<double>(name + " double");
        check_pointers_long<float>(name + " float");
        check_pointers_long<double>(name + " double");
        check_near(helper_l1({1.0, -2.0, 0.5}, {0.0, 2.0, 0.5}), 5.0,
                   name + " l1 from the other translation unit");
        std::printf("level %s checked\n", name.c_str());
    }

    // Errors derive from embedkit::Error and name the sizes.
    static_assert(std::is_base_of_v<embedkit::Error, embedkit::DimensionError> &&
                      std::is_base_of_v<std::runtime_error, embedkit::Error>,
                  "embedkit's exception hierarchy");
    bool threw = false;
    try {
        Eigen::VectorXf a(3), b(4);
        a.setZero();
        b.setZero();
        (void)embedkit::l2(a, b);
    } catch (const embedkit::DimensionError& e) {
        threw = std::string(e.what()).find('4') != std::string::npos;
    }
    check(threw, "l2 on sizes 3 and 4 throws a DimensionError naming the sizes");

    if (failures != 0) {
        std::printf("%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all checks passed\n");
    return 0;
}
