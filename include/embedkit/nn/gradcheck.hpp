// Finite-difference gradient checking: compares analytic gradients with central differences.
#pragma once

#include "../core/random.hpp"
#include "layer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace embedkit::nn {

/// Settings of check_gradients.
struct GradCheckOptions {
    double step = 1e-6;  ///< h of the central difference (f(p + h) - f(p - h)) / 2h
    /// Denominator floor of the relative error |a - n| / max(|a| + |n|, floor * max(1, |loss|)).
    /// The difference quotient carries rounding noise of about 1e-16 |loss| / step, so entries
    /// whose gradient is far below the loss's scale cannot be checked relatively; with the
    /// defaults they are checked absolutely, |a - n| < 1e-10 |loss| (for a 1e-6 bound).
    double floor = 1e-4;
    /// At most this many entries per tensor are checked, chosen at random (0 = all).
    std::size_t max_entries_per_tensor = 0;
    std::uint64_t seed = 1;  ///< picks the entries when sampling
};

/// The outcome: the worst relative error and where it occurred.
struct GradCheckResult {
    double max_relative_error = 0;
    std::string worst_tensor;
    Eigen::Index worst_index = -1;
    double analytic = 0;  ///< at the worst entry
    double numeric = 0;   ///< at the worst entry
    std::size_t checked = 0;
};

/// Checks the gradients of `loss` with respect to every tensor in `params` by central
/// differences. `loss()` must evaluate the loss at the current values *and* write the
/// analytic gradients into the tensors' gradient buffers (a forward and backward pass); it
/// must be deterministic (re-seed any sampling inside it). Values are restored exactly.
/// Throws ArgumentError when options.step or options.floor is not positive and finite (a zero
/// step divides by zero, a zero floor makes 0/0 of entries whose gradients are both 0).
template <class LossFn>
GradCheckResult check_gradients(const std::vector<Parameter<double>>& params, LossFn&& loss,
                                const GradCheckOptions& options = {}) {
    if (!(options.step > 0) || !std::isfinite(options.step))
        throw ArgumentError(
            "embedkit::nn::check_gradients: step must be positive and finite, got " +
            detail::format_number(options.step));
    if (!(options.floor > 0) || !std::isfinite(options.floor))
        throw ArgumentError(
            "embedkit::nn::check_gradients: floor must be positive and finite, got " +
            detail::format_number(options.floor));
    const double base = static_cast<double>(loss());
    const double floor = options.floor * std::max(1.0, std::abs(base));
    std::vector<std::vector<double>> analytic(params.size());
    for (std::size_t i = 0; i < params.size(); ++i)
        analytic[i].assign(params[i].grad, params[i].grad + params[i].size());

    GradCheckResult result;
    Rng rng(options.seed);
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto n = static_cast<std::size_t>(params[i].size());
        std::vector<std::size_t> entries(n);
        for (std::size_t k = 0; k < n; ++k) entries[k] = k;
        if (options.max_entries_per_tensor > 0 && n > options.max_entries_per_tensor) {
            rng.shuffle(entries);
            entries.resize(options.max_entries_per_tensor);
        }
        for (std::size_t k : entries) {
            double& p = params[i].value[k];
            const double saved = p;
            p = saved + options.step;
            const double up = static_cast<double>(loss());
            p = saved - options.step;
            const double down = static_cast<double>(loss());
            p = saved;
            const double numeric = (up - down) / (2 * options.step);
            const double a = analytic[i][k];
            const double err =
                std::abs(a - numeric) / std::max(std::abs(a) + std::abs(numeric), floor);
            ++result.checked;
            if (err > result.max_relative_error || result.worst_index < 0) {
                result.max_relative_error = std::max(err, result.max_relative_error);
                if (err >= result.max_relative_error) {
                    result.worst_tensor = params[i].name;
                    result.worst_index = static_cast<Eigen::Index>(k);
                    result.analytic = a;
                    result.numeric = numeric;
                }
            }
        }
    }
    loss();  // leave the gradient buffers as the caller's values produce them
    return result;
}

}  // namespace embedkit::nn
