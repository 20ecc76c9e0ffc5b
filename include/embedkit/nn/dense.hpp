// Dense (fully connected) layer y = act(x W + b) on row-major batches, products through GEMM.
#pragma once

#include "activation.hpp"
#include "init.hpp"
#include "layer.hpp"

#include <string>

namespace embedkit::nn {

/// Options of a Dense layer.
struct DenseOptions {
    Activation activation = Activation::identity;  ///< applied to x W + b
    Init init = Init::glorot_uniform;              ///< weight initialisation (biases start at 0)
};

/// Fully connected layer: output = activation(input · W + b).
///
/// Shapes: input n x in, W in x out (row-major, row k = the weights leaving input k),
/// b 1 x out, output n x out. Parameters are named "<prefix>weight" and "<prefix>bias".
/// The products run through Eigen's GEMM (or BLAS under EIGEN_USE_BLAS).
template <class Scalar = float>
class Dense final : public Layer<Scalar> {
public:
    using Matrix = typename Layer<Scalar>::Matrix;

    /// A layer with `in` inputs and `out` outputs, weights drawn from `rng`.
    /// Throws ArgumentError when a size is not positive.
    Dense(Eigen::Index in, Eigen::Index out, Rng& rng, DenseOptions options = {})
        : options_(options) {
        if (in <= 0 || out <= 0)
            throw ArgumentError("embedkit::nn::Dense: sizes must be positive, got " + std::to_string(in) +
                                " -> " + std::to_string(out));
        weight_.resize(in, out);
        initialize(weight_, options.init, rng);
        bias_.setZero(1, out);
        grad_weight_.setZero(in, out);
        grad_bias_.setZero(1, out);
    }

    Eigen::Index input_size() const noexcept override { return weight_.rows(); }
    Eigen::Index output_size(Eigen::Index) const noexcept override { return weight_.cols(); }
    Activation activation() const noexcept { return options_.activation; }

    /// The weights (in x out) and bias (1 x out), e.g. to load trained values.
    Matrix& weight() noexcept { return weight_; }
    const Matrix& weight() const noexcept { return weight_; }
    Matrix& bias() noexcept { return bias_; }
    const Matrix& bias() const noexcept { return bias_; }
    const Matrix& weight_gradient() const noexcept { return grad_weight_; }
    const Matrix& bias_gradient() const noexcept { return grad_bias_; }

    const Matrix& forward(const Matrix& input) override {
        if (input.cols() != weight_.rows())
            throw DimensionError("embedkit::nn::Dense::forward: " + describe() + " expects " +
                                 std::to_string(weight_.rows()) + " input columns, got " +
                                 std::to_string(input.cols()));
        input_ = &input;
        {
            detail::PhaseTimer timer(detail::slot(this->timings_, &Timings::gemm));
            output_.noalias() = input * weight_;
        }
        detail::PhaseTimer timer(detail::slot(this->timings_, &Timings::activation));
        output_.rowwise() += bias_.row(0);
        apply_activation(options_.activation, output_);
        return output_;
    }

    const Matrix& backward(const Matrix& grad_output, bool need_input_grad = true) override {
        if (input_ == nullptr)
            throw ArgumentError("embedkit::nn::Dense::backward: called before forward");
        if (grad_output.rows() != output_.rows() || grad_output.cols() != output_.cols())
            throw DimensionError("embedkit::nn::Dense::backward: gradient is " +
                                 std::to_string(grad_output.rows()) + "x" + std::to_string(grad_output.cols()) +
                                 ", the last forward output was " + std::to_string(output_.rows()) + "x" +
                                 std::to_string(output_.cols()));
        const Matrix* delta = &grad_output;
        {
            detail::PhaseTimer timer(detail::slot(this->timings_, &Timings::activation));
            if (options_.activation != Activation::identity) {
                delta_ = grad_output;
                scale_by_derivative(options_.activation, delta_, output_);
                delta = &delta_;
            }
            grad_bias_.row(0).noalias() = delta->colwise().sum();
        }
        detail::PhaseTimer timer(detail::slot(this->timings_, &Timings::gemm));
        grad_weight_.noalias() = input_->transpose() * *delta;
        if (!need_input_grad) {
            grad_input_.resize(0, 0);
            return grad_input_;
        }
        grad_input_.noalias() = *delta * weight_.transpose();
        return grad_input_;
    }

    void collect_parameters(std::vector<Parameter<Scalar>>& out, const std::string& prefix) override {
        out.push_back({weight_.data(), grad_weight_.data(), weight_.rows(), weight_.cols(), prefix + "weight"});
        out.push_back({bias_.data(), grad_bias_.data(), bias_.rows(), bias_.cols(), prefix + "bias"});
    }

    std::unique_ptr<Layer<Scalar>> clone() const override {
        auto copy = std::unique_ptr<Dense>(new Dense(*this));
        copy->input_ = nullptr;
        return copy;
    }

    std::string describe() const override {
        return "Dense(" + std::to_string(weight_.rows()) + " -> " + std::to_string(weight_.cols()) + ", " +
               activation_name(options_.activation) + ")";
    }

private:
    Dense(const Dense&) = default;

    DenseOptions options_;
    Matrix weight_, bias_, grad_weight_, grad_bias_;
    const Matrix* input_ = nullptr;
    Matrix output_, delta_, grad_input_;
};

}  // namespace embedkit::nn
