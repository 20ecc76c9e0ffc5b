// Dense and activation layers: shapes, values against a direct formula, gradient checks.
#include "nn_test_util.hpp"

#include <embedkit/nn/activation.hpp>
#include <embedkit/nn/dense.hpp>

#include <cmath>
#include <limits>

namespace ek = embedkit;
using nntest::MatD;

TEST_CASE("dense: forward equals x W + b then the activation") {
    ek::Rng rng(3);
    for (auto act : {ek::nn::Activation::identity, ek::nn::Activation::relu,
                     ek::nn::Activation::sigmoid, ek::nn::Activation::tanh}) {
        ek::nn::Dense<double> layer(5, 3, rng, {act});
        layer.bias() = nntest::random_matrix(1, 3, rng);
        const MatD x = nntest::random_matrix(4, 5, rng, -3, 3);
        const MatD& y = layer.forward(x);
        REQUIRE(y.rows() == 4);
        REQUIRE(y.cols() == 3);
        for (Eigen::Index i = 0; i < 4; ++i)
            for (Eigen::Index j = 0; j < 3; ++j) {
                double z = layer.bias()(0, j);
                for (Eigen::Index k = 0; k < 5; ++k) z += x(i, k) * layer.weight()(k, j);
                double want = z;
                if (act == ek::nn::Activation::relu) want = z > 0 ? z : 0;
                if (act == ek::nn::Activation::sigmoid) want = 1 / (1 + std::exp(-z));
                if (act == ek::nn::Activation::tanh) want = std::tanh(z);
                CHECK(y(i, j) == doctest::Approx(want).epsilon(1e-12));
            }
    }
}

TEST_CASE("dense: gradient check for every activation") {
    ek::Rng rng(11);
    for (auto act : {ek::nn::Activation::identity, ek::nn::Activation::relu,
                     ek::nn::Activation::sigmoid, ek::nn::Activation::tanh}) {
        CAPTURE(ek::nn::activation_name(act));
        ek::nn::Dense<double> layer(7, 5, rng, {act});
        layer.bias() = nntest::random_matrix(1, 5, rng, -0.5, 0.5);
        // Inputs away from the ReLU kink: a finite difference across it is meaningless.
        MatD x = nntest::random_matrix(6, 7, rng, -2, 2);
        NN_CHECK_GRADIENTS(nntest::check_layer(layer, x, 5), 1e-6);
    }
}

TEST_CASE("dense: standalone activation layers pass the gradient check") {
    ek::Rng rng(12);
    for (auto act : {ek::nn::Activation::identity, ek::nn::Activation::relu,
                     ek::nn::Activation::sigmoid, ek::nn::Activation::tanh}) {
        CAPTURE(ek::nn::activation_name(act));
        ek::nn::ActivationLayer<double> layer(act);
        MatD x = nntest::random_matrix(5, 4, rng, -3, 3);
        for (Eigen::Index i = 0; i < x.size(); ++i)
            if (std::abs(x.data()[i]) < 1e-3) x.data()[i] = 0.5;  // stay off the ReLU kink
        NN_CHECK_GRADIENTS(nntest::check_layer(layer, x, 6), 1e-6);
    }
}

TEST_CASE("dense: saturated activations keep finite outputs and gradients") {
    ek::Rng rng(13);
    MatD x(1, 4);
    x << -1000, -50, 50, 1000;
    for (auto act : {ek::nn::Activation::sigmoid, ek::nn::Activation::tanh}) {
        ek::nn::ActivationLayer<double> layer(act);
        const MatD& y = layer.forward(x);
        CHECK(y.allFinite());
        const MatD g = layer.backward(MatD::Ones(1, 4));
        CHECK(g.allFinite());
        CHECK(g.cwiseAbs().maxCoeff() < 1e-20);
    }
    ek::nn::ActivationLayer<float> sig(ek::nn::Activation::sigmoid);
    ek::RowMatrixF xf = x.cast<float>();
    const ek::RowMatrixF& yf = sig.forward(xf);
    // Within one float step of 0 and 1 (NEON's tanh stops a rounding short of -1 and 1).
    CHECK(yf(0, 0) >= 0.0f);
    CHECK(yf(0, 0) < 2e-7f);
    CHECK(yf(0, 3) <= 1.0f);
    CHECK(yf(0, 3) > 1.0f - 2e-7f);
    CHECK(yf.allFinite());
}

TEST_CASE("dense: the first layer can skip its input gradient") {
    ek::Rng rng(14);
    ek::nn::Dense<double> layer(3, 2, rng, {ek::nn::Activation::relu});
    const MatD x = nntest::random_matrix(4, 3, rng);
    layer.forward(x);
    const MatD& g = layer.backward(MatD::Ones(4, 2), false);
    CHECK(g.size() == 0);
    CHECK(layer.weight_gradient().cwiseAbs().sum() > 0);
}

TEST_CASE("dense: bad shapes and sizes throw with a clear message") {
    ek::Rng rng(15);
    CHECK_THROWS_AS(ek::nn::Dense<float>(0, 3, rng), ek::ArgumentError);
    ek::nn::Dense<float> layer(4, 3, rng);
    CHECK_THROWS_WITH_AS(layer.backward(ek::RowMatrixF::Zero(2, 3)),
                         doctest::Contains("before forward"), ek::ArgumentError);
    CHECK_THROWS_WITH_AS(layer.forward(ek::RowMatrixF::Zero(2, 5)),
                         doctest::Contains("expects 4 input columns, got 5"), ek::DimensionError);
    layer.forward(ek::RowMatrixF::Zero(2, 4));
    CHECK_THROWS_WITH_AS(layer.backward(ek::RowMatrixF::Zero(3, 3)),
                         doctest::Contains("gradient is 3x3"), ek::DimensionError);
    CHECK_THROWS_AS(ek::nn::parse_activation("softmax"), ek::ArgumentError);
    CHECK(ek::nn::parse_activation("tanh") == ek::nn::Activation::tanh);
}

// Statistical checks of the four schemes on 400 x 300 = 120,000 draws. Every bound is five
// standard errors of its statistic, so a correct initialiser fails with probability below
// 1e-5, while a wrong one fails for sure: a limit or deviation off by sqrt(2) (variance off by
// 2x), Glorot's and He's fans swapped or mixed up (400 x 300: 2/700 vs 2/400, 1.75x), fan_out
// for fan_in (4/3x), or a uniform scheme drawing from a normal (or back: the kurtosis and the
// range tell them apart at the same variance).
TEST_CASE("dense: initialisation follows the scheme's distribution and the seed") {
    const double fan_in = 400, fan_out = 300;
    for (auto scheme : {ek::nn::Init::glorot_uniform, ek::nn::Init::glorot_normal,
                        ek::nn::Init::he_uniform, ek::nn::Init::he_normal}) {
        CAPTURE(ek::nn::init_name(scheme));
        ek::Rng a(21), b(21);
        ek::nn::Dense<double> la(400, 300, a, {ek::nn::Activation::identity, scheme});
        ek::nn::Dense<double> lb(400, 300, b, {ek::nn::Activation::identity, scheme});
        CHECK(la.weight() == lb.weight());
        CHECK(la.bias().isZero(0));

        const bool he = scheme == ek::nn::Init::he_uniform || scheme == ek::nn::Init::he_normal;
        const bool uniform =
            scheme == ek::nn::Init::glorot_uniform || scheme == ek::nn::Init::he_uniform;
        const double want_var = he ? 2.0 / fan_in : 2.0 / (fan_in + fan_out);
        const auto w = la.weight().array();
        const double n = static_cast<double>(w.size());
        const double mean = w.mean();
        const double var = (w - mean).square().mean();
        const double kurtosis = (w - mean).pow(4).mean() / (var * var);
        // Population kurtosis: 9/5 for a uniform, 3 for a normal. The sample variance's
        // relative standard error is sqrt((kurtosis - 1) / n): 0.26 % / 0.41 % here.
        const double want_kurtosis = uniform ? 1.8 : 3.0;
        CHECK(std::abs(mean) <= 5 * std::sqrt(want_var / n));
        CHECK(std::abs(var / want_var - 1) <= 5 * std::sqrt((want_kurtosis - 1) / n));
        // The sample kurtosis's standard error is below sqrt(24 / n) = 0.014 for both.
        CHECK(std::abs(kurtosis - want_kurtosis) <= 5 * std::sqrt(24 / n));
        if (uniform) {
            // U(-a, a) with a = sqrt(3 var): never beyond a, and among 120,000 draws some lie
            // within a / 1000 of it (all below has probability 0.999^120000, about e^-120).
            const double limit = std::sqrt(3 * want_var);
            const double largest = w.abs().maxCoeff();
            CHECK(largest <= limit);
            CHECK(largest >= limit * (1 - 1e-3));
        } else {
            // N(0, sd): 68.27 % of the draws within one standard deviation.
            const double sd = std::sqrt(want_var);
            const double inside = (w.abs() < sd).cast<double>().mean();
            CHECK(std::abs(inside - 0.682689) <= 5 * std::sqrt(0.682689 * (1 - 0.682689) / n));
        }
    }
}

TEST_CASE("dense: the sparse-input path passes the gradient check") {
    ek::Rng rng(31);
    for (auto mode : {ek::nn::InputSparsity::sparse, ek::nn::InputSparsity::automatic}) {
        // 70 outputs: one full block of 64 plus a tail.
        ek::nn::Dense<double> layer(40, 70, rng,
                                    {ek::nn::Activation::tanh, ek::nn::Init::glorot_uniform, mode});
        layer.bias() = nntest::random_matrix(1, 70, rng, -0.5, 0.5);
        MatD x = nntest::random_matrix(5, 40, rng, 0, 1);
        for (Eigen::Index i = 0; i < x.size(); ++i)
            if (rng.uniform() < 0.85) x.data()[i] = 0;
        layer.forward(x);
        CHECK(layer.used_sparse_path());
        // Only the weights and bias: a finite difference on a zero input entry would move it off
        // zero and change the path; the input gradient is the dense product anyway.
        std::vector<ek::nn::Parameter<double>> params;
        layer.collect_parameters(params, "");
        const MatD r = nntest::random_matrix(5, 70, rng);
        auto loss = [&] {
            const double v = (layer.forward(x).array() * r.array()).sum();
            layer.backward(r, false);
            return v;
        };
        // The loss sums 350 products, so its rounding noise is larger than a single layer's;
        // h = 1e-5 keeps the difference quotient clear of it (tanh is smooth).
        ek::nn::GradCheckOptions o;
        o.step = 1e-5;
        NN_CHECK_GRADIENTS(ek::nn::check_gradients(params, loss, o), 1e-6);
    }
}

TEST_CASE("dense: sparse and dense paths agree and automatic picks by density") {
    ek::Rng rng(32);
    ek::Rng init_a(5), init_b(5);
    ek::nn::Dense<float> dense(
        300, 130, init_a,
        {ek::nn::Activation::relu, ek::nn::Init::glorot_uniform, ek::nn::InputSparsity::dense});
    ek::nn::Dense<float> sparse(
        300, 130, init_b,
        {ek::nn::Activation::relu, ek::nn::Init::glorot_uniform, ek::nn::InputSparsity::automatic});
    ek::RowMatrixF x(33, 300);
    for (Eigen::Index i = 0; i < x.size(); ++i)
        x.data()[i] = rng.uniform() < 0.8 ? 0.0f : static_cast<float>(rng.uniform());
    const ek::RowMatrixF ya = dense.forward(x);
    const ek::RowMatrixF yb = sparse.forward(x);
    CHECK(!dense.used_sparse_path());
    CHECK(sparse.used_sparse_path());
    CHECK((ya - yb).cwiseAbs().maxCoeff() < 1e-5f);
    ek::RowMatrixF g(33, 130);
    for (Eigen::Index i = 0; i < g.size(); ++i)
        g.data()[i] = static_cast<float>(rng.uniform(-1, 1));
    dense.backward(g, true);
    const ek::RowMatrixF gx = sparse.backward(g, true);
    CHECK((dense.weight_gradient() - sparse.weight_gradient()).cwiseAbs().maxCoeff() < 1e-5f);
    CHECK((dense.bias_gradient() - sparse.bias_gradient()).cwiseAbs().maxCoeff() < 1e-5f);
    CHECK(gx.rows() == 33);
    // A dense input (half non-zero) goes through GEMM.
    ek::RowMatrixF full = ek::RowMatrixF::Constant(33, 300, 0.5f);
    sparse.forward(full);
    CHECK(!sparse.used_sparse_path());
    // NaN in a sparse input reaches the output, as GEMM would carry it.
    x(3, 7) = std::numeric_limits<float>::quiet_NaN();
    const ek::RowMatrixF& yn = sparse.forward(x);
    CHECK(sparse.used_sparse_path());
    CHECK(yn.row(3).hasNaN());
    CHECK(yn.row(4).allFinite());
}

TEST_CASE("dense: float forward and backward at every SIMD level, both paths, against double") {
    // The float layer's products go through linalg (gemm and the sparse kernels) and its bias,
    // ReLU and bias-gradient passes through linalg's elementwise kernels at the active level;
    // the same weights in a double layer (Eigen) are the reference. Widths around the kernels'
    // blocks (8, 16, 32, 64 columns), a mostly zero input for the sparse path.
    for (const ek::simd::Level level : ek::simd::supported()) {
        const ek::simd::Scoped forced(level);
        INFO("level ", std::string(ek::simd::level_name(level)));
        for (const auto act : {ek::nn::Activation::identity, ek::nn::Activation::relu})
            for (const auto sparsity :
                 {ek::nn::InputSparsity::dense, ek::nn::InputSparsity::sparse})
                for (const Eigen::Index in : {1, 17, 70, 300})
                    for (const Eigen::Index out : {1, 15, 33, 64, 65, 130}) {
                        INFO("in ", in, " out ", out, " sparse ",
                             sparsity == ek::nn::InputSparsity::sparse, " activation ",
                             std::string(ek::nn::activation_name(act)));
                        ek::Rng rng(static_cast<std::uint64_t>(in * 1000 + out));
                        ek::nn::Dense<float> f(in, out, rng,
                                               {act, ek::nn::Init::glorot_uniform, sparsity});
                        f.bias() = nntest::random_matrix(1, out, rng).cast<float>();
                        ek::nn::Dense<double> d(in, out, ek::nn::zero_weights, {act});
                        d.weight() = f.weight().cast<double>();
                        d.bias() = f.bias().cast<double>();
                        const Eigen::Index n = 7;
                        ek::RowMatrixF x(n, in), g(n, out);
                        for (Eigen::Index i = 0; i < x.size(); ++i)
                            x.data()[i] =
                                rng.uniform() < 0.7 ? 0.0f : static_cast<float>(rng.uniform(-2, 2));
                        for (Eigen::Index i = 0; i < g.size(); ++i)
                            g.data()[i] = static_cast<float>(rng.uniform(-1, 1));
                        const ek::RowMatrixF y = f.forward(x);
                        const MatD xd = x.cast<double>();  // forward keeps a pointer to its input
                        const MatD yd = d.forward(xd);
                        CHECK(f.used_sparse_path() == (sparsity == ek::nn::InputSparsity::sparse));
                        const ek::RowMatrixF gx = f.backward(g, true);
                        const MatD gxd = d.backward(g.cast<double>(), true);
                        // |error| <= (terms + 2) 2^-24 x the sum of |terms|, bounded here by the
                        // terms' count times their largest size (|x| <= 2, |w| < 1, |g| <= 1).
                        const double u = std::ldexp(1.0, -24);
                        CHECK((y.cast<double>() - yd).cwiseAbs().maxCoeff() <=
                              (in + 3) * in * 2 * u + 2 * u);
                        CHECK((f.weight_gradient().cast<double>() - d.weight_gradient())
                                  .cwiseAbs()
                                  .maxCoeff() <= (n + 2) * n * 2 * u);
                        CHECK((gx.cast<double>() - gxd).cwiseAbs().maxCoeff() <=
                              (out + 2) * out * u);
                        CHECK((f.bias_gradient().cast<double>() - d.bias_gradient())
                                  .cwiseAbs()
                                  .maxCoeff() <= (n + 2) * n * u);
                        if (act == ek::nn::Activation::relu) CHECK(y.minCoeff() >= 0.0f);
                    }
    }
}
