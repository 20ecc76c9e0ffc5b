// Autoencoder: gradient checks for both reconstruction losses, training, model files.
#include "models_test_util.hpp"

#include <embedkit/models/autoencoder.hpp>
#include <embedkit/models/vae.hpp>
#include <embedkit/nn/gradcheck.hpp>

namespace ek = embedkit;
using modeltest::quiet_fit;
using modeltest::TempDir;

TEST_CASE("autoencoder: gradient check with BCE and with MSE") {
    for (auto loss_kind : {ek::models::Reconstruction::bce, ek::models::Reconstruction::mse}) {
        CAPTURE(static_cast<int>(loss_kind));
        ek::models::AutoencoderOptions o;
        o.input = 7;
        o.hidden = {5};
        o.latent = 3;
        o.loss = loss_kind;
        ek::Rng rng(1);
        ek::models::Autoencoder<double> ae(o, rng);
        const auto x = modeltest::clustered_data<double>(4, 7, 2, 2);
        auto loss = [&] { return ae.train_batch(x, rng); };
        const auto res = ek::nn::check_gradients(ae.parameters(), loss);
        INFO("worst " << res.worst_tensor << "[" << res.worst_index << "] analytic " << res.analytic << " numeric "
                      << res.numeric);
        CHECK(res.checked == 5 * 7 + 5 + 5 * 3 + 3 + 3 * 5 + 5 + 5 * 7 + 7);
        CHECK(res.max_relative_error < 1e-6);
    }
}

TEST_CASE("autoencoder: training lowers the loss with both losses") {
    const auto train = modeltest::clustered_data<float>(1500, 24, 5, 3);
    for (auto loss_kind : {ek::models::Reconstruction::bce, ek::models::Reconstruction::mse}) {
        CAPTURE(static_cast<int>(loss_kind));
        ek::models::AutoencoderOptions o;
        o.input = 24;
        o.hidden = {16};
        o.latent = 4;
        o.loss = loss_kind;
        ek::Rng rng(4);
        ek::models::Autoencoder<float> ae(o, rng);
        ek::nn::Adam<float> adam(3e-3);
        const auto h = ae.fit(train, quiet_fit(6, 50), adam, rng);
        INFO("first " << h.front().loss << " last " << h.back().loss);
        CHECK(h.back().loss < 0.5 * h.front().loss);
        const ek::RowMatrixF rec = ae.reconstruct(train.topRows(100));
        CHECK((rec - train.topRows(100)).array().abs().mean() < 0.1);
        CHECK(ae.encode(train.topRows(3)).cols() == 4);
    }
}

TEST_CASE("autoencoder: model files round trip and other kinds are refused") {
    TempDir dir;
    ek::models::AutoencoderOptions o;
    o.input = 10;
    o.hidden = {6};
    o.latent = 2;
    o.loss = ek::models::Reconstruction::mse;
    o.mse_output = ek::nn::Activation::tanh;
    ek::Rng rng(5);
    ek::models::Autoencoder<float> ae(o, rng);
    ae.save(dir.file("ae.ekm"));
    auto back = ek::models::Autoencoder<float>::load(dir.file("ae.ekm"));
    CHECK(back.options().mse_output == ek::nn::Activation::tanh);
    const auto x = modeltest::clustered_data<float>(5, 10, 2, 6);
    CHECK(back.reconstruct(x) == ae.reconstruct(x));
    CHECK_THROWS_WITH_AS(ek::models::VAE<float>::load(dir.file("ae.ekm")), doctest::Contains("embedkit.vae"),
                         ek::FormatError);
    CHECK_THROWS_AS(ek::models::Autoencoder<float>(ek::models::AutoencoderOptions{0}, rng), ek::ArgumentError);
}
