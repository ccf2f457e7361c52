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

#include "tangent/core/activation_concepts.hpp"
#include "tangent/core/config.hpp"
#include "tangent/core/errors.hpp"
#include "tangent/core/layer_concepts.hpp"
#include "tangent/core/stage.hpp"

namespace tangent::detail {

/// Stage after an activation: the input must be Gaussian, and the output no longer is.
template <class A, class In>
struct activation_stage {
  static_assert(In::gaussian,
                "TANGENT: AN ACTIVATION MUST FOLLOW AN AFFINE LAYER. Its input must be Gaussian, "
                "as neural-tangents requires: put a Dense (or Conv) layer right before this "
                "activation. The compiler's instantiation notes name it: "
                "activation_stage<activation, stage>.");
  using type = Stage<typename In::kind, false>;
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

}  // namespace tangent::detail
