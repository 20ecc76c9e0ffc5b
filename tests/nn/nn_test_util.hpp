// Helpers for the nn tests: random matrices, and gradient checks of a layer through a fixed
// linear functional of its output (so d loss / d output is known exactly).
#pragma once

#include <embedkit/core/random.hpp>
#include <embedkit/nn/gradcheck.hpp>
#include <embedkit/nn/layer.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace nntest {

using MatD = embedkit::RowMatrix<double>;

inline MatD random_matrix(Eigen::Index rows, Eigen::Index cols, embedkit::Rng& rng, double lo = -1,
                          double hi = 1) {
    MatD m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform(lo, hi);
    return m;
}

/// A Parameter view of a plain matrix and its gradient buffer (to check input gradients).
inline embedkit::nn::Parameter<double> view(MatD& value, MatD& grad, const std::string& name) {
    grad.resize(value.rows(), value.cols());
    return {value.data(), grad.data(), value.rows(), value.cols(), name};
}

/// Checks every parameter gradient and the input gradient of `layer` on input `x`, for the
/// loss L = sum(output .* R) with a fixed random R. Returns the check's result.
inline embedkit::nn::GradCheckResult check_layer(embedkit::nn::Layer<double>& layer, MatD x,
                                                 std::uint64_t seed,
                                                 embedkit::nn::GradCheckOptions options = {}) {
    embedkit::Rng rng(seed);
    const MatD& probe = layer.forward(x);
    const MatD r = random_matrix(probe.rows(), probe.cols(), rng);
    MatD grad_x;
    std::vector<embedkit::nn::Parameter<double>> params;
    layer.collect_parameters(params, "");
    params.push_back(view(x, grad_x, "input"));
    auto loss = [&] {
        const MatD& y = layer.forward(x);
        const double value = (y.array() * r.array()).sum();
        const MatD& g = layer.backward(r, true);
        grad_x = g;
        return value;
    };
    return embedkit::nn::check_gradients(params, loss, options);
}

/// doctest CHECK with the worst entry in the message.
#define NN_CHECK_GRADIENTS(result, tolerance)                                                 \
    do {                                                                                      \
        const auto& res_ = (result);                                                          \
        INFO("worst: " << res_.worst_tensor << "[" << res_.worst_index << "] analytic "       \
                       << res_.analytic << " numeric " << res_.numeric << " rel "             \
                       << res_.max_relative_error << " over " << res_.checked << " entries"); \
        CHECK(res_.checked > 0);                                                              \
        CHECK(res_.max_relative_error < (tolerance));                                         \
    } while (0)

}  // namespace nntest
