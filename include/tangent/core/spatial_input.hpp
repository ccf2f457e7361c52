#pragma once
/// @file
/// Images and sequences as kernel inputs: a view of a flat matrix with one sample per row.

#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {

/// N samples of D-dimensional spatial data, viewed in a flat N × (P·C) matrix: row n holds
/// sample n in NHWC (or NWC) order, column (h·W + w)·C + c. Made from a named matrix (or a named
/// block or map of one), it refers to that storage, which must outlive it, as an `Eigen::Map`
/// does; made from a temporary, it owns the data (see `images`), so that no spelling dangles.
template <class S, int D>
struct SpatialInput {
  using Scalar = S;
  static constexpr int rank = D;
  using Flat = Eigen::Map<const Matrix<S>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;

  Flat flat;
  Geometry geometry;
  /// The data `flat` refers to when it came from a temporary; null for a view. Shared, so that
  /// copies of the input refer to it too.
  std::shared_ptr<const Matrix<S>> owned{};

  Index samples() const { return flat.rows(); }
};

namespace detail {

template <class Input>
struct IsSpatialInput : std::false_type {};
template <class S, int D>
struct IsSpatialInput<SpatialInput<S, D>> : std::true_type {};

/// Whether `Input` is images(...) or sequences(...) rather than a feature matrix.
template <class Input>
constexpr bool is_spatial_input = IsSpatialInput<std::remove_cvref_t<Input>>::value;

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
  const std::optional<Index> entries = geometry.entries();
  if (!entries) {
    fail(function, "each sample of " + geometry.str() + std::string(kUncountable));
  }
  const Index expected = *entries;
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

/// Whether an rvalue of type T refers to storage that outlives it: a `Map` of the caller's
/// buffer, or a block of one. Anything else (a plain matrix, a block of one, an expression, a
/// `Ref` that may hold its own copy) may own or refer to storage that dies with the statement.
template <class T>
inline constexpr bool views_lasting_storage = false;
template <class Plain, int Options, class Stride>
inline constexpr bool views_lasting_storage<Eigen::Map<Plain, Options, Stride>> = true;
template <class Xpr, int R, int C, bool Inner>
inline constexpr bool views_lasting_storage<Eigen::Block<Xpr, R, C, Inner>> =
    views_lasting_storage<std::remove_const_t<Xpr>>;

/// `spatial_input` of an rvalue: a view when its storage lasts; otherwise the data is moved
/// (a plain matrix of the input's scalar) or evaluated into storage the input owns.
template <int D, class Arg>
SpatialInput<typename std::remove_cvref_t<Arg>::Scalar, D> spatial_input_of_rvalue(
    std::string_view function, Arg&& flat, Geometry geometry) {
  using T = std::remove_cvref_t<Arg>;
  using S = typename T::Scalar;
  if constexpr (views_lasting_storage<T>) {
    return spatial_input<D>(function, flat, geometry);
  } else {
    auto owned = std::make_shared<const Matrix<S>>(std::forward<Arg>(flat));
    SpatialInput<S, D> input = spatial_input<D>(function, *owned, geometry);
    input.owned = std::move(owned);
    return input;
  }
}

/// The matrix whose rows are the samples of any input: a feature matrix itself, or the flat
/// matrix of images and sequences.
template <class Input>
const auto& sample_rows(const Input& x) {
  if constexpr (requires { x.geometry; }) {
    return x.flat;
  } else {
    return x;
  }
}

/// The kind of stage an input starts from: feature vectors, or images and sequences.
template <class Input>
struct input_kind {
  using type = Features;
};
template <class S, int D>
struct input_kind<SpatialInput<S, D>> {
  using type = Spatial<D>;
};

/// The shape of one sample of any input.
template <class Input>
Geometry sample_geometry(const Input& x) {
  if constexpr (requires { x.geometry; }) {
    return x.geometry;
  } else {
    return features_shape(x.cols());
  }
}

template <class T>
concept MatrixRvalue =
    !std::is_lvalue_reference_v<T> &&
    std::derived_from<std::remove_cvref_t<T>, Eigen::MatrixBase<std::remove_cvref_t<T>>>;

}  // namespace detail

/// Views a flat N × (height·width·channels) matrix as N images in NHWC order. Throws
/// `std::invalid_argument` when the sizes are not positive or do not match the columns.
/// A named matrix, block or map is viewed without a copy; a temporary (`load(...).x`,
/// `make().topRows(10)`, `x * 2`) is moved or copied into storage the result owns, since a view
/// of it would dangle once the statement ends. A `Map` (or a block of one) is always a view.
template <class Derived>
SpatialInput<typename Derived::Scalar, 2> images(const Eigen::MatrixBase<Derived>& flat,
                                                 Index height, Index width, Index channels) {
  return detail::spatial_input<2>("images", flat, Geometry{2, {height, width}, channels});
}
template <detail::MatrixRvalue Flat>
SpatialInput<typename std::remove_cvref_t<Flat>::Scalar, 2> images(Flat&& flat, Index height,
                                                                   Index width, Index channels) {
  return detail::spatial_input_of_rvalue<2>("images", std::forward<Flat>(flat),
                                            Geometry{2, {height, width}, channels});
}

/// Views a flat N × (length·channels) matrix as N sequences in NWC order; temporaries as for
/// `images`.
template <class Derived>
SpatialInput<typename Derived::Scalar, 1> sequences(const Eigen::MatrixBase<Derived>& flat,
                                                    Index length, Index channels) {
  return detail::spatial_input<1>("sequences", flat, Geometry{1, {length, 1}, channels});
}
template <detail::MatrixRvalue Flat>
SpatialInput<typename std::remove_cvref_t<Flat>::Scalar, 1> sequences(Flat&& flat, Index length,
                                                                      Index channels) {
  return detail::spatial_input_of_rvalue<1>("sequences", std::forward<Flat>(flat),
                                            Geometry{1, {length, 1}, channels});
}

}  // namespace tangent
