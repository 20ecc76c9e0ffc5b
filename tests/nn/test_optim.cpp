// Optimisers: updates against the papers' formulas evaluated in long double, convergence on
// a known function, clipping, weight decay, state by position and its save/load.
#include "nn_test_util.hpp"

#include <embedkit/nn/optim.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace ek = embedkit;
using nntest::MatD;

namespace {

struct Tensors {
    MatD a, ga, b, gb;
    std::vector<ek::nn::Parameter<double>> params() {
        return {nntest::view(a, ga, "a"), nntest::view(b, gb, "b")};
    }
};

Tensors make_tensors(std::uint64_t seed) {
    ek::Rng rng(seed);
    Tensors t;
    t.a = nntest::random_matrix(3, 4, rng);
    t.b = nntest::random_matrix(1, 2100, rng);  // longer than one update chunk
    return t;
}

void random_gradients(Tensors& t, ek::Rng& rng) {
    t.ga = nntest::random_matrix(t.a.rows(), t.a.cols(), rng);
    t.gb = nntest::random_matrix(t.b.rows(), t.b.cols(), rng);
}

}  // namespace

TEST_CASE("optim: Adam follows Kingma and Ba with either epsilon placement") {
    for (bool hat : {true, false}) {
        CAPTURE(hat);
        ek::nn::AdamOptions o;
        o.learning_rate = 0.01;
        o.weight_decay = 0.1;
        o.epsilon = 1e-3;  // large enough that the two placements differ visibly
        o.epsilon_hat = hat;
        Tensors t = make_tensors(1);
        std::vector<long double> m(static_cast<std::size_t>(t.a.size()), 0), v(m.size(), 0);
        std::vector<long double> p(t.a.data(), t.a.data() + t.a.size());
        ek::nn::Adam<double> adam(o);
        ek::Rng rng(2);
        for (int step = 1; step <= 5; ++step) {
            random_gradients(t, rng);
            const long double c1 = 1 - std::pow(0.9L, step), c2 = 1 - std::pow(0.999L, step);
            for (std::size_t i = 0; i < p.size(); ++i) {
                const long double g = t.ga.data()[i];
                m[i] = 0.9L * m[i] + 0.1L * g;
                v[i] = 0.999L * v[i] + 0.001L * g * g;
                p[i] -= 0.01L * 0.1L * p[i];
                if (hat)  // Keras: epsilon-hat added to sqrt(v) before bias correction
                    p[i] -= 0.01L * std::sqrt(c2) / c1 * m[i] / (std::sqrt(v[i]) + 1e-3L);
                else  // Algorithm 1: epsilon added to sqrt(v_hat)
                    p[i] -= 0.01L * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-3L);
            }
            adam.step(t.params());
        }
        CHECK(adam.steps() == 5);
        for (std::size_t i = 0; i < p.size(); ++i)
            CHECK(t.a.data()[i] == doctest::Approx(static_cast<double>(p[i])).epsilon(1e-9));
    }
}

TEST_CASE("optim: SGD with momentum and Nesterov follow PyTorch's convention") {
    for (bool nesterov : {false, true}) {
        CAPTURE(nesterov);
        ek::nn::SGDOptions o;
        o.learning_rate = 0.1;
        o.momentum = 0.9;
        o.nesterov = nesterov;
        o.weight_decay = 0.01;
        Tensors t = make_tensors(3);
        std::vector<long double> p(t.a.data(), t.a.data() + t.a.size()), buf(p.size(), 0);
        ek::nn::SGD<double> sgd(o);
        ek::Rng rng(4);
        for (int step = 0; step < 4; ++step) {
            random_gradients(t, rng);
            for (std::size_t i = 0; i < p.size(); ++i) {
                const long double g = t.ga.data()[i] + 0.01L * p[i];
                buf[i] = 0.9L * buf[i] + g;
                p[i] -= 0.1L * (nesterov ? g + 0.9L * buf[i] : buf[i]);
            }
            sgd.step(t.params());
        }
        for (std::size_t i = 0; i < p.size(); ++i)
            CHECK(t.a.data()[i] == doctest::Approx(static_cast<double>(p[i])).epsilon(1e-12));
    }
}

TEST_CASE("optim: Adam and SGD minimise a badly scaled quadratic") {
    // f(x) = sum_i c_i (x_i - 1)², c from 1 to 100: both reach the minimum at x = 1.
    for (int which = 0; which < 2; ++which) {
        MatD x = MatD::Zero(1, 8), g(1, 8);
        std::vector<ek::nn::Parameter<double>> params{nntest::view(x, g, "x")};
        std::unique_ptr<ek::nn::Optimizer<double>> opt;
        if (which == 0)
            opt = std::make_unique<ek::nn::Adam<double>>(0.05);
        else
            opt = std::make_unique<ek::nn::SGD<double>>(ek::nn::SGDOptions{0.004, 0.9});
        CAPTURE(opt->name());
        for (int step = 0; step < 3000; ++step) {
            for (Eigen::Index i = 0; i < 8; ++i)
                g(0, i) = 2 * std::pow(100.0, i / 7.0) * (x(0, i) - 1);
            opt->step(params);
        }
        CHECK((x.array() - 1).abs().maxCoeff() < 1e-3);
    }
}

TEST_CASE("optim: clipping scales by the global gradient norm") {
    MatD x = MatD::Zero(1, 2), g(1, 2);
    std::vector<ek::nn::Parameter<double>> params{nntest::view(x, g, "x")};
    ek::nn::SGDOptions o;
    o.learning_rate = 1;
    o.clip_norm = 1;
    ek::nn::SGD<double> sgd(o);
    g << 3, 4;  // norm 5 -> scaled to norm 1
    sgd.step(params);
    CHECK(x(0, 0) == doctest::Approx(-0.6));
    CHECK(x(0, 1) == doctest::Approx(-0.8));
    g << 0.3, 0.4;  // under the limit: unchanged
    sgd.step(params);
    CHECK(x(0, 0) == doctest::Approx(-0.9));
}

TEST_CASE("optim: state is keyed by position and survives set_state") {
    Tensors t1 = make_tensors(5), t2 = make_tensors(5);
    ek::nn::Adam<double> a1, a2;
    ek::Rng r1(6);
    for (int s = 0; s < 3; ++s) {
        random_gradients(t1, r1);
        a1.step(t1.params());
    }
    t2.a = t1.a;
    t2.b = t1.b;
    a2.set_state(a1.steps(), a1.slots(), t2.params());
    CHECK(a2.steps() == 3);
    ek::Rng r2 = r1;
    for (int s = 0; s < 3; ++s) {
        random_gradients(t1, r1);
        random_gradients(t2, r2);
        a1.step(t1.params());
        a2.step(t2.params());
    }
    CHECK(t1.a == t2.a);
    CHECK(t1.b == t2.b);
    ek::nn::SGD<double> sgd;  // one state vector per parameter, Adam keeps two
    CHECK_THROWS_WITH_AS(sgd.set_state(a1.steps(), a1.slots(), t2.params()),
                         doctest::Contains("parameter 0 has 2 state vectors, sgd keeps 1"),
                         ek::ArgumentError);
}

TEST_CASE("optim: set_state checks the state against the parameters before using it") {
    Tensors t = make_tensors(8);
    ek::nn::Adam<double> fresh, loaded;
    loaded.set_state(0, {}, t.params());  // no step yet: no slots, step 0
    CHECK(loaded.steps() == 0);
    ek::Rng rng(2);
    random_gradients(t, rng);
    fresh.step(t.params());
    auto fewer = t.params();
    fewer.pop_back();
    CHECK_THROWS_WITH_AS(
        loaded.set_state(fresh.steps(), fresh.slots(), fewer),
        doctest::Contains("the state holds 2 parameters after 1 steps, the model has 1"),
        ek::ArgumentError);
    CHECK_THROWS_WITH_AS(
        loaded.set_state(1, {}, t.params()),
        doctest::Contains("the state holds 0 parameters after 1 steps, the model has 2"),
        ek::ArgumentError);
    auto swapped = t.params();
    std::swap(swapped[0], swapped[1]);
    CHECK_THROWS_WITH_AS(
        loaded.set_state(fresh.steps(), fresh.slots(), swapped),
        doctest::Contains(
            "state vector 0 of parameter 0 ('b') has 12 values, the parameter has 2100"),
        ek::ArgumentError);
    auto negative = fresh.slots();
    negative[1][1](3) = -1;
    CHECK_THROWS_WITH_AS(
        loaded.set_state(fresh.steps(), negative, t.params()),
        doctest::Contains("state vector 1 of parameter 1 ('b') holds a negative value (-1)"),
        ek::ArgumentError);
    auto nan = fresh.slots();
    nan[0][0](0) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(loaded.set_state(fresh.steps(), nan, t.params()),
                         doctest::Contains("holds NaN or Inf"), ek::ArgumentError);
    CHECK_THROWS_WITH_AS(
        loaded.set_state(std::numeric_limits<std::uint64_t>::max(), fresh.slots(), t.params()),
        doctest::Contains("could not be incremented"), ek::ArgumentError);
    CHECK(loaded.steps() == 0);  // a refused state changes nothing
    loaded.set_state(fresh.steps(), fresh.slots(), t.params());
    CHECK(loaded.steps() == 1);
}

TEST_CASE("optim: a changed parameter list and bad settings throw") {
    Tensors t = make_tensors(7);
    ek::nn::Adam<double> adam;
    random_gradients(t, *std::make_unique<ek::Rng>(1));
    adam.step(t.params());
    auto fewer = t.params();
    fewer.pop_back();
    CHECK_THROWS_WITH_AS(adam.step(fewer), doctest::Contains("state was built for 2"),
                         ek::ArgumentError);
    auto swapped = t.params();
    std::swap(swapped[0], swapped[1]);
    CHECK_THROWS_AS(adam.step(swapped), ek::ArgumentError);
    CHECK_THROWS_AS(ek::nn::Adam<float>(-1.0), ek::ArgumentError);
    CHECK_THROWS_AS(ek::nn::Adam<float>(ek::nn::AdamOptions{1e-3, 1.0}), ek::ArgumentError);
    CHECK_THROWS_AS(ek::nn::SGD<float>(ek::nn::SGDOptions{0.1, 0.0, true}), ek::ArgumentError);
    adam.reset();
    CHECK(adam.steps() == 0);
    CHECK_NOTHROW(adam.step(fewer));
}
