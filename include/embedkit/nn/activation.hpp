// Activation functions (identity, ReLU, sigmoid, tanh): forward, derivative, and a layer.
#pragma once

#include "layer.hpp"

#include <string>

namespace embedkit::nn {

/// Elementwise activation functions.
enum class Activation { identity, relu, sigmoid, tanh };

/// The activation's name: "identity", "relu", "sigmoid", "tanh".
inline const char* activation_name(Activation a) noexcept {
    switch (a) {
        case Activation::identity:
            return "identity";
        case Activation::relu:
            return "relu";
        case Activation::sigmoid:
            return "sigmoid";
        case Activation::tanh:
            return "tanh";
    }
    return "unknown";
}

/// Parses an activation name; throws ArgumentError naming the valid ones.
inline Activation parse_activation(const std::string& name) {
    for (Activation a :
         {Activation::identity, Activation::relu, Activation::sigmoid, Activation::tanh})
        if (name == activation_name(a)) return a;
    throw ArgumentError("embedkit::nn::parse_activation: unknown activation '" + name +
                        "' (expected identity, relu, sigmoid or tanh)");
}

/// Applies `a` in place to every element of `x`.
///
/// The sigmoid is evaluated as 0.5 * tanh(x / 2) + 0.5, which never overflows (exp(-x) does
/// for x < -88 in float) and stays accurate near 0 and 1.
template <class Derived>
void apply_activation(Activation a, Eigen::MatrixBase<Derived>& x) {
    using Scalar = typename Derived::Scalar;
    auto arr = x.array();
    switch (a) {
        case Activation::identity:
            break;
        case Activation::relu:
            arr = arr.max(Scalar(0));
            break;
        case Activation::sigmoid:
            arr = Scalar(0.5) * (Scalar(0.5) * arr).tanh() + Scalar(0.5);
            break;
        case Activation::tanh:
            arr = arr.tanh();
            break;
    }
}

/// Multiplies `grad` in place by the activation's derivative, written in terms of the
/// activation's *output* `y` (which the forward pass keeps): relu' = [y > 0],
/// sigmoid' = y (1 - y), tanh' = 1 - y². At 0 the ReLU derivative is taken as 0.
template <class DerivedG, class DerivedY>
void scale_by_derivative(Activation a, Eigen::MatrixBase<DerivedG>& grad,
                         const Eigen::MatrixBase<DerivedY>& y) {
    using Scalar = typename DerivedG::Scalar;
    auto g = grad.array();
    const auto ya = y.array();
    switch (a) {
        case Activation::identity:
            break;
        case Activation::relu:
            g = (ya > Scalar(0)).select(g, Scalar(0));
            break;
        case Activation::sigmoid:
            g = g * ya * (Scalar(1) - ya);
            break;
        case Activation::tanh:
            g = g * (Scalar(1) - ya.square());
            break;
    }
}

/// An activation as a layer of its own (for stacks that keep Dense linear). Dense layers can
/// also apply an activation themselves, which saves one buffer and one pass.
template <class Scalar = float>
class ActivationLayer final : public Layer<Scalar> {
public:
    using Matrix = typename Layer<Scalar>::Matrix;

    explicit ActivationLayer(Activation a) noexcept : activation_(a) {}

    Activation activation() const noexcept { return activation_; }

    const Matrix& forward(const Matrix& input) override {
        profile::Scope phase(profile::Phase::activation);
        output_ = input;
        apply_activation(activation_, output_);
        return output_;
    }

    void infer(const Matrix& input, Matrix& output) const override {
        output = input;
        apply_activation(activation_, output);
    }

    const Matrix& backward(const Matrix& grad_output, bool need_input_grad = true) override {
        profile::Scope phase(profile::Phase::activation);
        if (grad_output.rows() != output_.rows() || grad_output.cols() != output_.cols())
            throw DimensionError("embedkit::nn::ActivationLayer::backward: gradient is " +
                                 std::to_string(grad_output.rows()) + "x" +
                                 std::to_string(grad_output.cols()) +
                                 ", the last forward output was " + std::to_string(output_.rows()) +
                                 "x" + std::to_string(output_.cols()));
        if (!need_input_grad) {
            grad_input_.resize(0, 0);
            return grad_input_;
        }
        grad_input_ = grad_output;
        scale_by_derivative(activation_, grad_input_, output_);
        return grad_input_;
    }

    std::unique_ptr<Layer<Scalar>> clone() const override {
        return std::make_unique<ActivationLayer>(activation_);
    }
    std::string describe() const override {
        return std::string("Activation(") + activation_name(activation_) + ")";
    }

private:
    Activation activation_;
    Matrix output_;
    Matrix grad_input_;
};

}  // namespace embedkit::nn
