#pragma once
/// @file
/// Images and sequences as kernel inputs: a view of a flat matrix with one sample per row.

#include <string>
#include <string_view>
#include <type_traits>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/spatial.hpp"

namespace tangent {

/// N samples of D-dimensional spatial data, viewed in a flat N × (P·C) matrix: row n holds
/// sample n in NHWC (or NWC) order, column (h·W + w)·C + c. It refers to the matrix's storage,
/// which must outlive it (as an `Eigen::Map` does).
template <class S, int D>
struct SpatialInput {
  using Scalar = S;
  static constexpr int rank = D;
  using Flat = Eigen::Map<const Matrix<S>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;

  Flat flat;
  Geometry geometry;

  Index samples() const { return flat.rows(); }
};

namespace detail {

template <int D, class Derived>
SpatialInput<typename Derived::Scalar, D> spatial_input(std::string_view function,
                                                        const Eigen::MatrixBase<Derived>& flat,
                                                        Geometry geometry) {
  static_assert(bool(Derived::Flags & Eigen::DirectAccessBit),
                "TANGENT: images()/sequences() VIEW A MATRIX'S STORAGE: pass a matrix (or a "
                "block of one), not an expression; evaluate expressions into a matrix first.");
  for (int k = 0; k < D; ++k) {
    if (geometry.extent[static_cast<std::size_t>(k)] <= 0) {
      fail(function, "sizes must be positive, got " + geometry.str());
    }
  }
  if (geometry.channels <= 0) fail(function, "channels must be positive, got " + geometry.str());
  const Index expected = geometry.positions() * geometry.channels;
  if (flat.cols() != expected) {
    fail(function, "flat has " + std::to_string(flat.cols()) + " columns but " + geometry.str() +
                       " samples need " + std::to_string(expected) +
                       " (one sample per row, NHWC order)");
  }
  using Input = SpatialInput<typename Derived::Scalar, D>;
  const auto& matrix = flat.derived();
  return Input{typename Input::Flat(matrix.data(), matrix.rows(), matrix.cols(),
                                    Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(
                                        matrix.colStride(), matrix.rowStride())),
               geometry};
}

}  // namespace detail

/// Views a flat N × (height·width·channels) matrix as N images in NHWC order. Throws
/// `std::invalid_argument` when the sizes are not positive or do not match the columns.
template <class Derived>
SpatialInput<typename Derived::Scalar, 2> images(const Eigen::MatrixBase<Derived>& flat,
                                                 Index height, Index width, Index channels) {
  return detail::spatial_input<2>("images", flat, Geometry{2, {height, width}, channels});
}

/// Views a flat N × (length·channels) matrix as N sequences in NWC order.
template <class Derived>
SpatialInput<typename Derived::Scalar, 1> sequences(const Eigen::MatrixBase<Derived>& flat,
                                                    Index length, Index channels) {
  return detail::spatial_input<1>("sequences", flat, Geometry{1, {length, 1}, channels});
}

// A view of a temporary matrix would dangle as soon as the statement ends.
template <class S, int R, int C, int O, int MR, int MC>
void images(Eigen::Matrix<S, R, C, O, MR, MC>&&, Index, Index, Index) = delete;
template <class S, int R, int C, int O, int MR, int MC>
void sequences(Eigen::Matrix<S, R, C, O, MR, MC>&&, Index, Index) = delete;

}  // namespace tangent
