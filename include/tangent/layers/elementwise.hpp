#pragma once
/// @file
/// How an `Activation` acts as a layer, and how every layer is driven by the kernel sweep.
///
/// The single elementwise kernel rule (neural-tangents `_elementwise`):
///   Σ' = E[φ(u)φ(v)],   Θ' = Θ·E[φ'(u)φ'(v)],
/// with the pair's variances q11, q22 taken from the same layer. There is no additive Σ term:
/// the next affine layer adds it. An activation needs a Gaussian input, i.e. an affine layer
/// right before it; its output is not Gaussian.
///
/// The functions below are the only way the sweep touches a layer, so a type that meets
/// `FeatureLayer` and one that meets `Activation` are used the same way. (Activations are plain
/// aggregates rather than bases of an `Elementwise<A>` wrapper: a base class would stop users
/// from writing `LeakyReLU{.alpha = 0.1}`.)

#include <cstddef>
#include <type_traits>

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/stage.hpp"
#include "tangent/kernels/spatial_block.hpp"

namespace tangent::detail {

/// Stage after an activation: the input must be Gaussian, and the output no longer is.
template <class A, class In>
struct activation_stage {
  static_assert(In::gaussian,
                "TANGENT: AN ACTIVATION MUST FOLLOW AN AFFINE LAYER. Its input must be Gaussian, "
                "as neural-tangents requires: put a Dense (or Conv) layer right before this "
                "activation. The compiler's instantiation notes name it: "
                "activation_stage<activation, stage>.");
  using type = std::conditional_t<In::gaussian, Stage<typename In::kind, false>, InvalidStage>;
};

/// The stage after layer `L` given the stage `In` before it.
template <class L, class In>
struct stage_after {
  using type = typename L::template output_stage<In>;
};
template <Activation A, class In>
struct stage_after<A, In> {
  using type = typename activation_stage<A, In>::type;
};

template <KernelLayer L>
void validate_layer(const L& layer, const LayerSite& site) {
  layer.validate(site);
}

/// The elementwise rule on a pair's spatial block: entry (p1, p2) of a full block (or p of a
/// diagonal one) with the first sample's variance at p1 and the second's at p2. For two equal
/// samples, same-position entries take their covariance from the variance (angle exactly 0).
template <bool Full, bool WithNtk, Activation A, class S>
void activation_block(const A& activation, PairBlock<S>& block) {
  const Index positions = block.geometry.positions();
  const auto apply = [&](std::size_t e, S q11, S q22, bool same_position) {
    S q = block.nngp[e];
    if (block.equal && same_position) q = q11;
    const Moments<S> m = activation.moments(q11, q, q22);
    block.nngp[e] = m.expect;
    if constexpr (WithNtk) block.ntk[e] *= m.expect_derivative;
  };
  if constexpr (Full) {
    for (Index p2 = 0; p2 < positions; ++p2) {
      const S q22 = block.var2[p2];
      for (Index p1 = 0; p1 < positions; ++p1) {
        apply(static_cast<std::size_t>(p1 + positions * p2), block.var1[p1], q22, p1 == p2);
      }
    }
  } else {
    for (Index p = 0; p < positions; ++p) {
      apply(static_cast<std::size_t>(p), block.var1[p], block.var2[p], true);
    }
  }
}

template <KernelLayer L>
Geometry output_geometry(const L& layer, const Geometry& in, const LayerSite& site) {
  if constexpr (Activation<L>) {
    return in;
  } else {
    return layer.output_geometry(in, site);
  }
}

template <KernelLayer L>
Index output_width(const L& layer, Index width) {
  if constexpr (Activation<L>) {
    return width;
  } else {
    return layer.output_width(width);
  }
}

template <KernelLayer L, class S>
S propagate_variance(const L& layer, S q) {
  return layer.variance(q);
}

template <bool WithNtk, KernelLayer L, class S>
void propagate_entry(const L& layer, S& q, S& t, S q11, S q22, S width_in) {
  if constexpr (Activation<L>) {
    const Moments<S> m = layer.moments(q11, q, q22);
    q = m.expect;
    if constexpr (WithNtk) t *= m.expect_derivative;
  } else {
    layer.template propagate_entry<WithNtk>(q, t, q11, q22, width_in);
  }
}

/// propagate_entry for the lane sweep, with √q11 and √q22 given: activations that accept them
/// (`moments_rooted`) skip two square roots per entry.
template <bool WithNtk, KernelLayer L, class V>
void propagate_entry(const L& layer, V& q, V& t, const V& q11, const V& q22, const V& root11,
                     const V& root22, const V& width_in) {
  if constexpr (requires { layer.moments_rooted(q11, q, q22, root11, root22); }) {
    const Moments<V> m = layer.moments_rooted(q11, q, q22, root11, root22);
    q = m.expect;
    if constexpr (WithNtk) t *= m.expect_derivative;
  } else {
    propagate_entry<WithNtk>(layer, q, t, q11, q22, width_in);
  }
}

}  // namespace tangent::detail
