#pragma once
/// @file
/// Dropout (Srivastava et al. 2014), with neural-tangents' convention: `rate` is the probability
/// of *keeping* a unit.

#include <cmath>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/pair_context.hpp"
#include "tangent/core/params.hpp"
#include "tangent/core/simd_math.hpp"
#include "tangent/core/spatial.hpp"
#include "tangent/core/spatial_block.hpp"
#include "tangent/core/stage.hpp"

namespace tangent {

/// Whether Dropout drops (`train`) or passes its input through (`test`).
enum class DropoutMode { train, test };

/// Dropout: in train mode z = x ⊙ m / rate with m ~ Bernoulli(rate) drawn independently for
/// every sample and unit; in test mode z = x.
///
/// Kernel rule (neural-tangents `stax.Dropout`, train mode): a unit's mask is shared only with
/// itself, so the variance of a sample, and the NNGP and NTK entries of a sample with itself at
/// the same position, are multiplied by 1/rate; all other entries are unchanged. As in
/// neural-tangents, a sample is itself in `kernels(net, x)` and in `kernels(net, x1, x2)` when
/// x2 equals x1 as a whole (its `x1_is_x2`), entry (i, i); two equal rows that are different
/// samples (duplicates, or x2 ≠ x1) draw independent masks, and after Dropout they are no longer
/// equal. Test mode is the identity. Its output counts as non-Gaussian in both modes
/// (neural-tangents keeps test mode's input stage; put Dense or Conv after it). Finite networks
/// in train mode need a generator for the masks: the overloads of `apply`, `gradients`, `train`
/// and the empirical kernels that take one.
struct Dropout {
  double rate = 0.5;  ///< probability of keeping a unit, in (0, 1]
  DropoutMode mode = DropoutMode::train;

  static constexpr std::string_view name = "Dropout";
  static constexpr bool lanes = true;  ///< propagate_entry also takes lane groups

  template <class In>
  using output_stage = Stage<typename In::kind, false>;

  void validate(const LayerSite& site) const {
    if (!(rate > 0 && rate <= 1)) {
      detail::fail_layer(site,
                         "rate is the probability of keeping a unit and must be in (0, 1], "
                         "got " +
                             detail::show(rate));
    }
  }

  // On feature vectors.
  Index output_width(Index width) const { return width; }
  template <class S>
  S variance(S q) const {
    return mode == DropoutMode::train ? q * factor<detail::scalar_t<S>>() : q;
  }
  /// `S` is a scalar or a group of lanes (core/simd_math.hpp).
  template <bool WithNtk, class S>
  void propagate_entry(S& q, S& t, const EntryContext<S>& pair) const {
    if (mode == DropoutMode::test || !pair.maybe_equal) return;
    const auto f = factor<detail::scalar_t<S>>();
    q = detail::select(pair.same_sample, S(q * f), q);
    if constexpr (WithNtk) t = detail::select(pair.same_sample, S(t * f), t);
  }
  /// Equal rows that are different samples draw different masks.
  template <class S>
  detail::mask_t<S> still_equal(const EntryContext<S>& pair) const {
    if (mode == DropoutMode::test) return pair.equal;
    return pair.equal && pair.same_sample;
  }

  // On spatial data: same-position entries of a sample with itself.
  Geometry output_geometry(const Geometry& in, const LayerSite&) const { return in; }
  template <bool InFull, bool OutFull, bool WithNtk, class S>
  void propagate_block(detail::PairBlock<S>& block) const {
    static_assert(InFull == OutFull, "Dropout keeps the kind of its block");
    if (mode == DropoutMode::test) return;
    block.equal = block.equal && block.same_sample;
    if (!block.same_sample) return;
    const S f = factor<S>();
    const Index positions = block.geometry.positions();
    for (Index p = 0; p < positions; ++p) {
      const auto e = static_cast<std::size_t>(InFull ? p + positions * p : p);
      block.nngp[e] *= f;
      if constexpr (WithNtk) block.ntk[e] *= f;
    }
  }

  // Finite network.
  using params_type = NoParams;

  detail::FiniteShapes finite_shapes(const Geometry& in, const LayerSite&) const {
    return {in, in, {}, 1};
  }
  template <class URBG>
  NoParams init_params(URBG&, const detail::FiniteShapes&) const {
    return {};
  }
  void check_params(const NoParams&, const detail::FiniteShapes&, const LayerSite&) const {}
  /// Draws the mask m/rate into `run.kept` (train mode) and applies it.
  void forward(const NoParams&, const detail::FiniteShapes&, const Matrix<double>& x,
               Matrix<double>& z, detail::LayerRun& run) const {
    if (mode == DropoutMode::test) {
      z = x;
      return;
    }
    if (run.rng == nullptr) {
      detail::fail_layer(run.site,
                         "in train mode it draws random masks and needs a generator: pass one to "
                         "apply(net, params, x, rng) (or gradients, train, the empirical "
                         "kernels), or set .mode = tangent::DropoutMode::test");
    }
    std::bernoulli_distribution keep(rate);
    run.kept.resize(x.rows(), x.cols());
    const double scale = 1.0 / rate;
    for (Index c = 0; c < x.cols(); ++c) {
      for (Index r = 0; r < x.rows(); ++r) run.kept(r, c) = keep(*run.rng) ? scale : 0.0;
    }
    z = x.cwiseProduct(run.kept);
  }
  void backward(const NoParams&, const detail::FiniteShapes&, const Matrix<double>&,
                const Matrix<double>& dz, Matrix<double>* dx, NoParams*,
                const detail::LayerRun& run) const {
    if (dx == nullptr) return;
    *dx = mode == DropoutMode::test ? dz : Matrix<double>(dz.cwiseProduct(run.kept));
  }

  bool operator==(const Dropout&) const = default;

 private:
  template <class E>
  E factor() const {
    return static_cast<E>(1.0 / rate);
  }
};

}  // namespace tangent
