// Compile-time and run-time checks that turn an Eigen embedding-set argument into a strided
// row view without copying.
#pragma once

#include "../error.hpp"
#include "../types.hpp"

#include <Eigen/Core>
#include <cstddef>
#include <string>

namespace embedkit::detail {

/// Rows of a row-major set: row i starts at data + i * stride; each row has `cols` elements.
template <class Scalar>
struct SetView {
    const Scalar* data;
    Eigen::Index rows;
    Eigen::Index cols;
    Eigen::Index stride;
    const Scalar* row(Eigen::Index i) const noexcept { return data + i * stride; }
};

// Embedding sets must be row-major stored data: a RowMatrix, a Map of one, or a block of
// rows. Eigen::Ref would silently copy a column-major matrix (possibly gigabytes), so that is
// a compile-time error instead.
template <class D>
constexpr void static_check_set() {
    static_assert(is_supported_scalar_v<typename D::Scalar>,
                  "embedkit: embedding sets must hold float or double");
    static_assert(static_cast<bool>(D::IsRowMajor),
                  "embedkit: embedding sets must be row-major: use embedkit::RowMatrix<Scalar> "
                  "(or an Eigen::Map / row block of one), not a column-major matrix, which "
                  "would have to be copied");
    static_assert(static_cast<bool>(Eigen::internal::traits<D>::Flags & Eigen::DirectAccessBit),
                  "embedkit: embedding sets must be stored data (embedkit::RowMatrix, an "
                  "Eigen::Map or a block of rows), not an expression; evaluate it into a "
                  "RowMatrix first");
}

template <class D>
inline SetView<typename D::Scalar> view_set(const char* fn, const char* what,
                                            const Eigen::MatrixBase<D>& m) {
    static_check_set<D>();
    const D& d = m.derived();
    if (d.innerStride() != 1)
        throw ArgumentError(std::string("embedkit::") + fn + ": " + what +
                            " must have contiguous rows (inner stride 1), got inner stride " +
                            std::to_string(d.innerStride()));
    // A one-row block may report any outer stride; it is never used.
    const Eigen::Index stride = d.rows() <= 1 ? d.cols() : d.outerStride();
    return {d.data(), d.rows(), d.cols(), stride};
}

template <class Scalar>
inline Eigen::Map<const RowMatrix<Scalar>, 0, Eigen::OuterStride<>> as_map(
    const SetView<Scalar>& v) {
    return {v.data, v.rows, v.cols, Eigen::OuterStride<>(v.stride)};
}

}  // namespace embedkit::detail
