// Siamese: whole-model gradient checks for both losses, training on clustered data and on
// MNIST, checkpoints and exact resume, model files, errors.
#include "models_test_util.hpp"

#include <embedkit/data/pairs.hpp>
#include <embedkit/io/mnist.hpp>
#include <embedkit/models/knn.hpp>
#include <embedkit/models/siamese.hpp>
#include <embedkit/nn/gradcheck.hpp>

namespace ek = embedkit;
using modeltest::quiet_fit;
using modeltest::TempDir;

namespace {

ek::models::SiameseOptions small_tower() {
    ek::models::SiameseOptions o;
    o.input = 20;
    o.layers = {16, 8};
    return o;
}

}  // namespace

TEST_CASE("siamese: gradient check of the tower through the contrastive loss") {
    ek::models::SiameseOptions o;
    o.input = 6;
    o.layers = {5, 3};
    ek::Rng rng(1);
    ek::models::Siamese<double> model(o, rng);
    // Four pairs: two similar, two dissimilar with distances inside the margin (these carry the
    // hinge's gradient) -- a margin of 3 keeps them inside for these random weights.
    embedkit::RowMatrix<double> batch(8, 6);
    for (Eigen::Index i = 0; i < batch.size(); ++i) batch.data()[i] = rng.uniform(-1, 1);
    const std::vector<std::uint8_t> similar{1, 0, 1, 0};
    auto loss = [&] { return model.contrastive_step(batch, 4, similar, 3.0); };
    // The last bias's gradient is exactly 0 (distances do not move under a shift), so its
    // difference quotient is pure rounding noise; h = 1e-5 keeps that noise under the floor
    // on every SIMD level (NEON's was at the edge with 1e-6).
    ek::nn::GradCheckOptions gc;
    gc.step = 1e-5;
    const auto res = ek::nn::check_gradients(model.parameters(), loss, gc);
    INFO("worst " << res.worst_tensor << "[" << res.worst_index << "] analytic " << res.analytic << " numeric " << res.numeric);
    CHECK(res.checked == 6 * 5 + 5 + 5 * 3 + 3);
    CHECK(res.max_relative_error < 1e-6);
}

TEST_CASE("siamese: gradient check of the tower through the batch-hard triplet loss") {
    ek::models::SiameseOptions o;
    o.input = 6;
    o.layers = {5, 3};
    ek::Rng rng(2);
    ek::models::Siamese<double> model(o, rng);
    embedkit::RowMatrix<double> batch(8, 6);
    for (Eigen::Index i = 0; i < batch.size(); ++i) batch.data()[i] = rng.uniform(-1, 1);
    const std::vector<std::uint8_t> labels{0, 0, 1, 1, 2, 2, 0, 1};
    auto loss = [&] { return model.triplet_step(batch, labels, 5.0); };
    ek::nn::GradCheckOptions gc;
    gc.step = 1e-5;  // as above: the last bias's gradient is exactly 0
    const auto res = ek::nn::check_gradients(model.parameters(), loss, gc);
    INFO("worst " << res.worst_tensor << "[" << res.worst_index << "] analytic " << res.analytic << " numeric " << res.numeric);
    CHECK(res.max_relative_error < 1e-6);
}

TEST_CASE("siamese: training on clustered data separates the clusters with both losses") {
    // One draw split in two, so that train and test share the prototypes.
    const auto all = modeltest::clustered<float>(1500, 20, 4, 3);
    const ek::RowMatrixF train = all.data.topRows(1200), test = all.data.bottomRows(300);
    const std::vector<std::uint8_t> train_labels(all.labels.begin(), all.labels.begin() + 1200);
    const std::vector<std::uint8_t> test_labels(all.labels.begin() + 1200, all.labels.end());
    ek::Rng pr(5);
    const auto test_pairs = ek::data::make_pairs(test_labels, pr);
    for (auto kind : {ek::models::SiameseLoss::contrastive, ek::models::SiameseLoss::triplet}) {
        CAPTURE(static_cast<int>(kind));
        ek::Rng rng(6);
        ek::models::Siamese<float> model(small_tower(), rng);
        ek::nn::Adam<float> adam(3e-3);
        ek::models::SiameseTraining t;
        t.loss = kind;
        const auto h = model.fit(train, train_labels, test, test_pairs, quiet_fit(4, 64), t, adam, rng);
        REQUIRE(h.size() == 4);
        INFO("first " << h.front().loss << " last " << h.back().loss << " accuracy " << h.back().val_accuracy);
        CHECK(h.back().loss < h.front().loss);
        CHECK(h.back().val_accuracy > 0.95);
        const ek::RowMatrixF te = model.embed(test), tr = model.embed(train);
        const auto knn = ek::models::knn_accuracy(tr, train_labels, te, test_labels, 5);
        CHECK(knn.accuracy_at_1 > 0.95);
    }
}

TEST_CASE("siamese: resume equals an uninterrupted run and files round trip") {
    TempDir dir;
    // Named references, not structured bindings: C++17 lambdas cannot capture those.
    const auto data = modeltest::clustered<float>(301, 20, 3, 7);
    const auto& train = data.data;
    const auto& labels = data.labels;
    auto run = [&](int epochs, const std::string& ckpt, bool resume) {
        ek::Rng rng(8);
        ek::models::Siamese<float> model(small_tower(), rng);
        ek::nn::Adam<float> adam;
        auto f = quiet_fit(epochs, 32);
        f.checkpoint_path = ckpt;
        f.resume = resume;
        auto h = model.fit(train, labels, ek::RowMatrixF(0, 20), ek::data::Pairs{}, f, ek::models::SiameseTraining{}, adam, rng);
        return std::make_pair(std::move(model), h);
    };
    auto [full, fh] = run(3, dir.file("full.ckpt"), false);
    run(1, dir.file("part.ckpt"), false);
    auto [resumed, rh] = run(3, dir.file("part.ckpt"), true);
    REQUIRE(rh.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) CHECK(rh[i].loss == fh[i].loss);
    full.save(dir.file("a.ekm"));
    resumed.save(dir.file("b.ekm"));
    CHECK(modeltest::read_bytes(dir.file("a.ekm")) == modeltest::read_bytes(dir.file("b.ekm")));
    auto loaded = ek::models::Siamese<float>::load(dir.file("a.ekm"));
    CHECK(loaded.embed(train.topRows(10)) == full.embed(train.topRows(10)));
    CHECK(loaded.embedding_size() == 8);
    CHECK_THROWS_AS(ek::models::Siamese<double>::load(dir.file("a.ekm")), ek::FormatError);
}

TEST_CASE("siamese: bad inputs throw with the problem named") {
    ek::Rng rng(9);
    ek::models::Siamese<float> model(small_tower(), rng);
    ek::nn::Adam<float> adam;
    const auto x = modeltest::clustered_data<float>(10, 20, 2, 10);
    const std::vector<std::uint8_t> labels{0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
    const ek::models::SiameseTraining t;
    CHECK_THROWS_WITH_AS(model.fit(x, std::vector<std::uint8_t>(9, 0), x, ek::data::Pairs{}, quiet_fit(1, 4), t, adam, rng),
                         doctest::Contains("10 rows but 9 labels"), ek::DimensionError);
    CHECK_THROWS_AS(model.fit(ek::RowMatrixF(10, 19), labels, x, ek::data::Pairs{}, quiet_fit(1, 4), t, adam, rng),
                    ek::DimensionError);
    ek::data::Pairs bad;
    bad.first = {0};
    bad.second = {99};
    bad.similar = {1};
    CHECK_THROWS_WITH_AS(model.fit(x, labels, x, bad, quiet_fit(1, 4), t, adam, rng), doctest::Contains("refers past"),
                         ek::ArgumentError);
    ek::models::SiameseTraining neg = t;
    neg.margin = 0;
    CHECK_THROWS_AS(model.fit(x, labels, x, ek::data::Pairs{}, quiet_fit(1, 4), neg, adam, rng), ek::ArgumentError);
    auto nan = x;
    nan(2, 3) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH_AS(model.fit(nan, labels, x, ek::data::Pairs{}, quiet_fit(1, 4), t, adam, rng),
                         doctest::Contains("row 2 holds NaN"), ek::ArgumentError);
    CHECK_THROWS_AS(model.embed(ek::RowMatrixF(2, 7)), ek::DimensionError);
    CHECK_THROWS_AS(ek::models::Siamese<float>(ek::models::SiameseOptions{784, {}}, rng), ek::ArgumentError);
}

TEST_CASE("siamese: a short MNIST run crosses the pair-accuracy bar") {
    const std::string dir = modeltest::mnist_dir_or_skip();
    if (dir.empty()) return;
    const auto train = ek::io::load_mnist(dir, ek::io::MnistSplit::train);
    const auto test = ek::io::load_mnist(dir, ek::io::MnistSplit::test);
    const ek::RowMatrixF x = train.images.topRows(12000);
    const std::vector<std::uint8_t> y(train.labels.begin(), train.labels.begin() + 12000);
    const ek::RowMatrixF v = test.images.topRows(2000);
    const std::vector<std::uint8_t> vy(test.labels.begin(), test.labels.begin() + 2000);
    ek::Rng pr(42);
    const auto pairs = ek::data::make_pairs(vy, pr);
    ek::Rng rng(42);
    ek::models::Siamese<float> model(ek::models::SiameseOptions{}, rng);
    ek::nn::Adam<float> adam;
    const auto h = model.fit(x, y, v, pairs, quiet_fit(2, 128), ek::models::SiameseTraining{}, adam, rng);
    INFO("losses " << h[0].loss << " " << h[1].loss << ", pair accuracy " << h[0].val_accuracy << " " << h[1].val_accuracy);
    CHECK(h[1].loss < h[0].loss);
    // Measured: 89.2 % after one epoch, 91.3 % after two (24,000 pairs each; random is 50 %).
    CHECK(h[1].val_accuracy > 0.90);
}
