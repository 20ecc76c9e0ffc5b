// Dense (fully connected) layer y = act(x W + b) on row-major batches, products through GEMM.
#pragma once

#include "../linalg/elementwise.hpp"
#include "../linalg/gemm.hpp"
#include "activation.hpp"
#include "init.hpp"
#include "layer.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace embedkit::nn {

/// How a Dense layer treats zeros in its input.
///  - automatic: per batch, when at most a quarter of the input values are non-zero (MNIST
///    pixels: ~19 %), the forward product and the weight gradient skip the zeros (the same
///    sums, exact, about 5x fewer operations); otherwise both go through GEMM.
///  - dense: always GEMM.
///  - sparse: always skip zeros.
enum class InputSparsity { automatic, dense, sparse };

/// Options of a Dense layer.
struct DenseOptions {
    Activation activation = Activation::identity;  ///< applied to x W + b
    Init init = Init::glorot_uniform;              ///< weight initialisation (biases start at 0)
    InputSparsity sparsity = InputSparsity::automatic;
};

/// Fully connected layer: output = activation(input · W + b).
///
/// Shapes: input n x in, W in x out (row-major, row k = the weights leaving input k),
/// b 1 x out, output n x out. Parameters are named "<prefix>weight" and "<prefix>bias".
/// In float the products run through linalg::gemm and the sparse path through linalg's kernels,
/// both at embedkit::simd's active level (AVX-512, AVX2+FMA or portable, whatever the build's
/// -march); in double, or when the program defines EIGEN_USE_BLAS, through Eigen's GEMM (or
/// BLAS). A mostly zero input (InputSparsity) takes a sparse path for the forward product and
/// the weight gradient: gradients stay exact, only the zero terms are skipped.
template <class Scalar = float>
class Dense final : public Layer<Scalar> {
public:
    using Matrix = typename Layer<Scalar>::Matrix;

    /// A layer with `in` inputs and `out` outputs, weights drawn from `rng`.
    /// Throws ArgumentError when a size is not positive.
    Dense(Eigen::Index in, Eigen::Index out, Rng& rng, DenseOptions options = {})
        : Dense(in, out, zero_weights, options) {
        initialize(weight_, options.init, rng);
    }

    /// A layer with every weight and bias zero, for values set or loaded afterwards (a model
    /// read from a file draws no random numbers); `options.init` is not used.
    Dense(Eigen::Index in, Eigen::Index out, ZeroWeights, DenseOptions options = {})
        : options_(options) {
        if (in <= 0 || out <= 0)
            throw ArgumentError("embedkit::nn::Dense: sizes must be positive, got " +
                                std::to_string(in) + " -> " + std::to_string(out));
        weight_.setZero(in, out);
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
    /// Whether the last forward pass took the sparse path (see InputSparsity).
    bool used_sparse_path() const noexcept { return sparse_; }
    const Matrix& bias_gradient() const noexcept { return grad_bias_; }

    const Matrix& forward(const Matrix& input) override {
        if (input.cols() != weight_.rows())
            throw DimensionError("embedkit::nn::Dense::forward: " + describe() + " expects " +
                                 std::to_string(weight_.rows()) + " input columns, got " +
                                 std::to_string(input.cols()));
        input_ = &input;
        sparse_ = options_.sparsity != InputSparsity::dense && gather_nonzeros(input, csr_);
        if (sparse_) {
            // y_i = b + sum over the non-zero x_ik of x_ik W_k: one row of W per non-zero.
            profile::Scope phase(profile::Phase::gemm);
            output_.resize(input.rows(), weight_.cols());
            sparse_forward(csr_, input.rows(), output_);
        } else {
            profile::Scope phase(profile::Phase::gemm);
            product(input, weight_, output_);
        }
        profile::Scope phase(profile::Phase::activation);
        finish_output(!sparse_, output_);
        return output_;
    }

    void infer(const Matrix& input, Matrix& output) const override {
        if (input.cols() != weight_.rows())
            throw DimensionError("embedkit::nn::Dense::infer: " + describe() + " expects " +
                                 std::to_string(weight_.rows()) + " input columns, got " +
                                 std::to_string(input.cols()));
        // forward's arithmetic, with the non-zero lists local to the call.
        SparseRows csr;
        if (options_.sparsity != InputSparsity::dense && gather_nonzeros(input, csr)) {
            output.resize(input.rows(), weight_.cols());
            sparse_forward(csr, input.rows(), output);
            finish_output(false, output);
        } else {
            product(input, weight_, output);
            finish_output(true, output);
        }
    }

    const Matrix& backward(const Matrix& grad_output, bool need_input_grad = true) override {
        if (input_ == nullptr)
            throw ArgumentError("embedkit::nn::Dense::backward: called before forward");
        if (grad_output.rows() != output_.rows() || grad_output.cols() != output_.cols())
            throw DimensionError(
                "embedkit::nn::Dense::backward: gradient is " + std::to_string(grad_output.rows()) +
                "x" + std::to_string(grad_output.cols()) + ", the last forward output was " +
                std::to_string(output_.rows()) + "x" + std::to_string(output_.cols()));
        const Matrix* delta = &grad_output;
        {
            profile::Scope phase(profile::Phase::activation);
            if (options_.activation != Activation::identity) {
                delta_ = grad_output;
                scale_delta();
                delta = &delta_;
            }
            compute_bias_gradient(*delta);
        }
        profile::Scope phase(profile::Phase::gemm);
        if (sparse_)
            sparse_weight_gradient(*delta);
        else
            product_at(*input_, *delta, grad_weight_);
        if (!need_input_grad) {
            grad_input_.resize(0, 0);
            return grad_input_;
        }
        product_bt(*delta, weight_, grad_input_);
        return grad_input_;
    }

    void collect_parameters(std::vector<Parameter<Scalar>>& out,
                            const std::string& prefix) override {
        out.push_back({weight_.data(), grad_weight_.data(), weight_.rows(), weight_.cols(),
                       prefix + "weight"});
        out.push_back(
            {bias_.data(), grad_bias_.data(), bias_.rows(), bias_.cols(), prefix + "bias"});
    }
    void collect_parameters(std::vector<ConstParameter<Scalar>>& out,
                            const std::string& prefix) const override {
        out.push_back({weight_.data(), weight_.rows(), weight_.cols(), prefix + "weight"});
        out.push_back({bias_.data(), bias_.rows(), bias_.cols(), prefix + "bias"});
    }

    std::unique_ptr<Layer<Scalar>> clone() const override {
        auto copy = std::unique_ptr<Dense>(new Dense(*this));
        copy->input_ = nullptr;
        return copy;
    }

    std::string describe() const override {
        return "Dense(" + std::to_string(weight_.rows()) + " -> " + std::to_string(weight_.cols()) +
               ", " + activation_name(options_.activation) + ")";
    }

private:
    Dense(const Dense&) = default;

    // The float loops below run through linalg's elementwise kernels at the run-time level
    // where it has them (AVX-512, AVX2+FMA); double and the other levels keep Eigen's.

    // Adds the bias to every row (when `add_bias`) and applies the activation, in place.
    void finish_output(bool add_bias, Matrix& out) const {
        if constexpr (std::is_same_v<Scalar, float>) {
            if (const auto* k = linalg::detail::elementwise_kernels(simd::active())) {
                if (add_bias) k->add_row(out.data(), out.rows(), out.cols(), bias_.data());
                if (options_.activation == Activation::relu)
                    k->relu(out.data(), out.size());
                else
                    apply_activation(options_.activation, out);
                return;
            }
        }
        if (add_bias) out.rowwise() += bias_.row(0);
        apply_activation(options_.activation, out);
    }

    // delta_ (a copy of the output gradient) times the activation's derivative.
    void scale_delta() {
        if constexpr (std::is_same_v<Scalar, float>) {
            const auto* k = linalg::detail::elementwise_kernels(simd::active());
            if (k != nullptr && options_.activation == Activation::relu) {
                k->relu_backward(delta_.data(), output_.data(), delta_.size());
                return;
            }
        }
        scale_by_derivative(options_.activation, delta_, output_);
    }

    // grad_bias_ = the column sums of delta.
    void compute_bias_gradient(const Matrix& delta) {
        if constexpr (std::is_same_v<Scalar, float>) {
            if (const auto* k = linalg::detail::elementwise_kernels(simd::active())) {
                k->column_sums(delta.data(), delta.rows(), delta.cols(), grad_bias_.data());
                return;
            }
        }
        grad_bias_.row(0).noalias() = delta.colwise().sum();
    }

#ifdef EIGEN_USE_BLAS
    static constexpr bool dispatched = false;
#else
    static constexpr bool dispatched = std::is_same_v<Scalar, float>;
#endif

    // c = a b
    static void product(const Matrix& a, const Matrix& b, Matrix& c) {
        if constexpr (dispatched) {
            c.resize(a.rows(), b.cols());
            linalg::gemm(a.rows(), b.cols(), a.cols(), a.data(), a.cols(), b.data(), b.cols(),
                         false, c.data(), c.cols());
        } else {
            c.noalias() = a * b;
        }
    }
    // c = a b^T
    static void product_bt(const Matrix& a, const Matrix& b, Matrix& c) {
        if constexpr (dispatched) {
            c.resize(a.rows(), b.rows());
            linalg::gemm(a.rows(), b.rows(), a.cols(), a.data(), a.cols(), b.data(), b.cols(), true,
                         c.data(), c.cols());
        } else {
            c.noalias() = a * b.transpose();
        }
    }
    // c = a^T b (a transposed into a buffer of the layer first)
    void product_at(const Matrix& a, const Matrix& b, Matrix& c) {
        if constexpr (dispatched) {
            transposed_ = a.transpose();
            product(transposed_, b, c);
        } else {
            c.noalias() = a.transpose() * b;
        }
    }

    // An input's non-zeros row by row (CSR).
    struct SparseRows {
        std::vector<Scalar> values;
        std::vector<std::uint32_t> columns, row_start;
    };

    // Lists the input's non-zeros row by row (CSR) when the sparse path applies; returns
    // whether it does. The buffers keep their capacity, so steady state allocates nothing.
    bool gather_nonzeros(const Matrix& input, SparseRows& csr) const {
        auto& row_start = csr.row_start;
        auto& values = csr.values;
        auto& columns = csr.columns;
        const Eigen::Index n = input.rows(), m = input.cols();
        const auto total = static_cast<std::size_t>(n * m);
        if (total >= std::size_t(UINT32_MAX)) return false;  // the lists index with 32 bits
        const std::size_t limit = options_.sparsity == InputSparsity::sparse ? total : total / 4;
        row_start.resize(static_cast<std::size_t>(n) + 1);
        values.resize(total);
        columns.resize(total);
        // Branch-free compaction: every value is written, the count only advances past
        // non-zeros (a branch per pixel would mispredict on MNIST's ragged strokes).
        std::size_t count = 0;
        row_start[0] = 0;
        for (Eigen::Index i = 0; i < n; ++i) {
            const Scalar* row = input.data() + i * m;
            for (Eigen::Index k = 0; k < m; ++k) {
                values[count] = row[k];
                columns[count] = static_cast<std::uint32_t>(k);
                count += row[k] != Scalar(0) ? 1 : 0;
            }
            if (count > limit) return false;
            row_start[static_cast<std::size_t>(i) + 1] = static_cast<std::uint32_t>(count);
        }
        // A NaN or Inf input must reach the output as a dense product would carry it; it is
        // non-zero, so it is in the list and propagates through its row of W.
        return true;
    }

    // Output rows in column blocks of `block` values: the block's sums stay in registers
    // while the row's non-zeros stream past (one load of W per non-zero and block).
    void sparse_forward(const SparseRows& csr, Eigen::Index rows, Matrix& output) const {
        const auto& row_start = csr.row_start;
        const auto& values = csr.values;
        const auto& columns = csr.columns;
        constexpr Eigen::Index block = 64;
        using Acc = Eigen::Array<Scalar, block, 1>;
        const Eigen::Index out = weight_.cols();
        const Eigen::Index full = out / block * block;
        if constexpr (dispatched) {
            // The level's kernel, column blocks outermost as below.
            const linalg::detail::SparseRowsFn kern =
                linalg::detail::sparse_rows_kernel(simd::active());
            for (Eigen::Index c = 0; c < out; c += block)
                for (Eigen::Index i = 0; i < rows; ++i)
                    kern(bias_.data() + c, values.data(), columns.data(),
                         row_start[static_cast<std::size_t>(i)],
                         row_start[static_cast<std::size_t>(i) + 1], weight_.data() + c, out,
                         output.data() + i * out + c, std::min(block, out - c));
            return;
        }
        // Column blocks outermost: a block of W (in x 64) stays in L2 while every row uses it.
        for (Eigen::Index c = 0; c < full; c += block)
            for (Eigen::Index i = 0; i < rows; ++i) {
                const std::uint32_t begin = row_start[static_cast<std::size_t>(i)];
                const std::uint32_t end = row_start[static_cast<std::size_t>(i) + 1];
                Acc acc = Eigen::Map<const Acc>(bias_.data() + c);
                for (std::uint32_t p = begin; p < end; ++p)
                    acc += values[p] * Eigen::Map<const Acc>(weight_.data() + columns[p] * out + c);
                Eigen::Map<Acc>(output.data() + i * out + c) = acc;
            }
        if (full < out)
            for (Eigen::Index i = 0; i < rows; ++i) {
                auto tail = output.row(i).segment(full, out - full);
                tail = bias_.row(0).segment(full, out - full);
                for (std::uint32_t p = row_start[static_cast<std::size_t>(i)];
                     p < row_start[static_cast<std::size_t>(i) + 1]; ++p)
                    tail.noalias() += values[p] * weight_.row(columns[p]).segment(full, out - full);
            }
    }

    // dW = X^T delta over the non-zeros, column by column of X (CSC, built from the CSR), so
    // each row of dW is accumulated once and written once.
    void sparse_weight_gradient(const Matrix& delta) {
        const auto& row_start = csr_.row_start;
        const auto& values = csr_.values;
        const auto& columns = csr_.columns;
        const Eigen::Index in = weight_.rows(), n = delta.rows();
        const std::uint32_t nnz = row_start[static_cast<std::size_t>(n)];
        col_start_.assign(static_cast<std::size_t>(in) + 1, 0);
        for (std::uint32_t p = 0; p < nnz; ++p) ++col_start_[columns[p] + 1];
        for (Eigen::Index k = 0; k < in; ++k)
            col_start_[static_cast<std::size_t>(k) + 1] += col_start_[static_cast<std::size_t>(k)];
        t_values_.resize(nnz);
        t_rows_.resize(nnz);
        fill_.assign(col_start_.begin(), col_start_.end() - 1);
        for (Eigen::Index i = 0; i < n; ++i)
            for (std::uint32_t p = row_start[static_cast<std::size_t>(i)];
                 p < row_start[static_cast<std::size_t>(i) + 1]; ++p) {
                const std::uint32_t slot = fill_[columns[p]]++;
                t_values_[slot] = values[p];
                t_rows_[slot] = static_cast<std::uint32_t>(i);
            }
        constexpr Eigen::Index block = 64;
        using Acc = Eigen::Array<Scalar, block, 1>;
        const Eigen::Index out = weight_.cols();
        const Eigen::Index full = out / block * block;
        if constexpr (dispatched) {
            const linalg::detail::SparseRowsFn kern =
                linalg::detail::sparse_rows_kernel(simd::active());
            for (Eigen::Index k = 0; k < in; ++k)
                kern(nullptr, t_values_.data(), t_rows_.data(),
                     col_start_[static_cast<std::size_t>(k)],
                     col_start_[static_cast<std::size_t>(k) + 1], delta.data(), out,
                     grad_weight_.data() + k * out, out);
            return;
        }
        for (Eigen::Index k = 0; k < in; ++k) {
            const std::uint32_t begin = col_start_[static_cast<std::size_t>(k)];
            const std::uint32_t end = col_start_[static_cast<std::size_t>(k) + 1];
            Scalar* gk = grad_weight_.data() + k * out;
            for (Eigen::Index c = 0; c < full; c += block) {
                Acc acc = Acc::Zero();
                for (std::uint32_t p = begin; p < end; ++p)
                    acc +=
                        t_values_[p] * Eigen::Map<const Acc>(delta.data() + t_rows_[p] * out + c);
                Eigen::Map<Acc>(gk + c) = acc;
            }
            if (full < out) {
                auto tail = grad_weight_.row(k).segment(full, out - full);
                tail.setZero();
                for (std::uint32_t p = begin; p < end; ++p)
                    tail.noalias() +=
                        t_values_[p] * delta.row(t_rows_[p]).segment(full, out - full);
            }
        }
    }

    DenseOptions options_;
    Matrix weight_, bias_, grad_weight_, grad_bias_;
    const Matrix* input_ = nullptr;
    Matrix output_, delta_, grad_input_;
    Matrix transposed_;  // the input transposed, for the weight gradient (float)
    // The sparse path's lists of the last input's non-zeros (CSR, and CSC for the backward).
    bool sparse_ = false;
    SparseRows csr_;
    std::vector<Scalar> t_values_;
    std::vector<std::uint32_t> col_start_, fill_, t_rows_;
};

}  // namespace embedkit::nn
