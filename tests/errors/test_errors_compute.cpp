// Bad-input rows (compute): distance functions, dispatch, batch and search, the nn core,
// training and the models. One EMBEDKIT_ERROR_ROW per row of docs/ERRORS.md; the cases
// without rows check the documented non-errors (NaN passes through, n = 0, ignored settings).
#include "error_rows.hpp"
#include "../io/io_test_util.hpp"

#include <embedkit/core/random.hpp>
#include <embedkit/core/threads.hpp>
#include <embedkit/data/pairs.hpp>
#include <embedkit/distance/pairwise.hpp>
#include <embedkit/distance/dispatch.hpp>
#include <embedkit/distance/pair.hpp>
#include <embedkit/distance/topk.hpp>
#include <embedkit/models/autoencoder.hpp>
#include <embedkit/eval/knn.hpp>
#include <embedkit/models/siamese.hpp>
#include <embedkit/models/vae.hpp>
#include <embedkit/nn/activation.hpp>
#include <embedkit/nn/dense.hpp>
#include <embedkit/nn/gradcheck.hpp>
#include <embedkit/nn/loss.hpp>
#include <embedkit/nn/optim.hpp>
#include <embedkit/nn/sequential.hpp>
#include <embedkit/nn/trainer.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

namespace ek = embedkit;
using RM = ek::RowMatrix<float>;
using Labels = std::vector<std::uint8_t>;
using Index = Eigen::Index;

constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();
constexpr float inf_f = std::numeric_limits<float>::infinity();
constexpr double nan_d = std::numeric_limits<double>::quiet_NaN();

// A Metric outside the enum, as a cast from a stray integer would make one.
const ek::Metric bad_metric = static_cast<ek::Metric>(9);

// n x d values in [0.1, 0.9), seeded.
RM unit_data(Index n, Index d, std::uint64_t seed) {
    ek::Rng rng(seed);
    RM m(n, d);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.uniform(0.1, 0.9));
    return m;
}

ek::models::FitOptions quiet(int epochs, Index batch) {
    ek::models::FitOptions f;
    f.epochs = epochs;
    f.batch_size = batch;
    f.progress.style = ek::ProgressOptions::Style::silent;
    return f;
}

// Sets every value of a parameter to NaN (a model whose output, and so loss, is NaN).
template <class Scalar>
void poison(const ek::nn::Parameter<Scalar>& p) {
    for (Index i = 0; i < p.size(); ++i) p.value[i] = std::numeric_limits<Scalar>::quiet_NaN();
}

using iotest::TempDir;

std::vector<char> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ek::models::AutoencoderOptions small_autoencoder() {
    ek::models::AutoencoderOptions o;
    o.input = 6;
    o.hidden = {4};
    o.latent = 2;
    return o;
}

ek::models::VAEOptions small_vae() {
    ek::models::VAEOptions o;
    o.input = 8;
    o.hidden = {5};
    o.latent = 2;
    return o;
}

ek::models::SiameseOptions small_siamese() {
    ek::models::SiameseOptions o;
    o.input = 6;
    o.layers = {5, 3};
    return o;
}

Labels alternating(std::size_t n) {
    Labels l(n);
    for (std::size_t i = 0; i < n; ++i) l[i] = static_cast<std::uint8_t>(i % 2);
    return l;
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: pair distance functions") {
    const ek::VectorF a3 = ek::VectorF::Ones(3);
    const ek::VectorF b4 = ek::VectorF::Ones(4);
    const RM set = RM::Ones(2, 4);
    EMBEDKIT_ERROR_ROW("DIST-01", embedkit::DimensionError,
                       "embedkit::l2: vectors have different sizes (a: 3, b: 4)",
                       (void)ek::l2(a3, b4));
    EMBEDKIT_ERROR_ROW("DIST-02", embedkit::DimensionError,
                       "embedkit::cosine_distance: vectors have different sizes (a: 3, b: 4)",
                       (void)ek::cosine_distance(a3, set.row(0)));

    // Every Eigen form checks the sizes the same way (the table names two of them).
    CHECK_THROWS_AS((void)ek::dot(a3, b4), ek::DimensionError);
    CHECK_THROWS_AS((void)ek::l2_squared(a3, b4), ek::DimensionError);
    CHECK_THROWS_AS((void)ek::l1(a3, b4), ek::DimensionError);
    CHECK_THROWS_AS((void)ek::cosine_similarity(a3, b4), ek::DimensionError);
    CHECK_THROWS_AS((void)ek::l2(ek::VectorD::Ones(2), ek::VectorD::Ones(5)), ek::DimensionError);
}

TEST_CASE(
    "errors compute: pair functions of length 0 and NaN inputs do not throw (documented values)") {
    for (const ek::simd::Level level : ek::simd::supported()) {
        ek::simd::Scoped scoped(level);
        CAPTURE(ek::simd::level_name(level));
        const float one = 1.0f;
        // n = 0: the pointers are not read; empty vectors are zero vectors.
        CHECK(ek::dot(&one, &one, 0) == 0.0f);
        CHECK(ek::l2_squared(&one, &one, 0) == 0.0f);
        CHECK(ek::l2(&one, &one, 0) == 0.0f);
        CHECK(ek::l1(&one, &one, 0) == 0.0f);
        CHECK(ek::cosine_similarity(&one, &one, 0) == 1.0f);
        CHECK(ek::cosine_distance(&one, &one, 0) == 0.0f);
        CHECK(ek::l2(ek::VectorD(), ek::VectorD()) == 0.0);
        // NaN anywhere propagates to every metric, at every length and level.
        for (const Index n : {Index(1), Index(7), Index(33), Index(100)}) {
            ek::VectorF a = ek::VectorF::Ones(n), b = ek::VectorF::Ones(n);
            a[n / 2] = nan_f;
            CHECK(std::isnan(ek::dot(a, b)));
            CHECK(std::isnan(ek::l2_squared(a, b)));
            CHECK(std::isnan(ek::l2(a, b)));
            CHECK(std::isnan(ek::l1(a, b)));
            CHECK(std::isnan(ek::cosine_similarity(a, b)));
            CHECK(std::isnan(ek::cosine_distance(a, b)));
        }
    }
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: SIMD dispatch") {
    // A level this CPU lacks: NEON on x86-64, AVX2 on aarch64.
    ek::simd::Level missing = ek::simd::Level::scalar;
    for (const ek::simd::Level l :
         {ek::simd::Level::avx2, ek::simd::Level::avx512, ek::simd::Level::neon})
        if (!ek::simd::cpu_supports(l)) {
            missing = l;
            break;
        }
    REQUIRE(missing != ek::simd::Level::scalar);
    const ek::simd::Level before = ek::simd::active();
    EMBEDKIT_ERROR_ROW("SIMD-01", embedkit::ArgumentError,
                       "embedkit::simd::force: this CPU does not support level",
                       ek::simd::force(missing));
    CHECK(ek::simd::active() == before);
    EMBEDKIT_ERROR_ROW("SIMD-02", embedkit::ArgumentError,
                       "embedkit::simd::force: this CPU does not support level",
                       ek::simd::Scoped scoped(missing));
    CHECK(ek::simd::active() == before);
    EMBEDKIT_ERROR_ROW("SIMD-03", embedkit::ArgumentError,
                       "this CPU does not support level 'unknown'",
                       ek::simd::force(static_cast<ek::simd::Level>(7)));
    CHECK(ek::simd::active() == before);
}

TEST_CASE("errors compute: unknown level names are reported without throwing") {
    CHECK_FALSE(ek::simd::parse_level("avx3").has_value());
    CHECK_FALSE(ek::simd::parse_level("").has_value());
    CHECK_FALSE(ek::simd::parse_level("AVX2").has_value());
    CHECK(ek::simd::parse_level("scalar") == ek::simd::Level::scalar);
    // EMBEDKIT_SIMD with a bad value: one warning on stderr, then the best level.
    const char* old = std::getenv("EMBEDKIT_SIMD");
    const std::string saved = old ? old : "";
    ::setenv("EMBEDKIT_SIMD", "turbo", 1);
    CHECK(ek::simd::detail::initial_level() == ek::simd::best());
    ::setenv("EMBEDKIT_SIMD", "scalar", 1);
    CHECK(ek::simd::detail::initial_level() == ek::simd::Level::scalar);
    if (old)
        ::setenv("EMBEDKIT_SIMD", saved.c_str(), 1);
    else
        ::unsetenv("EMBEDKIT_SIMD");
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: distances pairwise and normalize_rows") {
    const RM set = RM::Ones(3, 4);
    const ek::VectorF q3 = ek::VectorF::Ones(3);
    const ek::VectorF q4 = ek::VectorF::Ones(4);
    std::vector<float> buffer(24, 1.0f);
    // 3 rows of 4 values taken every second float: inner stride 2.
    const Eigen::Map<const RM, 0, Eigen::Stride<Eigen::Dynamic, 2>> strided(
        buffer.data(), 3, 4, Eigen::Stride<Eigen::Dynamic, 2>(8, 2));
    EMBEDKIT_ERROR_ROW("BATCH-01", embedkit::DimensionError,
                       "embedkit::distances: the query has dimension 3 but the set has dimension 4",
                       (void)ek::distances(q3, set, ek::Metric::l2));
    EMBEDKIT_ERROR_ROW("BATCH-02", embedkit::ArgumentError,
                       "embedkit::distances: the set is empty (0 rows)",
                       (void)ek::distances(q4, RM(0, 4), ek::Metric::dot));
    EMBEDKIT_ERROR_ROW("BATCH-03", embedkit::ArgumentError,
                       "embedkit::distances: the set must have contiguous rows (inner stride 1), "
                       "got inner stride 2",
                       (void)ek::distances(q4, strided, ek::Metric::l1));
    EMBEDKIT_ERROR_ROW("BATCH-04", embedkit::ArgumentError,
                       "embedkit::distances: unknown metric (enum value 9",
                       (void)ek::distances(q4, set, bad_metric));
    EMBEDKIT_ERROR_ROW("BATCH-05", embedkit::ArgumentError,
                       "embedkit::pairwise: A is empty (0 rows)",
                       (void)ek::pairwise(RM(0, 4), set, ek::Metric::l2));
    EMBEDKIT_ERROR_ROW("BATCH-06", embedkit::ArgumentError,
                       "embedkit::pairwise: B is empty (0 rows)",
                       (void)ek::pairwise(set, RM(0, 4), ek::Metric::cosine));
    EMBEDKIT_ERROR_ROW("BATCH-07", embedkit::DimensionError,
                       "embedkit::pairwise: A has dimension 4 but B has dimension 5",
                       (void)ek::pairwise(set, RM(RM::Ones(2, 5)), ek::Metric::l2_squared));
    EMBEDKIT_ERROR_ROW("BATCH-08", embedkit::ArgumentError,
                       "embedkit::pairwise: unknown metric (enum value 9",
                       (void)ek::pairwise(set, set, bad_metric));
    std::vector<float> writable(24, 1.0f);
    Eigen::Map<RM, 0, Eigen::Stride<Eigen::Dynamic, 2>> strided_out(
        writable.data(), 3, 4, Eigen::Stride<Eigen::Dynamic, 2>(8, 2));
    EMBEDKIT_ERROR_ROW("BATCH-09", embedkit::ArgumentError,
                       "embedkit::normalize_rows: the set must have contiguous rows (inner stride "
                       "1), got inner stride 2",
                       ek::normalize_rows(strided_out));
    CHECK(writable == std::vector<float>(24, 1.0f));  // untouched
}

TEST_CASE(
    "errors compute: batch functions pass NaN through and normalize_rows accepts empty sets") {
    RM set = RM::Ones(3, 4);
    set(1, 2) = nan_f;
    const ek::VectorF q = ek::VectorF::Ones(4);
    for (const ek::Metric m : {ek::Metric::l1, ek::Metric::l2, ek::Metric::l2_squared,
                               ek::Metric::dot, ek::Metric::cosine}) {
        CAPTURE(ek::metric_name(m));
        const ek::VectorF d = ek::distances(q, set, m);
        CHECK_FALSE(std::isnan(d[0]));
        CHECK(std::isnan(d[1]));
        const RM p = ek::pairwise(set, set, m);
        CHECK(std::isnan(p(1, 0)));
        CHECK(std::isnan(p(0, 1)));
        CHECK_FALSE(std::isnan(p(0, 2)));
        // top_k keeps NaN scores, after every number.
        const auto top = ek::top_k(set.topRows(1), set, 3, m);
        CHECK(top.indices(0, 2) == 1);
        CHECK(std::isnan(top.scores(0, 2)));
    }
    RM empty(0, 4);
    ek::normalize_rows(empty);
    CHECK(empty.rows() == 0);
    ek::normalize_rows(set);
    CHECK(std::isnan(set(1, 0)));
    CHECK(set.row(0).norm() == doctest::Approx(1.0));
}

TEST_CASE("errors compute: top_k") {
    const RM set = RM::Ones(5, 7);
    const RM queries = RM::Ones(2, 7);
    std::vector<float> buffer(28, 1.0f);
    const Eigen::Map<const RM, 0, Eigen::Stride<Eigen::Dynamic, 2>> strided(
        buffer.data(), 2, 7, Eigen::Stride<Eigen::Dynamic, 2>(14, 2));
    EMBEDKIT_ERROR_ROW("TOPK-01", embedkit::ArgumentError,
                       "embedkit::top_k: k must be positive, got 0",
                       (void)ek::top_k(queries, set, 0, ek::Metric::l2));
    EMBEDKIT_ERROR_ROW("TOPK-02", embedkit::ArgumentError,
                       "embedkit::top_k: queries is empty (0 rows)",
                       (void)ek::top_k(RM(0, 7), set, 3, ek::Metric::l2));
    EMBEDKIT_ERROR_ROW("TOPK-03", embedkit::ArgumentError,
                       "embedkit::top_k: the set is empty (0 rows)",
                       (void)ek::top_k(queries, RM(0, 7), 3, ek::Metric::dot));
    EMBEDKIT_ERROR_ROW("TOPK-04", embedkit::DimensionError,
                       "embedkit::top_k: queries has dimension 4 but the set has dimension 7",
                       (void)ek::top_k(RM(RM::Ones(2, 4)), set, 3, ek::Metric::cosine));
    EMBEDKIT_ERROR_ROW(
        "TOPK-05", embedkit::ArgumentError,
        "embedkit::top_k: exclude_self with a 1-row set leaves no candidates",
        (void)ek::top_k(set.topRows(1), set.topRows(1), 1, ek::Metric::l1, ek::TopKOptions{true}));
    EMBEDKIT_ERROR_ROW("TOPK-06", embedkit::ArgumentError,
                       "embedkit::top_k: unknown metric (enum value 9",
                       (void)ek::top_k(queries, set, 3, bad_metric));
    EMBEDKIT_ERROR_ROW(
        "TOPK-07", embedkit::ArgumentError,
        "embedkit::top_k: queries must have contiguous rows (inner stride 1), got inner stride 2",
        (void)ek::top_k(strided, set, 3, ek::Metric::l2));
    ek::TopKOptions offset;
    offset.exclude_self = true;
    offset.self_offset = 4;
    EMBEDKIT_ERROR_ROW("TOPK-08", embedkit::ArgumentError,
                       "or a set row from 0 to 3 (2 queries, 5 set rows), got 4",
                       (void)ek::top_k(queries, set, 3, ek::Metric::l2, offset));
    EMBEDKIT_ERROR_ROW(
        "TOPK-09", embedkit::ArgumentError,
        "embedkit::top_k: exclude_self cannot tell which set row each query is",
        (void)ek::top_k(RM(RM::Zero(2, 7)), set, 3, ek::Metric::l2, ek::TopKOptions{true}));
    // Negative k is the same check; k above the candidate count is capped, not an error.
    CHECK_THROWS_WITH_AS((void)ek::top_k(queries, set, -3, ek::Metric::l2),
                         doctest::Contains("got -3"), ek::ArgumentError);
    CHECK(ek::top_k(queries, set, 100, ek::Metric::l2).indices.cols() == 5);
    CHECK(ek::top_k(set, set, 100, ek::Metric::l2, ek::TopKOptions{true}).indices.cols() == 4);
}

TEST_CASE("errors compute: set_num_threads") {
    const int before = ek::num_threads();
    ek::set_num_threads(2);
    EMBEDKIT_ERROR_ROW("THREADS-01", embedkit::ArgumentError,
                       "embedkit::set_num_threads: the thread count must be from 0 (the "
                       "default) to 1024, got -1",
                       ek::set_num_threads(-1));
    EMBEDKIT_ERROR_ROW("THREADS-02", embedkit::ArgumentError,
                       "embedkit::set_num_threads: the thread count must be from 0 (the "
                       "default) to 1024, got 1025",
                       ek::set_num_threads(ek::max_num_threads + 1));
    // A refused count leaves the setting as it was; the largest valid count is accepted.
    CHECK(ek::num_threads() == 2);
    ek::set_num_threads(ek::max_num_threads);
    CHECK(ek::num_threads() == ek::max_num_threads);
    ek::set_num_threads(0);
    CHECK(ek::num_threads() == before);
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: nn layers") {
    ek::Rng rng(1);
    EMBEDKIT_ERROR_ROW("DENSE-01", embedkit::ArgumentError,
                       "embedkit::nn::Dense: sizes must be positive, got 0 -> 3",
                       ek::nn::Dense<float> layer(0, 3, rng));
    ek::nn::Dense<float> dense(4, 3, rng);
    EMBEDKIT_ERROR_ROW("DENSE-02", embedkit::ArgumentError,
                       "embedkit::nn::Dense::backward: called before forward",
                       dense.backward(RM::Zero(2, 3)));
    EMBEDKIT_ERROR_ROW(
        "DENSE-03", embedkit::DimensionError,
        "embedkit::nn::Dense::forward: Dense(4 -> 3, identity) expects 4 input columns, got 5",
        dense.forward(RM::Zero(2, 5)));
    const RM x = unit_data(2, 4, 2);
    dense.forward(x);
    EMBEDKIT_ERROR_ROW(
        "DENSE-04", embedkit::DimensionError,
        "embedkit::nn::Dense::backward: gradient is 3x3, the last forward output was 2x3",
        dense.backward(RM::Zero(3, 3)));
    EMBEDKIT_ERROR_ROW(
        "DENSE-05", embedkit::DimensionError,
        "embedkit::nn::Dense::backward: gradient is 2x4, the last forward output was 2x3",
        dense.backward(RM::Zero(2, 4)));
    CHECK_THROWS_AS(ek::nn::Dense<double>(4, -1, rng), ek::ArgumentError);

    EMBEDKIT_ERROR_ROW("ACT-01", embedkit::ArgumentError,
                       "embedkit::nn::parse_activation: unknown activation 'softmax' (expected "
                       "identity, relu, sigmoid or tanh)",
                       (void)ek::nn::parse_activation("softmax"));
    ek::nn::ActivationLayer<float> act(ek::nn::Activation::tanh);
    act.forward(x);
    EMBEDKIT_ERROR_ROW(
        "ACT-02", embedkit::DimensionError,
        "embedkit::nn::ActivationLayer::backward: gradient is 2x5, the last forward output was 2x4",
        act.backward(RM::Zero(2, 5)));

    ek::nn::Sequential<float> empty;
    EMBEDKIT_ERROR_ROW("SEQ-01", embedkit::ArgumentError,
                       "embedkit::nn::Sequential::add: null layer", empty.add(nullptr));
    EMBEDKIT_ERROR_ROW("SEQ-02", embedkit::ArgumentError,
                       "embedkit::nn::Sequential::forward: the stack is empty", empty.forward(x));
    EMBEDKIT_ERROR_ROW("SEQ-03", embedkit::ArgumentError,
                       "embedkit::nn::Sequential::backward: the stack is empty", empty.backward(x));
    ek::nn::Sequential<float> net;
    net.add_dense(4, 6, rng, ek::nn::DenseOptions{ek::nn::Activation::relu});
    EMBEDKIT_ERROR_ROW("SEQ-04", embedkit::DimensionError,
                       "embedkit::nn::Sequential::add: Dense(5 -> 2, identity) expects 5 inputs, "
                       "the stack produces 6",
                       net.add_dense(5, 2, rng));
    net.add_dense(6, 2, rng);
    EMBEDKIT_ERROR_ROW(
        "SEQ-05", embedkit::DimensionError,
        "embedkit::nn::Dense::forward: Dense(4 -> 6, relu) expects 4 input columns, got 3",
        net.forward(RM::Zero(2, 3)));
    EMBEDKIT_ERROR_ROW("SEQ-06", embedkit::ArgumentError,
                       "embedkit::nn::Sequential::operator[]: layer index 2 is out of range, the "
                       "stack has 2 layers",
                       (void)net[2]);
    RM inferred;
    EMBEDKIT_ERROR_ROW("SEQ-07", embedkit::ArgumentError,
                       "embedkit::nn::Sequential::infer: the stack is empty",
                       empty.infer(x, inferred));
    EMBEDKIT_ERROR_ROW(
        "SEQ-08", embedkit::DimensionError,
        "embedkit::nn::Dense::infer: Dense(4 -> 6, relu) expects 4 input columns, got 3",
        net.infer(RM::Zero(2, 3), inferred));
    CHECK(net.size() == 2);
    CHECK(net[1].describe() == "Dense(6 -> 2, identity)");
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: losses") {
    const RM a = unit_data(2, 3, 3);
    const RM b = unit_data(2, 3, 4);
    const RM tall = unit_data(3, 3, 5);
    const RM wide = unit_data(2, 4, 6);
    const RM e(0, 3);
    RM g, g2;
    EMBEDKIT_ERROR_ROW("LOSS-01", embedkit::DimensionError,
                       "embedkit::nn::bce_with_logits: logits is 2x3 but targets is 3x3",
                       (void)ek::nn::bce_with_logits(a, tall, g));
    EMBEDKIT_ERROR_ROW("LOSS-02", embedkit::ArgumentError,
                       "embedkit::nn::bce_with_logits: empty batch",
                       (void)ek::nn::bce_with_logits(e, e, g));
    EMBEDKIT_ERROR_ROW("LOSS-03", embedkit::DimensionError,
                       "embedkit::nn::mean_squared_error: prediction is 2x3 but targets is 2x4",
                       (void)ek::nn::mean_squared_error(a, wide, g));
    EMBEDKIT_ERROR_ROW("LOSS-04", embedkit::ArgumentError,
                       "embedkit::nn::mean_squared_error: empty batch",
                       (void)ek::nn::mean_squared_error(e, e, g));
    EMBEDKIT_ERROR_ROW("LOSS-05", embedkit::DimensionError,
                       "embedkit::nn::kl_standard_normal: mu is 2x3 but log_var is 2x4",
                       (void)ek::nn::kl_standard_normal(a, wide, g, g2));
    EMBEDKIT_ERROR_ROW("LOSS-06", embedkit::DimensionError,
                       "embedkit::nn::pair_distances: a is 2x3 but b is 3x3",
                       (void)ek::nn::pair_distances(a, tall));
    EMBEDKIT_ERROR_ROW("LOSS-07", embedkit::DimensionError,
                       "embedkit::nn::contrastive_loss: a is 2x3 but b is 2x4",
                       (void)ek::nn::contrastive_loss(a, wide, {1, 0}, 1.0, g, g2));
    EMBEDKIT_ERROR_ROW("LOSS-08", embedkit::DimensionError,
                       "embedkit::nn::contrastive_loss: similar has 3 entries but there are 2 rows",
                       (void)ek::nn::contrastive_loss(a, b, {1, 0, 1}, 1.0, g, g2));
    EMBEDKIT_ERROR_ROW("LOSS-09", embedkit::ArgumentError,
                       "embedkit::nn::contrastive_loss: empty batch",
                       (void)ek::nn::contrastive_loss(e, e, {}, 1.0, g, g2));
    EMBEDKIT_ERROR_ROW("LOSS-10", embedkit::ArgumentError,
                       "embedkit::nn::contrastive_loss: margin must be positive and finite, got 0",
                       (void)ek::nn::contrastive_loss(a, b, {1, 0}, 0.0, g, g2));
    EMBEDKIT_ERROR_ROW(
        "LOSS-11", embedkit::ArgumentError,
        "embedkit::nn::contrastive_loss: margin must be positive and finite, got nan",
        (void)ek::nn::contrastive_loss(a, b, {1, 0}, nan_d, g, g2));
    EMBEDKIT_ERROR_ROW("LOSS-12", embedkit::ArgumentError,
                       "embedkit::nn::contrastive_loss: similar[1] must be 0 or 1, got 2",
                       (void)ek::nn::contrastive_loss(a, b, {1, 2}, 1.0, g, g2));
    EMBEDKIT_ERROR_ROW(
        "LOSS-13", embedkit::DimensionError,
        "embedkit::nn::triplet_batch_hard_loss: labels has 2 entries but there are 3 rows",
        (void)ek::nn::triplet_batch_hard_loss(tall, {0, 1}, 1.0, g));
    EMBEDKIT_ERROR_ROW("LOSS-14", embedkit::ArgumentError,
                       "embedkit::nn::triplet_batch_hard_loss: empty batch",
                       (void)ek::nn::triplet_batch_hard_loss(e, {}, 1.0, g));
    EMBEDKIT_ERROR_ROW(
        "LOSS-15", embedkit::ArgumentError,
        "embedkit::nn::triplet_batch_hard_loss: margin must be positive and finite, got inf",
        (void)ek::nn::triplet_batch_hard_loss(tall, {0, 1, 1},
                                              std::numeric_limits<double>::infinity(), g));
    EMBEDKIT_ERROR_ROW(
        "LOSS-16", embedkit::DimensionError,
        "embedkit::nn::multiple_negatives_ranking_loss: anchors is 2x3 but positives is 2x4",
        (void)ek::nn::multiple_negatives_ranking_loss(a, wide, 20.0, g, g2));
    EMBEDKIT_ERROR_ROW("LOSS-17", embedkit::ArgumentError,
                       "embedkit::nn::multiple_negatives_ranking_loss: empty batch",
                       (void)ek::nn::multiple_negatives_ranking_loss(e, e, 20.0, g, g2));
    EMBEDKIT_ERROR_ROW(
        "LOSS-18", embedkit::ArgumentError,
        "embedkit::nn::multiple_negatives_ranking_loss: scale must be positive and finite, got 0",
        (void)ek::nn::multiple_negatives_ranking_loss(a, b, 0.0, g, g2));
    // The other empty inputs and margins take the same checks.
    CHECK_THROWS_AS((void)ek::nn::kl_standard_normal(e, e, g, g2), ek::ArgumentError);
    CHECK_THROWS_AS((void)ek::nn::pair_distances(e, e), ek::ArgumentError);
    CHECK_THROWS_AS((void)ek::nn::triplet_batch_hard_loss(tall, {0, 1, 1}, -1.0, g),
                    ek::ArgumentError);
}

TEST_CASE("errors compute: losses pass NaN inputs through as a NaN loss") {
    RM a = unit_data(2, 3, 7);
    const RM b = unit_data(2, 3, 8);
    a(0, 1) = nan_f;
    RM g, g2;
    CHECK(std::isnan(ek::nn::bce_with_logits(a, b, g)));
    CHECK(std::isnan(ek::nn::mean_squared_error(a, b, g)));
    CHECK(std::isnan(ek::nn::kl_standard_normal(a, b, g, g2)));
    CHECK(std::isnan(ek::nn::contrastive_loss(a, b, {1, 0}, 1.0, g, g2)));
    CHECK(std::isnan(ek::nn::contrastive_loss(a, b, {0, 0}, 1.0, g, g2)));
    RM three = unit_data(3, 3, 9);
    three(0, 2) = nan_f;
    CHECK(std::isnan(ek::nn::triplet_batch_hard_loss(three, {0, 0, 1}, 1.0, g)));
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: optimizers") {
    using ek::nn::Adam;
    using ek::nn::AdamOptions;
    using ek::nn::SGD;
    using ek::nn::SGDOptions;
    AdamOptions zero_lr;
    zero_lr.learning_rate = 0;
    EMBEDKIT_ERROR_ROW("OPT-01", embedkit::ArgumentError,
                       "embedkit::nn::Adam: learning rate must be positive and finite, got 0",
                       Adam<float> opt(zero_lr));
    AdamOptions beta;
    beta.beta1 = 1.0;
    EMBEDKIT_ERROR_ROW("OPT-02", embedkit::ArgumentError,
                       "embedkit::nn::Adam: betas must lie in [0, 1), got 1 and 0.999",
                       Adam<float> opt(beta));
    AdamOptions eps;
    eps.epsilon = -1e-8;
    EMBEDKIT_ERROR_ROW("OPT-03", embedkit::ArgumentError,
                       "embedkit::nn::Adam: epsilon must be positive, got -1e-08",
                       Adam<float> opt(eps));
    AdamOptions clip;
    clip.clip_norm = -1;
    EMBEDKIT_ERROR_ROW("OPT-04", embedkit::ArgumentError,
                       "embedkit::nn::Adam: clip_norm must be >= 0 (0 = off), got -1",
                       Adam<float> opt(clip));
    AdamOptions decay;
    decay.weight_decay = -0.1;
    EMBEDKIT_ERROR_ROW("OPT-05", embedkit::ArgumentError,
                       "embedkit::nn::Adam: weight_decay must be >= 0, got -0.1",
                       Adam<double> opt(decay));
    EMBEDKIT_ERROR_ROW("OPT-06", embedkit::ArgumentError,
                       "embedkit::nn::SGD: learning rate must be positive and finite, got nan",
                       SGD<float> opt(nan_d));
    EMBEDKIT_ERROR_ROW("OPT-07", embedkit::ArgumentError,
                       "embedkit::nn::SGD: momentum must lie in [0, 1), got 1",
                       SGD<float> opt(0.1, 1.0));
    EMBEDKIT_ERROR_ROW("OPT-08", embedkit::ArgumentError,
                       "embedkit::nn::SGD: Nesterov momentum needs momentum > 0",
                       SGD<float> opt(SGDOptions{0.1, 0.0, true}));

    ek::Rng rng(3);
    ek::nn::Sequential<float> net;
    net.add_dense(3, 4, rng);
    auto params = net.parameters();
    Adam<float> adam(1e-3);
    adam.step(params);
    const std::vector<ek::nn::Parameter<float>> fewer(params.begin(), params.begin() + 1);
    EMBEDKIT_ERROR_ROW("OPT-09", embedkit::ArgumentError,
                       "embedkit::nn::Adam::step: got 1 parameters, the state was built for 2",
                       adam.step(fewer));
    ek::nn::Sequential<float> other;
    other.add_dense(2, 4, rng);
    SGD<float> sgd(0.1, 0.9);
    sgd.step(params);
    EMBEDKIT_ERROR_ROW(
        "OPT-10", embedkit::ArgumentError,
        "embedkit::nn::SGD::step: parameter 0 ('0.weight') has 8 values, its state has 12",
        sgd.step(other.parameters()));
    CHECK(adam.steps() == 1);
    CHECK(sgd.steps() == 1);
    EMBEDKIT_ERROR_ROW("OPT-11", embedkit::ArgumentError,
                       "embedkit::nn::SGD: learning rate must be positive and finite, got -0.5",
                       sgd.set_learning_rate(-0.5));
    EMBEDKIT_ERROR_ROW(
        "OPT-12", embedkit::ArgumentError,
        "embedkit::nn::step_decay: base and factor must be positive and finite, got 0.001 and 0",
        ek::nn::step_decay(1e-3, {3}, 0.0));
    EMBEDKIT_ERROR_ROW("OPT-13", embedkit::ArgumentError,
                       "embedkit::nn::step_decay: drop epochs are 1-based, got 0",
                       ek::nn::step_decay(1e-3, {0}));
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: gradient check and Rng") {
    ek::Rng rng(4);
    ek::nn::Dense<double> layer(3, 2, rng);
    std::vector<ek::nn::Parameter<double>> params;
    layer.collect_parameters(params, "");
    int calls = 0;
    auto loss = [&] {
        ++calls;
        return 0.0;
    };
    ek::nn::GradCheckOptions zero_step;
    zero_step.step = 0;
    EMBEDKIT_ERROR_ROW("GRAD-01", embedkit::ArgumentError,
                       "embedkit::nn::check_gradients: step must be positive and finite, got 0",
                       (void)ek::nn::check_gradients(params, loss, zero_step));
    ek::nn::GradCheckOptions zero_floor;
    zero_floor.floor = 0;
    EMBEDKIT_ERROR_ROW("GRAD-02", embedkit::ArgumentError,
                       "embedkit::nn::check_gradients: floor must be positive and finite, got 0",
                       (void)ek::nn::check_gradients(params, loss, zero_floor));
    CHECK(calls == 0);  // rejected before the first evaluation

    EMBEDKIT_ERROR_ROW("RNG-01", embedkit::ArgumentError,
                       "embedkit::Rng::uniform_index: n must be positive, got 0",
                       (void)rng.uniform_index(0));
    const ek::Rng::State before = rng.state();
    EMBEDKIT_ERROR_ROW("RNG-02", embedkit::ArgumentError,
                       "embedkit::Rng::set_state: the all-zero state is invalid",
                       rng.set_state(ek::Rng::State{}));
    CHECK(rng.state() == before);
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: training loop settings and data") {
    ek::Rng rng(5);
    ek::models::Autoencoder<float> ae(small_autoencoder(), rng);
    ek::nn::Adam<float> adam(1e-3);
    const RM train = unit_data(12, 6, 6);
    const RM val = unit_data(4, 6, 7);

    EMBEDKIT_ERROR_ROW("FIT-01", embedkit::ArgumentError,
                       "embedkit::nn::fit: epochs must be >= 0, got -1",
                       ae.fit(train, quiet(-1, 4), adam, rng));
    EMBEDKIT_ERROR_ROW("FIT-02", embedkit::ArgumentError,
                       "embedkit::nn::fit: batch_size must be positive, got 0",
                       ae.fit(train, quiet(1, 0), adam, rng));
    ek::models::FitOptions resume = quiet(1, 4);
    resume.resume = true;
    EMBEDKIT_ERROR_ROW("FIT-03", embedkit::ArgumentError,
                       "embedkit::models::fit: resume needs a checkpoint_path",
                       ae.fit(train, resume, adam, rng));
    EMBEDKIT_ERROR_ROW("FIT-04", embedkit::ArgumentError,
                       "embedkit::nn::fit: the training data is empty",
                       ae.fit(RM(0, 6), quiet(1, 4), adam, rng));
    EMBEDKIT_ERROR_ROW("FIT-05", embedkit::DimensionError,
                       "embedkit::nn::fit: the model takes 6 columns, the training data has 5",
                       ae.fit(unit_data(12, 5, 8), quiet(1, 4), adam, rng));
    EMBEDKIT_ERROR_ROW("FIT-06", embedkit::DimensionError,
                       "embedkit::nn::fit: the model takes 6 columns, the validation data has 7",
                       ae.fit(train, unit_data(4, 7, 9), quiet(1, 4), adam, rng));
    RM nan_train = train;
    nan_train(2, 3) = nan_f;
    EMBEDKIT_ERROR_ROW("FIT-07", embedkit::ArgumentError,
                       "embedkit::models::Autoencoder::fit: training data row 2 holds NaN or Inf",
                       ae.fit(nan_train, quiet(1, 4), adam, rng));
    RM inf_val = val;
    inf_val(0, 0) = -inf_f;
    EMBEDKIT_ERROR_ROW("FIT-08", embedkit::ArgumentError,
                       "embedkit::models::Autoencoder::fit: validation data row 0 holds NaN or Inf",
                       ae.fit(train, inf_val, quiet(1, 4), adam, rng));
    RM over = train;
    over(1, 5) = 1.5f;
    EMBEDKIT_ERROR_ROW(
        "FIT-09", embedkit::ArgumentError,
        "embedkit::models::Autoencoder::fit: training data row 1 has values outside [0, 1]",
        ae.fit(over, quiet(1, 4), adam, rng));
    CHECK(adam.steps() == 0);  // every rejection came before the first step
}

TEST_CASE("errors compute: a NaN or infinite loss stops training with NumericError") {
    ek::Rng rng(6);
    const RM train = unit_data(12, 6, 10);
    {
        ek::models::Autoencoder<float> ae(small_autoencoder(), rng);
        poison(ae.parameters().back());  // the decoder's output bias: every logit is NaN
        ek::nn::Adam<float> adam(1e-3);
        EMBEDKIT_ERROR_ROW("FIT-10", embedkit::NumericError,
                           "embedkit::nn::fit: the loss became NaN at epoch 1, batch 1 of 3",
                           ae.fit(train, quiet(2, 4), adam, rng));
        CHECK(adam.steps() == 0);
    }
    {
        // Finite data so large that the squared error overflows float.
        ek::models::AutoencoderOptions o = small_autoencoder();
        o.loss = ek::models::Reconstruction::mse;
        o.mse_output = ek::nn::Activation::identity;
        ek::models::Autoencoder<float> ae(o, rng);
        ek::nn::Adam<float> adam(1e-3);
        const RM huge = RM::Constant(12, 6, 1e25f);
        EMBEDKIT_ERROR_ROW("FIT-11", embedkit::NumericError,
                           "embedkit::nn::fit: the loss became infinite at epoch 1, batch 1 of 2",
                           ae.fit(huge, quiet(1, 6), adam, rng));
    }
    {
        // With a checkpoint: the message says the last one is untouched, and it is.
        TempDir dir;
        ek::models::Autoencoder<float> ae(small_autoencoder(), rng);
        ek::nn::Adam<float> adam(1e-3);
        ek::models::FitOptions f = quiet(1, 4);
        f.checkpoint_path = dir.file("run.ekc");
        ae.fit(train, f, adam, rng);
        const std::vector<char> saved = read_bytes(f.checkpoint_path);
        REQUIRE(saved.size() > 0);
        poison(ae.parameters().back());
        EMBEDKIT_ERROR_ROW("FIT-12", embedkit::NumericError, "is untouched",
                           ae.fit(train, f, adam, rng));
        const std::string full =
            "batch 1 of 3; the last checkpoint '" + f.checkpoint_path + "' is untouched";
        CHECK_THROWS_WITH_AS(ae.fit(train, f, adam, rng), doctest::Contains(full.c_str()),
                             ek::NumericError);
        CHECK(read_bytes(f.checkpoint_path) == saved);
    }
    {
        // The same guard in the Siamese loop.
        ek::models::Siamese<float> model(small_siamese(), rng);
        poison(model.parameters().back());
        ek::nn::Adam<float> adam(1e-3);
        EMBEDKIT_ERROR_ROW("FIT-13", embedkit::NumericError,
                           "embedkit::nn::fit: the loss became NaN at epoch 1, batch 1 of 6",
                           model.fit(train, alternating(12), RM(0, 6), ek::data::Pairs{},
                                     quiet(1, 4), ek::models::SiameseTraining{}, adam, rng));
    }
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: Autoencoder and VAE") {
    ek::Rng rng(8);
    ek::models::AutoencoderOptions no_input = small_autoencoder();
    no_input.input = 0;
    EMBEDKIT_ERROR_ROW(
        "AE-01", embedkit::ArgumentError,
        "embedkit::models::Autoencoder: input and latent sizes must be positive, got 0 and 2",
        ek::models::Autoencoder<float> m(no_input, rng));
    ek::models::AutoencoderOptions bad_hidden = small_autoencoder();
    bad_hidden.hidden = {4, 0};
    EMBEDKIT_ERROR_ROW("AE-02", embedkit::ArgumentError,
                       "embedkit::models::Autoencoder: hidden sizes must be positive, got 0",
                       ek::models::Autoencoder<float> m(bad_hidden, rng));
    ek::models::Autoencoder<float> ae(small_autoencoder(), rng);
    EMBEDKIT_ERROR_ROW("AE-03", embedkit::DimensionError,
                       "embedkit::models::Autoencoder::encode: data must have 6 columns, got 5",
                       (void)ae.encode(unit_data(3, 5, 1)));
    EMBEDKIT_ERROR_ROW("AE-04", embedkit::ArgumentError,
                       "embedkit::models::Autoencoder::encode: batch_size must be positive",
                       (void)ae.encode(unit_data(3, 6, 1), 0));
    EMBEDKIT_ERROR_ROW("AE-05", embedkit::DimensionError,
                       "embedkit::models::Autoencoder::decode: data must have 2 columns, got 3",
                       (void)ae.decode(unit_data(3, 3, 1)));
    EMBEDKIT_ERROR_ROW("AE-06", embedkit::DimensionError,
                       "embedkit::models::Autoencoder: batch must have 6 columns, got 4",
                       (void)ae.train_batch(unit_data(3, 4, 1), rng));
    CHECK(ae.encode(RM(0, 6)).rows() == 0);  // no rows in, no rows out
    {
        // A sigmoid output under MSE cannot reproduce standardised data: refused, not squeezed.
        ek::models::AutoencoderOptions o = small_autoencoder();
        o.loss = ek::models::Reconstruction::mse;
        o.mse_output = ek::nn::Activation::sigmoid;
        ek::models::Autoencoder<float> squeezed(o, rng);
        RM x = unit_data(8, 6, 2);
        x(3, 1) = -0.5f;
        ek::nn::Adam<float> adam;
        EMBEDKIT_ERROR_ROW("AE-07", embedkit::ArgumentError,
                           "embedkit::models::Autoencoder::fit: training data row 3 has values "
                           "outside [0, 1], which the mse_output activation cannot produce",
                           squeezed.fit(x, quiet(1, 4), adam, rng));
    }

    ek::models::VAEOptions no_latent = small_vae();
    no_latent.latent = 0;
    EMBEDKIT_ERROR_ROW(
        "VAE-01", embedkit::ArgumentError,
        "embedkit::models::VAE: input and latent sizes must be positive, got 8 and 0",
        ek::models::VAE<float> m(no_latent, rng));
    ek::models::VAEOptions no_hidden = small_vae();
    no_hidden.hidden.clear();
    EMBEDKIT_ERROR_ROW(
        "VAE-02", embedkit::ArgumentError,
        "embedkit::models::VAE: the architecture has no hidden layers (at least one is needed)",
        ek::models::VAE<float> m(no_hidden, rng));
    ek::models::VAEOptions negative_hidden = small_vae();
    negative_hidden.hidden = {-5};
    EMBEDKIT_ERROR_ROW("VAE-03", embedkit::ArgumentError,
                       "embedkit::models::VAE: hidden sizes must be positive, got -5",
                       ek::models::VAE<float> m(negative_hidden, rng));
    ek::models::VAE<float> vae(small_vae(), rng);
    EMBEDKIT_ERROR_ROW("VAE-04", embedkit::DimensionError,
                       "embedkit::models::VAE::encode: data must have 8 columns, got 5",
                       (void)vae.encode(unit_data(3, 5, 1)));
    EMBEDKIT_ERROR_ROW("VAE-05", embedkit::DimensionError,
                       "embedkit::models::VAE::decode: z must have 2 columns, got 3",
                       (void)vae.decode(unit_data(3, 3, 1)));
    EMBEDKIT_ERROR_ROW("VAE-06", embedkit::ArgumentError,
                       "embedkit::models::VAE::decode: batch_size must be positive",
                       (void)vae.decode(unit_data(3, 2, 1), -1));
    EMBEDKIT_ERROR_ROW("VAE-07", embedkit::ArgumentError,
                       "embedkit::models::VAE::sample: n must be positive, got 0",
                       (void)vae.sample(0, rng));
    ek::nn::Adam<float> adam(1e-3);
    RM negative = unit_data(10, 8, 2);
    negative(0, 0) = -0.25f;
    EMBEDKIT_ERROR_ROW("VAE-08", embedkit::ArgumentError,
                       "embedkit::models::VAE::fit: training data row 0 has values outside [0, 1]",
                       vae.fit(negative, quiet(1, 5), adam, rng));
    CHECK(adam.steps() == 0);
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: Siamese") {
    ek::Rng rng(9);
    ek::models::SiameseOptions no_input = small_siamese();
    no_input.input = 0;
    EMBEDKIT_ERROR_ROW("SIAM-01", embedkit::ArgumentError,
                       "embedkit::models::Siamese: input size must be positive",
                       ek::models::Siamese<float> m(no_input, rng));
    ek::models::SiameseOptions no_layers = small_siamese();
    no_layers.layers.clear();
    EMBEDKIT_ERROR_ROW(
        "SIAM-02", embedkit::ArgumentError,
        "embedkit::models::Siamese: the tower has no layers (at least one is needed)",
        ek::models::Siamese<float> m(no_layers, rng));
    ek::models::SiameseOptions zero_layer = small_siamese();
    zero_layer.layers = {5, 0};
    EMBEDKIT_ERROR_ROW("SIAM-03", embedkit::ArgumentError,
                       "embedkit::models::Siamese: layer sizes must be positive, got 0",
                       ek::models::Siamese<float> m(zero_layer, rng));

    ek::models::Siamese<float> model(small_siamese(), rng);
    ek::nn::Adam<float> adam(1e-3);
    const RM x = unit_data(10, 6, 12);
    const Labels labels = alternating(10);
    const ek::data::Pairs none;
    const ek::models::SiameseTraining t;
    const ek::models::FitOptions f = quiet(1, 4);
    EMBEDKIT_ERROR_ROW("SIAM-04", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: the training data is empty",
                       model.fit(RM(0, 6), Labels{}, x, none, f, t, adam, rng));
    EMBEDKIT_ERROR_ROW(
        "SIAM-05", embedkit::DimensionError,
        "embedkit::models::Siamese::fit: the model takes 6 columns, the training data has 5",
        model.fit(unit_data(10, 5, 1), labels, x, none, f, t, adam, rng));
    EMBEDKIT_ERROR_ROW("SIAM-06", embedkit::DimensionError,
                       "embedkit::models::Siamese::fit: training data has 10 rows but 9 labels",
                       model.fit(x, alternating(9), x, none, f, t, adam, rng));
    ek::data::Pairs two;
    two.first = {0, 1};
    two.second = {2, 3};
    two.similar = {1, 0};
    EMBEDKIT_ERROR_ROW(
        "SIAM-07", embedkit::DimensionError,
        "embedkit::models::Siamese::fit: the model takes 6 columns, the test data has 7",
        model.fit(x, labels, unit_data(4, 7, 2), two, f, t, adam, rng));
    ek::data::Pairs short_similar = two;
    short_similar.similar.pop_back();
    EMBEDKIT_ERROR_ROW("SIAM-08", embedkit::DimensionError,
                       "embedkit::models::Siamese::fit: test pairs have lists of different lengths "
                       "(first 2, second 2, similar 1)",
                       model.fit(x, labels, x, short_similar, f, t, adam, rng));
    ek::data::Pairs past = two;
    past.second[1] = 10;
    EMBEDKIT_ERROR_ROW("SIAM-09", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: test pair 1 refers past the 10 test rows",
                       model.fit(x, labels, x, past, f, t, adam, rng));
    ek::data::Pairs not_binary = two;
    not_binary.similar[0] = 2;
    EMBEDKIT_ERROR_ROW(
        "SIAM-10", embedkit::ArgumentError,
        "embedkit::models::Siamese::fit: test pair 0 has similar = 2, expected 0 or 1",
        model.fit(x, labels, x, not_binary, f, t, adam, rng));
    ek::models::SiameseTraining zero_margin;
    zero_margin.margin = 0;
    EMBEDKIT_ERROR_ROW("SIAM-11", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: margin must be positive, got 0",
                       model.fit(x, labels, x, none, f, zero_margin, adam, rng));
    ek::models::SiameseTraining nan_threshold;
    nan_threshold.threshold = nan_d;
    EMBEDKIT_ERROR_ROW("SIAM-12", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: threshold must be positive, got nan",
                       model.fit(x, labels, x, none, f, nan_threshold, adam, rng));
    RM nan_x = x;
    nan_x(3, 1) = nan_f;
    EMBEDKIT_ERROR_ROW("SIAM-13", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: training data row 3 holds NaN or Inf",
                       model.fit(nan_x, labels, x, none, f, t, adam, rng));
    ek::models::SiameseTraining no_pairs;
    no_pairs.pairs = ek::data::PairOptions{0, 0};
    EMBEDKIT_ERROR_ROW("SIAM-14", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: no training pairs requested",
                       model.fit(x, labels, x, none, f, no_pairs, adam, rng));
    EMBEDKIT_ERROR_ROW(
        "SIAM-15", embedkit::ArgumentError,
        "embedkit::data::make_pairs: every sample has label 3, so there is no negative partner",
        model.fit(x, Labels(10, 3), x, none, f, t, adam, rng));
    CHECK(adam.steps() == 0);

    EMBEDKIT_ERROR_ROW("SIAM-16", embedkit::DimensionError,
                       "embedkit::models::Siamese::embed: data must have 6 columns, got 7",
                       (void)model.embed(unit_data(2, 7, 3)));
    EMBEDKIT_ERROR_ROW("SIAM-17", embedkit::ArgumentError,
                       "embedkit::models::Siamese::embed: batch_size must be positive",
                       (void)model.embed(x, 0));
    EMBEDKIT_ERROR_ROW("SIAM-18", embedkit::ArgumentError,
                       "embedkit::models::Siamese::pair_distances: pair 1 refers past the 3 rows",
                       (void)model.pair_distances(x.topRows(3), two));
    ek::data::Pairs short_second = two;
    short_second.second.pop_back();
    EMBEDKIT_ERROR_ROW("SIAM-19", embedkit::DimensionError,
                       "embedkit::models::Siamese::pair_distances: pairs have lists of different "
                       "lengths (first 2, second 1, similar 2)",
                       (void)model.pair_distances(x, short_second));
    EMBEDKIT_ERROR_ROW("SIAM-20", embedkit::DimensionError,
                       "embedkit::models::Siamese::contrastive_step: the batch must hold 2 x 3 "
                       "rows (first members, then second members), got 5",
                       (void)model.contrastive_step(x.topRows(5), 3, Labels{1, 0, 1}, 1.0f));
    // The caller's own pairs (fit(data, pairs, ...) and fit(first, second, similar, ...)) and the
    // multiple negatives ranking loss.
    ek::models::SiameseTraining mnrl;
    mnrl.loss = ek::models::SiameseLoss::multiple_negatives;
    ek::models::SiameseTraining triplet;
    triplet.loss = ek::models::SiameseLoss::triplet;
    EMBEDKIT_ERROR_ROW("SIAM-21", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: the multiple_negatives loss trains on "
                       "(anchor, positive) pairs, not class labels",
                       model.fit(x, labels, x, none, f, mnrl, adam, rng));
    EMBEDKIT_ERROR_ROW("SIAM-22", embedkit::DimensionError,
                       "embedkit::models::Siamese::fit: training pairs have lists of different "
                       "lengths (first 2, second 2, similar 1)",
                       model.fit(x, short_similar, x, none, f, t, adam, rng));
    ek::data::Pairs train_past = two;
    train_past.first[1] = 10;
    EMBEDKIT_ERROR_ROW("SIAM-23", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: training pair 1 refers past the 10 rows of "
                       "the training data",
                       model.fit(x, train_past, x, none, f, t, adam, rng));
    EMBEDKIT_ERROR_ROW(
        "SIAM-24", embedkit::ArgumentError,
        "embedkit::models::Siamese::fit: training pair 0 has similar = 2, expected 0 or 1",
        model.fit(x, not_binary, x, none, f, t, adam, rng));
    EMBEDKIT_ERROR_ROW("SIAM-25", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: training pair 1 has similar = 0, but the "
                       "multiple_negatives loss takes (anchor, positive) pairs only",
                       model.fit(x, two, x, none, f, mnrl, adam, rng));
    EMBEDKIT_ERROR_ROW("SIAM-26", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: the triplet loss needs class labels "
                       "(fit(train, labels, ...)), not pairs",
                       model.fit(x, two, x, none, f, triplet, adam, rng));
    EMBEDKIT_ERROR_ROW("SIAM-27", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: no training pairs",
                       model.fit(x, none, x, none, f, t, adam, rng));
    EMBEDKIT_ERROR_ROW("SIAM-28", embedkit::DimensionError,
                       "embedkit::models::Siamese::fit: first is 10x6 but second is 9x6 (row p of "
                       "each make pair p)",
                       model.fit(x, x.topRows(9), Labels(10, 1), x, none, f, t, adam, rng));
    EMBEDKIT_ERROR_ROW(
        "SIAM-29", embedkit::DimensionError,
        "embedkit::models::Siamese::fit: similar has 9 entries but there are 10 pairs",
        model.fit(x, x, Labels(9, 1), x, none, f, t, adam, rng));
    ek::models::SiameseTraining bad_scale = mnrl;
    bad_scale.scale = -1;
    EMBEDKIT_ERROR_ROW("SIAM-30", embedkit::ArgumentError,
                       "embedkit::models::Siamese::fit: scale must be positive and finite, got -1",
                       model.fit(x, x, Labels{}, x, none, f, bad_scale, adam, rng));
    EMBEDKIT_ERROR_ROW("SIAM-31", embedkit::DimensionError,
                       "embedkit::models::Siamese::multiple_negatives_step: the batch must hold 2 "
                       "x 3 rows (anchors, then positives), got 5",
                       (void)model.multiple_negatives_step(x.topRows(5), 3, 20.0f));
    CHECK(model.pair_distances(x, two).size() == 2);
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: kNN and pair accuracy") {
    const RM train = unit_data(3, 4, 13);
    const RM test = unit_data(2, 4, 14);
    const Labels tl{0, 1, 0};
    const Labels ql{1, 0};
    using ek::eval::knn_accuracy;
    EMBEDKIT_ERROR_ROW("KNN-01", embedkit::DimensionError,
                       "embedkit::eval::knn_accuracy: train_labels has 2 labels but 3 rows",
                       (void)knn_accuracy(train, Labels{0, 1}, test, ql));
    EMBEDKIT_ERROR_ROW("KNN-02", embedkit::DimensionError,
                       "embedkit::eval::knn_accuracy: test_labels has 3 labels but 2 rows",
                       (void)knn_accuracy(train, tl, test, Labels{1, 0, 0}));
    EMBEDKIT_ERROR_ROW("KNN-03", embedkit::ArgumentError,
                       "embedkit::eval::knn_accuracy: k must be positive, got 0",
                       (void)knn_accuracy(train, tl, test, ql, 0));
    EMBEDKIT_ERROR_ROW("KNN-04", embedkit::ArgumentError,
                       "embedkit::eval::knn_accuracy: the training embeddings are empty",
                       (void)knn_accuracy(RM(0, 4), Labels{}, test, ql));
    EMBEDKIT_ERROR_ROW("KNN-05", embedkit::ArgumentError,
                       "embedkit::eval::knn_accuracy: the test embeddings are empty",
                       (void)knn_accuracy(train, tl, RM(0, 4), Labels{}));
    EMBEDKIT_ERROR_ROW("KNN-06", embedkit::DimensionError,
                       "embedkit::eval::knn_accuracy: training embeddings have 4 columns but test "
                       "embeddings have 5",
                       (void)knn_accuracy(train, tl, unit_data(2, 5, 1), ql));
    EMBEDKIT_ERROR_ROW("KNN-07", embedkit::ArgumentError,
                       "embedkit::top_k: unknown metric (enum value 9",
                       (void)knn_accuracy(train, tl, test, ql, 1, bad_metric));
    const ek::VectorD d = ek::VectorD::Constant(2, 0.25);
    using ek::eval::pair_accuracy;
    EMBEDKIT_ERROR_ROW("KNN-08", embedkit::DimensionError,
                       "embedkit::eval::pair_accuracy: 2 distances but 1 similar flags",
                       (void)pair_accuracy(d, Labels{1}));
    EMBEDKIT_ERROR_ROW("KNN-09", embedkit::ArgumentError, "embedkit::eval::pair_accuracy: no pairs",
                       (void)pair_accuracy(ek::VectorD(), Labels{}));
    EMBEDKIT_ERROR_ROW("KNN-10", embedkit::ArgumentError,
                       "embedkit::eval::pair_accuracy: the threshold is NaN",
                       (void)pair_accuracy(d, Labels{1, 0}, nan_d));
    EMBEDKIT_ERROR_ROW("KNN-11", embedkit::ArgumentError,
                       "embedkit::eval::pair_accuracy: similar[1] must be 0 or 1, got 3",
                       (void)pair_accuracy(d, Labels{1, 3}));
    // A NaN distance is not an error: it counts as "dissimilar".
    ek::VectorD with_nan = d;
    with_nan[0] = nan_d;
    CHECK(pair_accuracy(with_nan, Labels{0, 1}) == 1.0);
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("errors compute: make_pairs") {
    ek::Rng rng(10);
    EMBEDKIT_ERROR_ROW("PAIRS-01", embedkit::ArgumentError,
                       "embedkit::data::make_pairs: labels are empty",
                       (void)ek::data::make_pairs(Labels{}, rng));
    EMBEDKIT_ERROR_ROW("PAIRS-02", embedkit::ArgumentError,
                       "embedkit::data::make_pairs: label 7 has a single sample, so it has no "
                       "positive partner (positives_per_sample = 1)",
                       (void)ek::data::make_pairs(Labels{1, 7, 1}, rng));
    EMBEDKIT_ERROR_ROW("PAIRS-03", embedkit::ArgumentError,
                       "embedkit::data::make_pairs: every sample has label 2, so there is no "
                       "negative partner (negatives_per_sample = 1)",
                       (void)ek::data::make_pairs(Labels{2, 2, 2}, rng));
    ek::data::PairOptions overflow;
    overflow.positives_per_sample = std::numeric_limits<std::size_t>::max();
    EMBEDKIT_ERROR_ROW("PAIRS-04", embedkit::ArgumentError,
                       "embedkit::data::make_pairs: the number of pairs overflows",
                       (void)ek::data::make_pairs(Labels{0, 0, 1, 1}, rng, overflow));
    // Without positives a single-sample label is fine; without any partners the result is empty.
    CHECK(ek::data::make_pairs(Labels{1, 7, 1}, rng, ek::data::PairOptions{0, 1}).size() == 3);
    CHECK(ek::data::make_pairs(Labels{2, 2, 2}, rng, ek::data::PairOptions{0, 0}).size() == 0);
}

}  // namespace
