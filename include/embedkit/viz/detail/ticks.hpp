// Axis ticks at round numbers (1, 2 or 5 times a power of ten) and their labels.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace embedkit::viz::detail {

/// Tick positions inside an axis range and their printed labels.
struct Ticks {
    std::vector<double> values;
    std::vector<std::string> labels;
};

/// The round step (1, 2 or 5 x 10^k) that cuts `range` (> 0) into about `target` intervals:
/// range / target rounded to the nearest round number (in ratio: below 1.5 -> 1, below 3 -> 2,
/// below 7 -> 5, else 10), after Heckbert's "nice numbers" (Graphics Gems, 1990).
inline double nice_step(double range, int target) {
    const double raw = range / std::max(target, 1);
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double f = raw / magnitude;  // in [1, 10)
    const double nice = f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0;
    return nice * magnitude;
}

/// Formats tick value v for ticks `step` apart: as many decimals as the step needs (0.5 -> one,
/// 0.25 is never a step), exponent form for very large or very small magnitudes, never "-0".
inline std::string tick_label(double v, double step, double max_abs) {
    if (std::fabs(v) < step * 1e-6) v = 0.0;
    char buf[64];
    if (max_abs >= 1e6 || step < 1e-4) {
        const int digits =
            std::clamp(static_cast<int>(std::floor(std::log10(std::max(max_abs, step))) -
                                        std::floor(std::log10(step))) +
                           1,
                       1, 15);
        std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    } else {
        const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
        std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    }
    return buf;
}

/// Ticks at multiples of a round step inside [lo, hi] (lo < hi, both finite), about `target`
/// of them. Each value is k * step for an integer k, so no rounding error accumulates.
inline Ticks nice_ticks(double lo, double hi, int target) {
    Ticks t;
    const double step = nice_step(hi - lo, target);
    const double first = std::ceil(lo / step - 1e-9), last = std::floor(hi / step + 1e-9);
    const double max_abs = std::max(std::fabs(lo), std::fabs(hi));
    for (double k = first; k <= last; k += 1.0) {
        const double v = k * step;
        t.values.push_back(v);
        t.labels.push_back(tick_label(v, step, max_abs));
    }
    return t;
}

}  // namespace embedkit::viz::detail
