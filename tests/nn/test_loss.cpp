// Losses: values against direct formulas in long double, gradient checks including
// saturated logits, and the error paths.
#include "nn_test_util.hpp"

#include <embedkit/nn/loss.hpp>

#include <cmath>
#include <limits>

namespace ek = embedkit;
using nntest::MatD;

TEST_CASE("loss: bce_with_logits equals the textbook formula and never takes log(0)") {
    ek::Rng rng(1);
    const MatD x = nntest::random_matrix(3, 8, rng, -6, 6);
    const MatD t = nntest::random_matrix(3, 8, rng, 0, 1);
    MatD g;
    const double got = ek::nn::bce_with_logits(x, t, g);
    long double want = 0;
    for (Eigen::Index i = 0; i < x.size(); ++i) {
        const long double p = 1.0L / (1.0L + std::exp(-static_cast<long double>(x.data()[i])));
        want -= t.data()[i] * std::log(p) + (1 - t.data()[i]) * std::log(1 - p);
    }
    CHECK(got == doctest::Approx(static_cast<double>(want / 3)).epsilon(1e-12));
    // Saturated logits: float would give log(0) = -inf in the naive form.
    ek::RowMatrixF xs(1, 4), ts(1, 4);
    xs << 100, -100, 100, -100;
    ts << 1, 0, 0, 1;
    ek::RowMatrixF gs;
    const double v = ek::nn::bce_with_logits(xs, ts, gs);
    CHECK(std::isfinite(v));
    CHECK(v == doctest::Approx(200.0).epsilon(1e-6));
    CHECK(gs.allFinite());
    CHECK(gs(0, 0) == doctest::Approx(0.0));
    CHECK(gs(0, 2) == doctest::Approx(1.0));
}

TEST_CASE("loss: gradient checks for BCE, MSE and KL including saturated logits") {
    ek::Rng rng(2);
    ek::nn::GradCheckOptions opt;
    MatD t = nntest::random_matrix(4, 6, rng, 0, 1);
    t(0, 0) = 0;
    t(0, 1) = 1;
    for (double scale : {3.0, 50.0}) {
        CAPTURE(scale);
        // Logits of size 50 make losses of ~150, whose rounding noise (1e-16 * 150 / h) would
        // swamp gradients of 1e-4 at h = 1e-6; the loss is smooth, so a larger h is exact enough.
        opt.step = scale > 10 ? 1e-4 : 1e-6;
        MatD x = nntest::random_matrix(4, 6, rng, -scale, scale);
        x(1, 0) = 50;
        x(1, 1) = -50;
        MatD g;
        std::vector<ek::nn::Parameter<double>> p{nntest::view(x, g, "logits")};
        MatD scratch;
        auto loss = [&] { return ek::nn::bce_with_logits(x, t, g); };
        NN_CHECK_GRADIENTS(ek::nn::check_gradients(p, loss, opt), 1e-6);
    }
    opt.step = 1e-6;
    {
        MatD y = nntest::random_matrix(5, 3, rng), g;
        const MatD target = nntest::random_matrix(5, 3, rng);
        std::vector<ek::nn::Parameter<double>> p{nntest::view(y, g, "prediction")};
        auto loss = [&] { return ek::nn::mean_squared_error(y, target, g); };
        NN_CHECK_GRADIENTS(ek::nn::check_gradients(p, loss, opt), 1e-6);
    }
    {
        MatD mu = nntest::random_matrix(5, 2, rng, -2, 2), lv = nntest::random_matrix(5, 2, rng, -4, 4);
        MatD gmu, glv;
        std::vector<ek::nn::Parameter<double>> p{nntest::view(mu, gmu, "mu"), nntest::view(lv, glv, "log_var")};
        auto loss = [&] { return ek::nn::kl_standard_normal(mu, lv, gmu, glv); };
        NN_CHECK_GRADIENTS(ek::nn::check_gradients(p, loss, opt), 1e-6);
    }
}

TEST_CASE("loss: KL is zero at the prior and matches the closed form") {
    MatD mu = MatD::Zero(3, 2), lv = MatD::Zero(3, 2), gmu, glv;
    CHECK(ek::nn::kl_standard_normal(mu, lv, gmu, glv) == doctest::Approx(0.0));
    CHECK(gmu.isZero(0));
    CHECK(glv.isZero(0));
    mu << 1, 2, 0, 0, -1, 0.5;
    lv << 0.3, -0.2, 1, 1, 0, -3;
    long double want = 0;
    for (Eigen::Index i = 0; i < mu.size(); ++i) {
        const long double m = mu.data()[i], l = lv.data()[i];
        want += -0.5L * (1 + l - m * m - std::exp(l));
    }
    CHECK(ek::nn::kl_standard_normal(mu, lv, gmu, glv) == doctest::Approx(static_cast<double>(want / 3)).epsilon(1e-12));
    // Huge log-variances are clamped, not overflowed.
    ek::RowMatrixF mf = ek::RowMatrixF::Zero(1, 2), lf(1, 2), gm, gl;
    lf << 200, -200;
    const double v = ek::nn::kl_standard_normal(mf, lf, gm, gl);
    CHECK(std::isfinite(v));
    CHECK(gl.allFinite());
    CHECK(gl(0, 0) == 0.0f);
}

TEST_CASE("loss: MSE value and reductions") {
    MatD p(2, 2), t(2, 2), g;
    p << 1, 2, 3, 4;
    t << 0, 2, 5, 4;
    CHECK(ek::nn::mean_squared_error(p, t, g) == doctest::Approx(5.0 / 4));
    CHECK(g(0, 0) == doctest::Approx(0.5));
    CHECK(g(1, 0) == doctest::Approx(-1.0));
}

TEST_CASE("loss: shape mismatches and empty batches throw") {
    MatD a(2, 3), b(3, 2), g, g2;
    a.setZero();
    b.setZero();
    CHECK_THROWS_WITH_AS(ek::nn::bce_with_logits(a, b, g), doctest::Contains("logits is 2x3 but targets is 3x2"),
                         ek::DimensionError);
    CHECK_THROWS_AS(ek::nn::mean_squared_error(a, b, g), ek::DimensionError);
    CHECK_THROWS_AS(ek::nn::kl_standard_normal(a, b, g, g2), ek::DimensionError);
    MatD e(0, 3);
    CHECK_THROWS_WITH_AS(ek::nn::bce_with_logits(e, e, g), doctest::Contains("empty batch"), ek::ArgumentError);
}
