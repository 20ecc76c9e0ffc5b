// A model's networks: named stacks of dense layers built from a layout that the model derives
// from its options. The same layout builds a model with random weights (training) or with
// zero weights (loading), gives the parameters in a fixed order, and tells the loader how many
// values a file must hold before anything is allocated.
#pragma once

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../core/types.hpp"
#include "../nn/activation.hpp"
#include "../nn/dense.hpp"
#include "../nn/init.hpp"
#include "../nn/layer.hpp"
#include "../nn/sequential.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace embedkit::models {

/// One dense layer of a layout: `in -> out`, then `activation`.
struct DenseSpec {
    Eigen::Index in = 0;
    Eigen::Index out = 0;
    nn::Activation activation = nn::Activation::identity;
};

/// One named stack of dense layers; its parameters are named "<name>.<index>.weight|bias".
struct StackSpec {
    std::string name;
    std::vector<DenseSpec> layers;
};

/// A model's layout: its stacks in parameter order.
using Layout = std::vector<StackSpec>;

/// Dense layers `widths[0] -> widths[1] -> ...`, every one with `hidden` except the last, which
/// has `last` (the shape of every stack the models build).
inline std::vector<DenseSpec> dense_chain(const std::vector<Eigen::Index>& widths,
                                          nn::Activation hidden, nn::Activation last) {
    std::vector<DenseSpec> layers;
    for (std::size_t i = 1; i < widths.size(); ++i)
        layers.push_back({widths[i - 1], widths[i], i + 1 == widths.size() ? last : hidden});
    return layers;
}

/// Number of values (weights and biases) a layout holds, saturated at 2^64 - 1.
inline std::uint64_t parameter_count(const Layout& layout) {
    constexpr std::uint64_t cap = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t total = 0;
    for (const auto& stack : layout)
        for (const auto& d : stack.layers) {
            const auto in = static_cast<std::uint64_t>(d.in),
                       out = static_cast<std::uint64_t>(d.out);
            if (out != 0 && in + 1 > cap / out) return cap;
            const std::uint64_t n = (in + 1) * out;
            total = total > cap - n ? cap : total + n;
        }
    return total;
}

/// The stacks of a layout, built with random weights or zero weights.
template <class Scalar>
class Networks {
public:
    Networks() = default;

    /// Weights drawn from `rng` with `init` (biases zero). Throws ArgumentError for sizes that
    /// are not positive or layers whose widths do not chain.
    Networks(const Layout& layout, nn::Init init, Rng& rng) {
        build(layout, [&](nn::Sequential<Scalar>& s, const DenseSpec& d) {
            s.add_dense(d.in, d.out, rng, nn::DenseOptions{d.activation, init});
        });
    }
    /// Every weight zero, no random numbers drawn (a model about to be loaded).
    Networks(const Layout& layout, nn::ZeroWeights) {
        build(layout, [&](nn::Sequential<Scalar>& s, const DenseSpec& d) {
            s.add_dense(d.in, d.out, nn::zero_weights, nn::DenseOptions{d.activation});
        });
    }

    std::size_t size() const noexcept { return stacks_.size(); }
    /// Stack `i` of the layout.
    nn::Sequential<Scalar>& operator[](std::size_t i) { return stacks_.at(i); }
    const nn::Sequential<Scalar>& operator[](std::size_t i) const { return stacks_.at(i); }

    /// Every parameter, stack by stack in layout order, named "<stack>.<layer>.weight|bias".
    std::vector<nn::Parameter<Scalar>> parameters() {
        std::vector<nn::Parameter<Scalar>> out;
        for (std::size_t i = 0; i < stacks_.size(); ++i)
            stacks_[i].collect_parameters(out, names_[i] + ".");
        return out;
    }
    /// The same parameters, read-only.
    std::vector<nn::ConstParameter<Scalar>> parameters() const {
        std::vector<nn::ConstParameter<Scalar>> out;
        for (std::size_t i = 0; i < stacks_.size(); ++i)
            stacks_[i].collect_parameters(out, names_[i] + ".");
        return out;
    }

private:
    template <class AddDense>
    void build(const Layout& layout, AddDense&& add_dense) {
        for (const auto& spec : layout) {
            nn::Sequential<Scalar> stack;
            for (const auto& d : spec.layers) add_dense(stack, d);
            names_.push_back(spec.name);
            stacks_.push_back(std::move(stack));
        }
    }

    std::vector<std::string> names_;
    std::vector<nn::Sequential<Scalar>> stacks_;
};

}  // namespace embedkit::models
