// Weight initialisation: Glorot (Xavier) and He, uniform and normal, drawn from an Rng.
#pragma once

#include "../core/error.hpp"
#include "../core/random.hpp"

#include <Eigen/Core>

#include <cmath>
#include <string>

namespace embedkit::nn {

/// Tag of the constructors that build layers and models with zero weights and draw no random
/// numbers (what loading a saved model uses before it reads the stored values).
struct ZeroWeights {
    explicit constexpr ZeroWeights() = default;
};
inline constexpr ZeroWeights zero_weights{};

/// Weight initialisation schemes (biases always start at zero).
///  - glorot_uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010);
///    Keras's default for Dense, and embedkit's.
///  - glorot_normal:  N(0, 2 / (fan_in + fan_out)).
///  - he_uniform:     U(-a, a), a = sqrt(6 / fan_in) (He et al., 2015), for ReLU stacks.
///  - he_normal:      N(0, 2 / fan_in).
enum class Init { glorot_uniform, glorot_normal, he_uniform, he_normal };

/// The scheme's name, e.g. "glorot_uniform".
inline const char* init_name(Init i) noexcept {
    switch (i) {
        case Init::glorot_uniform:
            return "glorot_uniform";
        case Init::glorot_normal:
            return "glorot_normal";
        case Init::he_uniform:
            return "he_uniform";
        case Init::he_normal:
            return "he_normal";
    }
    return "unknown";
}

/// Fills `w` (fan_in x fan_out, any dense Eigen matrix) from `rng`, element by element in
/// row-major order, so a seed gives the same weights whatever the storage order.
template <class Derived>
void initialize(Eigen::MatrixBase<Derived>& w, Init scheme, Rng& rng) {
    using Scalar = typename Derived::Scalar;
    const double fan_in = static_cast<double>(w.rows());
    const double fan_out = static_cast<double>(w.cols());
    if (w.size() == 0) return;
    const bool uniform = scheme == Init::glorot_uniform || scheme == Init::he_uniform;
    const double variance = (scheme == Init::he_uniform || scheme == Init::he_normal)
                                ? 2.0 / fan_in
                                : 2.0 / (fan_in + fan_out);
    // A uniform U(-a, a) has variance a² / 3.
    const double limit = std::sqrt(3.0 * variance);
    const double stddev = std::sqrt(variance);
    for (Eigen::Index r = 0; r < w.rows(); ++r)
        for (Eigen::Index c = 0; c < w.cols(); ++c)
            w(r, c) =
                static_cast<Scalar>(uniform ? rng.uniform(-limit, limit) : rng.normal(0.0, stddev));
}

}  // namespace embedkit::nn
