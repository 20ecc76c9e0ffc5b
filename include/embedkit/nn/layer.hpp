// The layer interface, parameter views and the optional per-phase timer of the nn core.
#pragma once

#include "../core/error.hpp"
#include "../core/types.hpp"

#include <chrono>
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

/// Seconds spent per phase of training, summed over the batches timed. Models fill it when a
/// pointer is set with `set_timings` (benchmarks use it for their breakdown); a null pointer,
/// the default, costs one branch per phase.
struct Timings {
    double gemm = 0;        ///< matrix products (forward, weight and input gradients)
    double activation = 0;  ///< activation functions, their derivatives, bias adds and sums
    double loss = 0;        ///< loss values and their gradients, sampling
    double optimizer = 0;   ///< optimiser steps
    double other = 0;       ///< batch gathering and the rest of the loop

    double total() const noexcept { return gemm + activation + loss + optimizer + other; }
    void reset() noexcept { *this = Timings{}; }
};

namespace detail {

/// Adds the time between construction and destruction to `*slot` when `slot` is not null.
class PhaseTimer {
public:
    explicit PhaseTimer(double* slot) noexcept : slot_(slot) {
        if (slot_) start_ = std::chrono::steady_clock::now();
    }
    PhaseTimer(const PhaseTimer&) = delete;
    PhaseTimer& operator=(const PhaseTimer&) = delete;
    ~PhaseTimer() {
        if (slot_)
            *slot_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    double* slot_;
    std::chrono::steady_clock::time_point start_{};
};

inline double* slot(Timings* t, double Timings::*member) noexcept {
    return t ? &(t->*member) : nullptr;
}

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
    virtual void collect_parameters(std::vector<Parameter<Scalar>>& out, const std::string& prefix) {
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
    /// Where to add phase times (null: do not time).
    virtual void set_timings(Timings* t) noexcept { timings_ = t; }

protected:
    Layer() = default;
    Layer(const Layer&) = default;
    Layer& operator=(const Layer&) = default;

    Timings* timings_ = nullptr;
};

}  // namespace embedkit::nn
