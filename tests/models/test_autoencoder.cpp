// Autoencoder: gradient checks for both reconstruction losses, training, model files.
#include "models_test_util.hpp"

#include <embedkit/models/autoencoder.hpp>
#include <embedkit/models/vae.hpp>
#include <embedkit/nn/gradcheck.hpp>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <tuple>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

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
        INFO("worst " << res.worst_tensor << "[" << res.worst_index << "] analytic " << res.analytic
                      << " numeric " << res.numeric);
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
    CHECK_THROWS_WITH_AS(ek::models::VAE<float>::load(dir.file("ae.ekm")),
                         doctest::Contains("embedkit.vae"), ek::FormatError);
    CHECK_THROWS_AS(ek::models::Autoencoder<float>(ek::models::AutoencoderOptions{0}, rng),
                    ek::ArgumentError);
}

TEST_CASE("autoencoder: a learning-rate schedule applies per epoch and survives a resume") {
    TempDir dir;
    const auto train = modeltest::clustered_data<float>(300, 12, 3, 4);
    ek::models::AutoencoderOptions o;
    o.input = 12;
    o.hidden = {8};
    o.latent = 2;
    const auto schedule = ek::nn::step_decay(4e-3, {2, 4}, 0.5);
    CHECK(schedule(1) == 4e-3);
    CHECK(schedule(2) == 2e-3);
    CHECK(schedule(3) == 2e-3);
    CHECK(schedule(4) == 1e-3);
    // The optimiser starts at 1e-2, a rate the schedule never gives: a run that ignored the
    // schedule (before or after a resume) would differ.
    auto run = [&](int epochs, const std::string& ckpt, bool resume,
                   const std::function<double(int)>& lr) {
        ek::Rng rng(5);
        ek::models::Autoencoder<float> ae(o, rng);
        ek::nn::Adam<float> adam(1e-2);
        auto f = quiet_fit(epochs, 64);
        f.learning_rate = lr;
        f.checkpoint_path = ckpt;
        f.resume = resume;
        std::vector<double> rates;
        f.on_epoch_end = [&](const ek::nn::EpochStats&) { rates.push_back(adam.learning_rate()); };
        auto h = ae.fit(train, f, adam, rng);
        return std::make_tuple(std::move(ae), h, rates);
    };
    const auto full_run = run(5, dir.file("full.ckpt"), false, schedule);
    const auto& full = std::get<0>(full_run);
    const auto& full_history = std::get<1>(full_run);
    const auto& full_rates = std::get<2>(full_run);
    CHECK(full_rates == std::vector<double>{4e-3, 2e-3, 2e-3, 1e-3, 1e-3});
    for (std::size_t i = 0; i < 5; ++i) CHECK(full_history[i].learning_rate == full_rates[i]);
    // Interrupted after epoch 1 (at 4e-3): the resumed epochs must follow the schedule again.
    run(1, dir.file("part.ckpt"), false, schedule);
    const auto resumed_run = run(5, dir.file("part.ckpt"), true, schedule);
    const auto& resumed = std::get<0>(resumed_run);
    const auto& resumed_history = std::get<1>(resumed_run);
    const auto& resumed_rates = std::get<2>(resumed_run);
    CHECK(resumed_rates == std::vector<double>{2e-3, 2e-3, 1e-3, 1e-3});
    REQUIRE(resumed_history.size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(resumed_history[i].loss == full_history[i].loss);
        CHECK(resumed_history[i].learning_rate == full_history[i].learning_rate);
    }
    const auto pf = full.parameters();
    const auto pr = resumed.parameters();
    for (std::size_t i = 0; i < pf.size(); ++i) CHECK(pf[i].values() == pr[i].values());
    // Without the schedule the first epoch runs at the optimiser's 1e-2 and the run differs.
    const auto plain_run = run(2, dir.file("plain.ckpt"), false, nullptr);
    CHECK(std::get<2>(plain_run) == std::vector<double>{1e-2, 1e-2});
    CHECK(std::get<1>(plain_run)[0].loss != full_history[0].loss);
    // A resume whose rates disagree with those of the epochs already trained (part.ckpt now
    // holds all 5) is refused.
    CHECK_THROWS_WITH_AS(
        run(5, dir.file("part.ckpt"), true, ek::nn::step_decay(4e-3, {1})),
        doctest::Contains("epoch 1 ran at learning rate 0.004, this run schedules 0.0004 for it"),
        ek::ArgumentError);
    CHECK_THROWS_WITH_AS(
        run(5, dir.file("part.ckpt"), true, nullptr),
        doctest::Contains("epoch 5 ran at learning rate 0.001, this run uses 0.01"),
        ek::ArgumentError);
    CHECK_THROWS_WITH_AS(ek::nn::step_decay(0.0, {2}),
                         doctest::Contains("base and factor must be positive"), ek::ArgumentError);
    CHECK_THROWS_WITH_AS(ek::nn::step_decay(1e-3, {0}),
                         doctest::Contains("drop epochs are 1-based, got 0"), ek::ArgumentError);
    ek::nn::Adam<float> adam;
    CHECK_THROWS_WITH_AS(adam.set_learning_rate(-1),
                         doctest::Contains("learning rate must be positive"), ek::ArgumentError);
}

#if defined(__x86_64__) || defined(__i386__)
// Read directly (not through embedkit's guard) so that the test states the x86 contract.
TEST_CASE("autoencoder: fit flushes denormals on its thread and restores the mode") {
    const auto x = modeltest::clustered_data<float>(20, 6, 2, 4);
    ek::models::AutoencoderOptions o;
    o.input = 6;
    o.hidden = {4};
    o.latent = 2;
    // Bits 0-5 are sticky exception flags that training may raise: the mode is the rest.
    constexpr unsigned ftz = 0x8000, daz = 0x0040, round_down = 0x2000, mode = ~0x3Fu;
    const unsigned before = _mm_getcsr();
    // A non-default rounding mode too, to see that the whole register comes back.
    _mm_setcsr(before | round_down);
    const unsigned entry = _mm_getcsr();
    for (bool throw_in_callback : {false, true}) {
        CAPTURE(throw_in_callback);
        ek::Rng rng(3);
        ek::models::Autoencoder<float> ae(o, rng);
        ek::nn::Adam<float> adam;
        auto f = quiet_fit(2, 5);
        unsigned inside = 0;
        float flushed = -1;
        f.on_epoch_end = [&](const ek::nn::EpochStats&) {
            inside = _mm_getcsr();
            volatile float tiny = 1e-30f;
            flushed = tiny * 1e-10f;  // 1e-40 is a denormal float: zero under FTZ
            if (throw_in_callback) throw std::runtime_error("stop");
        };
        if (throw_in_callback)
            CHECK_THROWS_AS(ae.fit(x, f, adam, rng), std::runtime_error);
        else
            ae.fit(x, f, adam, rng);
        CHECK((inside & (ftz | daz)) == (ftz | daz));
        CHECK((inside & round_down) == round_down);
        CHECK(flushed == 0.0f);
        CHECK((_mm_getcsr() & mode) == (entry & mode));
    }
    _mm_setcsr(before);
}
#endif

TEST_CASE(
    "autoencoder: MSE reconstructs unbounded (standardised) data with the default linear output") {
    // Standardised features of rank 3: x = z W, z ~ N(0, I). A sigmoid output could not get
    // below ~0.6 mean squared error here (half the values are negative); the default linear
    // output learns them.
    ek::Rng data_rng(21);
    const Eigen::Index n = 600, dim = 12;
    ek::RowMatrix<float> w(3, dim), z(n, 3);
    for (Eigen::Index i = 0; i < w.size(); ++i)
        w.data()[i] = static_cast<float>(data_rng.normal() / std::sqrt(3.0));
    for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = static_cast<float>(data_rng.normal());
    const ek::RowMatrix<float> x = z * w;
    ek::models::AutoencoderOptions o;
    o.input = dim;
    o.hidden = {16};
    o.latent = 3;
    o.loss = ek::models::Reconstruction::mse;
    CHECK(o.mse_output == ek::nn::Activation::identity);
    ek::Rng rng(22);
    ek::models::Autoencoder<float> ae(o, rng);
    ek::nn::Adam<float> adam(5e-3);
    const auto h = ae.fit(x, quiet_fit(40, 32), adam, rng);
    const ek::RowMatrix<float> r = ae.reconstruct(x);
    const double mse = static_cast<double>((r - x).squaredNorm()) / static_cast<double>(x.size());
    const double variance = static_cast<double>(x.squaredNorm()) / static_cast<double>(x.size());
    INFO("final loss " << h.back().loss << ", reconstruction mse " << mse << ", data variance "
                       << variance);
    CHECK(r.minCoeff() < -0.5f);
    CHECK(r.maxCoeff() > 1.5f);
    CHECK(mse < 0.1 * variance);
}
