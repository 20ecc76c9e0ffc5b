// pairwise.hpp's Eigen overloads: every kind of dense vector and expression gives the pointer
// form's result, contiguous views are not copied, and mismatched sizes throw DimensionError.
#include "distance_test_util.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/distance/pair.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using namespace ektest;
namespace simd = embedkit::simd;

// The pointer forms are noexcept and return the scalar type; the Eigen forms deduce it.
static_assert(noexcept(embedkit::dot(static_cast<const float*>(nullptr),
                                     static_cast<const float*>(nullptr), 0)));
static_assert(noexcept(embedkit::cosine_distance(static_cast<const double*>(nullptr),
                                                 static_cast<const double*>(nullptr), 0)));
static_assert(std::is_same_v<decltype(embedkit::l2(std::declval<Eigen::VectorXf>(),
                                                   std::declval<Eigen::VectorXf>())),
                             float>);
static_assert(std::is_same_v<decltype(embedkit::l2(std::declval<Eigen::VectorXd>(),
                                                   std::declval<Eigen::VectorXd>())),
                             double>);
static_assert(
    std::is_same_v<decltype(embedkit::cosine_similarity(std::declval<Eigen::Vector4f>(),
                                                        std::declval<Eigen::RowVector4f>())),
                   float>);

// The six Eigen forms on (a, b) equal the six pointer forms on (pa, pb, n), bit for bit: the
// same kernel on the same values (kernel results do not depend on addresses, see
// test_kernels.cpp).
template <class Scalar, class A, class B>
void check_same_as_pointer_form(const A& a, const B& b, const Scalar* pa, const Scalar* pb,
                                std::size_t n) {
    REQUIRE(static_cast<std::size_t>(a.size()) == n);
    REQUIRE(static_cast<std::size_t>(b.size()) == n);
    CHECK(same_value(embedkit::dot(a, b), embedkit::dot(pa, pb, n)));
    CHECK(same_value(embedkit::l2_squared(a, b), embedkit::l2_squared(pa, pb, n)));
    CHECK(same_value(embedkit::l2(a, b), embedkit::l2(pa, pb, n)));
    CHECK(same_value(embedkit::l1(a, b), embedkit::l1(pa, pb, n)));
    CHECK(same_value(embedkit::cosine_similarity(a, b), embedkit::cosine_similarity(pa, pb, n)));
    CHECK(same_value(embedkit::cosine_distance(a, b), embedkit::cosine_distance(pa, pb, n)));
}

// True if the Eigen forms read `v` in place: the contiguous view the overloads build (the
// same helper they call) points into v's own storage instead of a temporary copy.
template <class D>
bool viewed_in_place(const Eigen::MatrixBase<D>& v, const typename D::Scalar* storage) {
    const auto view = embedkit::detail::contiguous(v);
    return view.data() == storage;
}

template <class Scalar>
using Vector = embedkit::Vector<Scalar>;

template <class Scalar>
Vector<Scalar> random_vector(Random& rng, Eigen::Index n) {
    Vector<Scalar> v(n);
    for (Eigen::Index i = 0; i < n; ++i) v(i) = static_cast<Scalar>(rng.uniform(-1, 1));
    return v;
}

TEST_CASE_TEMPLATE("pairwise: dynamic vectors equal the pointer form at every level", Scalar, float,
                   double) {
    Random rng(0x5eed0201);
    for (Eigen::Index n : {0, 1, 3, 16, 17, 100, 768, 1025}) {
        const Vector<Scalar> a = random_vector<Scalar>(rng, n);
        const Vector<Scalar> b = random_vector<Scalar>(rng, n);
        for (Level level : simd::supported()) {
            simd::Scoped scoped(level);
            CAPTURE(level_str(level));
            CAPTURE(n);
            check_same_as_pointer_form(a, b, a.data(), b.data(), static_cast<std::size_t>(n));
            // Row vectors and transposes are vectors too.
            const Eigen::Matrix<Scalar, 1, Eigen::Dynamic> ra = a.transpose();
            check_same_as_pointer_form(ra, b, ra.data(), b.data(), static_cast<std::size_t>(n));
            check_same_as_pointer_form(a.transpose(), b.transpose(), a.data(), b.data(),
                                       static_cast<std::size_t>(n));
            CHECK(viewed_in_place(a, a.data()));
            CHECK(viewed_in_place(a.transpose(), a.data()));
        }
    }
}

TEST_CASE_TEMPLATE("pairwise: rows of a RowMatrix are read in place", Scalar, float, double) {
    Random rng(0x5eed0202);
    const Eigen::Index rows = 7, cols = 37;  // odd row length: rows start misaligned
    embedkit::RowMatrix<Scalar> m(rows, cols);
    for (Eigen::Index i = 0; i < rows; ++i) m.row(i) = random_vector<Scalar>(rng, cols).transpose();
    for (Level level : simd::supported()) {
        simd::Scoped scoped(level);
        CAPTURE(level_str(level));
        for (Eigen::Index i = 0; i < rows; ++i) {
            const Eigen::Index j = (i + 3) % rows;
            CAPTURE(i);
            check_same_as_pointer_form(m.row(i), m.row(j), &m(i, 0), &m(j, 0),
                                       static_cast<std::size_t>(cols));
            CHECK(viewed_in_place(m.row(i), &m(i, 0)));
            // A segment of a row is contiguous as well.
            check_same_as_pointer_form(m.row(i).segment(5, 20), m.row(j).tail(20), &m(i, 5),
                                       &m(j, cols - 20), 20);
            CHECK(viewed_in_place(m.row(i).segment(5, 20), &m(i, 5)));
        }
    }
}

TEST_CASE_TEMPLATE("pairwise: Map, segment, column of a column-major matrix, fixed size", Scalar,
                   float, double) {
    Random rng(0x5eed0203);
    std::vector<Scalar> buffer(300);
    for (Scalar& x : buffer) x = static_cast<Scalar>(rng.uniform(-2, 2));
    Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> cm(33, 5);  // column-major
    for (Eigen::Index j = 0; j < cm.cols(); ++j) cm.col(j) = random_vector<Scalar>(rng, cm.rows());
    const Vector<Scalar> v = random_vector<Scalar>(rng, 120);
    const Eigen::Matrix<Scalar, 4, 1> f1(Scalar(1), Scalar(-2), Scalar(0.5), Scalar(3));
    const Eigen::Matrix<Scalar, 4, 1> f2(Scalar(-1), Scalar(4), Scalar(2), Scalar(0.25));
    const Eigen::Matrix<Scalar, 1, 4> f3 = f2.transpose();

    for (Level level : simd::supported()) {
        simd::Scoped scoped(level);
        CAPTURE(level_str(level));
        // Maps at odd offsets (misaligned) over raw memory.
        for (std::size_t off : {0, 1, 3, 7, 13}) {
            CAPTURE(off);
            const Eigen::Map<const Vector<Scalar>> ma(buffer.data() + off, 101);
            const Eigen::Map<const Vector<Scalar>> mb(buffer.data() + 150 + 2 * off, 101);
            check_same_as_pointer_form(ma, mb, buffer.data() + off, buffer.data() + 150 + 2 * off,
                                       101);
            CHECK(viewed_in_place(ma, buffer.data() + off));
        }
        // Segments, head and tail of a vector.
        check_same_as_pointer_form(v.segment(3, 50), v.segment(61, 50), v.data() + 3, v.data() + 61,
                                   50);
        check_same_as_pointer_form(v.head(40), v.tail(40), v.data(), v.data() + 80, 40);
        CHECK(viewed_in_place(v.segment(3, 50), v.data() + 3));
        // Columns of a column-major matrix are contiguous.
        check_same_as_pointer_form(cm.col(1), cm.col(4), &cm(0, 1), &cm(0, 4), 33);
        CHECK(viewed_in_place(cm.col(1), &cm(0, 1)));
        // Fixed-size vectors, column and row.
        check_same_as_pointer_form(f1, f2, f1.data(), f2.data(), 4);
        check_same_as_pointer_form(f1, f3, f1.data(), f3.data(), 4);
        CHECK(viewed_in_place(f1, f1.data()));
        CHECK(embedkit::l1(f1, f2) == Scalar(2 + 6 + 1.5 + 2.75));
        CHECK(embedkit::dot(f1, f3) == Scalar(-1 - 8 + 1 + 0.75));
    }
}

TEST_CASE_TEMPLATE("pairwise: strided views and expressions are evaluated first, correctly", Scalar,
                   float, double) {
    Random rng(0x5eed0204);
    embedkit::RowMatrix<Scalar> rm(29, 6);  // its columns have stride 6
    for (Eigen::Index i = 0; i < rm.rows(); ++i)
        rm.row(i) = random_vector<Scalar>(rng, 6).transpose();
    Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> cm(6, 29);  // its rows have stride 6
    cm = rm.transpose();
    const Vector<Scalar> a = random_vector<Scalar>(rng, 29);
    const Vector<Scalar> b = random_vector<Scalar>(rng, 29);
    std::vector<Scalar> raw(2 * 29);
    for (Scalar& x : raw) x = static_cast<Scalar>(rng.uniform(-1, 1));
    const Eigen::Map<const Vector<Scalar>, 0, Eigen::InnerStride<2>> strided(raw.data(), 29);

    for (Level level : simd::supported()) {
        simd::Scoped scoped(level);
        CAPTURE(level_str(level));
        // Strided column of a row-major matrix and row of a column-major one.
        const Vector<Scalar> col2 = rm.col(2);
        const Vector<Scalar> row3 = cm.row(3).transpose();
        check_same_as_pointer_form(rm.col(2), cm.row(3), col2.data(), row3.data(), 29);
        check_same_as_pointer_form(rm.col(2), a, col2.data(), a.data(), 29);
        const Vector<Scalar> s = strided;
        check_same_as_pointer_form(strided, b, s.data(), b.data(), 29);
        // Expressions: sums, scalings, element-wise products.
        const Vector<Scalar> sum = a + b;
        const Vector<Scalar> scaled = Scalar(2) * a - b;
        const Vector<Scalar> prod = a.cwiseProduct(b);
        check_same_as_pointer_form(a + b, b, sum.data(), b.data(), 29);
        check_same_as_pointer_form(Scalar(2) * a - b, a + b, scaled.data(), sum.data(), 29);
        check_same_as_pointer_form(a.cwiseProduct(b), rm.col(2), prod.data(), col2.data(), 29);
        // And against the definition, independently of the kernels: l2(a + b, b) = |a|.
        CHECK(embedkit::l2_squared(a + b, b) ==
              doctest::Approx(static_cast<double>(a.squaredNorm())).epsilon(1e-5));
    }
}

TEST_CASE_TEMPLATE("pairwise: different sizes throw DimensionError naming both sizes", Scalar,
                   float, double) {
    const Vector<Scalar> a = Vector<Scalar>::Ones(5);
    const Vector<Scalar> b = Vector<Scalar>::Ones(7);
    const Eigen::Matrix<Scalar, 4, 1> f = Eigen::Matrix<Scalar, 4, 1>::Ones();
    auto expect_dimension_error = [](const char* name, auto&& call, const char* size_a,
                                     const char* size_b) {
        CAPTURE(name);
        try {
            call();
            FAIL("no exception");
        } catch (const embedkit::DimensionError& e) {
            const std::string what = e.what();
            CAPTURE(what);
            CHECK(what.find(std::string("embedkit::") + name) != std::string::npos);
            CHECK(what.find(size_a) != std::string::npos);
            CHECK(what.find(size_b) != std::string::npos);
        }
    };
    expect_dimension_error(
        "dot", [&] { return embedkit::dot(a, b); }, "5", "7");
    expect_dimension_error(
        "l2_squared", [&] { return embedkit::l2_squared(a, b); }, "5", "7");
    expect_dimension_error(
        "l2", [&] { return embedkit::l2(b, a); }, "7", "5");
    expect_dimension_error(
        "l1", [&] { return embedkit::l1(a, b); }, "5", "7");
    expect_dimension_error(
        "cosine_similarity", [&] { return embedkit::cosine_similarity(a, b); }, "5", "7");
    expect_dimension_error(
        "cosine_distance", [&] { return embedkit::cosine_distance(f, b); }, "4", "7");
    // Empty against non-empty is a mismatch too, not two zero vectors.
    const Vector<Scalar> empty;
    CHECK_THROWS_AS(embedkit::cosine_similarity(empty, a), embedkit::DimensionError);
    // Part of the library's exception hierarchy.
    CHECK_THROWS_AS(embedkit::l1(a, b), embedkit::Error);
    CHECK_THROWS_AS(embedkit::l1(a, b), std::runtime_error);
}

TEST_CASE_TEMPLATE("pairwise: empty Eigen vectors behave like length 0", Scalar, float, double) {
    const Vector<Scalar> e1, e2;
    for (Level level : simd::supported()) {
        simd::Scoped scoped(level);
        CAPTURE(level_str(level));
        CHECK(embedkit::dot(e1, e2) == 0);
        CHECK(embedkit::l2_squared(e1, e2) == 0);
        CHECK(embedkit::l2(e1, e2) == 0);
        CHECK(embedkit::l1(e1, e2) == 0);
        CHECK(embedkit::cosine_similarity(e1, e2) == 1);
        CHECK(embedkit::cosine_distance(e1, e2) == 0);
    }
}

}  // namespace
