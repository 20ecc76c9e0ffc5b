// Sequential stacks and the gradient checker itself.
#include "nn_test_util.hpp"

#include <embedkit/nn/activation.hpp>
#include <embedkit/nn/dense.hpp>
#include <embedkit/nn/sequential.hpp>

#include <cstring>

namespace ek = embedkit;
using nntest::MatD;

TEST_CASE("sequential: a stack passes the gradient check and names its parameters") {
    ek::Rng rng(1);
    ek::nn::Sequential<double> net;
    net.add_dense(6, 5, rng, {ek::nn::Activation::tanh});
    net.add(std::make_unique<ek::nn::ActivationLayer<double>>(ek::nn::Activation::sigmoid));
    net.add_dense(5, 4, rng, {ek::nn::Activation::identity});
    const auto params = net.parameters();
    REQUIRE(params.size() == 4);
    CHECK(params[0].name == "0.weight");
    CHECK(params[3].name == "2.bias");
    CHECK(net.input_size() == 6);
    CHECK(net.output_size(6) == 4);
    MatD x = nntest::random_matrix(3, 6, rng, -2, 2);
    NN_CHECK_GRADIENTS(nntest::check_layer(net, x, 2), 1e-6);
}

TEST_CASE("sequential: copies are deep and mismatched layers are rejected") {
    ek::Rng rng(2);
    ek::nn::Sequential<float> net;
    net.add_dense(3, 2, rng);
    ek::nn::Sequential<float> copy = net;
    copy.parameters()[0].values().setZero();
    CHECK(!net.parameters()[0].values().isZero(0));
    CHECK_THROWS_WITH_AS(net.add_dense(4, 2, rng),
                         doctest::Contains("expects 4 inputs, the stack produces 2"),
                         ek::DimensionError);
    ek::nn::Sequential<float> empty;
    CHECK_THROWS_AS(empty.forward(ek::RowMatrixF::Zero(1, 3)), ek::ArgumentError);
}

TEST_CASE("gradcheck: a wrong gradient is caught") {
    // d/dx sum(x³) = 3x²; report 3x² + 1e-4 and the checker must see it.
    ek::Rng rng(3);
    MatD x = nntest::random_matrix(2, 3, rng), g;
    std::vector<ek::nn::Parameter<double>> p{nntest::view(x, g, "x")};
    double bias = 1e-4;
    auto loss = [&] {
        g = (3 * x.array().square() + bias).matrix();
        return x.array().cube().sum();
    };
    const auto bad = ek::nn::check_gradients(p, loss);
    CHECK(bad.max_relative_error > 1e-6);
    CHECK(bad.worst_tensor == "x");
    bias = 0;
    const auto good = ek::nn::check_gradients(p, loss);
    CHECK(good.max_relative_error < 1e-7);
    CHECK(good.checked == 6);
    ek::nn::GradCheckOptions sub;
    sub.max_entries_per_tensor = 4;
    CHECK(ek::nn::check_gradients(p, loss, sub).checked == 4);
}

namespace {

bool same_bits(const ek::RowMatrixF& a, const ek::RowMatrixF& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) == 0;
}

}  // namespace

TEST_CASE("sequential: infer equals forward bit for bit and leaves the training caches alone") {
    ek::Rng rng(8);
    for (auto sparsity : {ek::nn::InputSparsity::dense, ek::nn::InputSparsity::automatic}) {
        CAPTURE(static_cast<int>(sparsity));
        ek::nn::Sequential<float> net;
        net.add_dense(200, 70, rng,
                      {ek::nn::Activation::relu, ek::nn::Init::glorot_uniform, sparsity});
        net.add(std::make_unique<ek::nn::ActivationLayer<float>>(ek::nn::Activation::tanh));
        net.add_dense(70, 9, rng, {ek::nn::Activation::identity});
        // 80 % zeros: the automatic first layer takes its sparse path in both calls.
        ek::RowMatrixF x(17, 200), other(5, 200);
        for (Eigen::Index i = 0; i < x.size(); ++i)
            x.data()[i] = rng.uniform() < 0.8 ? 0.0f : static_cast<float>(rng.uniform());
        for (Eigen::Index i = 0; i < other.size(); ++i)
            other.data()[i] = static_cast<float>(rng.uniform());
        ek::RowMatrixF g(17, 9);
        for (Eigen::Index i = 0; i < g.size(); ++i)
            g.data()[i] = static_cast<float>(rng.uniform(-1, 1));

        ek::nn::Sequential<float> twin = net;
        const ek::RowMatrixF y = net.forward(x);
        ek::RowMatrixF inferred;
        static_cast<const ek::nn::Sequential<float>&>(net).infer(x, inferred);
        CHECK(same_bits(inferred, y));
        // An inference between forward and backward changes nothing the backward pass uses.
        net.infer(other, inferred);
        CHECK(inferred.rows() == 5);
        net.backward(g, true);
        twin.forward(x);
        twin.backward(g, true);
        const auto a = net.parameters(), b = twin.parameters();
        for (std::size_t p = 0; p < a.size(); ++p) {
            CAPTURE(a[p].name);
            CHECK(a[p].gradient() == b[p].gradient());
        }
        ek::RowMatrixF bad(2, 199);
        CHECK_THROWS_WITH_AS(net.infer(bad, inferred),
                             doctest::Contains("expects 200 input columns, got 199"),
                             ek::DimensionError);
    }
    ek::nn::Sequential<float> empty;
    ek::RowMatrixF out;
    CHECK_THROWS_WITH_AS(empty.infer(ek::RowMatrixF::Zero(1, 3), out),
                         doctest::Contains("the stack is empty"), ek::ArgumentError);
}
