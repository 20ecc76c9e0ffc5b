// Sequential: a stack of layers applied in order, itself a layer.
#pragma once

#include "dense.hpp"
#include "layer.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace embedkit::nn {

/// A stack of layers; forward runs them in order, backward in reverse. Parameters are named
/// "<prefix><index>.<name>", e.g. "encoder.0.weight". Copying deep-copies the layers.
template <class Scalar = float>
class Sequential final : public Layer<Scalar> {
public:
    using Matrix = typename Layer<Scalar>::Matrix;

    Sequential() = default;
    Sequential(const Sequential& other) : Layer<Scalar>(other), width_(other.width_) {
        for (const auto& l : other.layers_) layers_.push_back(l->clone());
    }
    Sequential& operator=(const Sequential& other) {
        if (this != &other) {
            Sequential copy(other);
            layers_ = std::move(copy.layers_);
            width_ = copy.width_;
        }
        return *this;
    }
    Sequential(Sequential&& other) noexcept
        : Layer<Scalar>(std::move(other)),
          layers_(std::move(other.layers_)),
          width_(std::exchange(other.width_, -1)) {
        other.layers_.clear();
    }
    Sequential& operator=(Sequential&& other) noexcept {
        if (this != &other) {
            Layer<Scalar>::operator=(std::move(other));
            layers_ = std::move(other.layers_);
            other.layers_.clear();
            width_ = std::exchange(other.width_, -1);
        }
        return *this;
    }

    /// Appends a layer. Throws DimensionError when its input width does not match the
    /// previous layer's output width.
    Sequential& add(std::unique_ptr<Layer<Scalar>> layer) {
        if (!layer) throw ArgumentError("embedkit::nn::Sequential::add: null layer");
        const Eigen::Index want = layer->input_size();
        const Eigen::Index have = width_;
        if (want >= 0 && have >= 0 && want != have)
            throw DimensionError("embedkit::nn::Sequential::add: " + layer->describe() +
                                 " expects " + std::to_string(want) +
                                 " inputs, the stack produces " + std::to_string(have));
        const Eigen::Index next = layer->output_size(width_);
        layers_.push_back(std::move(layer));
        width_ = next;
        return *this;
    }

    /// Appends a Dense layer `in -> out` whose input width follows the stack.
    Sequential& add_dense(Eigen::Index in, Eigen::Index out, Rng& rng, DenseOptions options = {}) {
        return add(std::make_unique<Dense<Scalar>>(in, out, rng, options));
    }
    /// Appends a Dense layer `in -> out` with zero weights (see ZeroWeights).
    Sequential& add_dense(Eigen::Index in, Eigen::Index out, ZeroWeights,
                          DenseOptions options = {}) {
        return add(std::make_unique<Dense<Scalar>>(in, out, zero_weights, options));
    }

    std::size_t size() const noexcept { return layers_.size(); }
    bool empty() const noexcept { return layers_.empty(); }
    /// Layer `i` (0-based). Throws ArgumentError when i >= size().
    Layer<Scalar>& operator[](std::size_t i) { return *layers_[checked(i)]; }
    const Layer<Scalar>& operator[](std::size_t i) const { return *layers_[checked(i)]; }

    Eigen::Index input_size() const noexcept override {
        for (const auto& l : layers_)
            if (l->input_size() >= 0) return l->input_size();
        return -1;
    }
    Eigen::Index output_size(Eigen::Index input) const noexcept override {
        Eigen::Index w = input;
        for (const auto& l : layers_) w = l->output_size(w);
        return w;
    }

    const Matrix& forward(const Matrix& input) override {
        if (layers_.empty())
            throw ArgumentError("embedkit::nn::Sequential::forward: the stack is empty");
        const Matrix* x = &input;
        for (auto& l : layers_) x = &l->forward(*x);
        return *x;
    }

    void infer(const Matrix& input, Matrix& output) const override {
        if (layers_.empty())
            throw ArgumentError("embedkit::nn::Sequential::infer: the stack is empty");
        if (layers_.size() == 1) {
            layers_[0]->infer(input, output);
            return;
        }
        // Two local buffers in turn; the last layer writes straight into `output`.
        Matrix a, b;
        layers_[0]->infer(input, a);
        for (std::size_t i = 1; i + 1 < layers_.size(); ++i) {
            layers_[i]->infer(a, b);
            a.swap(b);
        }
        layers_.back()->infer(a, output);
    }

    const Matrix& backward(const Matrix& grad_output, bool need_input_grad = true) override {
        if (layers_.empty())
            throw ArgumentError("embedkit::nn::Sequential::backward: the stack is empty");
        const Matrix* g = &grad_output;
        for (std::size_t i = layers_.size(); i-- > 0;)
            g = &layers_[i]->backward(*g, i > 0 || need_input_grad);
        return *g;
    }

    void collect_parameters(std::vector<Parameter<Scalar>>& out,
                            const std::string& prefix) override {
        for (std::size_t i = 0; i < layers_.size(); ++i)
            layers_[i]->collect_parameters(out, prefix + std::to_string(i) + ".");
    }
    void collect_parameters(std::vector<ConstParameter<Scalar>>& out,
                            const std::string& prefix) const override {
        for (std::size_t i = 0; i < layers_.size(); ++i)
            static_cast<const Layer<Scalar>&>(*layers_[i])
                .collect_parameters(out, prefix + std::to_string(i) + ".");
    }

    /// All parameters, in order, named "<index>.<name>".
    std::vector<Parameter<Scalar>> parameters() {
        std::vector<Parameter<Scalar>> out;
        collect_parameters(out, "");
        return out;
    }

    std::unique_ptr<Layer<Scalar>> clone() const override {
        return std::make_unique<Sequential>(*this);
    }

    std::string describe() const override {
        std::string s = "Sequential[";
        for (std::size_t i = 0; i < layers_.size(); ++i)
            s += (i ? ", " : "") + layers_[i]->describe();
        return s + "]";
    }

private:
    std::size_t checked(std::size_t i) const {
        if (i >= layers_.size())
            throw ArgumentError("embedkit::nn::Sequential::operator[]: layer index " +
                                std::to_string(i) + " is out of range, the stack has " +
                                std::to_string(layers_.size()) + " layers");
        return i;
    }

    std::vector<std::unique_ptr<Layer<Scalar>>> layers_;
    // The stack's output width (-1: not fixed yet), kept by add: recomputing it over all
    // layers on every add made building a deep stack (e.g. loading a model) quadratic.
    Eigen::Index width_ = -1;
};

}  // namespace embedkit::nn
