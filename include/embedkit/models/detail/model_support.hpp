// Pieces the models share: data checks and batched inference.
#pragma once

#include "../../core/error.hpp"
#include "../../core/types.hpp"
#include "../../core/detail/set_view.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <cstring>
#include <string>

namespace embedkit::models::detail {

/// The values a model's output can take, and why the data must lie in them: training data
/// outside the range could never be reconstructed, only squeezed into it.
struct ValueRange {
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    const char* why = "";

    bool bounded() const noexcept { return std::isfinite(lo) || std::isfinite(hi); }
};

/// "[0, 1]", "[0, inf)".
inline std::string range_text(const ValueRange& r) {
    const auto num = [](double x) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", x);
        return std::string(buf);
    };
    return (std::isfinite(r.lo) ? "[" + num(r.lo) : "(-inf") + ", " +
           (std::isfinite(r.hi) ? num(r.hi) + "]" : "inf)");
}

/// [0, 1]: binary cross-entropy targets.
inline ValueRange bce_targets() {
    return {0, 1, "which binary cross-entropy needs (scale pixels to [0, 1])"};
}

/// Checks that every value is finite and lies in `range` (when it is bounded).
template <class Scalar>
void check_values(const char* model, const char* fn, const char* what,
                  const embedkit::detail::SetView<Scalar>& v, const ValueRange& range = {}) {
    for (Eigen::Index r = 0; r < v.rows; ++r) {
        Eigen::Map<const Eigen::Array<Scalar, 1, Eigen::Dynamic>> row(v.row(r), v.cols);
        if (!row.allFinite())
            throw ArgumentError(std::string("embedkit::models::") + model + "::" + fn + ": " +
                                what + " row " + std::to_string(r) + " holds NaN or Inf");
        if (range.bounded() && v.cols > 0 &&
            (static_cast<double>(row.minCoeff()) < range.lo ||
             static_cast<double>(row.maxCoeff()) > range.hi))
            throw ArgumentError(std::string("embedkit::models::") + model + "::" + fn + ": " +
                                what + " row " + std::to_string(r) + " has values outside " +
                                range_text(range) + ", " + range.why);
    }
}

/// Runs `step(batch, result)` over `data` in batches of `batch_size` rows (step fills
/// `result`, out_cols wide) and stacks the results into one matrix. Every buffer is local, so
/// a const `step` makes the whole map safe to run on several threads at once.
template <class Scalar, class Step>
RowMatrix<Scalar> map_in_batches(const embedkit::detail::SetView<Scalar>& data,
                                 Eigen::Index batch_size, Eigen::Index out_cols, Step&& step) {
    RowMatrix<Scalar> out(data.rows, out_cols);
    RowMatrix<Scalar> buffer, result;
    for (Eigen::Index s = 0; s < data.rows; s += batch_size) {
        const Eigen::Index rows = std::min(batch_size, data.rows - s);
        buffer.resize(rows, data.cols);
        for (Eigen::Index r = 0; r < rows; ++r)
            std::memcpy(buffer.row(r).data(), data.row(s + r),
                        sizeof(Scalar) * static_cast<std::size_t>(data.cols));
        step(static_cast<const RowMatrix<Scalar>&>(buffer), result);
        out.middleRows(s, rows) = result;
    }
    return out;
}

}  // namespace embedkit::models::detail
