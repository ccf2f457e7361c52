#pragma once
/// @file
/// Flattening spatial data into feature vectors.

#include <string_view>
#include <type_traits>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_block.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {

/// Reshapes each sample's P positions × C channels into one feature vector of P·C entries (on
/// feature vectors it does nothing): the readout of the CNN-GP without pooling (Novak et al.
/// 2019), whose kernel needs only same-position covariances.
///
/// Kernel rule: the dot product of two flattened samples normalised by their length is the mean
/// over positions of the same-position covariances, Σ' = (1/P)·Σ_a Σ[a, a] (the trace of the
/// block over P), and the same for Θ. It reads only same-position entries, so a network whose
/// only readout is Flatten keeps the diagonal block alone: O(P) instead of O(P²) per pair.
/// As in neural-tangents its output does not count as Gaussian, so an activation cannot follow
/// it directly.
struct Flatten {
  static constexpr std::string_view name = "Flatten";
  static constexpr bool reduces_spatial = true;

  template <class In>
  using output_stage = Stage<Features, false>;

  void validate(const LayerSite&) const {}

  // On spatial data.
  Geometry output_geometry(const Geometry& in, const LayerSite&) const {
    Geometry out = in;
    out.channels = in.positions() * in.channels;
    out.extent = {1, 1};
    return out;
  }
  template <bool Full, bool WithNtk, class S>
  void reduce_block(detail::PairBlock<S>& block, S& q, S& t) const {
    const Index positions = block.geometry.positions();
    q = diagonal_mean<Full>(block.nngp, positions);
    if constexpr (WithNtk) t = diagonal_mean<Full>(block.ntk, positions);
  }

  // On feature vectors: nothing changes.
  Index output_width(Index width) const { return width; }
  template <class S>
  S variance(S q) const {
    return q;
  }
  template <bool WithNtk, class S>
  void propagate_entry(S&, S&, const EntryContext<S>&) const {}

  // Finite network: the data is stored one sample per row in NHWC order, which is already
  // the flattened order, so the values pass through.
  using params_type = NoParams;

  detail::FiniteShapes finite_shapes(const Geometry& in, const LayerSite&) const {
    return {in, features_shape(in.positions() * in.channels), {}, 1};
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

  bool operator==(const Flatten&) const = default;

 private:
  template <bool Full, class S>
  static S diagonal_mean(const std::vector<S>& values, Index positions) {
    S sum = 0;
    for (Index p = 0; p < positions; ++p) {
      sum += values[static_cast<std::size_t>(Full ? p + positions * p : p)];
    }
    return sum / static_cast<S>(positions);
  }
};

}  // namespace tangent
