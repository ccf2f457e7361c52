#pragma once
/// @file
/// The layer that does nothing, for building blocks where a slot must hold a layer.

#include <string_view>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_block.hpp"

namespace tangent {

/// φ(x) = x as a layer of its own, on feature vectors and spatial data alike: kernels, widths
/// and stages pass through unchanged (it keeps a Gaussian input Gaussian).
struct Identity {
  static constexpr std::string_view name = "Identity";
  static constexpr bool lanes = true;  ///< propagate_entry also takes lane groups

  template <class In>
  using output_stage = In;

  void validate(const LayerSite&) const {}

  Index output_width(Index width) const { return width; }
  template <class S>
  S variance(S q) const {
    return q;
  }
  template <bool WithNtk, class S>
  void propagate_entry(S&, S&, const EntryContext<S>&) const {}

  Geometry output_geometry(const Geometry& in, const LayerSite&) const { return in; }
  template <bool InFull, bool OutFull, bool WithNtk, class S>
  void propagate_block(detail::PairBlock<S>&) const {
    static_assert(InFull == OutFull, "Identity keeps the kind of its block");
  }

  // Finite network: the data is stored one sample per row in NHWC order, which is already
  // the flattened order, so the values pass through.
  using params_type = NoParams;

  detail::FiniteShapes finite_shapes(const Geometry& in, const LayerSite&) const {
    return {in, in, {}, 1};
  }
  template <class URBG>
  NoParams init_params(URBG&, const detail::FiniteShapes&) const {
    return {};
  }
  void check_params(const NoParams&, const detail::FiniteShapes&, const LayerSite&) const {}
  void forward(const NoParams&, const detail::FiniteShapes&, const Matrix<double>& x,
               Matrix<double>& z) const {
    z = x;
  }
  void backward(const NoParams&, const detail::FiniteShapes&, const Matrix<double>&,
                const Matrix<double>& dz, Matrix<double>* dx, NoParams*) const {
    if (dx != nullptr) *dx = dz;
  }

  bool operator==(const Identity&) const = default;
};

}  // namespace tangent
