// The layer interface and parameter views of the nn core.
#pragma once

#include "../core/error.hpp"
#include "../core/profile.hpp"
#include "../core/types.hpp"

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace embedkit::nn {

/// A view of one trainable tensor: its values, its gradient (same size, same layout) and a
/// name such as "encoder.0.weight". Optimiser state is keyed by the position of a parameter
/// in the list a model returns, never by address, so copies and reloads keep their state.
template <class Scalar>
struct Parameter {
    Scalar* value = nullptr;
    Scalar* grad = nullptr;
    Eigen::Index rows = 0;
    Eigen::Index cols = 0;
    std::string name;

    Eigen::Index size() const noexcept { return rows * cols; }
    /// The values as a row-major matrix view.
    Eigen::Map<RowMatrix<Scalar>> values() const noexcept { return {value, rows, cols}; }
    /// The gradient as a row-major matrix view.
    Eigen::Map<RowMatrix<Scalar>> gradient() const noexcept { return {grad, rows, cols}; }
};

/// A read-only view of one trainable tensor's values (what saving a model needs).
template <class Scalar>
struct ConstParameter {
    const Scalar* value = nullptr;
    Eigen::Index rows = 0;
    Eigen::Index cols = 0;
    std::string name;

    Eigen::Index size() const noexcept { return rows * cols; }
    /// The values as a row-major matrix view.
    Eigen::Map<const RowMatrix<Scalar>> values() const noexcept { return {value, rows, cols}; }
};

namespace detail {

/// A setting's value for an error message, printed with "%g": std::to_string's fixed six
/// decimals would show an epsilon of -1e-08 as "-0.000000".
inline std::string format_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace detail

/// A differentiable layer on batches: one sample per row.
///
/// `forward` computes and caches what `backward` needs and returns a reference to an
/// internal buffer (valid until the next forward). It also keeps a pointer to its input, which
/// must stay alive and unchanged until `backward`. `backward` takes the gradient of the loss
/// with respect to the output, *overwrites* the parameter gradients and returns the gradient
/// with respect to the input (an internal buffer), or an empty matrix when `need_input_grad`
/// is false (the first layer of a model skips that product). Buffers are sized on the first
/// batch and reused, so steady-state training allocates nothing.
template <class Scalar = float>
class Layer {
public:
    static_assert(is_supported_scalar_v<Scalar>, "embedkit::nn layers support float and double");
    using Matrix = RowMatrix<Scalar>;

    virtual ~Layer() = default;

    /// Forward pass on a batch (rows = samples, cols = input size).
    virtual const Matrix& forward(const Matrix& input) = 0;
    /// Inference: what `forward` returns, bit for bit, written to `output` (resized; must not
    /// be `input`), without touching the layer's caches. Const, so one trained layer can serve
    /// several threads at once, each with its own output buffer. Throws DimensionError as
    /// forward does.
    virtual void infer(const Matrix& input, Matrix& output) const = 0;
    /// Backward pass; see the class comment.
    virtual const Matrix& backward(const Matrix& grad_output, bool need_input_grad = true) = 0;
    /// Appends this layer's parameters, names prefixed with `prefix`.
    virtual void collect_parameters(std::vector<Parameter<Scalar>>& out,
                                    const std::string& prefix) {
        (void)out;
        (void)prefix;
    }
    /// Appends read-only views of this layer's parameters (same order and names).
    virtual void collect_parameters(std::vector<ConstParameter<Scalar>>& out,
                                    const std::string& prefix) const {
        (void)out;
        (void)prefix;
    }
    /// Input width, or -1 when any width is accepted (activations).
    virtual Eigen::Index input_size() const noexcept { return -1; }
    /// Output width for a given input width.
    virtual Eigen::Index output_size(Eigen::Index input) const noexcept { return input; }
    /// A deep copy (parameters included, caches empty).
    virtual std::unique_ptr<Layer> clone() const = 0;
    /// One-line description, e.g. "Dense(784 -> 256, relu)".
    virtual std::string describe() const = 0;

protected:
    Layer() = default;
    Layer(const Layer&) = default;
    Layer& operator=(const Layer&) = default;
};

}  // namespace embedkit::nn
