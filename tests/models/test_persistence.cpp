// persistence.hpp: a model defined here with nothing but its architecture, its loss and its
// inference saves, loads and resumes from checkpoints through the generic code; loading draws
// no random numbers; optimiser state round-trips through model files and is validated there.
#include "models_test_util.hpp"

#include <embedkit/models/networks.hpp>
#include <embedkit/models/persistence.hpp>
#include <embedkit/models/autoencoder.hpp>
#include <embedkit/models/vae.hpp>
#include <embedkit/nn/loss.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ek = embedkit;
using modeltest::TempDir;

namespace {

// A linear regressor x -> y with a hidden tanh layer: its whole definition. No save, load,
// checkpoint or attribute code: persistence.hpp provides all of that.
struct RegressorOptions {
    Eigen::Index input = 3;
    Eigen::Index hidden = 5;
    Eigen::Index output = 2;
    ek::nn::Activation activation = ek::nn::Activation::tanh;
};

class Regressor : public ek::models::Persistent<Regressor> {
public:
    using Scalar = double;
    using Options = RegressorOptions;
    using Matrix = ek::RowMatrix<double>;

    Regressor(const Options& o, ek::Rng& rng)
        : options_(o), net_(layout(o), ek::nn::Init::glorot_uniform, rng) {}
    Regressor(const Options& o, ek::nn::ZeroWeights)
        : options_(o), net_(layout(o), ek::nn::zero_weights) {}

    static std::string kind() { return "test.regressor"; }
    template <class O, class Field>
    static void architecture(O& o, Field&& field) {
        field("input", o.input);
        field("hidden", o.hidden);
        field("output", o.output);
        field("activation", o.activation);
    }
    static ek::models::Layout layout(const Options& o) {
        if (o.input <= 0 || o.hidden <= 0 || o.output <= 0)
            throw ek::ArgumentError("Regressor: sizes must be positive");
        return {{"net", ek::models::dense_chain({o.input, o.hidden, o.output}, o.activation,
                                                ek::nn::Activation::identity)}};
    }
    const Options& options() const { return options_; }
    std::vector<ek::nn::Parameter<double>> parameters() { return net_.parameters(); }
    std::vector<ek::nn::ConstParameter<double>> parameters() const { return net_.parameters(); }

    Matrix predict(const Matrix& x) const {
        Matrix y;
        net_[0].infer(x, y);
        return y;
    }

    // Training on (x | y) rows, for the fit loop.
    ek::nn::History fit(const Matrix& xy, const ek::models::FitOptions& options,
                        ek::nn::Optimizer<double>& opt, ek::Rng& rng) {
        return ek::models::fit_with_callbacks(
            *this, options, opt, rng, xy.rows(), [&](const ek::nn::FitOptions& run) {
                return ek::nn::detail::fit_on_rows(*this, xy, Matrix(0, xy.cols()), run, opt, rng);
            });
    }
    Eigen::Index input_size() const { return options_.input + options_.output; }
    double train_batch(const Matrix& xy, ek::Rng&) {
        const Matrix x = xy.leftCols(options_.input), y = xy.rightCols(options_.output);
        const double loss = ek::nn::mean_squared_error(net_[0].forward(x), y, grad_);
        net_[0].backward(grad_, false);
        return loss;
    }
    double evaluate_batch(const Matrix& xy, ek::Rng& rng) { return train_batch(xy, rng); }
    template <class S>
    void check_data(const char*, const char*, const ek::detail::SetView<S>&) const {}

private:
    Options options_;
    ek::models::Networks<double> net_;
    Matrix grad_;
};

Regressor::Matrix regression_data(Eigen::Index n, std::uint64_t seed) {
    ek::Rng rng(seed);
    Regressor::Matrix xy(n, 5);
    for (Eigen::Index r = 0; r < n; ++r) {
        for (Eigen::Index j = 0; j < 3; ++j) xy(r, j) = rng.normal();
        xy(r, 3) = 0.5 * xy(r, 0) - xy(r, 1);
        xy(r, 4) = 0.25 * xy(r, 2);
    }
    return xy;
}

ek::models::FitOptions quiet(int epochs) {
    ek::models::FitOptions f;
    f.epochs = epochs;
    f.batch_size = 16;
    f.progress.style = ek::ProgressOptions::Style::silent;
    return f;
}

}  // namespace

TEST_CASE("persistence: a model with no persistence code of its own saves and loads exactly") {
    TempDir dir;
    ek::Rng rng(1);
    RegressorOptions o;
    o.activation = ek::nn::Activation::sigmoid;
    const Regressor model(o, rng);
    model.save(dir.file("r.ekm"));
    const Regressor back = Regressor::load(dir.file("r.ekm"));
    CHECK(back.options().hidden == o.hidden);
    CHECK(back.options().activation == ek::nn::Activation::sigmoid);
    const auto a = model.parameters();
    const auto b = back.parameters();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].name == b[i].name);
        CHECK(a[i].values() == b[i].values());
    }
    const Regressor::Matrix x = regression_data(7, 2).leftCols(3);
    CHECK(model.predict(x) == back.predict(x));
    // The file records the architecture as attributes and refuses another model's kind.
    const auto file = ek::io::load_model_file(dir.file("r.ekm"));
    CHECK(file.kind == "test.regressor");
    CHECK(file.attribute("activation") == "sigmoid");
    CHECK(file.attribute("scalar") == "float64");
    CHECK_THROWS_WITH_AS(
        ek::models::VAE<float>::load(dir.file("r.ekm")),
        doctest::Contains("holds a model of kind 'test.regressor', expected 'embedkit.vae'"),
        ek::FormatError);
}

TEST_CASE("persistence: a resumed run of a new model equals the uninterrupted run") {
    TempDir dir;
    const auto xy = regression_data(100, 3);
    auto run = [&](int epochs, const std::string& ckpt, bool resume) {
        ek::Rng rng(4);
        Regressor model(RegressorOptions{}, rng);
        ek::nn::Adam<double> adam(1e-2);
        auto f = quiet(epochs);
        f.checkpoint_path = ckpt;
        f.resume = resume;
        const auto h = model.fit(xy, f, adam, rng);
        return std::make_pair(model.parameters()[0].values().eval(), h);
    };
    const auto full = run(4, dir.file("full.ckpt"), false);
    run(2, dir.file("part.ckpt"), false);
    const auto resumed = run(4, dir.file("part.ckpt"), true);
    CHECK(resumed.first == full.first);
    REQUIRE(resumed.second.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) CHECK(resumed.second[i].loss == full.second[i].loss);
    CHECK(full.second.back().loss < full.second.front().loss);
    CHECK(modeltest::read_bytes(dir.file("full.ckpt")).size() > 0);
}

TEST_CASE("persistence: loading builds the model with zero weights and draws no random numbers") {
    ek::models::VAEOptions o;
    o.input = 6;
    o.hidden = {4};
    o.latent = 2;
    const ek::models::VAE<float> zero(o, ek::nn::zero_weights);
    for (const auto& p : zero.parameters()) CHECK(p.values().isZero(0));
    // The layout is the same either way: the same names and shapes as a trained model.
    ek::Rng rng(5);
    const ek::models::VAE<float> drawn(o, rng);
    const auto a = zero.parameters();
    const auto b = drawn.parameters();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].name == b[i].name);
        CHECK(a[i].rows == b[i].rows);
        CHECK(a[i].cols == b[i].cols);
    }
    CHECK(ek::models::parameter_count(ek::models::VAE<float>::layout(o)) ==
          (6 * 4 + 4) + 2 * (4 * 2 + 2) + (2 * 4 + 4) + (4 * 6 + 6));
}

TEST_CASE("persistence: optimiser state survives a model file and is validated there") {
    ek::Rng rng(6);
    Regressor model(RegressorOptions{}, rng);
    const auto xy = regression_data(40, 7);
    ek::nn::Adam<double> adam(1e-2);
    for (int s = 0; s < 3; ++s) {
        model.train_batch(xy, rng);
        adam.step(model.parameters());
    }
    ek::io::ModelFile file;
    file.kind = "test";
    ek::models::write_optimizer_state(file, "opt.", adam);
    ek::nn::Adam<double> back(1e-2);
    ek::models::read_optimizer_state(file, "opt.", back, model.parameters());
    CHECK(back.steps() == 3);
    REQUIRE(back.slots().size() == adam.slots().size());
    for (std::size_t i = 0; i < adam.slots().size(); ++i)
        for (std::size_t k = 0; k < 2; ++k) CHECK(back.slots()[i][k] == adam.slots()[i][k]);
    ek::nn::SGD<double> sgd;
    CHECK_THROWS_WITH_AS(
        ek::models::read_optimizer_state(file, "opt.", sgd, model.parameters()),
        doctest::Contains("the file holds the state of 'adam', this optimiser is 'sgd'"),
        ek::FormatError);
    // A fresh optimiser (no step yet) has no slots and loads into any model.
    ek::io::ModelFile empty;
    ek::models::write_optimizer_state(empty, "opt.", ek::nn::Adam<double>());
    ek::nn::Adam<double> fresh;
    ek::models::read_optimizer_state(empty, "opt.", fresh, model.parameters());
    CHECK(fresh.steps() == 0);
    auto fewer = model.parameters();
    fewer.pop_back();
    CHECK_THROWS_WITH_AS(
        ek::models::read_optimizer_state(file, "opt.", fresh, fewer),
        doctest::Contains("records the state of 4 parameters after 3 steps, the model has 3"),
        ek::FormatError);
    CHECK(fresh.steps() == 0);  // a refused state changes nothing
}

TEST_CASE(
    "persistence: a BCE autoencoder file as 0.2 wrote it (mse_output recorded) loads and resumes") {
    TempDir dir;
    ek::models::AutoencoderOptions o;
    o.input = 6;
    o.hidden = {4};
    o.latent = 2;  // loss bce (the default)
    ek::Rng rng(8);
    const ek::models::Autoencoder<float> model(o, rng);
    auto file = ek::io::load_model_file([&] {
        model.save(dir.file("new.ekm"));
        return dir.file("new.ekm");
    }());
    CHECK_FALSE(file.has_attribute("mse_output"));  // BCE has no output activation to record
    file.set_attribute("mse_output", "sigmoid");    // what 0.2 wrote for every autoencoder
    ek::io::save_model_file(dir.file("old.ekm"), file);
    const auto back = ek::models::Autoencoder<float>::load(dir.file("old.ekm"));
    const auto a = model.parameters();
    const auto b = back.parameters();
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].values() == b[i].values());
    // Comparing against a model of default options (mse_output identity) is no architecture
    // mismatch for BCE, so a 0.2 checkpoint resumes.
    ek::models::Autoencoder<float> target(o, rng);
    ek::models::read_weights(file, target);
    // A loss the file does not know names the file.
    for (auto& attribute : file.attributes)
        if (attribute.first == "loss") attribute.second = "hinge";
    ek::io::save_model_file(dir.file("bad.ekm"), file);
    CHECK_THROWS_WITH_AS(ek::models::Autoencoder<float>::load(dir.file("bad.ekm")),
                         doctest::Contains("bad.ekm' (embedkit.autoencoder): embedkit::models: "
                                           "attribute 'loss' has unknown loss 'hinge'"),
                         ek::FormatError);
}
