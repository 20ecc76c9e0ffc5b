// Eigen aliases used across embedkit: embedding sets are row-major, one sample per row.
#pragma once

#include <Eigen/Core>
#include <type_traits>

namespace embedkit {

/// Row-major dynamic matrix: the type of every embedding set and activation batch.
template <class Scalar>
using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// Dynamic column vector.
template <class Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

using RowMatrixF = RowMatrix<float>;
using RowMatrixD = RowMatrix<double>;
using VectorF = Vector<float>;
using VectorD = Vector<double>;

/// True for the scalar types embedkit supports (float and double).
template <class Scalar>
inline constexpr bool is_supported_scalar_v =
    std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>;

}  // namespace embedkit
