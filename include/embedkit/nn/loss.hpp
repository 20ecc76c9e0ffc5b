// Losses with their gradients: binary cross-entropy from logits, mean squared error, and the
// KL divergence of a diagonal Gaussian from N(0, I).
#pragma once

#include "../core/error.hpp"
#include "../core/types.hpp"

#include <string>

namespace embedkit::nn {

namespace detail {

template <class A, class B>
void check_same_shape(const char* fn, const A& a, const char* a_name, const B& b, const char* b_name) {
    if (a.rows() != b.rows() || a.cols() != b.cols())
        throw DimensionError(std::string("embedkit::nn::") + fn + ": " + a_name + " is " +
                             std::to_string(a.rows()) + "x" + std::to_string(a.cols()) + " but " + b_name +
                             " is " + std::to_string(b.rows()) + "x" + std::to_string(b.cols()));
    if (a.rows() == 0) throw ArgumentError(std::string("embedkit::nn::") + fn + ": empty batch");
}

}  // namespace detail

/// Binary cross-entropy between targets t in [0, 1] and sigmoid(logits), computed from the
/// logits in the stable form  max(x, 0) - x t + log1p(exp(-|x|)),  which never takes log(0)
/// and never overflows, however saturated the logits.
///
/// Reduction: summed over the columns (features) of a sample, averaged over the rows
/// (samples). For 784-pixel images this is Keras's `784 * binary_crossentropy`. Writes
/// d loss / d logits = (sigmoid(x) - t) / rows into `grad` (resized to logits' shape) and
/// returns the loss. Throws DimensionError when the shapes differ, ArgumentError when empty.
template <class Scalar, class DerivedT>
double bce_with_logits(const RowMatrix<Scalar>& logits, const Eigen::MatrixBase<DerivedT>& targets,
                       RowMatrix<Scalar>& grad) {
    detail::check_same_shape("bce_with_logits", logits, "logits", targets, "targets");
    grad.resize(logits.rows(), logits.cols());
    const auto x = logits.array();
    const auto t = targets.derived().array();
    // e = exp(-|x|) in (0, 1]: sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0.
    // `grad` holds e first, then the gradient, so the loss needs no extra buffer.
    auto g = grad.array();
    g = (-x.abs()).exp();
    const double total = static_cast<double>((x.max(Scalar(0)) - x * t + g.log1p()).sum());
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(logits.rows());
    g = ((x >= Scalar(0)).select(Scalar(1) / (Scalar(1) + g), g / (Scalar(1) + g)) - t) * inv_n;
    return total / static_cast<double>(logits.rows());
}

/// Mean squared error, averaged over every element (Keras's "mse"). Writes
/// d loss / d prediction = 2 (p - t) / (rows * cols) into `grad` and returns the loss.
template <class Scalar, class DerivedT>
double mean_squared_error(const RowMatrix<Scalar>& prediction, const Eigen::MatrixBase<DerivedT>& targets,
                          RowMatrix<Scalar>& grad) {
    detail::check_same_shape("mean_squared_error", prediction, "prediction", targets, "targets");
    const double count = static_cast<double>(prediction.size());
    grad = prediction - targets.derived();
    const double total = static_cast<double>(grad.squaredNorm());
    grad *= static_cast<Scalar>(2.0 / count);
    return total / count;
}

/// The largest log-variance whose exp() the KL term and the VAE's sampling evaluate: larger
/// values are clamped (and pass no gradient), because exp(x) overflows float above ~88.7.
template <class Scalar>
constexpr Scalar max_log_variance() noexcept {
    return Scalar(80);
}

/// KL divergence of N(mu, exp(log_var)) from N(0, I), per sample
///   -1/2 * sum_j (1 + log_var_j - mu_j² - exp(log_var_j)),
/// averaged over the rows (samples). Writes d/d mu = mu / rows and
/// d/d log_var = (exp(log_var) - 1) / (2 rows) and returns the loss. Log-variances above
/// max_log_variance() are clamped there (their gradient is 0).
template <class Scalar>
double kl_standard_normal(const RowMatrix<Scalar>& mu, const RowMatrix<Scalar>& log_var, RowMatrix<Scalar>& grad_mu,
                          RowMatrix<Scalar>& grad_log_var) {
    detail::check_same_shape("kl_standard_normal", mu, "mu", log_var, "log_var");
    const Scalar cap = max_log_variance<Scalar>();
    const auto lv = log_var.array().min(cap);
    const double total = -0.5 * static_cast<double>((Scalar(1) + lv - mu.array().square() - lv.exp()).sum());
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(mu.rows());
    grad_mu = mu * inv_n;
    grad_log_var.resize(mu.rows(), mu.cols());
    grad_log_var.array() =
        (log_var.array() > cap).select(Scalar(0), (lv.exp() - Scalar(1)) * (Scalar(0.5) * inv_n));
    return total / static_cast<double>(mu.rows());
}

}  // namespace embedkit::nn
