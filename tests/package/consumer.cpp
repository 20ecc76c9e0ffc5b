// A user's program: includes the umbrella header the way an installed copy is used and checks
// a few distances with exact answers at every SIMD level, the version and the feature macros.
// It also instantiates the main templates (batches, search, .npy, models, pictures) in float
// and double, so the warning flags of the build (-Wconversion -Wsign-conversion among them)
// check the template code users compile, not only the non-template parts.
//
// Built by tests/package/driver.cmake three ways (add_subdirectory, find_package against an
// install, plain -I compile) with g++ and clang++. Returns non-zero on any wrong result.
#include <embedkit/embedkit.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
// The instantiation of every main template (the costly part of the build) runs in one mode
// per compiler, the plain -I build: the CMake modes test the package, not the templates again.
#if !defined(EMBEDKIT_CONSUMER_TEMPLATES)
#error "define EMBEDKIT_CONSUMER_TEMPLATES to 0 or 1"
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
    const double tol =
        4.0 * static_cast<double>(std::numeric_limits<Scalar>::epsilon()) * (1.0 + std::fabs(want));
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

#if EMBEDKIT_CONSUMER_TEMPLATES
// The templates a user instantiates, in a scratch folder: batches and search over every metric,
// .npy round trips (read and map), the three models (a tiny fit, encode, save, load) and the
// pictures. Results are checked loosely (shapes, round trips): the doctest suite checks values.
template <class Scalar>
void check_templates(const std::string& dir, const std::string& tag) {
    namespace ek = embedkit;
    using Matrix = ek::RowMatrix<Scalar>;
    ek::Rng rng(7);
    Matrix set(40, 19);
    for (Eigen::Index i = 0; i < set.rows(); ++i)
        for (Eigen::Index j = 0; j < set.cols(); ++j)
            set(i, j) = static_cast<Scalar>(rng.uniform());
    const ek::Vector<Scalar> query = set.row(3).transpose();
    for (ek::Metric m : {ek::Metric::l1, ek::Metric::l2, ek::Metric::l2_squared, ek::Metric::dot,
                         ek::Metric::cosine}) {
        const std::string at = tag + " " + std::string(ek::metric_name(m));
        const ek::Vector<Scalar> d = ek::distances(query, set, m);
        const Matrix all = ek::pairwise(set.topRows(9), set, m);
        const auto block = ek::top_k(set.topRows(9), set, 5, m);
        const auto one = ek::top_k(query, set, 4, m, {/*exclude_self=*/true, /*self_offset=*/3});
        check(d.size() == 40 && all.rows() == 9 && all.cols() == 40,
              at + ": distances/pairwise shapes");
        check(block.indices.rows() == 9 && block.indices.cols() == 5 && block.scores.cols() == 5,
              at + ": top_k shape");
        check(one.indices.rows() == 1 && one.indices.cols() == 4 && one.indices(0, 0) != 3,
              at + ": top_k of one query excludes its own row");
    }
    ek::normalize_rows(set);

    ek::io::write_npy(dir + "/set.npy", set);
    const Matrix back = ek::io::read_npy<Scalar>(dir + "/set.npy");
    const auto mapped = ek::io::map_npy<Scalar>(dir + "/set.npy");
    check(back == set && mapped.matrix() == set, tag + ": .npy write, read and map round trip");
    const std::vector<std::int64_t> ids{1, -2, 3};
    ek::io::write_npy(dir + "/ids.npy", ids);
    check(ek::io::read_npy_vector<std::int64_t>(dir + "/ids.npy") == ids, tag + ": int64 .npy");

    const Matrix x = Matrix::Constant(40, 19, Scalar(0.25)) + Scalar(0.5) * set.cwiseAbs();
    ek::models::FitOptions fit;
    fit.epochs = 1;
    fit.batch_size = 10;
    fit.progress.style = ek::ProgressOptions::Style::silent;

    ek::models::AutoencoderOptions ae_options;
    ae_options.input = 19;
    ae_options.hidden = {8};
    ae_options.latent = 2;
    ek::models::Autoencoder<Scalar> ae(ae_options, rng);
    ek::nn::Adam<Scalar> adam;
    ae.fit(x, fit, adam, rng);
    const Matrix codes = ae.encode(x);
    ae.save(dir + "/ae.ekm");
    check(ek::models::Autoencoder<Scalar>::load(dir + "/ae.ekm").encode(x) == codes,
          tag + ": autoencoder save/load gives the same codes");

    ek::models::VAEOptions vae_options;
    vae_options.input = 19;
    vae_options.hidden = {8};
    vae_options.latent = 2;
    ek::models::VAE<Scalar> vae(vae_options, rng);
    ek::nn::Adam<Scalar> vae_adam;
    vae.fit(x, fit, vae_adam, rng);
    const Matrix z = vae.encode(x);
    check(z.rows() == 40 && z.cols() == 2 && vae.sample(3, rng).rows() == 3, tag + ": VAE shapes");

    ek::models::SiameseOptions siamese_options;
    siamese_options.input = 19;
    siamese_options.layers = {8, 4};
    ek::models::Siamese<Scalar> siamese(siamese_options, rng);
    std::vector<std::uint8_t> labels(40);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 3);
    const ek::data::Pairs test_pairs = ek::data::make_pairs(labels, rng);
    ek::nn::SGD<Scalar> sgd(0.01);
    siamese.fit(x, labels, x, test_pairs, fit, ek::models::SiameseTraining{}, sgd, rng);
    const Matrix embedded = siamese.embed(x);
    const auto knn = ek::eval::knn_accuracy(embedded, labels, embedded, labels, 3);
    check(embedded.cols() == 4 && knn.accuracy_at_1 >= 0 && knn.accuracy_at_1 <= 1,
          tag + ": Siamese embed and knn_accuracy");

    ek::viz::save_scatter(dir + "/latent.svg", z, labels);
    ek::viz::save_image_grid(dir + "/grid.svg", x.leftCols(16), 4, 4);
}
#endif  // EMBEDKIT_CONSUMER_TEMPLATES

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
    check(EMBEDKIT_HAS_ZLIB == EMBEDKIT_EXPECT_HAS_ZLIB,
          "EMBEDKIT_HAS_ZLIB has the expected value");
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

    // The scratch folder comes from the build (the driver's work folder); "." otherwise.
    const char* scratch = std::getenv("EMBEDKIT_CONSUMER_SCRATCH");
    const std::string dir = scratch != nullptr && *scratch != '\0' ? scratch : ".";
#if EMBEDKIT_CONSUMER_TEMPLATES
    check_templates<float>(dir, "templates float");
    check_templates<double>(dir, "templates double");
    std::printf("templates checked\n");
#else
    (void)dir;
#endif

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
